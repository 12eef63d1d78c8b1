// Head training on cached, pooled features: an explicit optimizer loop over index-built batches.
// Faster than fit() (no per-step GatherV2/Slice of a big feature tensor) and deterministic with a seed.
import { CLASS_NAMES, type EpochLog, type JobOptions, type ReduceLrConfig } from '../types';
import { throwIfAborted } from '../util/cancel';
import { crossEntropy, createOptimizer, headForward, headVariables, predictPooled, type Head } from '../model/head';
import { tf } from '../model/tf';
import { Prng } from './prng';
import { ReduceLrOnPlateau } from './reduceLr';
import { lossAndAccuracy } from '../infer/metrics';

/** Pooled features (row-major n × dim) with class indices. */
export interface FeatureSet {
	feats: Float32Array;
	labels: number[];
	n: number;
	dim: number;
}

export interface TrainHeadOptions extends JobOptions {
	epochs: number;
	batchSize: number;
	learningRate: number;
	seed: number;
	reduceLr?: ReduceLrConfig;
	/** Shuffle each epoch (Keras' default); off gives fixed-order batches (for equivalence tests). */
	shuffle?: boolean;
}

export interface TrainHeadResult {
	history: EpochLog[];
	seconds: number;
}

/** Trains the head in place. Dropout masks come from the head's rate and our own seeded PRNG. */
export async function trainHead(head: Head, train: FeatureSet, val: FeatureSet | undefined, opts: TrainHeadOptions): Promise<TrainHeadResult> {
	if (train.n === 0) throw new Error('The training split is empty');
	if (train.dim !== head.featureDim) throw new Error(`Feature size ${train.dim} does not match the head (${head.featureDim})`);
	const t0 = Date.now();
	const rng = new Prng(opts.seed);
	const optimizer = createOptimizer(opts.learningRate);
	const vars = headVariables(head);
	const plateau = opts.reduceLr ? new ReduceLrOnPlateau(opts.reduceLr) : undefined;
	const rate = head.dropout;
	const units = head.dense.getConfig().units as number;
	const k = CLASS_NAMES.length;
	const order = Array.from({ length: train.n }, (_, i) => i);
	let lr = Math.fround(opts.learningRate);
	const history: EpochLog[] = [];
	try {
		for (let epoch = 0; epoch < opts.epochs; epoch++) {
			const e0 = Date.now();
			if (opts.shuffle !== false) rng.shuffle(order);
			setLearningRate(optimizer, lr);
			let lossSum = 0;
			let correct = 0;
			for (let start = 0; start < train.n; start += opts.batchSize) {
				throwIfAborted(opts.signal);
				const idx = order.slice(start, start + opts.batchSize);
				const m = idx.length;
				const xb = new Float32Array(m * train.dim);
				const yb = new Float32Array(m * k);
				idx.forEach((row, j) => {
					xb.set(train.feats.subarray(row * train.dim, (row + 1) * train.dim), j * train.dim);
					yb[j * k + train.labels[row]] = 1;
				});
				const mask = rate > 0 ? dropoutMask(rng, m * units, rate) : undefined;
				let probs: tf.Tensor | undefined;
				const loss = tf.tidy(() => {
					const x = tf.tensor2d(xb, [m, train.dim]);
					const y = tf.tensor2d(yb, [m, k]);
					const dm = mask ? tf.tensor2d(mask, [m, units]) : undefined;
					return optimizer.minimize(() => {
						const p = headForward(head, x, dm);
						probs = tf.keep(p);
						return tf.mean(crossEntropy(y, p)) as tf.Scalar;
					}, true, vars) as tf.Scalar;
				});
				lossSum += (await loss.data())[0] * m;
				loss.dispose();
				const pv = probs!.dataSync();
				probs!.dispose();
				for (let j = 0; j < m; j++) if (argmax(pv, j * k, k) === train.labels[idx[j]]) correct++;
				// Give the event loop a turn so an abort (SIGINT, a worker message) can land between batches.
				await new Promise((r) => setImmediate(r));
			}
			let valLoss = NaN;
			let valAcc = NaN;
			if (val && val.n > 0) {
				const vp = predictPooled(head, val.feats, val.n);
				({ loss: valLoss, accuracy: valAcc } = lossAndAccuracy(vp, val.labels));
			}
			const log: EpochLog = {
				epoch: epoch + 1,
				loss: lossSum / train.n,
				acc: correct / train.n,
				val_loss: valLoss,
				val_acc: valAcc,
				lr,
				seconds: (Date.now() - e0) / 1000,
			};
			history.push(log);
			opts.onProgress?.({ kind: 'epoch', log, epochs: opts.epochs });
			if (plateau && !Number.isNaN(valLoss)) {
				const next = plateau.onEpochEnd(valLoss, lr);
				if (next !== lr) {
					opts.onProgress?.({ kind: 'log', level: 'info', message: `Epoch ${epoch + 1}: ReduceLROnPlateau reducing learning rate to ${Number(next.toPrecision(6))}.` });
					lr = next;
				}
			}
		}
	} finally {
		optimizer.dispose();
	}
	return { history, seconds: (Date.now() - t0) / 1000 };
}

/** Inverted dropout as tfjs/Keras: keep with probability 1−rate, scale kept units by 1/(1−rate). */
function dropoutMask(rng: Prng, size: number, rate: number): Float32Array {
	const mask = new Float32Array(size);
	const scale = 1 / (1 - rate);
	for (let i = 0; i < size; i++) mask[i] = rng.next() >= rate ? scale : 0;
	return mask;
}

function setLearningRate(optimizer: tf.AdamOptimizer, lr: number): void {
	// Adam reads its (protected) rate on every step.
	(optimizer as unknown as { learningRate: number }).learningRate = lr;
}

export function argmax(a: ArrayLike<number>, offset: number, len: number): number {
	let best = 0;
	for (let i = 1; i < len; i++) if (a[offset + i] > a[offset + best]) best = i;
	return best;
}
