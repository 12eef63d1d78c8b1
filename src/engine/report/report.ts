// The report card of one run: per-class metrics with intervals, curves, calibration, an operating point chosen on
// validation and applied to test, per-source results and the provenance every figure carries. Pure: no I/O.
import { CLASS_NAMES, type ClassName, type Prediction, type SplitMode } from '../types';
import type { ReadersCard } from '../reads/card';
import {
	averagePrecision,
	binaryCounts,
	brierBinary,
	brierMulti,
	chooseThreshold,
	clusterBootstrap,
	expectedCalibrationError,
	f1Scores,
	groupRows,
	mcnemar,
	percentileInterval,
	prCurve,
	reliability,
	rocAuc,
	rocCurve,
	wilson,
	type Interval,
	type McNemarResult,
	type OperatingRule,
	type ReliabilityBin,
} from './stats';

export const DEFAULT_RESAMPLES = 1000;
export const DEFAULT_BOOTSTRAP_SEED = 12345;

export interface ClassCard {
	className: ClassName;
	support: number;
	sensitivity: Interval;
	specificity: Interval;
	ppv: Interval;
	npv: Interval;
	f1: Interval;
	auc: Interval;
	averagePrecision: Interval;
	brier: number;
	roc: { fpr: number[]; tpr: number[] };
	pr: { recall: number[]; precision: number[] };
	reliability: ReliabilityBin[];
}

export interface OperatingPoint {
	positiveClass: ClassName;
	rule: OperatingRule;
	/** Threshold on p(positive class), chosen on the validation split. */
	threshold: number;
	val: { n: number; sensitivity: Interval; specificity: Interval };
	test: { n: number; sensitivity: Interval; specificity: Interval; ppv: Interval; npv: Interval };
}

export interface SourceCard {
	source: string;
	n: number;
	accuracy: Interval;
	/** Per class in CLASS_NAMES order; null where the source has no image of the class. */
	recall: (Interval | null)[];
}

export interface Provenance {
	splitMode: SplitMode;
	seed: number;
	/** Distinct patients per split (as far as patient ids are known). */
	patients: { train: number; val: number; test: number };
	images: { train: number; val: number; test: number };
	leakedPatients: number;
	weights: { pretrained: boolean; name: string };
	/** Where patient ids came from; without them the bootstrap resamples images. */
	patientIds: 'dataset' | 'images';
	bootstrap: { resamples: number; seed: number; unit: 'patient' | 'image' };
	/** Set when the source dataset predicts the class (a model may be telling sources apart). */
	confoundWarning?: string;
}

export interface ReportCard {
	run: { name: string; backbone: string; createdAt: string; backend: string };
	provenance: Provenance;
	n: number;
	accuracy: Interval;
	macroF1: Interval;
	macroAuc: Interval;
	confusion: { counts: number[][]; rowShares: number[][] };
	calibration: { topLabel: ReliabilityBin[]; ece: number; brier: number };
	classes: ClassCard[];
	operatingPoint?: OperatingPoint;
	bySource?: SourceCard[];
	/** Where Grad-CAM looks on the test images (computed on request: one forward pass per image). */
	looks?: LooksSummary;
	/** The readers of the dataset (radreview-reads.csv) and the model against them, when there are reads. */
	readers?: ReadersCard;
}

export interface LooksRow {
	group: string;
	n: number;
	/** Mean share of the map's mass in the border band / its corners. */
	border: number;
	corners: number;
	/** Images flagged "looks outside the lungs". */
	flagged: number;
}

export interface LooksSummary {
	n: number;
	flagged: number;
	byClass: LooksRow[];
	bySource: LooksRow[];
}

export interface ReportInput {
	run: ReportCard['run'];
	predictions: Prediction[];
	/** relPath → patient id and source dataset, when the dataset could be read. */
	patients?: Map<string, { patientId: string; source?: string }>;
	splitMode: SplitMode;
	seed: number;
	leakedPatients: number;
	weights: { pretrained: boolean; name: string };
	resamples?: number;
	bootstrapSeed?: number;
	positiveClass?: ClassName;
	rule?: OperatingRule;
}

const K = CLASS_NAMES.length;

