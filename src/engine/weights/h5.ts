// Keras 2 HDF5 weights (`model.save_weights('x.h5')` / `model.save('x.h5')`) read and written with h5wasm.
// Layout: root attrs layer_names, backend, keras_version; one group per layer with attr weight_names; datasets
// at <layer>/<weight name>, e.g. block1_conv1/block1_conv1/kernel:0. model.save() nests it all under
// `model_weights`. Weights are matched by layer name, and auto-named layers (conv2d_N, …) by order, as Keras does.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { sha256File } from '../util/hash';
import { tf } from '../model/tf';
import type { LayersModel } from '../model/tf';

type H5Module = typeof import('h5wasm');
type H5File = InstanceType<H5Module['File']>;
type H5Group = InstanceType<H5Module['Group']>;
type H5Dataset = InstanceType<H5Module['Dataset']>;
type Layer = LayersModel['layers'][number];
type LayerVariable = Layer['weights'][number];

/** The version string we write: the file follows Keras 2's save_weights layout (readers check the major). */
export const KERAS_VERSION_WRITTEN = '2.15.0';

/** A weights file that does not fit the model: names the file, the layer and, when known, weight and shapes. */
export class WeightsMismatchError extends Error {
	constructor(
		readonly file: string,
		readonly layer: string,
		message: string,
		readonly weight?: string,
		readonly expected?: number[],
		readonly found?: number[],
	) {
		super(`${file}: ${message}`);
		this.name = 'WeightsMismatchError';
	}
}

export interface LoadKerasWeightsOptions {
	/** Model layer name → file layer name, tried before anything else. */
	aliases?: Record<string, string>;
	/** Leave model layers that the file lacks at their current values instead of throwing. */
	allowMissing?: boolean;
}

export interface LoadKerasWeightsResult {
	sha256: string;
	/** Model layers with weights that received values. */
	layersLoaded: number;
	/** Model layers left as they were (only with allowMissing). */
	missing: string[];
	/** Model layer → file layer, where the names differ (aliases and order-matched auto names). */
	renamed: Record<string, string>;
	/** 'root' for save_weights files, 'model_weights' for model.save() files. */
	weightsGroup: 'root' | 'model_weights';
}

/** One layer of a Keras weights file, for debugging and for tests. */
export interface H5LayerInfo {
	name: string;
	weights: { name: string; shape: number[]; dtype: string }[];
}

export interface H5Tree {
	file: string;
	weightsGroup: 'root' | 'model_weights';
	kerasVersion?: string;
	backend?: string;
	layers: H5LayerInfo[];
}

let h5Promise: Promise<H5Module> | undefined;

/** h5wasm is ESM-only; the variable specifier keeps bundlers and tsc from turning import() into require(). */
export function loadH5wasm(): Promise<H5Module> {
	if (!h5Promise) {
		const spec = 'h5wasm/node';
		h5Promise = (import(spec) as Promise<H5Module>).then(async (m) => {
			await m.ready;
			return m;
		});
	}
	return h5Promise;
}

async function openH5(file: string, mode: 'r' | 'w'): Promise<H5File> {
	const h5 = await loadH5wasm();
	if (mode === 'r') {
		let head: Buffer;
		try {
			head = await readHead(file);
		} catch {
			throw new Error(`${file}: weights file not found`);
		}
		// Check the signature ourselves: HDF5 prints a page of diagnostics for a non-HDF5 file.
		if (!hasH5Signature(head)) throw new Error(`${file}: not a readable HDF5 file (no HDF5 signature)`);
	}
	const f = new h5.File(file, mode);
	// h5wasm does not throw on a failed open: it hands back a negative id.
	if (f.file_id < 0n) throw new Error(`${file}: not a readable HDF5 file`);
	return f;
}

const H5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

async function readHead(file: string): Promise<Buffer> {
	const fh = await fs.open(file, 'r');
	try {
		const buf = Buffer.alloc(2048 + 8);
		const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
		return buf.subarray(0, bytesRead);
	} finally {
		await fh.close();
	}
}

/** The superblock sits at 0 or, after a user block, at 512, 1024, 2048, … */
function hasH5Signature(head: Buffer): boolean {
	for (const at of [0, 512, 1024, 2048]) {
		if (head.length >= at + 8 && head.subarray(at, at + 8).equals(H5_SIGNATURE)) return true;
	}
	return false;
}

