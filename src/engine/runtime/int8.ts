// The int8 base: calibrate on the dataset's own images, quantize (quantize.ts), and measure before trusting it.
// Fidelity is checked on images that did not set the ranges: when the int8 features stray from fp32 (cosine of
// the pooled features the head reads, 1st percentile below the floor), the base stays fp32 and says why.
import { createHash } from 'node:crypto';
import { encodeModel, type OnnxModelDef } from './onnxProto';
import { ONNX_INPUT, ONNX_OUTPUT } from './onnxGraph';
import { activationTensors, quantizeModel, QUANTIZER_VERSION, RangeObserver, withObservedOutputs, type QuantizeOptions, type QuantizeStats, type Range } from './quantize';

type Ort = typeof import('onnxruntime-node');
type Session = Awaited<ReturnType<Ort['InferenceSession']['create']>>;

/** Cosine of int8 vs fp32 pooled features that an int8 base must keep (1st percentile over the check images). */
export const INT8_MIN_COSINE = 0.99;
/**
 * How a base is quantized, by quantizer version (a run records its version, so its graph is rebuilt the way it was
 * calibrated). v2: each activation's range from its per-image min and max. Tried on pretrained ResNet50 and 32
 * held-out dev images (docs/PERFORMANCE.md): percentile clipping (99.99th, 99.999th) and the stem and last block in
 * float (floatStem, floatTailConvs) did not raise the cosine's 1st percentile (0.967–0.975 against v2's 0.976), so
 * v2 stays; the options remain for the next attempt.
 */
export interface Int8Recipe {
	version: number;
	percentile: number;
	options: QuantizeOptions;
	method: string;
}

export const INT8_RECIPES: Record<number, Int8Recipe> = {
	2: {
		version: 2,
		percentile: 1,
		options: { floatInput: true, floatAdds: true },
		method: 'per-image min/max, averaged; uint8 activations (per tensor), int8 weights (per output channel, symmetric); input, residual sums and last tensor float',
	},
};

export function int8Recipe(version = QUANTIZER_VERSION): Int8Recipe {
	const r = INT8_RECIPES[version];
	if (!r) throw new Error(`int8: quantizer version ${version} is unknown to this build`);
	return r;
}

export const CALIBRATION_METHOD = int8Recipe().method;

/** What the run records about its int8 base. */
export interface Int8Report {
	method: string;
	quantizerVersion: number;
	/** sha256 of the calibration images' content hashes (sorted): which images set the ranges. */
	calibrationSet: string;
	calibrationImages: number;
	checkImages: number;
	/** Cosine of int8 vs fp32 pooled features on the check images. */
	cosineMin: number;
	cosineP1: number;
	cosineMedian: number;
	/** Whether the int8 base is used (false: fidelity below INT8_MIN_COSINE, the base stays fp32). */
	accepted: boolean;
	reason?: string;
	stats: QuantizeStats;
	/** Hash of the ranges: keys the quantized graph and the feature cache. */
	rangesSha: string;
}

export interface Int8Result {
	report: Int8Report;
	/** The quantized graph, when accepted. */
	bytes?: Uint8Array;
	ranges: Record<string, Range>;
}

export interface CalibrationImage {
	sha256: string;
	/** One normalised NHWC image. */
	x: Float32Array;
}

export interface Int8Options {
	size: number;
	/** Pools a raw base output [h, w, c] into what the head reads. */
	pool(raw: Float32Array): Float32Array;
	threads: number;
	/** Stop point between images. */
	check?: () => void;
	/** Quantizer version whose recipe to use (default: the current one); the bench compares recipes. */
	recipe?: Int8Recipe;
}

