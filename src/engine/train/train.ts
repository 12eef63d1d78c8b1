// Head training on cached, pooled features: an explicit loop over index-built batches, deterministic with a seed.
// Steps run in the fused WASM trainer (fastHead.ts: ≈ 10× the tfjs loop) or, where it does not apply, in tfjs.
import { CLASS_NAMES, type EpochLog, type JobOptions, type ReduceLrConfig } from '../types';
import { throwIfAborted } from '../util/cancel';
import { crossEntropy, createOptimizer, headForward, headVariables, predictPooled, type Head } from '../model/head';
import { tf } from '../model/tf';
import { Prng } from './prng';
import { ReduceLrOnPlateau } from './reduceLr';
import { lossAndAccuracy } from '../infer/metrics';
import { FastHeadTrainer, type StepResult } from './fastHead';
import type { FeatureSet } from './featureSet';
import { holdForTest } from '../testHooks';

/** Pooled features (row-major n × dim) with class indices. */
export type { FeatureSet } from './featureSet';

export interface TrainHeadOptions extends JobOptions {
	epochs: number;
	batchSize: number;
	learningRate: number;
	seed: number;
	reduceLr?: ReduceLrConfig;
	/** Shuffle each epoch (Keras' default); off gives fixed-order batches (for equivalence tests). */
	shuffle?: boolean;
	/** 'tfjs' forces the plain tfjs loop (the reference the fused trainer is tested against). */
	engine?: HeadEngine;
	/** Keras EarlyStopping(restore_best_weights=True): end with the weights of the epoch with the lowest val_loss. */
	restoreBestWeights?: boolean;
}

export interface TrainHeadResult {
	history: EpochLog[];
	seconds: number;
	/** Which implementation ran the steps. */
	engine: 'wasm' | 'tfjs';
	/** Set when a stop-and-keep ended training early: the last epoch trained. */
	stoppedAt?: number;
	/** Set when the best-validation-loss weights were restored: that epoch. */
	restoredEpoch?: number;
	/** Why the fused WASM trainer did not run, when it was wanted ('auto') and the tfjs loop ran instead. */
	fallbackReason?: string;
}

/** How a result names its head trainer (metrics.json's headTrainer, the backend text). */
export function headTrainerLabel(r: Pick<TrainHeadResult, 'engine' | 'fallbackReason'>): string {
	return r.engine === 'wasm' ? 'fused WASM' : r.fallbackReason ? `tfjs loop (fused WASM unavailable: ${r.fallbackReason})` : 'tfjs loop';
}

/** Which implementation runs the steps: 'auto' = the fused WASM trainer (fastHead.ts) where it applies, else tfjs. */
export type HeadEngine = 'auto' | 'tfjs';

/**
 * Trains the head in place. Dropout masks come from the head's rate and our own seeded PRNG; both engines draw
 * the same shuffles and masks, so they give the same history within float rounding.
 */
export async function trainHead(head: Head, train: FeatureSet, val: FeatureSet | undefined, opts: TrainHeadOptions): Promise<TrainHeadResult> {
	if (train.n === 0) throw new Error('The training split is empty');
	if (train.dim !== head.featureDim) throw new Error(`Feature size ${train.dim} does not match the head (${head.featureDim})`);
	const stepper = createStepper(head, train, val, opts.learningRate, opts.engine);
	if (stepper.fallbackReason) {
		opts.onProgress?.({ kind: 'log', level: 'warn', message: `Head trainer: the tfjs loop instead of the fused WASM trainer (about 10× slower): ${stepper.fallbackReason}` });
	}
	let result: Omit<TrainHeadResult, 'engine'> & { best?: Float32Array[] };
	try {
		result = await runEpochs(stepper, head, train, val, opts);
	} finally {
		stepper.finish();
	}
	const { best, ...rest } = result;
	if (best) {
		// After finish(): the head's variables hold the last epoch; put the best one back.
		headVariables(head).forEach((v, i) => {
			const t = tf.tensor(best[i], v.shape);
			v.assign(t);
			t.dispose();
		});
	}
	return { ...rest, engine: stepper.engine, ...(stepper.fallbackReason ? { fallbackReason: stepper.fallbackReason } : {}) };
}

