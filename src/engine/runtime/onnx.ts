// The frozen base on ONNX Runtime (CPU, or CUDA where its provider is installed): the tfjs model's own weights
// exported to ONNX (onnxGraph.ts), cached on disk, run with every core. onnxruntime-node is optional: it is required lazily and its absence is reported.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { baseDeviceFromEnv, chooseProviders, cudaProvider, type BaseDevice } from './device';
import type { FeatureExtractor } from './extractor';
import type { BackboneSpec } from '../model/backbones/spec';
import type { LayersModel } from '../model/tf';
import { buildOnnxModel, exportOnnx, ONNX_EXPORTER_VERSION, ONNX_INPUT, ONNX_OUTPUT } from './onnxGraph';
import { buildInt8, int8FromRanges, type CalibrationImage, type Int8Report } from './int8';
import type { Range } from './quantize';
import { writeFileAtomic } from '../util/atomic';
import { sha256 } from '../util/hash';
import { ORT_FIX } from './ortInstall';

type Ort = typeof import('onnxruntime-node');

let ortModule: Ort | undefined;
let ortError: string | undefined;

/** Loads onnxruntime-node once; throws a clear error when it is not installed or its native part fails to load. */
export function loadOrt(): Ort {
	if (ortModule) return ortModule;
	if (ortError) throw new Error(ortError);
	try {
		ortModule = require('onnxruntime-node') as Ort;
		return ortModule;
	} catch (e) {
		const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
		ortError = `ONNX Runtime is not available (optional dependency onnxruntime-node did not load: ${why}). ` + `Fix: ${ORT_FIX}; or use the tfjs base runtime.`;
		throw new Error(ortError);
	}
}

export function onnxAvailable(): Promise<boolean> {
	try {
		loadOrt();
		return Promise.resolve(true);
	} catch {
		return Promise.resolve(false);
	}
}

export function ortVersion(): string {
	const ort = loadOrt();
	return ort.env.versions?.node ?? ort.env.versions?.common ?? '?';
}

export function defaultThreads(): number {
	return typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
}

export interface OnnxExtractorOptions {
	/** Folder for the exported .onnx files. */
	cacheDir: string;
	/** sha256 of the weights the model holds (or 'random-<seed>'): part of the cache key. */
	weightsSha: string;
	/** Intra-op threads; default all cores. */
	threads?: number;
	/** Default: RADREVIEW_BASE_DEVICE, else 'auto'. */
	device?: BaseDevice;
	/** Whether the CUDA provider is installed; default: looked up beside the binding (cudaProvider). */
	cuda?: { installed: boolean; reason?: string };
	/** An int8 base: calibrate on these images (checking fidelity on `check`), or rebuild from a run's ranges. */
	int8?: { calibration: CalibrationImage[]; check: CalibrationImage[]; pool: (raw: Float32Array) => Float32Array } | { ranges: Record<string, Range>; quantizerVersion?: number };
}

/** Where the exported graph for this base, weights and input size lives. */
export function onnxCachePath(spec: BackboneSpec, inputSize: number, opts: Pick<OnnxExtractorOptions, 'cacheDir' | 'weightsSha'>): string {
	const sha = opts.weightsSha.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 12);
	return path.join(opts.cacheDir, `${spec.id}-${sha}-${inputSize}-x${ONNX_EXPORTER_VERSION}.onnx`);
}

/** The cached graph when its digest file matches its bytes, else undefined. */
export async function readVerifiedGraph(file: string): Promise<Uint8Array | undefined> {
	try {
		const [bytes, want] = await Promise.all([fs.readFile(file), fs.readFile(`${file}.sha256`, 'utf8')]);
		return sha256(bytes) === want.trim() ? bytes : undefined;
	} catch {
		return undefined;
	}
}

async function writeGraph(file: string, bytes: Uint8Array): Promise<void> {
	await writeFileAtomic(file, bytes, { fsync: false });
	await writeFileAtomic(`${file}.sha256`, `${sha256(bytes)}\n`, { fsync: false });
}

