// L2-regularised softmax regression on globally pooled features, solved in the dual: with a linear kernel
// K = X Xᵀ, the primal weights are W = Xᵀ α and a primal gradient step is α ← α − η (P − Y + λ α). One n×n Gram
// matrix serves every fold, λ and label set (classes, sources), so cross-validation costs n² per step, not n·d.
// The matrix work runs on the tfjs backend (native or WASM SIMD), the bookkeeping in plain JS.
import { mulberry32 } from '../data/splits';
import { tf } from '../model/tf';

/** Global average pooling of cached [h·w·c] (HWC) rows to [c]. */
export function globalPool(feats: Float32Array, n: number, channels: number): Float32Array {
	const dim = feats.length / n;
	const cells = dim / channels;
	if (!Number.isInteger(cells)) throw new Error(`feature length ${dim} is not a multiple of ${channels} channels`);
	const out = new Float32Array(n * channels);
	for (let i = 0; i < n; i++) {
		const o = i * channels;
		for (let s = 0; s < cells; s++) {
			const b = i * dim + s * channels;
			for (let c = 0; c < channels; c++) out[o + c] += feats[b + c];
		}
		for (let c = 0; c < channels; c++) out[o + c] /= cells;
	}
	return out;
}

/** z-scores per column with the mean and deviation of the `ref` rows (all rows when omitted). */
export function standardize(x: Float32Array, n: number, dim: number, ref?: number[]): Float32Array {
	const rows = ref ?? Array.from({ length: n }, (_, i) => i);
	const mean = new Float64Array(dim);
	const sq = new Float64Array(dim);
	for (const r of rows) for (let j = 0; j < dim; j++) mean[j] += x[r * dim + j];
	for (let j = 0; j < dim; j++) mean[j] /= rows.length;
	for (const r of rows) for (let j = 0; j < dim; j++) sq[j] += (x[r * dim + j] - mean[j]) ** 2;
	const inv = sq.map((s) => (s > 1e-12 ? 1 / Math.sqrt(s / rows.length) : 0));
	const out = new Float32Array(n * dim);
	for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) out[i * dim + j] = (x[i * dim + j] - mean[j]) * inv[j];
	return out;
}

/** A Gram matrix, kept as a tensor for the fits and as numbers for pairwise lookups. */
export class Kernel {
	readonly tensor: tf.Tensor2D;
	constructor(
		readonly values: Float32Array,
		readonly n: number,
	) {
		this.tensor = tf.tensor2d(values, [n, n]);
	}
	at(i: number, j: number): number {
		return this.values[i * this.n + j];
	}
	/** K[rows, cols] + 1: the +1 is a bias as a constant feature. */
	block(rows: number[], cols: number[]): tf.Tensor2D {
		return tf.tidy(() => tf.gather(tf.gather(this.tensor, tf.tensor1d(rows, 'int32')), tf.tensor1d(cols, 'int32'), 1).add<tf.Tensor2D>(1));
	}
	dispose(): void {
		this.tensor.dispose();
	}
}

/** K = X Xᵀ / dim (n×n). */
export function gram(x: Float32Array, n: number, dim: number): Kernel {
	const values = tf.tidy(() => {
		const t = tf.tensor2d(x, [n, dim]);
		// An explicit transpose: WASM's matMul with transposeB is ~4× slower.
		return tf.matMul(t, t.transpose()).div(dim).dataSync() as Float32Array;
	});
	return new Kernel(values, n);
}

/** Cosine similarities of the rows of x (n×n). */
export function cosineKernel(x: Float32Array, n: number, dim: number): Kernel {
	const values = tf.tidy(() => {
		const t = tf.tensor2d(x, [n, dim]);
		const u = t.div(t.norm('euclidean', 1, true).add(1e-12));
		return tf.matMul(u, u.transpose()).dataSync() as Float32Array;
	});
	return new Kernel(values, n);
}

/** A fitted model: dual coefficients [rows, classes] over its training rows of the Gram matrix. */
export interface DualSoftmax {
	rows: number[];
	alpha: Float32Array;
	classes: number;
}

export interface FitOptions {
	lambda: number;
	/** Per training row (same order as `rows`); default 1. */
	weights?: number[];
	maxIter?: number;
}

/** Largest eigenvalue of a symmetric matrix, by power iteration. */
function topEigen(k: tf.Tensor2D): number {
	return tf.tidy(() => {
		let v: tf.Tensor2D = tf.ones([k.shape[0], 1]).div(Math.sqrt(k.shape[0]));
		for (let it = 0; it < 30; it++) {
			const w = tf.matMul(k, v);
			v = w.div(w.norm().add(1e-30));
		}
		return tf.matMul(k, v).norm().dataSync()[0];
	});
}

/**
 * Minimises the weighted mean cross-entropy + λ/2 ‖W‖² over the `rows` of the Gram matrix with labels y (per
 * row, in 0..classes−1), by Nesterov-accelerated gradient descent with step 1/L, until the largest gradient
 * entry is below 1e-5 or after maxIter steps.
 */