/** Runs training steps on one head; `finish` leaves the trained values in the head's variables. */
export interface Stepper {
	engine: 'wasm' | 'tfjs';
	/** Set when the fused trainer was wanted but does not apply. */
	fallbackReason?: string;
	setLearningRate(lr: number): void;
	/** `next`: the rows of the following step, or 'val' when the validation forward comes next. */
	step(rows: number[], labels: number[], mask: Float32Array | undefined, next?: number[] | 'val'): StepResult;
	predictVal(): Float32Array;
	/** Copies of the current weights, in headVariables order. */
	weights(): Float32Array[];
	finish(): void;
}

/** The fused WASM stepper where it applies (unless engine is 'tfjs'), else the tfjs one. */
export function createStepper(head: Head, train: FeatureSet, val: FeatureSet | undefined, learningRate: number, engine: HeadEngine = 'auto'): Stepper {
	if (engine === 'tfjs') return tfjsStepper(head, train, val, learningRate);
	const fast = FastHeadTrainer.create(head, train, val);
	return typeof fast === 'string' ? { ...tfjsStepper(head, train, val, learningRate), fallbackReason: fast } : fastStepper(fast);
}

function fastStepper(t: FastHeadTrainer): Stepper {
	return {
		engine: 'wasm',
		setLearningRate: (lr) => t.setLearningRate(lr),
		step: (rows, labels, mask, next) => t.step(rows, labels, mask, next),
		predictVal: () => t.predictVal(),
		weights: () => t.currentWeights(),
		// Also after a cancel or an error: the head holds whatever was trained so far, as with the tfjs loop.
		finish: () => t.writeBack(),
	};
}

/** The straightforward tfjs loop: optimizer.minimize over headForward/crossEntropy on index-built batches. */
function tfjsStepper(head: Head, train: FeatureSet, val: FeatureSet | undefined, learningRate: number): Stepper {
	const optimizer = createOptimizer(learningRate);
	const vars = headVariables(head);
	const units = head.dense.getConfig().units as number;
	const k = CLASS_NAMES.length;
	return {
		engine: 'tfjs',
		setLearningRate: (lr) => setLearningRate(optimizer, lr),
		step(rows, labels, mask) {
			const m = rows.length;
			const xb = new Float32Array(m * train.dim);
			const yb = new Float32Array(m * k);
			rows.forEach((row, j) => {
				xb.set(train.feats.subarray(row * train.dim, (row + 1) * train.dim), j * train.dim);
				yb[j * k + labels[j]] = 1;
			});
			let probs: tf.Tensor | undefined;
			const loss = tf.tidy(() => {
				const x = tf.tensor2d(xb, [m, train.dim]);
				const y = tf.tensor2d(yb, [m, k]);
				const dm = mask ? tf.tensor2d(mask, [m, units]) : undefined;
				return optimizer.minimize(
					() => {
						const p = headForward(head, x, dm);
						probs = tf.keep(p);
						return tf.mean<tf.Scalar>(crossEntropy(y, p));
					},
					true,
					vars,
				) as tf.Scalar;
			});
			const lossValue = loss.dataSync()[0];
			loss.dispose();
			const pv = probs!.dataSync() as Float32Array;
			probs!.dispose();
			return { loss: lossValue, probs: pv };
		},
		predictVal: () => (val && val.n > 0 ? predictPooled(head, val.feats, val.n) : new Float32Array(0)),
		weights: () => vars.map((v) => Float32Array.from(v.dataSync() as Float32Array)),
		finish: () => optimizer.dispose(),
	};
}

