// Which images calibrate an int8 base, and the calibration's cache: ranges are keyed by the weights, the input
// size and the calibration set, so a run whose int8 features are all cached builds nothing (as fp32 runs do).
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { cosine, type Int8Report } from '../runtime/int8';
import { mcnemar } from '../report/stats';
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
	/** Test accuracy with int8 minus with fp32 (same images, paired), with its 95% interval. */
	accuracyDelta?: PairedDelta;
}

export interface PairedDelta {
	estimate: number;
	lo: number;
	hi: number;
	n: number;
}

/**
 * Accuracy of A minus accuracy of B on the same images, with a 95% Wald interval for paired proportions (only the
 * discordant pairs carry variance): (b − c) / n ± 1.96 · √(b + c − (b − c)² / n) / n.
 */
export function pairedAccuracyDelta(rightA: boolean[], rightB: boolean[]): PairedDelta {
	const n = rightA.length;
	let b = 0;
	let c = 0;
	for (let i = 0; i < n; i++) {
		if (rightA[i] && !rightB[i]) b++;
		else if (!rightA[i] && rightB[i]) c++;
	}
	if (n === 0) return { estimate: NaN, lo: NaN, hi: NaN, n };
	const d = (b - c) / n;
	const half = (1.96 * Math.sqrt(Math.max(0, b + c - (b - c) ** 2 / n))) / n;
	return { estimate: d, lo: Math.max(-1, d - half), hi: Math.min(1, d + half), n };
}

interface Decided {
	predicted: string;
	label?: string | null;
}

/** Paired comparison of the same head on int8 and fp32 features of the same test images. */
export function int8Fidelity(report: Int8Report, int8Pred: Decided[], fp32Pred: Decided[], int8Feats: Float32Array, fp32Feats: Float32Array, dim: number): Int8Fidelity {
	const n = int8Pred.length;
	const row = (f: Float32Array, i: number) => f.subarray(i * dim, (i + 1) * dim);
	const cos = int8Pred.map((_, i) => cosine(row(int8Feats, i), row(fp32Feats, i))).sort((a, b) => a - b);
	const right = (p: Decided) => p.label != null && p.predicted === p.label;
	const rightInt8 = int8Pred.map(right);
	const rightFp32 = fp32Pred.map(right);
	const same = int8Pred.filter((p, i) => p.predicted === fp32Pred[i].predicted).length;
	const m = mcnemar(rightInt8, rightFp32);
	return {
		...report,
		testCosineMin: cos[0],
		testCosineP1: cos[Math.min(n - 1, Math.floor(0.01 * (n - 1)))],
		testAgreement: n ? same / n : undefined,
		testAccuracyFp32: n ? rightFp32.filter(Boolean).length / n : undefined,
		mcnemar: { int8Only: m.onlyA, fp32Only: m.onlyB, p: m.p },
		accuracyDelta: pairedAccuracyDelta(rightInt8, rightFp32),
	};
}
