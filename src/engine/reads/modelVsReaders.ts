// The model against the readers, on exactly the images they read: the model's one-vs-rest ROC per class with each
// reader's (1 − specificity, sensitivity) point, paired differences model − reader with bootstrap intervals over
// cases (patients), and how often the model agrees with each reader and with the adjudicated label. Pure.
import { CLASS_NAMES, type ClassName } from '../types';
import { groupRows, rocAuc, rocCurve, wilson, type Interval } from '../report/stats';
import { Prng } from '../train/prng';
import { bcaIntervals } from './bca';
import { cohenKappa, pairConfusion } from './kappa';
import type { Reference } from './agreement';
import type { Read } from './format';

export interface ModelCase {
	/** In CLASS_NAMES order. */
	probs: number[];
	predicted: ClassName;
}

export interface ReaderPoint {
	reader: string;
	n: number;
	/** 1 − specificity, with its Wilson interval (lo/hi of the false-positive rate). */
	fpr: Interval;
	sensitivity: Interval;
}

export interface ClassRoc {
	className: ClassName;
	/** Reference-positive cases among those read. */
	support: number;
	auc: number;
	roc: { fpr: number[]; tpr: number[] };
	readers: ReaderPoint[];
}

export interface PairedDifference {
	reader: string;
	n: number;
	/** Model − reader, per class in CLASS_NAMES order, then accuracy. */
	sensitivity: Interval[];
	specificity: Interval[];
	accuracy: Interval;
}

export interface ModelAgreement {
	reader: string;
	n: number;
	observed: number;
	kappa: Interval;
}

export interface ModelVsReaders {
	run: string;
	/** Images read by someone, predicted by the run and with a reference label: the cases of every figure below. */
	cases: number;
	/** Read images without a held-out prediction of the run (its train / val images, another dataset, excluded), left out. */
	notPredicted: number;
	classes: ClassRoc[];
	differences: PairedDifference[];
	/** Three or more readers: the mean difference over readers, bootstrapped over cases and readers. */
	meanDifference?: Omit<PairedDifference, 'reader'> & { readers: number };
	agreement: ModelAgreement[];
	/** The model's decision against the reference standard, and against the adjudicated labels alone. */
	vsReference: { n: number; accuracy: Interval };
	vsAdjudicated: { n: number; accuracy: Interval };
}

export interface ModelVsReadersInput {
	run: string;
	reads: readonly Read[];
	model: ReadonlyMap<string, ModelCase>;
	reference: ReadonlyMap<string, Reference>;
	patients?: ReadonlyMap<string, string>;
	resamples: number;
	seed: number;
}

const K = CLASS_NAMES.length;
const idx = (c: ClassName) => CLASS_NAMES.indexOf(c);

/** Per-class sensitivity and specificity of decisions against the reference, then accuracy (optional weights). */
function rates(dec: ArrayLike<number>, ref: ArrayLike<number>, w?: ArrayLike<number>): number[] {
	const tp = new Array<number>(K).fill(0);
	const pos = new Array<number>(K).fill(0);
	const tn = new Array<number>(K).fill(0);
	const neg = new Array<number>(K).fill(0);
	let right = 0;
	let n = 0;
	for (let i = 0; i < ref.length; i++) {
		const wi = w ? w[i] : 1;
		n += wi;
		if (dec[i] === ref[i]) right += wi;
		for (let c = 0; c < K; c++) {
			if (ref[i] === c) {
				pos[c] += wi;
				if (dec[i] === c) tp[c] += wi;
			} else {
				neg[c] += wi;
				if (dec[i] !== c) tn[c] += wi;
			}
		}
	}
	return [...tp.map((x, c) => (pos[c] ? x / pos[c] : NaN)), ...tn.map((x, c) => (neg[c] ? x / neg[c] : NaN)), n ? right / n : NaN];
}

function difference(reader: string, paths: string[], input: ModelVsReadersInput, mine: Map<string, number>): PairedDifference {
	const ref = paths.map((p) => idx(input.reference.get(p)!.label));
	const model = paths.map((p) => idx(input.model.get(p)!.predicted));
	const rd = paths.map((p) => mine.get(p)!);
	const groups = groupRows(paths.map((p) => input.patients?.get(p) ?? p));
	const iv = bcaIntervals(groups, paths.length, input.resamples, input.seed, (w) => {
		const m = rates(model, ref, w);
		const r = rates(rd, ref, w);
		return m.map((x, j) => x - r[j]);
	});
	return { reader, n: paths.length, sensitivity: iv.slice(0, K), specificity: iv.slice(K, 2 * K), accuracy: iv[2 * K] };
}

