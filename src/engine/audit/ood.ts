// "Not a frontal chest X-ray": the audit's out-of-distribution score as a reusable piece, so classify and
// training flag the same images the audit does. Score: 1 − mean cosine similarity (of square-rooted pooled
// features, a Hellinger kernel) to the k nearest training images; threshold: Tukey's far-out fence of the
// training images' own leave-one-out scores. Plus the cheap pixel and tag checks of pixels.ts.
import { tf } from '../model/tf';
import { pixelFlags, type ImageHeader } from './pixels';
import type { OodReason } from './report';

/** Neighbours of the score. */
export const OOD_K = 5;

/** Calibrated reference: the training images' unit vectors and the fence their scores give. */
export interface OodReference {
	method: 'knn-cosine';
	k: number;
	threshold: number;
	channels: number;
	/** n × channels unit vectors (square roots of the pooled features, normalised). */
	vectors: Float32Array;
	n: number;
}

export interface OodVerdict {
	outOfDistribution: boolean;
	score: number;
	reasons: OodReason[];
	/** Plain words per reason. */
	details: string[];
}

export function quantile(xs: number[], q: number): number {
	const s = [...xs].sort((a, b) => a - b);
	if (!s.length) return NaN;
	const pos = (s.length - 1) * q;
	const lo = Math.floor(pos);
	return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (pos - lo);
}

/** Tukey's far-out fence (q3 + 3 IQR): robust to the few odd images the training split itself may hold. */
export function tukeyFence(scores: number[]): number {
	const q1 = quantile(scores, 0.25);
	const q3 = quantile(scores, 0.75);
	return q3 + 3 * (q3 - q1);
}

/** 1 − mean of the k largest similarities. */
export function knnScore(sims: number[], k: number): number {
	const top = [...sims].sort((a, b) => b - a).slice(0, k);
	return 1 - top.reduce((a, b) => a + b, 0) / top.length;
}

/** Square roots of pooled (non-negative) features, scaled to unit length. */
export function unitRoots(pooled: Float32Array, n: number, channels: number): Float32Array {
	const out = new Float32Array(n * channels);
	for (let i = 0; i < n; i++) {
		let ss = 0;
		for (let c = 0; c < channels; c++) ss += Math.max(0, pooled[i * channels + c]);
		const inv = 1 / Math.sqrt(ss + 1e-12);
		for (let c = 0; c < channels; c++) out[i * channels + c] = Math.sqrt(Math.max(0, pooled[i * channels + c])) * inv;
	}
	return out;
}

/** Similarities [m, n] of unit vectors. */
function similarities(a: Float32Array, m: number, b: Float32Array, n: number, channels: number): Float32Array {
	return tf.tidy(() => tf.matMul(tf.tensor2d(a, [m, channels]), tf.tensor2d(b, [n, channels]), false, true).dataSync() as Float32Array);
}

/**
 * Calibrates on the training images' pooled features [n, channels]; also returns their leave-one-out scores
 * (an image is not its own neighbour).
 */
export function buildOodReference(pooled: Float32Array, n: number, channels: number, k = OOD_K): { reference: OodReference; scores: number[] } {
	if (n < k + 2) throw new Error(`out-of-distribution calibration needs at least ${k + 2} training images (got ${n})`);
	const vectors = unitRoots(pooled, n, channels);
	const sim = similarities(vectors, n, vectors, n, channels);
	const scores = Array.from({ length: n }, (_, i) =>
		knnScore(
			Array.from(sim.subarray(i * n, (i + 1) * n)).filter((_, j) => j !== i),
			k,
		),
	);
	return { reference: { method: 'knn-cosine', k, threshold: tukeyFence(scores), channels, vectors, n }, scores };
}

/** Scores of new images' pooled features [m, channels] against the reference. */
export function scoreOod(ref: OodReference, pooled: Float32Array, m: number): number[] {
	if (!m) return [];
	const sim = similarities(unitRoots(pooled, m, ref.channels), m, ref.vectors, ref.n, ref.channels);
	return Array.from({ length: m }, (_, i) => knnScore(Array.from(sim.subarray(i * ref.n, (i + 1) * ref.n)), ref.k));
}

/** The feature score against its threshold plus the pixel / tag checks of one image. */
export function oodVerdict(score: number, threshold: number, rgb: Uint8Array, header: ImageHeader | undefined): OodVerdict {
	const reasons: OodReason[] = [];
	const details: string[] = [];
	if (score > threshold) {
		reasons.push('features');
		details.push(`far from every training radiograph (score ${score.toFixed(3)} > ${threshold.toFixed(3)})`);
	}
	for (const f of pixelFlags(rgb, header)) {
		reasons.push(f.reason);
		details.push(f.detail);
	}
	return { outOfDistribution: reasons.length > 0, score, reasons, details };
}
