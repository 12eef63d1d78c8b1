// Pooled base features, cached on disk per image content. The key names everything that changes the numbers
// (backbone, weights, normalisation, resize, size) and nothing that does not (which runtime computed them).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { BackboneId, Equalize, JobOptions, Preprocessing, ResizeMode } from '../types';
import { throwIfAborted } from '../util/cancel';
import { readSealed, writeSealed } from '../util/sealed';
import type { FeatureExtractor } from '../runtime/extractor';
import { featureDim, poolFeatures } from '../model/head';
import { normalise } from '../data/preprocess';

export interface FeatureKey {
	backbone: BackboneId;
	weightsSha: string;
	preprocessing: Preprocessing;
	resize: ResizeMode;
	size: number;
	/** Absent for fp32; 'int8-<ranges hash>' for a quantized base (its features differ a little). */
	precision?: string;
	equalize?: Equalize;
}

export function featureCacheDir(workDir: string, key: FeatureKey): string {
	const eq = key.equalize && key.equalize !== 'none' ? `-${key.equalize}` : '';
	const name = `${key.backbone}-${key.weightsSha.slice(0, 12)}-${key.preprocessing}-${key.resize}-${key.size}${eq}${key.precision ? `-${key.precision}` : ''}`;
	return path.join(workDir, 'cache', 'features', name);
}

export interface FeatureInput {
	sha256: string;
	rgb: Uint8Array;
}

export interface FeatureOptions extends JobOptions {
	workDir: string;
	key: FeatureKey;
	/** Output [h, w, c] of the base (from the spec: no model is built when everything is cached). */
	baseShape: [number, number, number];
	/** Built only when something must be computed. */
	extractor: () => Promise<FeatureExtractor>;
	batchSize?: number;
}

export interface FeatureResult {
	/** n × dim, in the order of the inputs. */
	feats: Float32Array;
	dim: number;
	computed: number;
	cached: number;
	/** The runtime that computed the new features, if any were computed. */
	runtime?: string;
}

/** Features for every input, from the cache where present; new ones are computed in batches and cached. */
export async function computeFeatures(items: FeatureInput[], opts: FeatureOptions): Promise<FeatureResult> {
	const dim = featureDim(opts.baseShape);
	const dir = featureCacheDir(opts.workDir, opts.key);
	const feats = new Float32Array(items.length * dim);
	// Identical images are computed once.
	const rowsBySha = new Map<string, number[]>();
	items.forEach((it, i) => rowsBySha.set(it.sha256, [...(rowsBySha.get(it.sha256) ?? []), i]));
	const missing: string[] = [];
	let cached = 0;
	for (const [sha, rows] of rowsBySha) {
		const v = await readVector(featureFile(dir, sha), dim);
		if (v) {
			for (const r of rows) feats.set(v, r * dim);
			cached += rows.length;
		} else missing.push(sha);
	}
	const total = rowsBySha.size;
	let done = total - missing.length;
	opts.onProgress?.({ kind: 'stage', stage: 'features', done, total, message: missing.length ? `${done} cached` : 'all cached' });
	if (missing.length === 0) return { feats, dim, computed: 0, cached };

	throwIfAborted(opts.signal);
	const extractor = await opts.extractor();
	const size = opts.key.size;
	const px = size * size * 3;
	const batchSize = opts.batchSize ?? 8;
	const batch = new Float32Array(batchSize * px);
	await fs.mkdir(dir, { recursive: true });
	let computed = 0;
	try {
		for (let s = 0; s < missing.length; s += batchSize) {
			throwIfAborted(opts.signal);
			const shas = missing.slice(s, s + batchSize);
			shas.forEach((sha, j) => {
				const rgb = items[rowsBySha.get(sha)![0]].rgb;
				if (rgb.length !== px) throw new Error(`Decoded image ${sha.slice(0, 12)} has ${rgb.length} bytes, expected ${px}`);
				normalise(rgb, opts.key.preprocessing, batch, j * px);
			});
			const raw = await extractor.extract(batch, shas.length);
			const pooled = poolFeatures(raw, shas.length, opts.baseShape);
			for (let j = 0; j < shas.length; j++) {
				const v = pooled.subarray(j * dim, (j + 1) * dim);
				for (const r of rowsBySha.get(shas[j])!) feats.set(v, r * dim);
				computed += rowsBySha.get(shas[j])!.length;
				await writeSealed(featureFile(dir, shas[j]), new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
			}
			done += shas.length;
			opts.onProgress?.({ kind: 'stage', stage: 'features', done, total, message: extractor.runtime });
			await new Promise((r) => setImmediate(r));
		}
	} finally {
		await extractor.dispose();
	}
	return { feats, dim, computed, cached, runtime: extractor.runtime };
}

/** '.f32s': sealed float32 vector (payload + digest), see util/sealed.ts. */
export function featureFile(dir: string, sha: string): string {
	return path.join(dir, `${sha}.f32s`);
}

/** A cached vector, or undefined when missing, torn or corrupt (then it is computed again). */
export async function readVector(file: string, dim: number): Promise<Float32Array | undefined> {
	const buf = await readSealed(file, dim * 4);
	if (!buf) return undefined;
	// Copy out: Buffer slices of the pool are not 4-byte aligned.
	const out = new Float32Array(dim);
	new Uint8Array(out.buffer).set(buf);
	return out;
}
