// File-system IOHandlers for TF.js layers models. Pure tfjs in Node has no `file://` loader (that lives in
// tfjs-node), so models on disk (the npm ResNet50, exported runs) load and save through these.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { tf } from '../model/tf';
import { writeFileAtomic } from '../util/atomic';
import { WeightsMismatchError } from './h5';

type ModelArtifacts = tf.io.ModelArtifacts;
type WeightsManifestConfig = tf.io.WeightsManifestConfig;

/** A parsed model.json with its folder. */
export interface LayersModelJson {
	file: string;
	dir: string;
	json: {
		modelTopology: unknown;
		weightsManifest: WeightsManifestConfig;
		format?: string;
		generatedBy?: string;
		convertedBy?: string | null;
		trainingConfig?: unknown;
		userDefinedMetadata?: Record<string, unknown>;
	};
}

/** Accepts a folder holding model.json or the model.json itself. */
export async function readModelJson(fileOrDir: string): Promise<LayersModelJson> {
	let file = fileOrDir;
	const st = await fs.stat(file).catch(() => undefined);
	if (!st) throw new Error(`${fileOrDir}: no such file or folder`);
	if (st.isDirectory()) file = path.join(file, 'model.json');
	let json: LayersModelJson['json'];
	try {
		json = JSON.parse(await fs.readFile(file, 'utf8')) as LayersModelJson['json'];
	} catch (e) {
		throw new Error(`${file}: not a TF.js model.json (${e instanceof Error ? e.message : String(e)})`);
	}
	if (!json || typeof json !== 'object' || !json.modelTopology || !Array.isArray(json.weightsManifest)) {
		throw new Error(`${file}: not a TF.js layers model.json (needs modelTopology and weightsManifest)`);
	}
	return { file, dir: path.dirname(file), json };
}

/** Reads every shard named in the manifest, in order, as one buffer. */
export async function readWeightData(m: LayersModelJson): Promise<{ specs: tf.io.WeightsManifestEntry[]; data: ArrayBuffer }> {
	const specs: tf.io.WeightsManifestEntry[] = [];
	const parts: Buffer[] = [];
	for (const group of m.json.weightsManifest) {
		specs.push(...group.weights);
		for (const p of group.paths) {
			const shard = path.resolve(m.dir, decodeURIComponent(p));
			// Shard paths are relative to model.json; refuse anything that climbs out of its folder.
			if (path.relative(m.dir, shard).startsWith('..')) throw new Error(`${m.file}: shard path '${p}' leaves the model folder`);
			parts.push(
				await fs.readFile(shard).catch((e) => {
					throw new Error(`${m.file}: weights shard ${p} is missing or unreadable (${(e as Error).message})`);
				}),
			);
		}
	}
	const all = Buffer.concat(parts);
	const expected = specs.reduce((n, s) => n + byteSize(s), 0);
	if (all.byteLength !== expected) {
		throw new Error(`${m.file}: the shards hold ${all.byteLength} bytes, the manifest expects ${expected} (truncated download?)`);
	}
	return { specs, data: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength) };
}

function byteSize(s: tf.io.WeightsManifestEntry): number {
	const n = s.shape.reduce((a, b) => a * b, 1);
	if (s.quantization) {
		const bytes = s.quantization.dtype === 'float16' || s.quantization.dtype === 'uint16' ? 2 : 1;
		return n * bytes;
	}
	if (s.dtype === 'string') throw new Error(`string weights are not supported (${s.name})`);
	return n * 4;
}

/** The weights of a model.json as named tensors (caller disposes). */
export async function readWeightsMap(fileOrDir: string): Promise<{ model: LayersModelJson; weights: tf.NamedTensorMap }> {
	const model = await readModelJson(fileOrDir);
	const { specs, data } = await readWeightData(model);
	return { model, weights: tf.io.decodeWeights(data, specs) };
}

/** An IOHandler that loads model.json + shards from disk: `tf.loadLayersModel(fileLoader(dir))`. */
export function fileLoader(fileOrDir: string): tf.io.IOHandler {
	return {
		load: async (): Promise<ModelArtifacts> => {
			const m = await readModelJson(fileOrDir);
			const { specs, data } = await readWeightData(m);
			return {
				modelTopology: m.json.modelTopology as ModelArtifacts['modelTopology'],
				weightSpecs: specs,
				weightData: data,
				format: m.json.format,
				generatedBy: m.json.generatedBy,
				convertedBy: m.json.convertedBy ?? undefined,
				trainingConfig: m.json.trainingConfig as ModelArtifacts['trainingConfig'],
				userDefinedMetadata: m.json.userDefinedMetadata as ModelArtifacts['userDefinedMetadata'],
			};
		},
	};
}