async function runEpochs(stepper: Stepper, head: Head, train: FeatureSet, val: FeatureSet | undefined, opts: TrainHeadOptions): Promise<Omit<TrainHeadResult, 'engine'> & { best?: Float32Array[] }> {
	const t0 = Date.now();
	const rng = new Prng(opts.seed);
	const plateau = opts.reduceLr ? new ReduceLrOnPlateau(opts.reduceLr) : undefined;
	const rate = head.dropout;
	const units = head.dense.getConfig().units as number;
	const k = CLASS_NAMES.length;
	const order = Array.from({ length: train.n }, (_, i) => i);
	let lr = Math.fround(opts.learningRate);
	const history: EpochLog[] = [];
	let best: { loss: number; epoch: number; weights: Float32Array[] } | undefined;
	let stoppedAt: number | undefined;
	for (let epoch = 0; epoch < opts.epochs; epoch++) {
		const e0 = Date.now();
		if (opts.shuffle !== false) rng.shuffle(order);
		stepper.setLearningRate(lr);
		let lossSum = 0;
		let correct = 0;
		const batches: number[][] = [];
		for (let start = 0; start < train.n; start += opts.batchSize) batches.push(order.slice(start, start + opts.batchSize));
		const hasVal = val !== undefined && val.n > 0;
		for (let b = 0; b < batches.length; b++) {
			throwIfAborted(opts.signal);
			const idx = batches[b];
			const m = idx.length;
			const mask = rate > 0 ? dropoutMask(rng, m * units, rate) : undefined;
			const next = b + 1 < batches.length ? batches[b + 1] : hasVal ? 'val' : undefined;
			const { loss, probs } = stepper.step(
				idx,
				idx.map((r) => train.labels[r]),
				mask,
				next,
			);
			lossSum += loss * m;
			for (let j = 0; j < m; j++) if (argmax(probs, j * k, k) === train.labels[idx[j]]) correct++;
			// Give the event loop a turn so an abort (SIGINT, a worker message) can land between batches.
			await new Promise((r) => setImmediate(r));
		}
		let valLoss = NaN;
		let valAcc = NaN;
		if (hasVal) ({ loss: valLoss, accuracy: valAcc } = lossAndAccuracy(stepper.predictVal(), val.labels));
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
		if (epoch === 0) await holdForTest('train', opts.signal, opts.stopSignal);
		// Keras' EarlyStopping keeps the first epoch with the lowest monitored value (strict improvement).
		if (opts.restoreBestWeights && Number.isFinite(valLoss) && (!best || valLoss < best.loss)) best = { loss: valLoss, epoch: epoch + 1, weights: stepper.weights() };
		if (opts.stopSignal?.aborted && epoch + 1 < opts.epochs) {
			stoppedAt = epoch + 1;
			opts.onProgress?.({ kind: 'log', level: 'info', message: `Stopped after epoch ${stoppedAt} of ${opts.epochs}: keeping the model as it is.` });
			break;
		}
		if (plateau && !Number.isNaN(valLoss)) {
			const next = plateau.onEpochEnd(valLoss, lr);
			if (next !== lr) {
				opts.onProgress?.({ kind: 'log', level: 'info', message: `Epoch ${epoch + 1}: ReduceLROnPlateau reducing learning rate to ${Number(next.toPrecision(6))}.` });
				lr = next;
			}
		}
	}
	const restore = best && best.epoch !== history.length ? best : undefined;
	if (restore) opts.onProgress?.({ kind: 'log', level: 'info', message: `Restoring the weights of epoch ${restore.epoch} (lowest val_loss ${restore.loss.toFixed(4)}).` });
	return { history, seconds: (Date.now() - t0) / 1000, stoppedAt, restoredEpoch: restore?.epoch, best: restore?.weights };
}

/** Inverted dropout as tfjs/Keras: keep with probability 1−rate, scale kept units by 1/(1−rate). */
export function dropoutMask(rng: Prng, size: number, rate: number): Float32Array {
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