/** Keeps at most `max` points of a curve (always the first and last), for display. */
export function thin<T extends Record<string, number[]>>(curve: T, max = 200): T {
	const len = Object.values(curve)[0]?.length ?? 0;
	if (len <= max) return curve;
	const keep: number[] = [];
	for (let i = 0; i < max; i++) keep.push(Math.round((i * (len - 1)) / (max - 1)));
	return Object.fromEntries(Object.entries(curve).map(([k, v]) => [k, keep.map((i) => v[i])])) as T;
}

const argmax = (p: number[]) => p.reduce((b, x, i) => (x > p[b] ? i : b), 0);

/** Cramér's V between two categorical columns. */
export function cramersV(a: string[], b: string[]): number {
	const av = [...new Set(a)];
	const bv = [...new Set(b)];
	if (av.length < 2 || bv.length < 2) return 0;
	const n = a.length;
	const table = av.map(() => new Array<number>(bv.length).fill(0));
	a.forEach((x, i) => table[av.indexOf(x)][bv.indexOf(b[i])]++);
	const rs = table.map((r) => r.reduce((s, v) => s + v, 0));
	const cs = bv.map((_, j) => table.reduce((s, r) => s + r[j], 0));
	let chi2 = 0;
	for (let i = 0; i < av.length; i++)
		for (let j = 0; j < bv.length; j++) {
			const e = (rs[i] * cs[j]) / n;
			chi2 += (table[i][j] - e) ** 2 / e;
		}
	return Math.sqrt(chi2 / (n * (Math.min(av.length, bv.length) - 1)));
}