/** Keras splits long string-list attributes into name0, name1, …; read either form. */
function readStringList(obj: H5Group, name: string): string[] | undefined {
	const attrs = obj.attrs;
	const decode = (v: unknown): string[] => {
		const arr = Array.isArray(v) ? v : v == null ? [] : ArrayBuffer.isView(v) ? Array.from(v as Float64Array) : [v];
		return arr.map((x) => (x instanceof Uint8Array ? Buffer.from(x).toString('utf8') : String(x)));
	};
	if (attrs[name]) return decode(attrs[name].value);
	if (!attrs[`${name}0`]) return undefined;
	const out: string[] = [];
	for (let i = 0; attrs[`${name}${i}`]; i++) out.push(...decode(attrs[`${name}${i}`].value));
	return out;
}

function readStringAttr(obj: H5Group, name: string): string | undefined {
	const a = obj.attrs[name];
	if (!a) return undefined;
	const v = a.value;
	return v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v == null ? undefined : String(v);
}

/** The group holding layer_names: the root (save_weights) or model_weights (model.save). */
function weightsRoot(f: H5File, file: string): { group: H5Group; kind: 'root' | 'model_weights' } {
	if (readStringList(f, 'layer_names')) return { group: f, kind: 'root' };
	const mw = f.get('model_weights');
	if (mw && mw instanceof Object && 'keys' in mw && readStringList(mw, 'layer_names')) {
		return { group: mw, kind: 'model_weights' };
	}
	if (f.get('layers')) {
		throw new Error(`${file}: a Keras 3 .weights.h5 file; only Keras 2 HDF5 weights (layer_names) are supported`);
	}
	throw new Error(`${file}: not a Keras weights file (no layer_names attribute at the root or in model_weights)`);
}

interface FileLayer {
	name: string;
	group: H5Group;
	weightNames: string[];
}

function fileLayers(root: H5Group): FileLayer[] {
	const names = readStringList(root, 'layer_names') ?? [];
	const out: FileLayer[] = [];
	for (const name of names) {
		const g = root.get(name) as H5Group | null | undefined;
		if (!g) continue;
		out.push({ name, group: g, weightNames: readStringList(g, 'weight_names') ?? [] });
	}
	return out;
}

/** tf.keras names unnamed layers <base>, <base>_1, …; standalone Keras 1/2 used other bases or counted from 1. */
const AUTO_BASES: Record<string, string[]> = {
	conv2d: ['conv2d', 'convolution2d'],
	batch_normalization: ['batch_normalization', 'batchnormalization'],
	separable_conv2d: ['separable_conv2d', 'separableconvolution2d'],
	depthwise_conv2d: ['depthwise_conv2d'],
	dense: ['dense'],
};

function autoBase(name: string): string | undefined {
	const m = /^([a-z][a-z0-9_]*?)(?:_\d+)?$/.exec(name);
	return m && AUTO_BASES[m[1]] ? m[1] : undefined;
}

function autoIndex(name: string): number {
	const m = /_(\d+)$/.exec(name);
	return m ? Number(m[1]) : 0;
}

/** Decide which file layer feeds each model layer that has weights. */
function matchLayers(modelLayers: Layer[], fLayers: FileLayer[], aliases: Record<string, string>): Map<Layer, FileLayer | undefined> {
	const byName = new Map(fLayers.map((l) => [l.name, l]));
	const withWeights = fLayers.filter((l) => l.weightNames.length > 0);
	const result = new Map<Layer, FileLayer | undefined>();
	const autoGroups = new Map<string, Layer[]>();
	for (const layer of modelLayers) {
		const alias = aliases[layer.name];
		if (alias !== undefined) {
			result.set(layer, byName.get(alias));
			continue;
		}
		const base = autoBase(layer.name);
		if (base) {
			autoGroups.set(base, [...(autoGroups.get(base) ?? []), layer]);
			continue;
		}
		result.set(layer, byName.get(layer.name));
	}
	// Auto-named layers: pair by order (the order Keras wrote them) when the counts agree, else by name.
	for (const [base, layers] of autoGroups) {
		const alts = AUTO_BASES[base];
		const candidates = withWeights.filter((l) => alts.some((a) => new RegExp(`^${a}(?:_\\d+)?$`).test(l.name))).sort((a, b) => autoIndex(a.name) - autoIndex(b.name));
		const sorted = [...layers].sort((a, b) => autoIndex(a.name) - autoIndex(b.name));
		if (candidates.length === sorted.length) {
			sorted.forEach((l, i) => result.set(l, candidates[i]));
		} else {
			for (const l of layers) result.set(l, byName.get(l.name));
		}
	}
	return result;
}

