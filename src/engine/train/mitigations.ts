// Mitigations of source shortcuts that training can apply: leave-one-source-out splits, class / class × source
// balancing, and a linear-probe head (global average pooling + L2 softmax regression, λ by grouped CV).
import { CLASS_NAMES, type ImageRecord, type SplitResult, type TrainConfig } from '../types';
import { splitDataset } from '../data/splits';
import { balanceWeights } from '../audit/audit';
import { crossValProbs, fitDualSoftmax, globalPool, gram, groupedFolds, logLoss, standardize } from '../audit/linear';
import type { Head } from '../model/head';
import { HEAD_UNITS } from '../model/head';
import { tf } from '../model/tf';

/**
 * Leave-one-source-out: every image of `source` is the test split; train / val come from the others with the
 * usual patient-grouped split. An unknown source is an error that lists the known ones.
 */
export function splitBySource(records: ImageRecord[], source: string, opts: Pick<TrainConfig, 'splitMode' | 'seed' | 'valFraction'> & { linked?: string[][] }): SplitResult {
	const known = [...new Set(records.map((r) => r.source).filter((s): s is string => Boolean(s)))].sort();
	if (!known.includes(source)) throw new Error(`--test-source '${source}': no image has that source (known: ${known.join(', ') || 'none; sources come from manifest.csv source_dataset'})`);
	const test = records.filter((r) => r.source === source);
	const rest = records.filter((r) => r.source !== source);
	const split = splitDataset(rest, { mode: opts.splitMode, seed: opts.seed, testFraction: 0, valFraction: opts.valFraction, linked: opts.linked });
	return { ...split, test: test.map((r) => r.relPath).sort(), leakedPatients: [...new Set([...split.leakedPatients, ...sharedPatients(test, rest)])].sort() };
}

function sharedPatients(a: ImageRecord[], b: ImageRecord[]): string[] {
	const ids = new Set(a.map((r) => r.patientId));
	return [...new Set(b.filter((r) => ids.has(r.patientId)).map((r) => r.patientId))];
}

/**
 * Training rows repeated so each class (or class × source cell) carries about the same weight: the fused
 * trainer takes no sample weights, and oversampling gives SGD the same expected gradient.
 */
export function balancedRows(rows: number[], labels: number[], sources: (string | undefined)[], mode: 'class' | 'class-source'): number[] {
	const w = balanceWeights(
		rows.map((r) => labels[r]),
		rows.map((r) => sources[r] ?? ''),
		mode,
	);
	const min = Math.min(...w);
	return rows.flatMap((r, i) => Array.from({ length: Math.max(1, Math.round(w[i] / min)) }, () => r));
}

export const LINEAR_PROBE_LAMBDAS = [1e-4, 1e-3, 1e-2, 1e-1, 1];
/** Keeps the reference layout's ReLU in its linear range: logits stay far above −SHIFT; softmax ignores the shift. */
const SHIFT = 1000;

export interface LinearProbeResult {
	lambda: number;
	/** Grouped-CV log loss per λ on the training split. */
	cvLoss: Record<string, number>;
}

/**
 * Fits the linear probe on the training rows and writes it into `head` (the reference layout, so saving,
 * loading, classify and export work unchanged): `dense` holds GAP · W / σ (the z-scoring folded in) in its first
 * three units plus a shift that keeps the ReLU linear, `dense_1` is the identity on those three.
 */
export function fitLinearProbe(head: Head, feats: Float32Array, dim: number, rows: number[], labels: number[], groups: string[], seed: number, weights?: number[]): LinearProbeResult {
	const channels = head.baseShape[2];
	const cells = dim / channels;
	const sub = new Float32Array(rows.length * dim);
	rows.forEach((r, i) => sub.set(feats.subarray(r * dim, (r + 1) * dim), i * dim));
	const pooled = globalPool(sub, rows.length, channels);
	// Mean and deviation of the training rows, for folding into the weights.
	const mean = new Float64Array(channels);
	const sd = new Float64Array(channels);
	for (let i = 0; i < rows.length; i++) for (let c = 0; c < channels; c++) mean[c] += pooled[i * channels + c] / rows.length;
	for (let i = 0; i < rows.length; i++) for (let c = 0; c < channels; c++) sd[c] += (pooled[i * channels + c] - mean[c]) ** 2 / rows.length;
	const z = standardize(pooled, rows.length, channels);
	const kernel = gram(z, rows.length, channels);
	try {
		const local = rows.map((_, i) => i);
		const y = rows.map((r) => labels[r]);
		const folds = groupedFolds(groups, y, Math.min(5, new Set(groups).size), seed);
		const cvLoss: Record<string, number> = {};
		for (const lambda of LINEAR_PROBE_LAMBDAS) cvLoss[String(lambda)] = logLoss(crossValProbs(kernel, local, y, CLASS_NAMES.length, folds, { lambda, weights }), y, CLASS_NAMES.length);
		const lambda = LINEAR_PROBE_LAMBDAS.reduce((a, b) => (cvLoss[String(b)] < cvLoss[String(a)] ? b : a));
		const model = fitDualSoftmax(kernel, local, y, CLASS_NAMES.length, { lambda, weights });
		// Primal weights on z: W = Zᵀ α / channels (the Gram matrix was divided by it), bias = Σ α (the +1 column).
		const k = CLASS_NAMES.length;
		const wz = new Float64Array(channels * k);
		const bias = new Float64Array(k);
		for (let i = 0; i < rows.length; i++) {
			for (let j = 0; j < k; j++) {
				const a = model.alpha[i * k + j];
				bias[j] += a;
				for (let c = 0; c < channels; c++) wz[c * k + j] += (z[i * channels + c] * a) / channels;
			}
		}
		// z_c = (g_c − μ_c)/σ_c with g = mean over cells: fold σ and the 1/cells into the kernel, μ into the bias.
		const kernel1 = new Float32Array(dim * HEAD_UNITS);
		const bias1 = new Float32Array(HEAD_UNITS);
		for (let c = 0; c < channels; c++) {
			const s = sd[c] > 1e-12 ? 1 / Math.sqrt(sd[c]) : 0;
			for (let j = 0; j < k; j++) {
				const wc = wz[c * k + j] * s;
				bias[j] -= mean[c] * wc;
				for (let cell = 0; cell < cells; cell++) kernel1[(cell * channels + c) * HEAD_UNITS + j] = wc / cells;
			}
		}
		for (let j = 0; j < k; j++) bias1[j] = bias[j] + SHIFT;
		const kernel2 = new Float32Array(HEAD_UNITS * k);
		for (let j = 0; j < k; j++) kernel2[j * k + j] = 1;
		const values = [tf.tensor2d(kernel1, [dim, HEAD_UNITS]), tf.tensor1d(bias1), tf.tensor2d(kernel2, [HEAD_UNITS, k]), tf.zeros([k])];
		head.dense.setWeights(values.slice(0, 2));
		head.output.setWeights(values.slice(2));
		tf.dispose(values);
		return { lambda, cvLoss };
	} finally {
		kernel.dispose();
	}
}
