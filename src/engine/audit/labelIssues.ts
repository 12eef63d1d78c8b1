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