function stripIndex(name: string): string {
	return name.replace(/:\d+$/, '');
}

function lastSegment(name: string): string {
	const s = stripIndex(name);
	return s.slice(s.lastIndexOf('/') + 1);
}

/** Pair a layer's variables with the file's weight names: by full name, by short name, else by order (Keras). */
function matchWeights(vars: LayerVariable[], weightNames: string[]): string[] {
	const full = weightNames.map(stripIndex);
	if (vars.every((v) => full.includes(v.originalName)) && new Set(full).size === full.length) {
		return vars.map((v) => weightNames[full.indexOf(v.originalName)]);
	}
	const short = weightNames.map(lastSegment);
	const varShort = vars.map((v) => lastSegment(v.originalName));
	if (new Set(short).size === short.length && varShort.every((s) => short.includes(s))) {
		return varShort.map((s) => weightNames[short.indexOf(s)]);
	}
	return weightNames;
}

function toFloat32(value: unknown, file: string, where: string): Float32Array {
	if (value instanceof Float32Array) return value;
	if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
		return Float32Array.from(value as unknown as ArrayLike<number>);
	}
	// float16 and other exotic dtypes come back as nested arrays or null.
	throw new Error(`${file}: ${where} is not a numeric array h5wasm can read`);
}

const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
const fmt = (s: number[]) => `[${s.join(', ')}]`;

/**
 * Load Keras 2 HDF5 weights into a tfjs model by layer name. Everything is checked before anything is
 * assigned, so a mismatch leaves the model as it was.
 */
export async function loadKerasWeights(model: LayersModel, file: string, opts: LoadKerasWeightsOptions = {}): Promise<LoadKerasWeightsResult> {
	const f = await openH5(file, 'r');
	const pending: { layer: Layer; values: { data: Float32Array; shape: number[] }[] }[] = [];
	const missing: string[] = [];
	const renamed: Record<string, string> = {};
	let kind: 'root' | 'model_weights';
	try {
		const root = weightsRoot(f, file);
		kind = root.kind;
		const fLayers = fileLayers(root.group);
		const modelLayers = model.layers.filter((l) => l.weights.length > 0);
		const matches = matchLayers(modelLayers, fLayers, opts.aliases ?? {});
		for (const layer of modelLayers) {
			const src = matches.get(layer);
			if (!src || src.weightNames.length === 0) {
				if (opts.allowMissing) {
					missing.push(layer.name);
					continue;
				}
				const alias = opts.aliases?.[layer.name];
				throw new WeightsMismatchError(
					file,
					layer.name,
					`layer '${layer.name}'${alias ? ` (alias '${alias}')` : ''} has no weights in the file ` + `(${fLayers.filter((l) => l.weightNames.length).length} layers with weights there)`,
				);
			}
			if (src.name !== layer.name) renamed[layer.name] = src.name;
			const vars = layer.weights;
			if (src.weightNames.length !== vars.length) {
				throw new WeightsMismatchError(
					file,
					layer.name,
					`layer '${layer.name}' has ${vars.length} weights (${vars.map((v) => lastSegment(v.originalName)).join(', ')}), ` +
						`the file's '${src.name}' has ${src.weightNames.length} (${src.weightNames.join(', ')})`,
				);
			}
			const names = matchWeights(vars, src.weightNames);
			const values = vars.map((v, i) => {
				const ds = src.group.get(names[i]) as H5Dataset | null | undefined;
				if (!ds || !('shape' in ds)) {
					throw new WeightsMismatchError(file, layer.name, `layer '${src.name}': dataset '${names[i]}' is missing`, names[i]);
				}
				const found = ds.shape ?? [];
				if (!sameShape(found, v.shape as number[])) {
					throw new WeightsMismatchError(
						file,
						layer.name,
						`layer '${layer.name}' weight '${lastSegment(v.originalName)}' (file: '${src.name}/${names[i]}'): ` + `expected shape ${fmt(v.shape as number[])}, found ${fmt(found)}`,
						names[i],
						v.shape as number[],
						found,
					);
				}
				return { data: toFloat32(ds.value, file, `'${src.name}/${names[i]}'`), shape: found };
			});
			pending.push({ layer, values });
		}
	} finally {
		f.close();
	}
	for (const { layer, values } of pending) {
		const tensors = values.map((v) => tf.tensor(v.data, v.shape, 'float32'));
		try {
			layer.setWeights(tensors);
		} finally {
			tensors.forEach((t) => t.dispose());
		}
	}
	return { sha256: await sha256File(file), layersLoaded: pending.length, missing, renamed, weightsGroup: kind };
}

