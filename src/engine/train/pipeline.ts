// Decode and the base's forward pass as one pipeline: files are hashed first (cheap, no decode), cached features
// skip decoding entirely, and the next batches decode (sharp, on libuv's threads) while the base runs the current one.
import * as os from 'node:os';
import type { FileError, ImageRecord } from '../types';
import { throwIfAborted } from '../util/cancel';
import { holdForTest } from '../testHooks';
import { writeSealed } from '../util/sealed';
import { openPixelCache, type LoadedImage, type PixelCacheOptions } from '../data/cache';
import { DecodeError } from '../data/decode';
import { normalise } from '../data/preprocess';
import { featureDim, poolFeatures } from '../model/head';
import { featureCacheDir, featureFile, readVector, type FeatureOptions, type FeatureResult } from './features';

/** What the pipeline did, in order; a test records it to check the overlap without timing anything. */
export type PipelineEvent =
	| { kind: 'decode-start'; item: number; batch: number }
	| { kind: 'decode-end'; item: number; batch: number; ok: boolean }
	| { kind: 'forward-start'; batch: number; n: number }
	| { kind: 'forward-end'; batch: number };

export interface PipelineOptions extends FeatureOptions {
	pixels: PixelCacheOptions;
	/** Batches decoded ahead of the one in the base: at most (1 + lookahead) × batchSize images are held. */
	lookahead?: number;
	/** Files decoded at once (default: one more than the cores, at most 4, as loadImages). */
	concurrency?: number;
	onPipelineEvent?: (e: PipelineEvent) => void;
}

/** The loaded images without their pixels (those lived only until their batch went through the base). */
export interface PipelinedLoad {
	/** In input order, without the files that failed. */
	images: Pick<LoadedImage, 'record' | 'sha256'>[];
	errors: FileError[];
	/** Files decoded now. */
	decoded: number;
	/** Files that needed no decode: pixels or features cached. */
	cached: number;
}

/** Cache writes allowed to run behind the decodes (each holds one image's pixels). */
const MAX_PENDING_WRITES = 16;