/** The report card of a run's test split (operating point from its validation split). */
export function buildReport(input: ReportInput): ReportCard {
	const resamples = input.resamples ?? DEFAULT_RESAMPLES;
	const bootSeed = input.bootstrapSeed ?? DEFAULT_BOOTSTRAP_SEED;
	const labelled = input.predictions.filter((p) => p.label != null);
	const test = labelled.filter((p) => p.split === 'test');
	if (test.length === 0) throw new Error(`run ${input.run.name}: no labelled test predictions to report on`);
	const patientOf = (p: Prediction) => input.patients?.get(p.relPath)?.patientId ?? p.relPath;
	const y = test.map((p) => CLASS_NAMES.indexOf(p.label!));
	const probs = test.map((p) => p.probs);
	const pred = probs.map(argmax);
	const n = test.length;

	const counts = CLASS_NAMES.map(() => new Array<number>(K).fill(0));
	y.forEach((t, i) => counts[t][pred[i]]++);
	const rowShares = counts.map((r) => {
		const s = r.reduce((a, b) => a + b, 0);
		return r.map((v) => (s ? v / s : 0));
	});

	// Bootstrap over patients: accuracy, macro-F1, macro-AUC and per-class F1, AUC, AP in one pass per resample.
	const groups = groupRows(test.map(patientOf));
	const positives = CLASS_NAMES.map((_, c) => y.map((t) => t === c));
	const scores = CLASS_NAMES.map((_, c) => Float64Array.from(probs, (p) => p[c]));
	const orders = scores.map((s) => Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => s[b] - s[a] || a - b));
	const stat = (w: Int32Array | undefined): number[] => {
		const cm = CLASS_NAMES.map(() => new Array<number>(K).fill(0));
		let total = 0;
		let correct = 0;
		for (let i = 0; i < n; i++) {
			const wi = w ? w[i] : 1;
			if (!wi) continue;
			cm[y[i]][pred[i]] += wi;
			total += wi;
			if (y[i] === pred[i]) correct += wi;
		}
		const f1 = f1Scores(cm);
		const aucs = CLASS_NAMES.map((_, c) => rocAuc(scores[c], positives[c], w, orders[c]));
		const aps = CLASS_NAMES.map((_, c) => averagePrecision(scores[c], positives[c], w, orders[c]));
		const present = CLASS_NAMES.map((_, c) => cm[c].reduce((a, b) => a + b, 0) > 0);
		// Macro-F1 over the classes present in the test set (sklearn averages over the labels it sees).
		const macroF1 = mean(f1.filter((_, c) => present[c] || cm.some((r) => r[c] > 0)));
		return [correct / total, macroF1, mean(aucs), ...f1, ...aucs, ...aps];
	};
	const point = stat(undefined);
	const boots = clusterBootstrap(groups, n, resamples, bootSeed, stat);
	const ci = (j: number) =>
		percentileInterval(
			point[j],
			boots.map((b) => b[j]),
		);

	const classes: ClassCard[] = CLASS_NAMES.map((className, c) => {
		const tp = counts[c][c];
		const support = counts[c].reduce((a, b) => a + b, 0);
		const predicted = counts.reduce((a, r) => a + r[c], 0);
		const tn = n - support - predicted + tp;
		const roc = rocCurve(scores[c], positives[c]);
		const pr = prCurve(scores[c], positives[c]);
		return {
			className,
			support,
			sensitivity: wilson(tp, support),
			specificity: wilson(tn, n - support),
			ppv: wilson(tp, predicted),
			npv: wilson(tn, n - predicted),
			f1: ci(3 + c),
			auc: ci(3 + K + c),
			averagePrecision: ci(3 + 2 * K + c),
			brier: brierBinary(scores[c], positives[c]),
			roc: thin({ fpr: roc.fpr, tpr: roc.tpr }),
			pr: thin({ recall: pr.recall, precision: pr.precision }),
			reliability: reliability(scores[c], positives[c]),
		};
	});

	// Top-label calibration: confidence of the predicted class against being right.
	const topLabel = reliability(
		probs.map((p, i) => p[pred[i]]),
		pred.map((p, i) => p === y[i]),
	);
	const flat = probs.flat();

	const operatingPoint = chooseOperatingPoint(labelled, input.positiveClass ?? 'COVID', input.rule ?? { kind: 'youden' });
	const splitCount = (s: 'train' | 'val' | 'test') => input.predictions.filter((p) => p.split === s);
	const patientsIn = (s: 'train' | 'val' | 'test') => new Set(splitCount(s).map(patientOf)).size;
	const sources = input.patients ? labelled.map((p) => input.patients!.get(p.relPath)?.source ?? 'unknown') : [];
	const v = sources.length
		? cramersV(
				sources,
				labelled.map((p) => p.label!),
			)
		: 0;
	const provenance: Provenance = {
		splitMode: input.splitMode,
		seed: input.seed,
		patients: { train: patientsIn('train'), val: patientsIn('val'), test: patientsIn('test') },
		images: { train: splitCount('train').length, val: splitCount('val').length, test: splitCount('test').length },
		leakedPatients: input.leakedPatients,
		weights: input.weights,
		patientIds: input.patients ? 'dataset' : 'images',
		bootstrap: { resamples, seed: bootSeed, unit: input.patients ? 'patient' : 'image' },
		...(v >= 0.5 ? { confoundWarning: `The source dataset predicts the class (Cramér's V = ${v.toFixed(2)}): the model may be telling sources apart, not findings. Read the per-source table.` } : {}),
	};

	return {
		run: input.run,
		provenance,
		n,
		accuracy: ci(0),
		macroF1: ci(1),
		macroAuc: ci(2),
		confusion: { counts, rowShares },
		calibration: { topLabel, ece: expectedCalibrationError(topLabel), brier: brierMulti(flat, y, K) },
		classes,
		...(operatingPoint ? { operatingPoint } : {}),
		...(input.patients ? { bySource: bySource(test, pred, y, input.patients) } : {}),
	};
}

function mean(a: number[]): number {
	const v = a.filter((x) => Number.isFinite(x));
	return v.length ? v.reduce((s, x) => s + x, 0) / v.length : NaN;
}

