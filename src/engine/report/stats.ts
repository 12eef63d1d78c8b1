// Metric primitives of the report card: intervals, ranking curves, calibration, operating points and paired tests.
// Pure functions over plain arrays; conventions follow scikit-learn where it has the same metric (checked by a test).
import { Prng } from '../train/prng';

/** A point estimate with a 95 % interval (lo/hi NaN when undefined, e.g. no positives). */
export interface Interval {
	est: number;
	lo: number;
	hi: number;
}

/** 97.5 % normal quantile. */
export const Z95 = 1.959963984540054;

/** Wilson score interval for k successes in n trials (NaN for n = 0). */
export function wilson(k: number, n: number, z = Z95): Interval {
	if (n === 0) return { est: NaN, lo: NaN, hi: NaN };
	const p = k / n;
	const z2 = z * z;
	const denom = 1 + z2 / n;
	const centre = (p + z2 / (2 * n)) / denom;
	const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
	return { est: p, lo: Math.max(0, centre - half), hi: Math.min(1, centre + half) };
}

/** Percentile (linear interpolation, as numpy's default) of a sorted array. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
	const n = sorted.length;
	if (n === 0) return NaN;
	const pos = (n - 1) * q;
	const lo = Math.floor(pos);
	const hi = Math.min(n - 1, lo + 1);
	return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Row indices ordered by score, descending (stable). */
function orderDesc(scores: ArrayLike<number>): Int32Array {
	const idx = Int32Array.from({ length: scores.length }, (_, i) => i);
	return idx.sort((a, b) => scores[b] - scores[a] || a - b);
}

/**
 * Area under the ROC curve with ties counted half (= sklearn's roc_auc_score), with optional integer weights per row
 * (a bootstrap resample). `order` is the descending score order, reusable across resamples.
 */
export function rocAuc(scores: ArrayLike<number>, positive: ArrayLike<boolean>, weights?: ArrayLike<number>, order = orderDesc(scores)): number {
	let pos = 0;
	let neg = 0;
	let area = 0; // Σ over positives of (negatives ranked strictly below + half the tied ones), accumulated top-down
	let i = 0;
	const n = order.length;
	while (i < n) {
		let j = i;
		let gp = 0;
		let gn = 0;
		const s = scores[order[i]];
		while (j < n && scores[order[j]] === s) {
			const r = order[j];
			const w = weights ? weights[r] : 1;
			if (positive[r]) gp += w;
			else gn += w;
			j++;
		}
		// Positives above this group outrank its negatives; within the group ties count half.
		area += pos * gn + 0.5 * gp * gn;
		pos += gp;
		neg += gn;
		i = j;
	}
	return pos === 0 || neg === 0 ? NaN : area / (pos * neg);
}

export interface RocCurve {
	/** Decreasing thresholds; the first is +∞ (nothing predicted positive), as sklearn's roc_curve. */
	thresholds: number[];
	fpr: number[];
	tpr: number[];
}

/** ROC points at every distinct score (sklearn's roc_curve with drop_intermediate=False). */
export function rocCurve(scores: ArrayLike<number>, positive: ArrayLike<boolean>): RocCurve {
	const order = orderDesc(scores);
	let P = 0;
	for (let i = 0; i < positive.length; i++) if (positive[i]) P++;
	const N = positive.length - P;
	const out: RocCurve = { thresholds: [Infinity], fpr: [0], tpr: [0] };
	let tp = 0;
	let fp = 0;
	for (let i = 0; i < order.length;) {
		const s = scores[order[i]];
		while (i < order.length && scores[order[i]] === s) {
			if (positive[order[i]]) tp++;
			else fp++;
			i++;
		}
		out.thresholds.push(s);
		out.fpr.push(N ? fp / N : NaN);
		out.tpr.push(P ? tp / P : NaN);
	}
	return out;
}

export interface PrCurve {
	/** Increasing thresholds, as sklearn's precision_recall_curve (≥ 1.1; last point: recall 0, precision 1). */
	thresholds: number[];
	precision: number[];
	recall: number[];
}

