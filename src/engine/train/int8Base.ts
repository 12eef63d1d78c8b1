// Which images calibrate an int8 base, and the calibration's cache: ranges are keyed by the weights, the input
// size and the calibration set, so a run whose int8 features are all cached builds nothing (as fp32 runs do).
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Int8Report } from '../runtime/int8';
import type { Range } from '../runtime/quantize';
import { writeJsonAtomic } from '../util/atomic';
import type { FeatureInput, FeatureKey } from './features';

/** Images that set the ranges (a few hundred, as the method asks) and images that check them. */
export const CALIBRATION_IMAGES = 200;
export const CHECK_IMAGES = 32;

export interface CalibrationPlan {
	calibration: FeatureInput[];
	check: FeatureInput[];
	/** sha256 over the calibration images' content hashes. */
	calibrationSet: string;
}

/**
 * Calibration and check images from `candidates` (the training split: never test images), chosen by content hash
 * so that the same data always gives the same set. Check images are disjoint from calibration images.
 */
export function planCalibration(candidates: FeatureInput[], maxCalibration = CALIBRATION_IMAGES, maxCheck = CHECK_IMAGES): CalibrationPlan {
	const unique = [...new Map(candidates.map((c) => [c.sha256, c])).values()].sort((a, b) => (a.sha256 < b.sha256 ? -1 : 1));
	// Keep a share for checking even on small datasets.
	const check = Math.min(maxCheck, Math.floor(unique.length / 4));
	const calibration = unique.slice(0, Math.min(maxCalibration, unique.length - check));
	const checkSet = unique.slice(calibration.length, calibration.length + check);
	const calibrationSet = createHash('sha256')
		.update(calibration.map((c) => c.sha256).join('\n'))
		.digest('hex');
	return { calibration, check: checkSet, calibrationSet };
}

/** A calibration result as cached and as stored in a run (`quantization.json`). */
export interface StoredInt8 {
	report: Int8Report;
	/** Present when the int8 base was accepted. */
	ranges?: Record<string, Range>;
}

export function int8CacheFile(workDir: string, key: Omit<FeatureKey, 'precision'>, calibrationSet: string): string {
	return path.join(workDir, 'cache', 'int8', `${key.backbone}-${key.weightsSha.slice(0, 12)}-${key.preprocessing}-${key.resize}-${key.size}-${calibrationSet.slice(0, 16)}.json`);
}

export async function readStoredInt8(file: string): Promise<StoredInt8 | undefined> {
	try {
		const v = JSON.parse(await fs.readFile(file, 'utf8')) as StoredInt8;
		if (!v || typeof v !== 'object' || typeof v.report?.accepted !== 'boolean' || typeof v.report.rangesSha !== 'string') return undefined;
		if (v.report.accepted && (typeof v.ranges !== 'object' || v.ranges === null)) return undefined;
		return v;
	} catch {
		return undefined;
	}
}

export function writeStoredInt8(file: string, v: StoredInt8): Promise<void> {
	return writeJsonAtomic(file, v);
}

/** The feature-cache precision tag of an accepted int8 base (fp32 keeps the historical, untagged key). */
export function int8Tag(report: Int8Report): string {
	return `int8-${report.rangesSha.slice(0, 12)}`;
}

/** metrics.json's `int8`: the calibration's report plus what the int8 features did to the test decisions. */
export interface Int8Fidelity extends Int8Report {
	/** Test images: cosine of int8 vs fp32 pooled features. */
	testCosineMin?: number;
	testCosineP1?: number;
	/** Share of test images given the same class with int8 and fp32 features (same head). */
	testAgreement?: number;
	/** Test accuracy of the same head on fp32 features, for the paired comparison. */
	testAccuracyFp32?: number;
	/** McNemar's exact test on right/wrong: images only int8 got right, only fp32 got right, two-sided p. */
	mcnemar?: { int8Only: number; fp32Only: number; p: number };
}

interface Decided {
	predicted: string;
	label?: string | null;
}

/** Paired comparison of the same head on int8 and fp32 features of the same test images. */
export function int8Fidelity(report: Int8Report, int8Pred: Decided[], fp32Pred: Decided[], int8Feats: Float32Array, fp32Feats: Float32Array, dim: number): Int8Fidelity {
	const n = int8Pred.length;
	const cos: number[] = [];
	for (let i = 0; i < n; i++) cos.push(cosineRows(int8Feats, fp32Feats, i, dim));
	cos.sort((a, b) => a - b);
	let same = 0;
	let int8Only = 0;
	let fp32Only = 0;
	let fpRight = 0;
	for (let i = 0; i < n; i++) {
		const a = int8Pred[i];
		const b = fp32Pred[i];
		if (a.predicted === b.predicted) same++;
		const ra = a.label != null && a.predicted === a.label;
		const rb = b.label != null && b.predicted === b.label;
		if (rb) fpRight++;
		if (ra && !rb) int8Only++;
		if (rb && !ra) fp32Only++;
	}
	return {
		...report,
		testCosineMin: cos[0],
		testCosineP1: cos[Math.min(n - 1, Math.floor(0.01 * (n - 1)))],
		testAgreement: n ? same / n : undefined,
		testAccuracyFp32: n ? fpRight / n : undefined,
		mcnemar: { int8Only, fp32Only, p: mcnemarExact(int8Only, fp32Only) },
	};
}

function cosineRows(a: Float32Array, b: Float32Array, row: number, dim: number): number {
	let d = 0;
	let na = 0;
	let nb = 0;
	for (let k = row * dim; k < (row + 1) * dim; k++) {
		d += a[k] * b[k];
		na += a[k] * a[k];
		nb += b[k] * b[k];
	}
	return na === 0 && nb === 0 ? 1 : d / Math.sqrt(na * nb);
}

/** Two-sided exact McNemar p: the discordant pairs against Binomial(b + c, ½). */
export function mcnemarExact(b: number, c: number): number {
	const n = b + c;
	if (n === 0) return 1;
	const k = Math.min(b, c);
	let tail = 0;
	// log-space binomial terms: n can be in the thousands.
	let logC = 0; // log C(n, 0)
	for (let i = 0; i <= k; i++) {
		if (i > 0) logC += Math.log((n - i + 1) / i);
		tail += Math.exp(logC - n * Math.LN2);
	}
	return Math.min(1, 2 * tail);
}