/** Mean over readers of model − reader, resampling patients and readers (two-stage percentile bootstrap). */
function meanDifference(names: string[], per: Map<string, Map<string, number>>, cases: string[], input: ModelVsReadersInput): ModelVsReaders['meanDifference'] {
	const caseIndex = new Map(cases.map((p, i) => [p, i]));
	const ref = cases.map((p) => idx(input.reference.get(p)!.label));
	const model = cases.map((p) => idx(input.model.get(p)!.predicted));
	const stat = (w: ArrayLike<number> | undefined, readers: string[]) => {
		const sums = new Array<number>(2 * K + 1).fill(0);
		const counts = new Array<number>(2 * K + 1).fill(0);
		for (const name of readers) {
			const mine = per.get(name)!;
			const rows = [...mine.keys()].filter((p) => caseIndex.has(p)).map((p) => caseIndex.get(p)!);
			const ww = rows.map((i) => (w ? w[i] : 1));
			const m = rates(
				rows.map((i) => model[i]),
				rows.map((i) => ref[i]),
				ww,
			);
			const r = rates(
				rows.map((i) => mine.get(cases[i])!),
				rows.map((i) => ref[i]),
				ww,
			);
			m.forEach((x, j) => {
				if (Number.isFinite(x - r[j])) {
					sums[j] += x - r[j];
					counts[j]++;
				}
			});
		}
		return sums.map((s, j) => (counts[j] ? s / counts[j] : NaN));
	};
	const est = stat(undefined, names);
	const groups = groupRows(cases.map((p) => input.patients?.get(p) ?? p));
	const rng = new Prng(input.seed ^ 0x5bd1e995);
	const w = new Int32Array(cases.length);
	const boot: number[][] = [];
	for (let b = 0; b < input.resamples; b++) {
		w.fill(0);
		for (let g = 0; g < groups.length; g++) for (const r of groups[Math.floor(rng.next() * groups.length)]) w[r]++;
		boot.push(
			stat(
				w,
				names.map(() => names[Math.floor(rng.next() * names.length)]),
			),
		);
	}
	const iv = est.map((e, j) => {
		const v = boot
			.map((x) => x[j])
			.filter(Number.isFinite)
			.sort((a, b) => a - b);
		const q = (p: number) => (v.length ? v[Math.min(v.length - 1, Math.max(0, Math.round(p * (v.length - 1))))] : NaN);
		return { est: e, lo: q(0.025), hi: q(0.975) };
	});
	return { readers: names.length, n: cases.length, sensitivity: iv.slice(0, K), specificity: iv.slice(K, 2 * K), accuracy: iv[2 * K] };
}

export function modelVsReaders(input: ModelVsReadersInput): ModelVsReaders {
	const per = new Map<string, Map<string, number>>();
	for (const r of input.reads) {
		if (!per.has(r.reader)) per.set(r.reader, new Map<string, number>());
		per.get(r.reader)!.set(r.path, idx(r.label));
	}
	const names = [...per.keys()].sort();
	const read = [...new Set(input.reads.map((r) => r.path))].sort();
	const cases = read.filter((p) => input.model.has(p) && input.reference.has(p));
	const inCases = new Set(cases);
	const refOf = (p: string) => idx(input.reference.get(p)!.label);
	const classes: ClassRoc[] = CLASS_NAMES.map((className, c) => {
		const scores = cases.map((p) => input.model.get(p)!.probs[c]);
		const positive = cases.map((p) => refOf(p) === c);
		const roc = rocCurve(scores, positive);
		return {
			className,
			support: positive.filter(Boolean).length,
			auc: rocAuc(scores, positive),
			roc: { fpr: roc.fpr, tpr: roc.tpr },
			readers: names.map((reader) => {
				const mine = [...per.get(reader)!].filter(([p]) => inCases.has(p));
				const pos = mine.filter(([p]) => refOf(p) === c);
				const neg = mine.filter(([p]) => refOf(p) !== c);
				return { reader, n: mine.length, fpr: wilson(neg.filter(([, x]) => x === c).length, neg.length), sensitivity: wilson(pos.filter(([, x]) => x === c).length, pos.length) };
			}),
		};
	});
	const differences = names.map((reader) => {
		const mine = per.get(reader)!;
		return difference(
			reader,
			cases.filter((p) => mine.has(p)),
			input,
			mine,
		);
	});
	const agreement = names.map((reader): ModelAgreement => {
		const mine = per.get(reader)!;
		const paths = cases.filter((p) => mine.has(p));
		const a = paths.map((p) => idx(input.model.get(p)!.predicted));
		const b = paths.map((p) => mine.get(p)!);
		const [kappa] = bcaIntervals(groupRows(paths.map((p) => input.patients?.get(p) ?? p)), paths.length, input.resamples, input.seed, (w) => [cohenKappa(pairConfusion(a, b, K, w))]);
		return { reader, n: paths.length, observed: paths.length ? a.filter((x, i) => x === b[i]).length / paths.length : NaN, kappa };
	});
	const right = (ps: string[]) => ps.filter((p) => input.model.get(p)!.predicted === input.reference.get(p)!.label).length;
	const adjudicated = cases.filter((p) => input.reference.get(p)!.adjudicated);
	return {
		run: input.run,
		cases: cases.length,
		notPredicted: read.filter((p) => !input.model.has(p)).length,
		classes,
		differences,
		...(names.length >= 3 ? { meanDifference: meanDifference(names, per, cases, input) } : {}),
		agreement,
		vsReference: { n: cases.length, accuracy: wilson(right(cases), cases.length) },
		vsAdjudicated: { n: adjudicated.length, accuracy: wilson(right(adjudicated), adjudicated.length) },
	};
}