export function fitDualSoftmax(kernel: Kernel, rows: number[], y: number[], classes: number, opts: FitOptions): DualSoftmax {
	const m = rows.length;
	const w = opts.weights ?? rows.map(() => 1);
	const wsum = w.reduce((a, b) => a + b, 0);
	const wmax = Math.max(...w);
	const maxIter = opts.maxIter ?? 300;
	const k = kernel.block(rows, rows);
	const yt = tf.oneHot(tf.tensor1d(y, 'int32'), classes).toFloat();
	const wt = tf.tensor2d(
		w.map((v) => v / wsum),
		[m, 1],
	);
	// Softmax cross-entropy has Hessian ≤ ½ I in the logits.
	const lip = (0.5 * topEigen(k) * wmax) / wsum + opts.lambda;
	const eta = 1 / lip;
	const mu = opts.lambda / lip;
	const beta = (1 - Math.sqrt(mu)) / (1 + Math.sqrt(mu));
	let alpha: tf.Tensor2D = tf.zeros([m, classes]);
	let prev: tf.Tensor2D = tf.zeros([m, classes]);
	try {
		for (let it = 0; it < maxIter; it++) {
			const [next, gmax] = tf.tidy((): [tf.Tensor2D, tf.Scalar?] => {
				const look = alpha.add(alpha.sub(prev).mul(beta));
				const p = tf.softmax(tf.matMul(k, look));
				const g = p.sub(yt).mul(wt).add(look.mul(opts.lambda));
				const step = look.sub<tf.Tensor2D>(g.mul(eta));
				return it % 20 === 19 ? [step, g.abs().max<tf.Scalar>()] : [step];
			});
			prev.dispose();
			prev = alpha;
			alpha = next;
			if (gmax) {
				const done = gmax.dataSync()[0] < 1e-5;
				gmax.dispose();
				if (done) break;
			}
		}
		return { rows, alpha: alpha.dataSync() as Float32Array, classes };
	} finally {
		for (const t of [k, yt, wt, alpha, prev]) t.dispose();
	}
}

/** Class probabilities [at.length, classes] of a fitted model. */
export function predictDualSoftmax(kernel: Kernel, model: DualSoftmax, at: number[]): Float32Array {
	return tf.tidy(() => tf.softmax(tf.matMul(kernel.block(at, model.rows), tf.tensor2d(model.alpha, [model.rows.length, model.classes]))).dataSync() as Float32Array);
}

/**
 * Seeded folds that keep each group (patient, duplicate group) whole and spread every class evenly: groups are
 * shuffled, largest first, and each goes to the fold that holds the fewest images of its main class.
 */
export function groupedFolds(groups: string[], labels: number[], folds: number, seed: number): number[] {
	const members = new Map<string, number[]>();
	groups.forEach((g, i) => members.set(g, [...(members.get(g) ?? []), i]));
	const rand = mulberry32(seed);
	const keys = [...members.keys()].sort();
	for (let i = keys.length - 1; i > 0; i--) {
		const j = Math.floor(rand() * (i + 1));
		[keys[i], keys[j]] = [keys[j], keys[i]];
	}
	keys.sort((a, b) => members.get(b)!.length - members.get(a)!.length);
	const classes = Math.max(0, ...labels) + 1;
	const count = Array.from({ length: folds }, () => new Array<number>(classes).fill(0));
	const total = new Array<number>(folds).fill(0);
	const out = new Array<number>(groups.length);
	for (const key of keys) {
		const rows = members.get(key)!;
		const byClass = new Array<number>(classes).fill(0);
		for (const r of rows) byClass[labels[r]]++;
		const main = byClass.indexOf(Math.max(...byClass));
		let best = 0;
		for (let f = 1; f < folds; f++) if (count[f][main] < count[best][main] || (count[f][main] === count[best][main] && total[f] < total[best])) best = f;
		for (const r of rows) {
			out[r] = best;
			count[best][labels[r]]++;
			total[best]++;
		}
	}
	return out;
}

/** Out-of-fold probabilities [rows.length, classes]: each row predicted by a model that never saw its fold. */
export function crossValProbs(kernel: Kernel, rows: number[], y: number[], classes: number, fold: number[], opts: FitOptions): Float32Array {
	const out = new Float32Array(rows.length * classes);
	const folds = Math.max(...fold) + 1;
	for (let f = 0; f < folds; f++) {
		const tr = rows.map((_, i) => i).filter((i) => fold[i] !== f);
		const te = rows.map((_, i) => i).filter((i) => fold[i] === f);
		if (te.length === 0) continue;
		const model = fitDualSoftmax(
			kernel,
			tr.map((i) => rows[i]),
			tr.map((i) => y[i]),
			classes,
			{ ...opts, weights: opts.weights && tr.map((i) => opts.weights![i]) },
		);
		const p = predictDualSoftmax(
			kernel,
			model,
			te.map((i) => rows[i]),
		);
		te.forEach((i, t) => out.set(p.subarray(t * classes, (t + 1) * classes), i * classes));
	}
	return out;
}

/** Mean cross-entropy of probabilities [m, c] against labels. */
export function logLoss(p: ArrayLike<number>, y: number[], classes: number): number {
	let s = 0;
	y.forEach((t, i) => (s -= Math.log(Math.max(p[i * classes + t], 1e-12))));
	return s / y.length;
}
