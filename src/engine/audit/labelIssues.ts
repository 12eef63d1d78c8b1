// Confident learning (Northcutt, Jiang & Chuang, JAIR 2021) on out-of-fold probabilities: per-class thresholds
// t_j = mean p_j over the images labelled j; an image is "confidently" of class j when p_j ≥ t_j (the largest such
// p when several); the off-diagonal of the resulting confident joint are the label issues, ranked by
// normalised margin p_given − max_{j≠given} p_j (most negative first).

export interface ConfidentLearningResult {
	/** Per-class thresholds t_j. */
	thresholds: number[];
	/** confidentJoint[given][confident]: counts of images confidently of a class, by their given label. */
	confidentJoint: number[][];
	/** Rows (indices into the input) that are issues, most suspicious first. */
	issues: number[];
	/** Every row ranked most suspicious first (for precision@k and review queues beyond the flagged ones). */
	ranking: number[];
	/** Per row: p_given − max other p (negative = the model prefers another class). */
	margin: number[];
	/** Per row: p of the given label (self-confidence). */
	selfConfidence: number[];
	/** Per row: the class it is confidently of when that is not its label (an issue), else the argmax. */
	suggested: number[];
}

/** probs: [n, classes] out-of-fold probabilities; labels: the given class per row. */
export function confidentLearning(probs: ArrayLike<number>, labels: number[], classes: number): ConfidentLearningResult {
	const n = labels.length;
	const p = (i: number, j: number) => probs[i * classes + j];
	const sum = new Array<number>(classes).fill(0);
	const cnt = new Array<number>(classes).fill(0);
	labels.forEach((y, i) => {
		sum[y] += p(i, y);
		cnt[y]++;
	});
	// A class nobody carries can never be confident (threshold above any probability).
	const thresholds = sum.map((s, j) => (cnt[j] ? s / cnt[j] : 2));
	const joint = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
	const isIssue = new Array<boolean>(n).fill(false);
	const margin: number[] = [];
	const selfConfidence: number[] = [];
	const suggested: number[] = [];
	for (let i = 0; i < n; i++) {
		const y = labels[i];
		let conf = -1;
		for (let j = 0; j < classes; j++) if (p(i, j) >= thresholds[j] && (conf < 0 || p(i, j) > p(i, conf))) conf = j;
		if (conf >= 0) {
			joint[y][conf]++;
			if (conf !== y) isIssue[i] = true;
		}
		let other = -Infinity;
		let best = 0;
		for (let j = 0; j < classes; j++) {
			if (j !== y) other = Math.max(other, p(i, j));
			if (p(i, j) > p(i, best)) best = j;
		}
		margin.push(p(i, y) - other);
		selfConfidence.push(p(i, y));
		// An issue's suggestion is the class it is confidently of (which need not be the argmax).
		suggested.push(conf >= 0 && conf !== y ? conf : best);
	}
	const ranking = Array.from({ length: n }, (_, i) => i).sort((a, b) => margin[a] - margin[b] || a - b);
	return { thresholds, confidentJoint: joint, issues: ranking.filter((i) => isIssue[i]), ranking, margin, selfConfidence, suggested };
}

/** A class × source cell needs this many images before its own threshold replaces the class's. */
const MIN_CELL = 5;

export interface SourceAwareResult {
	/** Rows that stay issues once the source's own label mix is allowed for, most suspicious first. */
	issues: number[];
	/** Per row: the source-adjusted margin (most negative = least like its class within its source). */
	margin: number[];
	suggested: number[];
}

/**
 * Confident learning within each source: thresholds t_{j,s} are the mean p_j over the images labelled j in source
 * s (the class's overall threshold where the cell holds fewer than MIN_CELL images), and each probability is read
 * against its cell's threshold (q_j = p_j / t_{j,s}). An adult NORMAL film from a source whose NORMAL films all
 * look adult then ranks with its own cell, not against the children of another source: the confound is what the
 * source explains, and what is left is a possible label error.
 */
export function sourceAwareIssues(probs: ArrayLike<number>, labels: number[], source: string[], classes: number): SourceAwareResult {
	const n = labels.length;
	const p = (i: number, j: number) => probs[i * classes + j];
	const global = confidentLearning(probs, labels, classes).thresholds;
	const cell = new Map<string, { sum: number; n: number }>();
	labels.forEach((y, i) => {
		const key = `${y}\u0000${source[i]}`;
		const c = cell.get(key) ?? { sum: 0, n: 0 };
		c.sum += p(i, y);
		c.n++;
		cell.set(key, c);
	});
	const threshold = (j: number, s: string) => {
		const c = cell.get(`${j}\u0000${s}`);
		return c && c.n >= MIN_CELL ? Math.max(c.sum / c.n, 1e-6) : global[j];
	};
	const isIssue = new Array<boolean>(n).fill(false);
	const margin: number[] = [];
	const suggested: number[] = [];
	for (let i = 0; i < n; i++) {
		const y = labels[i];
		const t = Array.from({ length: classes }, (_, j) => threshold(j, source[i]));
		const q = t.map((tj, j) => p(i, j) / tj);
		let conf = -1;
		for (let j = 0; j < classes; j++) if (p(i, j) >= t[j] && (conf < 0 || q[j] > q[conf])) conf = j;
		const total = q.reduce((a, b) => a + b, 0) || 1;
		let other = -Infinity;
		let best = 0;
		for (let j = 0; j < classes; j++) {
			if (j !== y) other = Math.max(other, q[j] / total);
			if (q[j] > q[best]) best = j;
		}
		margin.push(q[y] / total - other);
		// Confidently another class within the source, or read against the source's thresholds more like another.
		if ((conf >= 0 && conf !== y) || margin[i] < 0) isIssue[i] = true;
		suggested.push(conf >= 0 && conf !== y ? conf : best);
	}
	// Typical of its class within its source (margin at or above the cell's lower quartile): the doubt about it is
	// the doubt about its whole cell, which the source explains.
	const byCell = new Map<string, number[]>();
	labels.forEach((y, i) => byCell.set(`${y}\u0000${source[i]}`, [...(byCell.get(`${y}\u0000${source[i]}`) ?? []), margin[i]]));
	const lowerQuartile = new Map([...byCell].map(([key, ms]) => [key, ms.length >= MIN_CELL ? quartile(ms) : Infinity]));
	labels.forEach((y, i) => {
		if (margin[i] >= lowerQuartile.get(`${y}\u0000${source[i]}`)!) isIssue[i] = false;
	});
	const ranking = Array.from({ length: n }, (_, i) => i).sort((a, b) => margin[a] - margin[b] || a - b);
	return { issues: ranking.filter((i) => isIssue[i]), margin, suggested };
}

function quartile(xs: number[]): number {
	const s = [...xs].sort((a, b) => a - b);
	const pos = (s.length - 1) * 0.25;
	const lo = Math.floor(pos);
	return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
}