/** Threshold on validation, applied to test; undefined when the run has no usable validation predictions. */
export function chooseOperatingPoint(labelled: Prediction[], positiveClass: ClassName, rule: OperatingRule): OperatingPoint | undefined {
	const c = CLASS_NAMES.indexOf(positiveClass);
	const val = labelled.filter((p) => p.split === 'val');
	const test = labelled.filter((p) => p.split === 'test');
	const vs = val.map((p) => p.probs[c]);
	const vy = val.map((p) => p.label === positiveClass);
	if (!vy.some((b) => b) || vy.every((b) => b)) return undefined;
	const threshold = chooseThreshold(vs, vy, rule);
	const vc = binaryCounts(vs, vy, threshold);
	const tc = binaryCounts(
		test.map((p) => p.probs[c]),
		test.map((p) => p.label === positiveClass),
		threshold,
	);
	return {
		positiveClass,
		rule,
		threshold,
		val: { n: val.length, sensitivity: wilson(vc.tp, vc.tp + vc.fn), specificity: wilson(vc.tn, vc.tn + vc.fp) },
		test: {
			n: test.length,
			sensitivity: wilson(tc.tp, tc.tp + tc.fn),
			specificity: wilson(tc.tn, tc.tn + tc.fp),
			ppv: wilson(tc.tp, tc.tp + tc.fp),
			npv: wilson(tc.tn, tc.tn + tc.fn),
		},
	};
}

function bySource(test: Prediction[], pred: number[], y: number[], patients: NonNullable<ReportInput['patients']>): SourceCard[] {
	const src = test.map((p) => patients.get(p.relPath)?.source ?? 'unknown');
	return [...new Set(src)].sort().map((source) => {
		const rows = src.map((s, i) => (s === source ? i : -1)).filter((i) => i >= 0);
		const right = rows.filter((i) => pred[i] === y[i]).length;
		return {
			source,
			n: rows.length,
			accuracy: wilson(right, rows.length),
			recall: CLASS_NAMES.map((_, c) => {
				const of = rows.filter((i) => y[i] === c);
				return of.length ? wilson(of.filter((i) => pred[i] === c).length, of.length) : null;
			}),
		};
	});
}

export interface PairedComparison {
	/** Test images both runs predicted (matched by relPath). */
	n: number;
	accuracyA: Interval;
	accuracyB: Interval;
	/** Accuracy A − B with a paired, patient-level bootstrap interval. */
	difference: Interval;
	mcnemar: McNemarResult;
}

/** "Is A really better than B on this test set?": McNemar's exact test and a paired bootstrap of the accuracy gap. */
export function comparePaired(a: Prediction[], b: Prediction[], opts: { patients?: Map<string, { patientId: string }>; resamples?: number; seed?: number } = {}): PairedComparison {
	const bBy = new Map(b.filter((p) => p.split === 'test' && p.label != null).map((p) => [p.relPath, p]));
	const pairs = a.filter((p) => p.split === 'test' && p.label != null && bBy.has(p.relPath)).map((p) => [p, bBy.get(p.relPath)!] as const);
	if (pairs.length === 0) throw new Error('the two runs share no labelled test image (different datasets or splits)');
	const okA = pairs.map(([p]) => p.predicted === p.label);
	const okB = pairs.map(([, q]) => q.predicted === q.label);
	const n = pairs.length;
	const groups = groupRows(pairs.map(([p]) => opts.patients?.get(p.relPath)?.patientId ?? p.relPath));
	const stat = (w: Int32Array | undefined) => {
		let t = 0;
		let d = 0;
		for (let i = 0; i < n; i++) {
			const wi = w ? w[i] : 1;
			t += wi;
			d += wi * ((okA[i] ? 1 : 0) - (okB[i] ? 1 : 0));
		}
		return [d / t];
	};
	const boots = clusterBootstrap(groups, n, opts.resamples ?? DEFAULT_RESAMPLES, opts.seed ?? DEFAULT_BOOTSTRAP_SEED, stat);
	const count = (ok: boolean[]) => ok.filter(Boolean).length;
	return {
		n,
		accuracyA: wilson(count(okA), n),
		accuracyB: wilson(count(okB), n),
		difference: percentileInterval(
			stat(undefined)[0],
			boots.map((x) => x[0]),
		),
		mcnemar: mcnemar(okA, okB),
	};
}

/** "80.0 % [72.1–86.3] (n = 120)": how the product shows an accuracy everywhere. */
export function formatInterval(i: Interval, n?: number, digits = 1): string {
	const pct = (x: number) => (x * 100).toFixed(digits);
	const body = Number.isFinite(i.lo) ? `${pct(i.est)} % [${pct(i.lo)}–${pct(i.hi)}]` : `${pct(i.est)} %`;
	return n === undefined ? body : `${body} (n = ${n})`;
}