/** An IOHandler that saves as `<dir>/model.json` + `<dir>/weights.bin` (each written atomically). */
export function fileSaver(dir: string): tf.io.IOHandler {
	return {
		save: async (a: ModelArtifacts): Promise<tf.io.SaveResult> => {
			if (a.modelTopology instanceof ArrayBuffer) throw new Error('binary model topologies are not supported');
			const data = a.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(a.weightData);
			const weightsManifest: WeightsManifestConfig = [{ paths: ['weights.bin'], weights: a.weightSpecs ?? [] }];
			const json = {
				format: a.format ?? 'layers-model',
				generatedBy: a.generatedBy,
				convertedBy: a.convertedBy ?? null,
				modelTopology: a.modelTopology,
				weightsManifest,
				...(a.trainingConfig ? { trainingConfig: a.trainingConfig } : {}),
				...(a.userDefinedMetadata ? { userDefinedMetadata: a.userDefinedMetadata } : {}),
			};
			// Weights first: a model.json never points at a missing weights.bin.
			await writeFileAtomic(path.join(dir, 'weights.bin'), new Uint8Array(data));
			const text = JSON.stringify(json);
			await writeFileAtomic(path.join(dir, 'model.json'), text);
			return {
				modelArtifactsInfo: {
					dateSaved: new Date(),
					modelTopologyType: 'JSON',
					modelTopologyBytes: Buffer.byteLength(JSON.stringify(a.modelTopology)),
					weightSpecsBytes: Buffer.byteLength(JSON.stringify(a.weightSpecs ?? [])),
					weightDataBytes: data.byteLength,
				},
			};
		},
	};
}

export interface LoadLayersWeightsOptions {
	/** Model layer name → the source model's layer name (e.g. ResNet50's modern → legacy Keras names). */
	aliases?: Record<string, string>;
}

/** BatchNormalization epsilons of a model.json's layers, by layer name (weights only fit the epsilon they came with). */
export function batchNormEpsilons(m: LayersModelJson): Record<string, number> {
	const out: Record<string, number> = {};
	const topo = m.json.modelTopology as { model_config?: { config?: { layers?: unknown[] } }; config?: { layers?: unknown[] } };
	const layers = (topo.model_config?.config?.layers ?? topo.config?.layers ?? []) as { class_name?: string; config?: { name?: string; epsilon?: number } }[];
	for (const l of layers) {
		if (l.class_name === 'BatchNormalization' && l.config?.name && typeof l.config.epsilon === 'number') out[l.config.name] = l.config.epsilon;
	}
	return out;
}

/**
 * Copy weights from a TF.js layers model on disk into `model`, matching layers by name (or alias) and weights by
 * their short name (kernel, bias, gamma, …). Every layer of `model` that has weights must be found with the same
 * shapes; the first mismatch throws a WeightsMismatchError naming layer, weight and shapes, and nothing is assigned.
 * Extra layers in the source (e.g. a classifier top) are ignored.
 */
export async function loadLayersWeights(model: tf.LayersModel, fileOrDir: string, opts: LoadLayersWeightsOptions = {}): Promise<{ layersLoaded: number; source: LayersModelJson }> {
	const { model: src, weights } = await readWeightsMap(fileOrDir);
	try {
		// Index the source by layer, then short weight name ('conv1/kernel' → conv1 → kernel).
		const byLayer = new Map<string, Map<string, tf.Tensor>>();
		for (const [name, t] of Object.entries(weights)) {
			const parts = name.replace(/:\d+$/, '').split('/');
			const short = parts.pop() ?? name;
			const layer = parts.pop() ?? '';
			if (!byLayer.has(layer)) byLayer.set(layer, new Map());
			byLayer.get(layer)!.set(short, t);
		}
		const plan: { layer: tf.layers.Layer; values: tf.Tensor[] }[] = [];
		for (const layer of model.layers) {
			if (layer.weights.length === 0) continue;
			const srcName = opts.aliases?.[layer.name] ?? layer.name;
			const srcWeights = byLayer.get(srcName);
			if (!srcWeights) {
				const sample = [...byLayer.keys()].slice(0, 4).join(', ');
				throw new WeightsMismatchError(
					src.file,
					layer.name,
					`layer '${layer.name}'${srcName !== layer.name ? ` (source name '${srcName}')` : ''} has no weights in this model (its layers include ${sample}, …)`,
				);
			}
			const values = layer.weights.map((v) => {
				const short = v.originalName.replace(/:\d+$/, '').split('/').pop() ?? v.originalName;
				const t = srcWeights.get(short);
				if (!t) {
					throw new WeightsMismatchError(src.file, layer.name, `layer '${layer.name}' weight '${short}' is missing in '${srcName}' (it has ${[...srcWeights.keys()].join(', ')})`, short);
				}
				const want = v.shape as number[];
				if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
					throw new WeightsMismatchError(
						src.file,
						layer.name,
						`layer '${layer.name}' weight '${short}' (source '${srcName}/${short}'): expected shape [${want.join(', ')}], found [${t.shape.join(', ')}]`,
						short,
						want,
						t.shape,
					);
				}
				return t;
			});
			plan.push({ layer, values });
		}
		for (const { layer, values } of plan) layer.setWeights(values);
		return { layersLoaded: plan.length, source: src };
	} finally {
		tf.dispose(Object.values(weights));
	}
}