/** Exports (or reuses the cached export of) `model` and opens an ONNX Runtime session on it. */
export async function createOnnxExtractor(model: LayersModel, spec: BackboneSpec, opts: OnnxExtractorOptions): Promise<FeatureExtractor> {
	const ort = loadOrt();
	const inShape = model.inputs[0].shape;
	const size = inShape[1];
	if (typeof size !== 'number' || inShape[2] !== size || inShape[3] !== 3) throw new Error(`ONNX: expected a square RGB input, got [${inShape.join(', ')}]`);
	const outShape = model.outputs[0].shape.slice(1) as [number, number, number];
	const file = onnxCachePath(spec, size, opts);

	// The graph stays a plain .onnx file; its sha256 sits beside it, written after it: a torn or altered graph (or
	// one without its digest) is exported again rather than run.
	let bytes: Uint8Array | undefined = await readVerifiedGraph(file);
	if (!bytes) {
		bytes = exportOnnx(model).bytes;
		await writeGraph(file, bytes);
	}

	const threads = Math.max(1, opts.threads ?? defaultThreads());
	let int8: Int8Report | undefined;
	let int8Ranges: Record<string, Range> | undefined;
	if (opts.int8) {
		// The quantized graph replaces the fp32 one only when it keeps the features (buildInt8 measures that).
		const def = buildOnnxModel(model).def;
		if ('ranges' in opts.int8) {
			bytes = int8FromRanges(def, opts.int8.ranges, opts.int8.quantizerVersion);
			int8Ranges = opts.int8.ranges;
		} else {
			const built = await buildInt8(ort, def, opts.int8.calibration, opts.int8.check, { size, threads, pool: opts.int8.pool });
			int8 = built.report;
			if (built.bytes) {
				bytes = built.bytes;
				int8Ranges = built.ranges;
			}
		}
	}
	const device = opts.device ?? baseDeviceFromEnv();
	const plan = chooseProviders(device, { int8: int8Ranges !== undefined, cuda: device === 'cpu' ? { installed: false } : (opts.cuda ?? cudaProvider()) });
	let deviceNote = plan.note;
	const sessionOptions = (providers: Array<'cuda' | 'cpu'>) => ({
		graphOptimizationLevel: 'all' as const,
		executionMode: 'sequential' as const,
		intraOpNumThreads: threads,
		interOpNumThreads: 1,
		executionProviders: providers,
	});
	const open = async (b: Uint8Array) => {
		if (plan.providers[0] === 'cuda') {
			try {
				return { session: await ort.InferenceSession.create(b, sessionOptions(plan.providers)), on: 'cuda' as const };
			} catch (e) {
				deviceNote = `the CUDA execution provider did not start (${((e as Error).message ?? String(e)).split('\n')[0]}); the base runs on the CPU`;
			}
		}
		return { session: await ort.InferenceSession.create(b, sessionOptions(['cpu'])), on: 'cpu' as const };
	};
	let opened: Awaited<ReturnType<typeof open>>;
	try {
		opened = await open(bytes);
	} catch (e) {
		if (int8Ranges) throw new Error(`ONNX Runtime could not load the int8 ${spec.displayName} graph: ${(e as Error).message ?? e}`);
		// A damaged cache file must not stick: export again once.
		await fs.rm(file, { force: true });
		bytes = exportOnnx(model).bytes;
		await writeGraph(file, bytes);
		try {
			opened = await open(bytes);
		} catch (e2) {
			throw new Error(`ONNX Runtime could not load the exported ${spec.displayName} graph: ${(e2 as Error).message ?? e2} (first try: ${(e as Error).message ?? e})`);
		}
	}
	const session = opened.session;
	const perImage = size * size * 3;
	const outPer = outShape[0] * outShape[1] * outShape[2];
	let disposed = false;

	return {
		runtime: opened.on === 'cuda' ? `onnxruntime-node ${ortVersion()} (CUDA)` : `onnxruntime-node ${ortVersion()} (CPU, ${threads} thread${threads === 1 ? '' : 's'}${int8Ranges ? ', int8' : ''})`,
		...(deviceNote ? { deviceNote } : {}),
		int8,
		int8Ranges,
		outputShape: outShape,
		async extract(batch: Float32Array, n: number): Promise<Float32Array> {
			if (disposed) throw new Error('ONNX extractor used after dispose');
			if (batch.length < n * perImage) throw new Error(`ONNX extract: batch holds ${batch.length} floats, ${n} images need ${n * perImage}`);
			const data = batch.length === n * perImage ? batch : batch.subarray(0, n * perImage);
			const input = new ort.Tensor('float32', data, [n, size, size, 3]);
			const result = await session.run({ [ONNX_INPUT]: input });
			const out = result[ONNX_OUTPUT];
			const values = out.data as Float32Array;
			if (values.length !== n * outPer) throw new Error(`ONNX extract: got ${values.length} values, expected ${n * outPer}`);
			input.dispose?.();
			return values;
		},
		async dispose(): Promise<void> {
			if (disposed) return;
			disposed = true;
			await session.release();
		},
	};
}