/** Calibrates on `calib`, quantizes, and measures int8 against fp32 on `checkSet`. */
export async function buildInt8(ort: Ort, def: OnnxModelDef, calib: CalibrationImage[], checkSet: CalibrationImage[], o: Int8Options): Promise<Int8Result> {
	if (calib.length === 0) throw new Error('int8: no calibration images');
	const tensors = activationTensors(def);
	const recipe = o.recipe ?? int8Recipe();
	const observer = new RangeObserver(recipe.percentile);
	const opts = { graphOptimizationLevel: 'basic' as const, intraOpNumThreads: o.threads, interOpNumThreads: 1, executionMode: 'sequential' as const };
	const calSession = await ort.InferenceSession.create(encodeModel(withObservedOutputs(def, tensors)), opts);
	try {
		for (const im of calib) {
			o.check?.();
			const r = await calSession.run({ [ONNX_INPUT]: new ort.Tensor('float32', im.x, [1, o.size, o.size, 3]) });
			for (const t of tensors) observer.observe(t, r[t].data as Float32Array);
		}
	} finally {
		await calSession.release();
	}
	const ranges = observer.ranges();
	const rangesObj = Object.fromEntries([...ranges].sort(([a], [b]) => (a < b ? -1 : 1)));
	const rangesSha = createHash('sha256')
		.update(JSON.stringify({ v: recipe.version, rangesObj }))
		.digest('hex');
	const q = quantizeModel(def, ranges, recipe.options);
	const bytes = encodeModel(q.def);
	const calibrationSet = createHash('sha256')
		.update(
			calib
				.map((c) => c.sha256)
				.sort()
				.join('\n'),
		)
		.digest('hex');

	const cos = await compareFeatures(ort, encodeModel(def), bytes, checkSet, o);
	const sorted = [...cos].sort((a, b) => a - b);
	const at = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))] : NaN);
	const report: Int8Report = {
		method: recipe.method,
		quantizerVersion: recipe.version,
		calibrationSet,
		calibrationImages: calib.length,
		checkImages: checkSet.length,
		cosineMin: sorted[0] ?? NaN,
		cosineP1: at(0.01),
		cosineMedian: at(0.5),
		accepted: false,
		stats: q.stats,
		rangesSha,
	};
	if (checkSet.length === 0) report.reason = 'no images left to check the int8 features on';
	else if (!(report.cosineP1 >= INT8_MIN_COSINE)) report.reason = `int8 features stray from fp32 (cosine 1st percentile ${report.cosineP1.toFixed(4)} < ${INT8_MIN_COSINE})`;
	else report.accepted = true;
	return { report, bytes: report.accepted ? bytes : undefined, ranges: rangesObj };
}

/** Quantizes with ranges a run recorded (classification with an int8 run: no calibration images needed). */
export function int8FromRanges(def: OnnxModelDef, ranges: Record<string, Range>, quantizerVersion = QUANTIZER_VERSION): Uint8Array {
	return encodeModel(quantizeModel(def, new Map(Object.entries(ranges)), int8Recipe(quantizerVersion).options).def);
}

/** Per-image cosine of the pooled features of two graphs. */
export async function compareFeatures(ort: Ort, a: Uint8Array, b: Uint8Array, images: CalibrationImage[], o: Int8Options): Promise<number[]> {
	const opts = { graphOptimizationLevel: 'all' as const, intraOpNumThreads: o.threads, interOpNumThreads: 1, executionMode: 'sequential' as const };
	const sa: Session = await ort.InferenceSession.create(a, opts);
	const sb: Session = await ort.InferenceSession.create(b, opts);
	try {
		const out: number[] = [];
		for (const im of images) {
			o.check?.();
			const t = new ort.Tensor('float32', im.x, [1, o.size, o.size, 3]);
			const fa = o.pool((await sa.run({ [ONNX_INPUT]: t }))[ONNX_OUTPUT].data as Float32Array);
			const fb = o.pool((await sb.run({ [ONNX_INPUT]: t }))[ONNX_OUTPUT].data as Float32Array);
			out.push(cosine(fa, fb));
		}
		return out;
	} finally {
		await sa.release();
		await sb.release();
	}
}

export function cosine(a: Float32Array, b: Float32Array): number {
	let d = 0;
	let na = 0;
	let nb = 0;
	for (let i = 0; i < a.length; i++) {
		d += a[i] * b[i];
		na += a[i] * a[i];
		nb += b[i] * b[i];
	}
	return na === 0 && nb === 0 ? 1 : d / Math.sqrt(na * nb);
}
