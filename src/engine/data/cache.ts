// Content-addressed pixel cache: decoded RGB bytes under <workDir>/cache/pixels/, keyed by
// (file sha256, size, resize mode, decoder version), so a second run decodes nothing.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Equalize, FileError, ImageRecord, JobOptions, ResizeMode } from '../types';
import { writeJsonAtomic } from '../util/atomic';
import { readSealed, writeSealed } from '../util/sealed';
import { throwIfAborted } from '../util/cancel';
import { sha256 } from '../util/hash';
import { DECODER_VERSION, DecodeError, decodePixels } from './decode';
import type { WindowChoice } from './voi';

export interface PixelCacheOptions {
	workDir: string;
	size: number;
	resize: ResizeMode;
	equalize?: Equalize;
	/** DICOM window feeding the model (default: the file's first); part of the cache key when set. */
	dicomWindow?: WindowChoice;
}

/** A short, file-name-safe name of a non-default DICOM window choice ('' for the default). */
function windowKey(w: WindowChoice | undefined): string {
	if (!w || (w.kind === 'file' && w.index === 0)) return '';
	return w.kind === 'file' ? `-w${w.index}` : w.kind === 'percentile' ? `-p${w.low}_${w.high}` : '-mm';
}

export interface LoadedImage {
	record: ImageRecord;
	rgb: Uint8Array;
	sha256: string;
}

export interface LoadResult {
	/** In input order, without the files that failed. */
	images: LoadedImage[];
	errors: FileError[];
	/** Files decoded now (0 on a warm run). */
	decoded: number;
	/** Files served from the cache. */
	cached: number;
}

/** path → file identity and sha256, so a warm run need not re-read big files to find their hash. */
interface HashIndex {
	version: 1;
	files: Record<string, { mtimeMs: number; size: number; sha256: string }>;
}

/** The folder holding cached pixels and the hash index. */
export function pixelCacheDir(workDir: string): string {
	return path.join(workDir, 'cache', 'pixels');
}

function entryPath(dir: string, hash: string, o: PixelCacheOptions): string {
	// '.rgbs': sealed (payload + digest), see util/sealed.ts.
	const eq = o.equalize && o.equalize !== 'none' ? `-${o.equalize}` : '';
	return path.join(dir, hash.slice(0, 2), `${hash}-${o.size}-${o.resize}${windowKey(o.dicomWindow)}${eq}-v${DECODER_VERSION}.rgbs`);
}

async function readIndex(dir: string): Promise<HashIndex> {
	try {
		const idx = JSON.parse(await fs.readFile(path.join(dir, 'index.json'), 'utf8')) as HashIndex;
		if (idx.version === 1 && idx.files && typeof idx.files === 'object') return idx;
	} catch {
		// Missing or damaged: start afresh; the index is only a shortcut.
	}
	return { version: 1, files: {} };
}

/** A cached entry, or undefined when missing, torn or corrupt (then it is decoded again). */
const readEntry = readSealed;

interface Loaded {
	rgb: Uint8Array;
	sha256: string;
	cached: boolean;
	/** The cache entry being written for a fresh decode: a batch awaits it later, so the next decode need not. */
	written?: Promise<void>;
}

/** A file's content hash, from the hash index when the file is unchanged, else by reading it (then its bytes come too). */
async function hashOne(file: string, index: HashIndex): Promise<{ sha256: string; bytes?: Uint8Array }> {
	let st;
	try {
		st = await fs.stat(file);
	} catch (e) {
		throw new DecodeError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
	}
	const known = index.files[file];
	if (known && known.mtimeMs === st.mtimeMs && known.size === st.size) return { sha256: known.sha256 };
	const bytes = await readBytes(file);
	const hash = sha256(bytes);
	index.files[file] = { mtimeMs: st.mtimeMs, size: st.size, sha256: hash };
	return { sha256: hash, bytes };
}

async function readBytes(file: string): Promise<Uint8Array> {
	try {
		return await fs.readFile(file);
	} catch (e) {
		throw new DecodeError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
	}
}

/** The pixels of a file whose hash is known: from the cache, or decoded (bytes read if not given). */
async function pixelsOf(file: string, hash: string, o: PixelCacheOptions, dir: string, bytes?: Uint8Array): Promise<Loaded> {
	const entry = entryPath(dir, hash, o);
	const hit = await readEntry(entry, o.size * o.size * 3);
	if (hit) return { rgb: hit, sha256: hash, cached: true };
	const img = await decodePixels(bytes ?? (await readBytes(file)), file, o);
	return { rgb: img.rgb, sha256: hash, cached: false, written: writeSealed(entry, img.rgb) };
}

/** One file through the cache, with the hash index of the current batch. */
async function loadOne(file: string, o: PixelCacheOptions, dir: string, index: HashIndex): Promise<Loaded> {
	const { sha256: hash, bytes } = await hashOne(file, index);
	return pixelsOf(file, hash, o, dir, bytes);
}

