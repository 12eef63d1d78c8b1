// The frozen base for a run: which weights (resolved before anything is built, so a fully cached run builds
// nothing) and which runtime runs it (ONNX Runtime when model/onnx.ts loads, else tfjs).
import * as path from 'node:path';
import type { BackboneId, BaseRuntimePreference, JobOptions, WeightsInfo } from '../types';
import type { BackboneSpec } from '../model/backbones/spec';
import type { FeatureExtractor } from '../model/extractor';
import { buildBackbone } from '../model/backbones';
import { createTfjsExtractor } from '../model/tfjsExtractor';
import type { LayersModel } from '../model/tf';
import { sha256File } from '../util/hash';

export interface PreparedBase {
	info: WeightsInfo;
	/** Builds the base with its weights (called only when features must be computed). */
	build(): Promise<LayersModel>;
	/** Set when 'auto' could not find pretrained weights and fell back to random ones. */
	fallbackNote?: string;
}

interface WeightsModule {
	resolveWeights(backbone: BackboneId, weights: string, opts: JobOptions & { workDir?: string }): Promise<unknown>;
	buildBase(spec: BackboneSpec, resolved: unknown, inputSize: number): Promise<{ model: LayersModel; info: WeightsInfo }>;
	describeResolved?: (resolved: unknown) => WeightsInfo;
}

/** model/weights.ts when present (owned by the weights engineer); undefined in builds without it. */
function weightsModule(): WeightsModule | undefined {
	try {
		// eslint-disable-next-line @typescript-eslint/no-require-imports
		const m = require('../model/weights') as Partial<WeightsModule>;
		return typeof m.resolveWeights === 'function' && typeof m.buildBase === 'function' ? (m as WeightsModule) : undefined;
	} catch {
		return undefined;
	}
}

export const randomWeightsInfo = (seed: number): WeightsInfo => ({ pretrained: false, name: 'random (not pretrained)', sha256: `random-${seed}` });

/**
 * Resolves `weights` ('auto' | 'none' | a file) for a backbone. Random weights are seeded, so the same seed
 * gives the same base (and the feature cache stays valid).
 */
export async function prepareBase(spec: BackboneSpec, weights: string, inputSize: number, seed: number, opts: JobOptions & { workDir: string }): Promise<PreparedBase> {
	const random = (): PreparedBase => ({ info: randomWeightsInfo(seed), build: async () => buildBackbone(spec.id, inputSize, { seed }) });
	if (weights === 'none') return random();
	const mod = weightsModule();
	if (mod) {
		const resolved = await mod.resolveWeights(spec.id, weights, opts);
		const info = mod.describeResolved?.(resolved) ?? (resolved as { info?: WeightsInfo }).info;
		if (info && !info.pretrained && weights === 'auto') {
			return { ...random(), fallbackNote: 'No pretrained weights were found: training on random (not pretrained) weights.' };
		}
		let built: { model: LayersModel; info: WeightsInfo } | undefined;
		const build = async () => (built ??= await mod.buildBase(spec, resolved, inputSize)).model;
		if (info) return { info, build };
		// No description without building: build now to learn the hash.
		await build();
		return { info: built!.info, build };
	}
	if (weights === 'auto') {
		return { ...random(), fallbackNote: 'Pretrained weights are not available in this build (model/weights.ts missing): training on RANDOM, NOT PRETRAINED weights.' };
	}
	// A Keras HDF5 file given explicitly.
	const file = path.resolve(weights);
	const sha = await sha256File(file).catch((e: NodeJS.ErrnoException) => {
		throw new Error(`${file}: cannot read weights (${e.code ?? e.message})`);
	});
	return {
		info: { pretrained: true, name: path.basename(file), sha256: sha, path: file },
		build: async () => {
			const model = buildBackbone(spec.id, inputSize, { seed });
			let h5: { loadKerasWeights(model: LayersModel, file: string): Promise<unknown> };
			try {
				// eslint-disable-next-line @typescript-eslint/no-require-imports
				h5 = require('../model/h5');
			} catch (e) {
				throw new Error(`${file}: HDF5 weights cannot be read in this build (${(e as Error).message.split('\n')[0]})`);
			}
			await h5.loadKerasWeights(model, file);
			return model;
		},
	};
}

interface OnnxModule {
	createOnnxExtractor(model: LayersModel, spec: BackboneSpec, opts: { cacheDir: string; weightsSha: string }): Promise<FeatureExtractor>;
}

/** The base as a FeatureExtractor: ONNX Runtime for 'auto'/'onnx' when it loads, else tfjs (with the reason logged). */
export async function createExtractor(
	model: LayersModel,
	spec: BackboneSpec,
	inputSize: number,
	pref: BaseRuntimePreference,
	opts: JobOptions & { cacheDir: string; weightsSha: string },
): Promise<FeatureExtractor> {
	if (pref !== 'tfjs') {
		let reason: string;
		try {
			// eslint-disable-next-line @typescript-eslint/no-require-imports
			const m = require('../model/onnx') as Partial<OnnxModule>;
			if (typeof m.createOnnxExtractor !== 'function') throw new Error('model/onnx has no createOnnxExtractor');
			return await m.createOnnxExtractor(model, spec, { cacheDir: opts.cacheDir, weightsSha: opts.weightsSha });
		} catch (e) {
			reason = e instanceof Error ? e.message.split('\n')[0] : String(e);
		}
		if (pref === 'onnx') throw new Error(`ONNX Runtime was requested but is not available: ${reason}`);
		opts.onProgress?.({ kind: 'log', level: 'info', message: `Base runs on tfjs (ONNX Runtime not used: ${reason})` });
	}
	return createTfjsExtractor(model, inputSize);
}
