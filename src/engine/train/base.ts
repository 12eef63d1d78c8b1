// The frozen base for a run: which weights (resolved before anything is built, so a fully cached run builds
// nothing) and which runtime runs it (ONNX Runtime when model/onnx.ts loads, else tfjs).
import type { BaseRuntimePreference, JobOptions, WeightsInfo } from '../types';
import type { BackboneSpec } from '../model/backbones/spec';
import { baseDeviceFromEnv } from '../runtime/device';
import type { FeatureExtractor } from '../runtime/extractor';
import { createTfjsExtractor } from '../runtime/tfjsExtractor';
import type { LayersModel } from '../model/tf';
import { buildBase, dirSha256, fileSha256, resolveWeights, WeightsNotFoundError, type ResolvedWeights } from '../weights/weights';

export interface PreparedBase {
	info: WeightsInfo;
	/** Builds the base with its weights (called only when features must be computed). */
	build(): Promise<LayersModel>;
	/** Set when 'auto' found no pretrained weights and random ones were allowed instead. */
	fallbackNote?: string;
}

export interface PrepareBaseOptions extends JobOptions {
	workDir: string;
	/** 'auto' without pretrained weights falls back to random ones (the demo) instead of failing. */
	allowRandomFallback?: boolean;
}

/**
 * Resolves `weights` ('auto' | 'none' | a file or TF.js model folder) and hashes them, without building anything:
 * the hash keys the feature cache, so a fully cached run never builds the base. Random weights are seeded, so
 * the same seed gives the same base.
 */
export async function prepareBase(spec: BackboneSpec, weights: string, inputSize: number, seed: number, opts: PrepareBaseOptions): Promise<PreparedBase> {
	let resolved: ResolvedWeights;
	let fallbackNote: string | undefined;
	try {
		resolved = await resolveWeights(spec, weights, { signal: opts.signal, onProgress: opts.onProgress, seed });
	} catch (e) {
		if (!(opts.allowRandomFallback && weights === 'auto' && e instanceof WeightsNotFoundError)) throw e;
		resolved = await resolveWeights(spec, 'none', { seed });
		fallbackNote = `${e.message}\nTraining on RANDOM, NOT PRETRAINED weights instead.`;
	}
	const info: WeightsInfo = { ...resolved.info };
	if (resolved.kind === 'keras-h5') info.sha256 = await fileSha256(resolved.path!);
	else if (resolved.kind === 'tfjs-layers') info.sha256 = await dirSha256(resolved.path!);
	else info.sha256 = `random-${seed}`;
	return {
		info,
		fallbackNote,
		build: async () => {
			const built = await buildBase(spec, resolved, inputSize, { seed, signal: opts.signal, onProgress: opts.onProgress });
			if (built.info.sha256 !== info.sha256) {
				built.model.dispose();
				throw new Error(`${resolved.path ?? 'weights'}: changed while in use (sha256 ${built.info.sha256.slice(0, 12)}, expected ${info.sha256.slice(0, 12)})`);
			}
			return built.model;
		},
	};
}

type OnnxModule = typeof import('../runtime/onnx');
type Int8Options = import('../runtime/onnx').OnnxExtractorOptions['int8'];

/** The base as a FeatureExtractor: ONNX Runtime for 'auto'/'onnx' when it loads, else tfjs (with the reason logged). */
export async function createExtractor(
	model: LayersModel,
	spec: BackboneSpec,
	inputSize: number,
	pref: BaseRuntimePreference,
	opts: JobOptions & { cacheDir: string; weightsSha: string; int8?: Int8Options },
): Promise<FeatureExtractor> {
	if (opts.int8 && pref === 'tfjs') throw new Error('an int8 base runs on ONNX Runtime: use --base-runtime auto or onnx');
	if (pref !== 'tfjs') {
		const device = baseDeviceFromEnv();
		let reason: string;
		try {
			const m = require('../runtime/onnx') as Partial<OnnxModule>;
			if (typeof m.createOnnxExtractor !== 'function') throw new Error('runtime/onnx has no createOnnxExtractor');
			const fx = await m.createOnnxExtractor(model, spec, { cacheDir: opts.cacheDir, weightsSha: opts.weightsSha, int8: opts.int8, device });
			if (fx.deviceNote) opts.onProgress?.({ kind: 'log', level: 'warn', message: `Base: ${fx.deviceNote}` });
			return fx;
		} catch (e) {
			reason = e instanceof Error ? e.message.split('\n')[0] : String(e);
			if (opts.int8) throw new Error(`int8 base: ${reason}`);
		}
		if (pref === 'onnx') throw new Error(`ONNX Runtime was requested but is not available: ${reason}`);
		opts.onProgress?.({ kind: 'log', level: 'info', message: `Base runs on tfjs (ONNX Runtime not used: ${reason})` });
	}
	return createTfjsExtractor(model, inputSize);
}
