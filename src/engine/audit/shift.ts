// Where a number is used on new images: which of their sources training never saw, and whether the images as a
// whole differ from the run's training split. Shift test: a kernel two-sample test (MMD², Gaussian kernel on the
// OOD check's unit root features, bandwidth by the median heuristic) with a seeded permutation p-value; plus an
// effect size a reviewer can read: the share of images farther from their nearest training images than 95 % of
// the training images are from theirs (leave-one-out).
import * as path from 'node:path';
import { tf } from '../model/tf';
import { mulberry32 } from '../data/splits';
import { knnScore, quantile, scoreOod, unitRoots, type OodReference } from './ood';
import { readPredictionsCsv } from '../infer/classify';
import { RUN_FILES } from '../run/files';

/** Below this permutation p-value the images are said to differ from the training split. */
export const SHIFT_ALPHA = 0.01;
const PERMUTATIONS = 500;
/** Per side: the test's cost grows with the square of the images compared. */
const MAX_PER_SIDE = 400;

export interface SourceCoverage {
	source: string;
	/** Images of this source in the evaluated folder. */
	images: number;
	/** Training images of this source (0: never seen in training). */
	trainImages: number;
	seen: boolean;
}

export interface DatasetShift {
	method: 'mmd-rbf-permutation';
	mmd2: number;
	pValue: number;
	permutations: number;
	seed: number;
	/** Images compared on each side (subsampled, seeded, above MAX_PER_SIDE). */
	evaluated: number;
	training: number;
	/** Share of evaluated images whose kNN distance to training exceeds the 95th percentile of training's own. */
	farFraction: number;
	shifted: boolean;
}

export interface ShiftReport {
	sources: SourceCoverage[];
	/** Undefined when the run records no training sources (a run trained before predictions.csv had them). */
	unseen?: number;
	shift?: DatasetShift;
	/** Plain sentences for the CLI, the card and the panels; empty when nothing needs saying. */
	warnings: string[];
	/** The neutral outcome ("no shift detected …"), for places that show the measurement either way. */
	notes: string[];
}

/** The source of an image with none recorded: the folder it came from, so a reviewer still sees where it is from. */
export function folderSource(root: string): string {
	return `${path.basename(path.resolve(root))} (folder)`;
}

/** Which sources of the evaluated images appear in the training split, with counts; unseen ones first. */
export function sourceCoverage(evaluated: (string | undefined)[], training: (string | undefined)[], evalRoot: string, trainRoot: string): SourceCoverage[] {
	const count = (xs: (string | undefined)[], root: string) => {
		const m = new Map<string, number>();
		for (const s of xs) {
			const k = s?.trim() || folderSource(root);
			m.set(k, (m.get(k) ?? 0) + 1);
		}
		return m;
	};
	const ev = count(evaluated, evalRoot);
	const tr = count(training, trainRoot);
	return [...ev]
		.map(([source, images]) => ({ source, images, trainImages: tr.get(source) ?? 0, seen: tr.has(source) }))
		.sort((a, b) => Number(a.seen) - Number(b.seen) || b.images - a.images || a.source.localeCompare(b.source));
}

/** Up to `max` row indices of 0..n-1, seeded. */
function sampleRows(n: number, max: number, rand: () => number): number[] {
	const idx = Array.from({ length: n }, (_, i) => i);
	if (n <= max) return idx;
	for (let i = n - 1; i > 0; i--) {
		const j = Math.floor(rand() * (i + 1));
		[idx[i], idx[j]] = [idx[j], idx[i]];
	}
	return idx.slice(0, max).sort((a, b) => a - b);
}

/** Unbiased MMD² of the rows in group (g[i] true) against the rest, from the kernel matrix K [N, N]. */
function mmd2(K: Float32Array, N: number, g: Uint8Array, m: number): number {
	let aa = 0;
	let bb = 0;
	let ab = 0;
	for (let i = 0; i < N; i++) {
		const gi = g[i];
		const row = i * N;
		for (let j = i + 1; j < N; j++) {
			const k = K[row + j];
			if (gi !== g[j]) ab += k;
			else if (gi) aa += k;
			else bb += k;
		}
	}
	const n = N - m;
	return (2 * aa) / (m * (m - 1)) + (2 * bb) / (n * (n - 1)) - (2 * ab) / (m * n);
}

/**
 * Kernel two-sample test of evaluated unit vectors [m, channels] against the reference's training vectors, with
 * a permutation p-value ((1 + #{permuted ≥ observed}) / (1 + permutations)).
 */