/** Features for every record (feature rows in the order of `loaded.images`), decoding only what the cache lacks. */
export async function pipelineFeatures(records: ImageRecord[], opts: PipelineOptions): Promise<{ loaded: PipelinedLoad; features: FeatureResult }> {
	const { signal, onProgress } = opts;
	const hook = opts.onPipelineEvent;
	const dim = featureDim(opts.baseShape);
	const dir = featureCacheDir(opts.workDir, opts.key);
	const session = await openPixelCache(opts.pixels);
	const workers = Math.max(1, opts.concurrency ?? Math.min(4, os.availableParallelism() + 1));
	const total = records.length;
	const step = Math.max(1, Math.floor(total / 200));
	const failed = new Map<number, FileError>();
	const fail = (i: number, e: unknown) => {
		const error: FileError = { path: records[i].path, reason: e instanceof DecodeError ? e.reason : e instanceof Error ? e.message : String(e) };
		failed.set(i, error);
		onProgress?.({ kind: 'fileError', error });
	};
	let resolved = 0;
	const progress = (n: number) => {
		const before = resolved;
		resolved += n;
		if (Math.floor(resolved / step) !== Math.floor(before / step) || resolved === total) onProgress?.({ kind: 'stage', stage: 'decode', done: resolved, total });
	};
	onProgress?.({ kind: 'stage', stage: 'decode', done: 0, total, message: 'hashing' });
	await holdForTest('decode', signal);

	const shaOf = new Array<string | undefined>(total);
	const featOf = new Map<string, Float32Array>();
	let decoded = 0;
	let computed = 0;
	let cachedFeats = 0;
	let runtime: string | undefined;
	// The hash index is saved whatever happens (cancelled too): what was hashed need not be read again.
	try {
		// 1. Content hashes: reads the files (or the hash index), never decodes.
		let nextHash = 0;
		const hashWorker = async () => {
			while (nextHash < total && !signal?.aborted) {
				const i = nextHash++;
				try {
					shaOf[i] = await session.hash(records[i].path);
				} catch (e) {
					fail(i, e);
					progress(1);
				}
			}
		};
		await Promise.all(Array.from({ length: Math.min(workers, total) }, hashWorker));
		throwIfAborted(signal);

		// 2. The feature cache: a hit needs no pixels. Identical files are computed once.
		const rowsBySha = new Map<string, number[]>();
		shaOf.forEach((sha, i) => sha && rowsBySha.set(sha, [...(rowsBySha.get(sha) ?? []), i]));
		const missing: string[] = [];
		for (const [sha, rows] of rowsBySha) {
			const v = await readVector(featureFile(dir, sha), dim);
			if (v) {
				featOf.set(sha, v);
				cachedFeats += rows.length;
				progress(rows.length);
			} else missing.push(sha);
		}
		const uniques = rowsBySha.size;
		let done = uniques - missing.length;
		onProgress?.({ kind: 'stage', stage: 'features', done, total: uniques, message: missing.length ? `${done} cached` : 'all cached' });

		if (missing.length) {
			const batchSize = opts.batchSize ?? 8;
			const lookahead = Math.max(0, opts.lookahead ?? 2);
			const batches = Math.ceil(missing.length / batchSize);
			const batchOf = (j: number) => Math.floor(j / batchSize);
			// One slot per missing image: its pixels, or undefined once it failed (its files are then errors).
			const slots: Promise<Uint8Array | undefined>[] = [];
			const settle: ((v: Uint8Array | undefined) => void)[] = [];
			for (let j = 0; j < missing.length; j++) slots.push(new Promise((r) => settle.push(r)));
			// Decoders may work on batches up to `lookahead` past the one in the base; `gate` wakes them when it moves on.
			let inBase = 0;
			let stopped = false;
			let wake = () => {};
			let gate = new Promise<void>((r) => (wake = r));
			const advance = () => {
				const w = wake;
				gate = new Promise<void>((r) => (wake = r));
				w();
			};
			const writes = new Set<Promise<void>>();
			let nextDecode = 0;
			const decodeWorker = async () => {
				for (;;) {
					if (stopped || signal?.aborted || nextDecode >= missing.length) return;
					if (batchOf(nextDecode) > inBase + lookahead) {
						await gate;
						continue;
					}
					const j = nextDecode++;
					const sha = missing[j];
					const rows = rowsBySha.get(sha)!;
					hook?.({ kind: 'decode-start', item: j, batch: batchOf(j) });
					try {
						const r = await session.pixels(records[rows[0]].path, sha);
						if (!r.cached) decoded++;
						if (r.written) {
							// A failed pixel-cache write costs a later run a decode, not this image its features.
							const p: Promise<void> = r.written.then(
								() => void writes.delete(p),
								(e: unknown) => {
									writes.delete(p);
									onProgress?.({ kind: 'log', level: 'warn', message: `${records[rows[0]].path}: pixel cache not written (${e instanceof Error ? e.message : String(e)})` });
								},
							);
							writes.add(p);
						}
						hook?.({ kind: 'decode-end', item: j, batch: batchOf(j), ok: true });
						settle[j](r.rgb);
					} catch (e) {
						// Same content, same failure: every file with it is named.
						for (const i of rows) fail(i, e);
						hook?.({ kind: 'decode-end', item: j, batch: batchOf(j), ok: false });
						settle[j](undefined);
					}
					progress(rows.length);
					while (writes.size >= MAX_PENDING_WRITES) await Promise.race(writes);
				}
			};
			// Slots no decoder took (cancelled, or the base failed) settle empty, so nothing waits on them forever.
			const decoding = Promise.all(Array.from({ length: Math.min(workers, missing.length) }, decodeWorker)).finally(() => settle.forEach((s) => s(undefined)));
			const size = opts.key.size;
			const px = size * size * 3;
			const batch = new Float32Array(batchSize * px);
			let extractor: Awaited<ReturnType<FeatureOptions['extractor']>> | undefined;
			try {
				// The base is built while the first batches decode.
				await holdForTest('features', signal);
				extractor = await opts.extractor();
				runtime = extractor.runtime;
				for (let b = 0; b < batches; b++) {
					throwIfAborted(signal);
					const from = b * batchSize;
					const to = Math.min(missing.length, from + batchSize);
					inBase = b;
					advance();
					const pixels = await Promise.all(slots.slice(from, to));
					throwIfAborted(signal);
					const ok: string[] = [];
					pixels.forEach((rgb, k) => {
						if (!rgb) return;
						if (rgb.length !== px) throw new Error(`Decoded image ${missing[from + k].slice(0, 12)} has ${rgb.length} bytes, expected ${px}`);
						normalise(rgb, opts.key.preprocessing, batch, ok.length * px);
						ok.push(missing[from + k]);
					});
					// Let go of this batch's pixels: only the look-ahead stays in memory.
					for (let j = from; j < to; j++) slots[j] = Promise.resolve(undefined);
					if (ok.length) {
						hook?.({ kind: 'forward-start', batch: b, n: ok.length });
						const raw = await extractor.extract(batch, ok.length);
						hook?.({ kind: 'forward-end', batch: b });
						const pooled = poolFeatures(raw, ok.length, opts.baseShape);
						await Promise.all(
							ok.map((sha, k) => {
								const v = pooled.subarray(k * dim, (k + 1) * dim);
								featOf.set(sha, v);
								computed += rowsBySha.get(sha)!.length;
								return writeSealed(featureFile(dir, sha), new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
							}),
						);
					}
					done += to - from;
					onProgress?.({ kind: 'stage', stage: 'features', done, total: uniques, message: extractor.runtime });
				}
			} finally {
				stopped = true;
				advance();
				await decoding.catch(() => undefined);
				while (writes.size) await Promise.all(writes);
				await extractor?.dispose();
			}
		}
	} finally {
		await session.close();
	}
	throwIfAborted(signal);

	const images: PipelinedLoad['images'] = [];
	const errors: FileError[] = [];
	const rows: Float32Array[] = [];
	records.forEach((record, i) => {
		const err = failed.get(i);
		if (err) errors.push(err);
		else {
			images.push({ record, sha256: shaOf[i]! });
			rows.push(featOf.get(shaOf[i]!)!);
		}
	});
	const feats = new Float32Array(rows.length * dim);
	rows.forEach((v, r) => feats.set(v, r * dim));
	return {
		loaded: { images, errors, decoded, cached: total - decoded - errors.length },
		features: { feats, dim, computed, cached: cachedFeats, ...(runtime ? { runtime } : {}) },
	};
}