/** Precision–recall points at every distinct score (sklearn's precision_recall_curve, drop_intermediate=False). */
export function prCurve(scores: ArrayLike<number>, positive: ArrayLike<boolean>): PrCurve {
	const roc = rocCurve(scores, positive);
	let P = 0;
	for (let i = 0; i < positive.length; i++) if (positive[i]) P++;
	const N = positive.length - P;
	const th: number[] = [];
	const prec: number[] = [];
	const rec: number[] = [];
	for (let i = roc.thresholds.length - 1; i >= 1; i--) {
		const tp = roc.tpr[i] * P;
		const fp = roc.fpr[i] * N;
		th.push(roc.thresholds[i]);
		prec.push(tp + fp === 0 ? 1 : tp / (tp + fp));
		rec.push(P ? roc.tpr[i] : NaN);
	}
	prec.push(1);
	rec.push(0);
	return { thresholds: th, precision: prec, recall: rec };
}

/** Average precision Σ (R_n − R_{n−1}) P_n, as sklearn's average_precision_score (optional bootstrap weights). */
export function averagePrecision(scores: ArrayLike<number>, positive: ArrayLike<boolean>, weights?: ArrayLike<number>, order = orderDesc(scores)): number {
	let P = 0;
	for (let i = 0; i < order.length; i++) if (positive[order[i]]) P += weights ? weights[order[i]] : 1;
	if (P === 0) return NaN;
	let tp = 0;
	let fp = 0;
	let ap = 0;
	let prevRecall = 0;
	for (let i = 0; i < order.length;) {
		const s = scores[order[i]];
		while (i < order.length && scores[order[i]] === s) {
			const w = weights ? weights[order[i]] : 1;
			if (positive[order[i]]) tp += w;
			else fp += w;
			i++;
		}
		if (tp + fp === 0) continue;
		const recall = tp / P;
		ap += (recall - prevRecall) * (tp / (tp + fp));
		prevRecall = recall;
	}
	return ap;
}

export interface ReliabilityBin {
	lo: number;
	hi: number;
	count: number;
	/** Mean predicted probability in the bin. */
	meanPredicted: number;
	/** Observed frequency of the event in the bin. */
	observed: number;
}

/**
 * Equal-width reliability bins of probabilities against 0/1 outcomes. Bin edges as sklearn's calibration_curve
 * (strategy 'uniform'): a probability on an inner edge belongs to the lower bin.
 */
export function reliability(prob: ArrayLike<number>, outcome: ArrayLike<boolean>, nBins = 10): ReliabilityBin[] {
	const step = 1 / nBins;
	const bins = Array.from({ length: nBins }, (_, b) => ({ lo: b * step, hi: b === nBins - 1 ? 1 : (b + 1) * step, count: 0, sumP: 0, sumY: 0 }));
	for (let i = 0; i < prob.length; i++) {
		let b = 0;
		while (b < nBins - 1 && (b + 1) * step < prob[i]) b++;
		bins[b].count++;
		bins[b].sumP += prob[i];
		if (outcome[i]) bins[b].sumY++;
	}
	return bins.map((b) => ({ lo: b.lo, hi: b.hi, count: b.count, meanPredicted: b.count ? b.sumP / b.count : NaN, observed: b.count ? b.sumY / b.count : NaN }));
}

/** Expected calibration error: Σ_bins (n_b / n) |observed − predicted|. */
export function expectedCalibrationError(bins: ReliabilityBin[]): number {
	const n = bins.reduce((a, b) => a + b.count, 0);
	return n === 0 ? NaN : bins.reduce((a, b) => a + (b.count ? (b.count / n) * Math.abs(b.observed - b.meanPredicted) : 0), 0);
}

/** Brier score of one-vs-rest probabilities (sklearn's brier_score_loss). */
export function brierBinary(prob: ArrayLike<number>, outcome: ArrayLike<boolean>): number {
	let s = 0;
	for (let i = 0; i < prob.length; i++) s += (prob[i] - (outcome[i] ? 1 : 0)) ** 2;
	return prob.length ? s / prob.length : NaN;
}

/** Multi-class Brier score: mean over rows of Σ_k (p_k − y_k)² (probs row-major n × k). */
export function brierMulti(probs: ArrayLike<number>, labels: ArrayLike<number>, k: number): number {
	const n = labels.length;
	let s = 0;
	for (let r = 0; r < n; r++) for (let c = 0; c < k; c++) s += (probs[r * k + c] - (labels[r] === c ? 1 : 0)) ** 2;
	return n ? s / n : NaN;
}