/** Fixed-length ASCII, as numpy's 'S' arrays that Keras writes (at least 1 byte: HDF5 rejects size 0). */
function asciiDtype(strings: string[]): string {
	return `A${Math.max(1, ...strings.map((s) => Buffer.byteLength(s)))}`;
}

function writeStringList(obj: H5Group, name: string, strings: string[]): void {
	obj.create_attribute(name, strings, [strings.length], asciiDtype(strings));
}

/** Create `a/b/c` below a group; h5wasm does not create intermediate groups (and fails silently). */
function ensureGroup(parent: H5Group, rel: string): H5Group {
	let g = parent;
	for (const part of rel.split('/').filter(Boolean)) {
		const existing = g.get(part) as H5Group | null | undefined;
		g = existing && 'keys' in existing ? existing : g.create_group(part);
	}
	return g;
}

/**
 * Write a model's weights exactly as Keras 2's `model.save_weights('x.h5')`: every layer listed (weightless ones
 * too), weight names `<layer>/<weight>:0`. Written beside the target and renamed into place.
 */
export async function saveKerasWeights(model: LayersModel, file: string): Promise<void> {
	await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
	const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
	// Read every value first: tensor reads are async, h5wasm writes are not.
	const layers: { name: string; weights: { name: string; shape: number[]; data: Float32Array }[] }[] = [];
	for (const layer of model.layers) {
		const weights = [];
		for (const v of layer.weights) {
			const data = (await v.read().data()) as Float32Array;
			weights.push({ name: `${v.originalName}:0`, shape: v.shape as number[], data: Float32Array.from(data) });
		}
		layers.push({ name: layer.name, weights });
	}
	try {
		const f = await openH5(tmp, 'w');
		try {
			writeStringList(
				f,
				'layer_names',
				layers.map((l) => l.name),
			);
			f.create_attribute('backend', 'tensorflow', null, asciiDtype(['tensorflow']));
			f.create_attribute('keras_version', KERAS_VERSION_WRITTEN, null, asciiDtype([KERAS_VERSION_WRITTEN]));
			for (const l of layers) {
				const g = f.create_group(l.name);
				writeStringList(
					g,
					'weight_names',
					l.weights.map((w) => w.name),
				);
				for (const w of l.weights) {
					const slash = w.name.lastIndexOf('/');
					const parent = slash >= 0 ? ensureGroup(g, w.name.slice(0, slash)) : g;
					parent.create_dataset({ name: w.name.slice(slash + 1), data: w.data, shape: w.shape, dtype: '<f' });
				}
			}
			f.flush();
		} finally {
			f.close();
		}
		await fs.rename(tmp, file);
	} catch (e) {
		await fs.rm(tmp, { force: true });
		throw e;
	}
}

/** Layer and weight names, shapes and dtypes of a Keras weights file (no values read). */
export async function readH5Tree(file: string): Promise<H5Tree> {
	const f = await openH5(file, 'r');
	try {
		const root = weightsRoot(f, file);
		return {
			file,
			weightsGroup: root.kind,
			kerasVersion: readStringAttr(root.group, 'keras_version') ?? readStringAttr(f, 'keras_version'),
			backend: readStringAttr(root.group, 'backend') ?? readStringAttr(f, 'backend'),
			layers: fileLayers(root.group).map((l) => ({
				name: l.name,
				weights: l.weightNames.map((wn) => {
					const ds = l.group.get(wn) as H5Dataset | null | undefined;
					return { name: wn, shape: ds?.shape ?? [], dtype: ds ? String(ds.dtype) : 'missing' };
				}),
			})),
		};
	} finally {
		f.close();
	}
}