/**
 * The pixel cache split in two steps for a caller that hashes every file first and decodes only some, later
 * (the feature pipeline: a cached feature needs no pixels). `close` saves the hash index.
 */
export interface PixelCacheSession {
	/** Content hash of a file; throws DecodeError when it cannot be read. */
	hash(file: string): Promise<string>;
	/** Pixels of a hashed file (cached or decoded now); `written` is the cache write of a fresh decode. */
	pixels(file: string, hash: string): Promise<{ rgb: Uint8Array; cached: boolean; written?: Promise<void> }>;
	close(): Promise<void>;
}

export async function openPixelCache(o: PixelCacheOptions): Promise<PixelCacheSession> {
	const dir = pixelCacheDir(o.workDir);
	const index = await readIndex(dir);
	const before = JSON.stringify(index);
	return {
		hash: async (file) => (await hashOne(file, index)).sha256,
		pixels: (file, hash) => pixelsOf(file, hash, o, dir),
		close: async () => {
			if (JSON.stringify(index) !== before) await writeJsonAtomic(path.join(dir, 'index.json'), index);
		},
	};
}

/** Decode one file through the cache (e.g. "classify this image"). */
export async function decodeCached(file: string, opts: PixelCacheOptions): Promise<{ rgb: Uint8Array; sha256: string; cached: boolean }> {
	const dir = pixelCacheDir(opts.workDir);
	const index = await readIndex(dir);
	const { written, ...r } = await loadOne(path.resolve(file), opts, dir, index);
	await written;
	if (!r.cached) await writeJsonAtomic(path.join(dir, 'index.json'), index);
	return r;
}

/** Cache writes a batch lets run behind its decodes (each holds one image's pixels). */
const MAX_PENDING_WRITES = 16;

/**
 * Decode many files through the cache, `concurrency` at a time (default: one more than the cores, at most 4).
 * Bad files become FileErrors (and 'fileError' events) without stopping the batch; abort throws CancelledError.
 */
export async function loadImages(records: ImageRecord[], opts: PixelCacheOptions & { concurrency?: number } & JobOptions): Promise<LoadResult> {
	const { signal, onProgress } = opts;
	const dir = pixelCacheDir(opts.workDir);
	const index = await readIndex(dir);
	const before = JSON.stringify(index);
	const slots = new Array<LoadedImage | FileError | undefined>(records.length);
	const total = records.length;
	const step = Math.max(1, Math.floor(total / 200));
	let next = 0;
	let done = 0;
	let decoded = 0;
	let cached = 0;
	const fail = (i: number, e: unknown) => {
		const error: FileError = { path: records[i].path, reason: e instanceof DecodeError ? e.reason : e instanceof Error ? e.message : String(e) };
		slots[i] = error;
		onProgress?.({ kind: 'fileError', error });
	};
	// Writing an entry (mkdir, open, write, rename) leaves the core idle: the worker decodes its next file meanwhile.
	const writes = new Set<Promise<void>>();
	const settle = (i: number, written: Promise<void>) => {
		const p: Promise<void> = written.then(
			() => void writes.delete(p),
			(e: unknown) => {
				writes.delete(p);
				decoded--;
				fail(i, e);
			},
		);
		writes.add(p);
	};
	onProgress?.({ kind: 'stage', stage: 'decode', done: 0, total });
	const worker = async () => {
		while (next < total && !signal?.aborted) {
			const i = next++;
			const record = records[i];
			try {
				const r = await loadOne(record.path, opts, dir, index);
				slots[i] = { record, rgb: r.rgb, sha256: r.sha256 };
				r.cached ? cached++ : decoded++;
				if (r.written) settle(i, r.written);
			} catch (e) {
				fail(i, e);
			}
			done++;
			if (done % step === 0 || done === total) onProgress?.({ kind: 'stage', stage: 'decode', done, total });
			while (writes.size >= MAX_PENDING_WRITES) await Promise.race(writes);
		}
	};
	// One worker more than the cores: while one reads its file or hashes, the others keep every core decoding.
	const n = Math.max(1, Math.min(opts.concurrency ?? Math.min(4, os.availableParallelism() + 1), total));
	try {
		await Promise.all(Array.from({ length: n }, worker));
	} finally {
		// Settled writes never reject (a failed one becomes that file's error).
		while (writes.size) await Promise.all(writes);
		// Keep what was hashed, even when cancelled.
		if (JSON.stringify(index) !== before) await writeJsonAtomic(path.join(dir, 'index.json'), index);
	}
	throwIfAborted(signal);
	const images: LoadedImage[] = [];
	const errors: FileError[] = [];
	for (const s of slots) if (s) 'rgb' in s ? images.push(s) : errors.push(s);
	return { images, errors, decoded, cached };
}