/** Per-class F1 from a confusion matrix (zero where undefined, as sklearn's zero_division=0). */
export function f1Scores(confusion: number[][]): number[] {
	const k = confusion.length;
	return confusion.map((row, c) => {
		const tp = row[c];
		const fn = row.reduce((a, b) => a + b, 0) - tp;
		let fp = 0;
		for (let r = 0; r < k; r++) if (r !== c) fp += confusion[r][c];
		return tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
	});
}

/** Groups rows by a key (patient id): the unit a bootstrap resamples. */
export function groupRows(keys: string[]): number[][] {
	const m = new Map<string, number[]>();
	keys.forEach((k, i) => {
		const g = m.get(k);
		if (g) g.push(i);
		else m.set(k, [i]);
	});
	return [...m.values()];
}

/**
 * Seeded cluster bootstrap: each resample draws as many groups as there are, with replacement, and gives every row
 * of a drawn group one more unit of weight. Calls `stat(weights)` per resample and returns the statistics.
 */
export function clusterBootstrap(groups: number[][], nRows: number, resamples: number, seed: number, stat: (weights: Int32Array) => number[]): number[][] {
	const rng = new Prng(seed);
	const w = new Int32Array(nRows);
	const out: number[][] = [];
	for (let b = 0; b < resamples; b++) {
		w.fill(0);
		for (let g = 0; g < groups.length; g++) {
			const grp = groups[Math.floor(rng.next() * groups.length)];
			for (const r of grp) w[r]++;
		}
		out.push(stat(w));
	}
	return out;
}

/** 2.5 / 97.5 % percentile interval of bootstrap values (NaNs, from degenerate resamples, are dropped). */
export function percentileInterval(est: number, values: number[]): Interval {
	const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
	return { est, lo: quantileSorted(v, 0.025), hi: quantileSorted(v, 0.975) };
}

export type OperatingRule = { kind: 'youden' } | { kind: 'sensitivity'; target: number };

/**
 * A threshold on one class's probability, chosen on validation scores: Youden's J (max sensitivity + specificity − 1)
 * or the highest threshold whose sensitivity reaches the target (the most specific such one). Predict positive iff p ≥ t.
 */
export function chooseThreshold(scores: ArrayLike<number>, positive: ArrayLike<boolean>, rule: OperatingRule): number {
	const roc = rocCurve(scores, positive);
	if (roc.thresholds.length < 2) return NaN;
	let best = 1;
	for (let i = 1; i < roc.thresholds.length; i++) {
		if (rule.kind === 'youden') {
			if (roc.tpr[i] - roc.fpr[i] > roc.tpr[best] - roc.fpr[best]) best = i;
		} else if (roc.tpr[i] >= rule.target) {
			return roc.thresholds[i];
		}
	}
	return rule.kind === 'youden' ? roc.thresholds[best] : roc.thresholds[roc.thresholds.length - 1];
}

export interface BinaryCounts {
	tp: number;
	fp: number;
	tn: number;
	fn: number;
}

export function binaryCounts(scores: ArrayLike<number>, positive: ArrayLike<boolean>, threshold: number): BinaryCounts {
	const c: BinaryCounts = { tp: 0, fp: 0, tn: 0, fn: 0 };
	for (let i = 0; i < scores.length; i++) {
		const p = scores[i] >= threshold;
		if (positive[i]) p ? c.tp++ : c.fn++;
		else p ? c.fp++ : c.tn++;
	}
	return c;
}

/** log C(n, k). */
function logChoose(n: number, k: number): number {
	let s = 0;
	for (let i = 1; i <= k; i++) s += Math.log((n - k + i) / i);
	return s;
}

export interface McNemarResult {
	/** Rows only the first model got right / only the second got right. */
	onlyA: number;
	onlyB: number;
	/** Exact two-sided binomial p-value on the discordant pairs. */
	p: number;
}

/** McNemar's exact test on paired correctness vectors. */
export function mcnemar(correctA: ArrayLike<boolean>, correctB: ArrayLike<boolean>): McNemarResult {
	let b = 0;
	let c = 0;
	for (let i = 0; i < correctA.length; i++) {
		if (correctA[i] && !correctB[i]) b++;
		else if (!correctA[i] && correctB[i]) c++;
	}
	const n = b + c;
	if (n === 0) return { onlyA: b, onlyB: c, p: 1 };
	const m = Math.min(b, c);
	let tail = 0;
	for (let i = 0; i <= m; i++) tail += Math.exp(logChoose(n, i) - n * Math.LN2);
	return { onlyA: b, onlyB: c, p: Math.min(1, 2 * tail) };
}