export function kernelTwoSample(ref: OodReference, evalUnit: Float32Array, m: number, seed = 23): Omit<DatasetShift, 'farFraction' | 'shifted'> {
	const rand = mulberry32(seed);
	const c = ref.channels;
	const ea = sampleRows(m, MAX_PER_SIDE, rand);
	const tb = sampleRows(ref.n, MAX_PER_SIDE, rand);
	const N = ea.length + tb.length;
	const z = new Float32Array(N * c);
	ea.forEach((r, i) => z.set(evalUnit.subarray(r * c, (r + 1) * c), i * c));
	tb.forEach((r, i) => z.set(ref.vectors.subarray(r * c, (r + 1) * c), (ea.length + i) * c));
	const sim = tf.tidy(() => {
		const t = tf.tensor2d(z, [N, c]);
		return tf.matMul(t, t, false, true).dataSync() as Float32Array;
	});
	// Squared distances of unit vectors; the bandwidth is their median (off the diagonal).
	const d2 = new Float32Array(N * N);
	const off: number[] = [];
	for (let i = 0; i < N; i++)
		for (let j = 0; j < N; j++) {
			const d = Math.max(0, 2 - 2 * sim[i * N + j]);
			d2[i * N + j] = d;
			if (j > i && off.length < 200_000) off.push(d);
		}
	const h = Math.max(quantile(off, 0.5), 1e-9);
	const K = d2.map((d) => Math.exp(-d / h));
	const g = new Uint8Array(N);
	for (let i = 0; i < ea.length; i++) g[i] = 1;
	const observed = mmd2(K, N, g, ea.length);
	let atLeast = 0;
	for (let p = 0; p < PERMUTATIONS; p++) {
		for (let i = N - 1; i > 0; i--) {
			const j = Math.floor(rand() * (i + 1));
			[g[i], g[j]] = [g[j], g[i]];
		}
		if (mmd2(K, N, g, ea.length) >= observed) atLeast++;
	}
	return { method: 'mmd-rbf-permutation', mmd2: observed, pValue: (1 + atLeast) / (1 + PERMUTATIONS), permutations: PERMUTATIONS, seed, evaluated: ea.length, training: tb.length };
}

/**
 * Leave-one-out kNN scores of (up to MAX_PER_SIDE, seeded) training vectors against all of them: an image is not
 * its own neighbour. Sampled so a large training split costs [400, n], not [n, n].
 */
function trainingScores(ref: OodReference, seed: number): number[] {
	const n = ref.n;
	const c = ref.channels;
	const rows = sampleRows(n, MAX_PER_SIDE, mulberry32(seed ^ 0x5eed));
	const picked = new Float32Array(rows.length * c);
	rows.forEach((r, i) => picked.set(ref.vectors.subarray(r * c, (r + 1) * c), i * c));
	const sim = tf.tidy(() => tf.matMul(tf.tensor2d(picked, [rows.length, c]), tf.tensor2d(ref.vectors, [n, c]), false, true).dataSync() as Float32Array);
	return rows.map((r, i) =>
		knnScore(
			Array.from(sim.subarray(i * n, (i + 1) * n)).filter((_, j) => j !== r),
			ref.k,
		),
	);
}

/**
 * The shift of evaluated pooled features [m, channels] against the run's training split; `scores` are their kNN
 * scores against the reference when the caller has them already (classify computes them for the OOD check).
 */
export function datasetShift(ref: OodReference, pooled: Float32Array, m: number, scores = scoreOod(ref, pooled, m), seed = 23): DatasetShift | undefined {
	if (m < 10 || ref.n < 10) return undefined;
	const test = kernelTwoSample(ref, unitRoots(pooled, m, ref.channels), m, seed);
	const far = quantile(trainingScores(ref, seed), 0.95);
	const farFraction = scores.filter((s) => s > far).length / m;
	return { ...test, farFraction, shifted: test.pValue < SHIFT_ALPHA };
}

const pct = (x: number) => `${Math.round(x * 100)} %`;

/** The sentences: unseen sources by name with counts, and the shift. */
export function shiftReport(sources: SourceCoverage[], trainingKnown: boolean, shift: DatasetShift | undefined): ShiftReport {
	const warnings: string[] = [];
	const notes: string[] = [];
	let unseen: number | undefined;
	if (!trainingKnown) notes.push("The run does not record its training images' sources, so unseen sources cannot be named.");
	else {
		const never = sources.filter((s) => !s.seen);
		unseen = never.length;
		if (never.length) {
			const n = sources.length;
			warnings.push(
				`${never.length} of ${n} source${n === 1 ? '' : 's'} here ${never.length === 1 ? 'was' : 'were'} never seen in training (${never.map((s) => `${s.source}: ${s.images} image${s.images === 1 ? '' : 's'}`).join(', ')}); the run's test accuracy does not apply to ${never.length === 1 && n === 1 ? 'it' : 'them'}.`,
			);
		}
	}
	if (shift) {
		const how = `kernel two-sample test on the base features, p = ${shift.pValue < 0.001 ? shift.pValue.toExponential(1) : shift.pValue.toFixed(3)}, ${shift.permutations} permutations; ${pct(shift.farFraction)} of the images lie farther from the training images than 95 % of training images do`;
		if (shift.shifted) warnings.push(`These images differ from the run's training split (${how}): its test accuracy may not carry over.`);
		else notes.push(`No dataset-level shift against the training split was detected (${how}).`);
	}
	return { sources, unseen, shift, warnings, notes };
}

/** The per-source lines of the CLI: name, images, seen or not. */
export function coverageLines(r: ShiftReport): string[] {
	if (!r.sources.length) return [];
	const w = Math.max(6, ...r.sources.map((s) => s.source.length));
	return [
		`${'source'.padEnd(w)}  ${'images'.padStart(6)}  in training`,
		...r.sources.map((s) => `${s.source.padEnd(w)}  ${String(s.images).padStart(6)}  ${r.unseen === undefined ? '?' : s.seen ? `seen (${s.trainImages} training images)` : 'NEVER SEEN'}`),
	];
}

/**
 * The sources of a run's training split, from its predictions.csv (every split's rows carry their source);
 * undefined when the file holds no training rows (runs from before it did).
 */
export async function trainingSources(runDir: string): Promise<(string | undefined)[] | undefined> {
	try {
		const rows = (await readPredictionsCsv(path.join(runDir, RUN_FILES.predictions))).filter((p) => p.split === 'train');
		return rows.length ? rows.map((p) => p.source) : undefined;
	} catch {
		return undefined;
	}
}
