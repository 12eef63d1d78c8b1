// The audit's analysis, on data already in memory: labelled records, their cached pixels, file headers and
// cached base features. No I/O here (see run.ts), so tests and the bench drive it directly.
import { CLASS_NAMES, type ImageRecord, type SplitName } from '../types';
import { splitDataset, splitIndex } from '../data/splits';
import { classSourceTable } from '../data/sources';
import { confidentLearning, sourceAwareIssues, type ConfidentLearningResult, type SourceAwareResult } from './labelIssues';
import { cosineKernel, crossValProbs, fitDualSoftmax, globalPool, gram, groupedFolds, predictDualSoftmax, standardize, type Kernel } from './linear';
import { hamming, perceptualHash, type ImageHeader } from './pixels';
import { knnScore, oodVerdict, quantile, tukeyFence } from './ood';
import type { AuditImage, DuplicatePair, DuplicatesFinding, LabelIssue, LabelIssuesFinding, MitigationRow, OodFinding, OodImage, SourcesFinding, SourceWarning } from './report';

export interface AuditInput {
	/** Labelled images (label not null), in the order of every array below. */
	records: ImageRecord[];
	sha256: string[];
	/** Cached size×size×3 pixels. */
	rgb: Uint8Array[];
	size: number;
	/** File headers (undefined where unreadable). */
	headers: (ImageHeader | undefined)[];
	/** Cached base features [n, dim] (HWC cells × channels). */
	feats: Float32Array;
	/** Channels of the base output: the features are pooled globally to this many. */
	channels: number;
}

export interface AuditOptions {
	seed: number;
	folds: number;
	testFraction: number;
	valFraction: number;
	/** L2 strength of the softmax regression. */
	lambda: number;
	/** Neighbours of the out-of-distribution score. */
	k: number;
}

export const DEFAULT_AUDIT_OPTIONS: AuditOptions = { seed: 40, folds: 5, testFraction: 0.2, valFraction: 0.1, lambda: 1e-2, k: 5 };

/**
 * Candidates: cosine distance below this fraction of the median nearest-neighbour distance between the training
 * images (the calibration: what "close" means depends on the backbone and the dataset).
 */
export const NEAR_DUP_FRACTION = 0.25;
/** Confirmation: pHash distance at most this of 64 bits (unrelated radiographs differ in ~20–32). */
export const NEAR_DUP_HAMMING = 10;
/** A class whose source alone separates it with this one-vs-rest AUC is "nearly determined by its source". */
export const SOURCE_AUC_WARNING = 0.85;
/** Leave-one-source-out skips sources with fewer images than this. */
export const MIN_HELD_OUT = 5;

export interface AuditCore {
	labelIssues: LabelIssuesFinding;
	outOfDistribution: OodFinding;
	duplicates: DuplicatesFinding;
	sources: SourcesFinding;
	mitigations: MitigationRow[];
	/** The duplicate-aware split's groups of linked relPaths (for training). */
	linked: string[][];
	timing: Record<string, number>;
}

/** Source of each record: manifest's source_dataset, else a top folder that is not the class folder. */
export function sourcesOf(records: ImageRecord[]): { origin: SourcesFinding['origin']; source: string[] } {
	if (records.some((r) => r.source)) return { origin: 'manifest', source: records.map((r) => r.source ?? 'unknown') };
	const top = records.map((r) => (r.relPath.includes('/') ? r.relPath.split('/')[0] : ''));
	if (top.every((t, i) => t && t !== r0(records[i]))) return { origin: 'folder', source: top };
	return { origin: 'none', source: records.map(() => 'all') };
}
const r0 = (r: ImageRecord) => r.labelSource?.replace(/^folder:/, '');

/** One-vs-rest ROC AUC of scores for a boolean target (ties count half). */
export function auc(scores: number[], positive: boolean[]): number {
	const idx = scores.map((_, i) => i).sort((a, b) => scores[a] - scores[b]);
	let rankSum = 0;
	let nPos = 0;
	for (let i = 0; i < idx.length;) {
		let j = i;
		while (j < idx.length && scores[idx[j]] === scores[idx[i]]) j++;
		const rank = (i + j + 1) / 2;
		for (let t = i; t < j; t++)
			if (positive[idx[t]]) {
				rankSum += rank;
				nPos++;
			}
		i = j;
	}
	const nNeg = idx.length - nPos;
	return nPos && nNeg ? (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg) : NaN;
}

class UnionFind {
	private parent: number[];
	constructor(n: number) {
		this.parent = Array.from({ length: n }, (_, i) => i);
	}
	find(i: number): number {
		while (this.parent[i] !== i) i = this.parent[i] = this.parent[this.parent[i]];
		return i;
	}
	union(a: number, b: number): void {
		this.parent[this.find(a)] = this.find(b);
	}
}

export function runAuditCore(input: AuditInput, opts: AuditOptions = DEFAULT_AUDIT_OPTIONS): AuditCore {
	const timing: Record<string, number> = {};
	let t = Date.now();
	const lap = (name: string) => {
		timing[name] = (Date.now() - t) / 1000;
		t = Date.now();
	};
	const { records } = input;
	const n = records.length;
	if (n < opts.folds * 2) throw new Error(`the audit needs at least ${opts.folds * 2} labelled images (got ${n})`);
	const labels = records.map((r) => CLASS_NAMES.indexOf(r.label!));
	const splitOpts = { mode: 'patient' as const, seed: opts.seed, testFraction: opts.testFraction, valFraction: opts.valFraction };
	const plainSplit = splitIndex(splitDataset(records, splitOpts));
	const splitOf = (i: number): SplitName => plainSplit.get(records[i].relPath)!;
	const { origin, source } = sourcesOf(records);
	const image = (i: number): AuditImage => ({
		relPath: records[i].relPath,
		label: records[i].label!,
		patientId: records[i].patientId,
		...(source[i] && origin !== 'none' ? { source: source[i] } : {}),
		split: splitOf(i),
	});

	// Features: global average pool. The classifier sees them z-scored with the training images' statistics;
	// similarity (duplicates, out of distribution) is the cosine of their square roots (a Hellinger kernel: the
	// pooled activations are non-negative, and the root keeps a few strong channels from dominating).
	const pooled = globalPool(input.feats, n, input.channels);
	const trainRows = records.map((_, i) => i).filter((i) => splitOf(i) === 'train');
	const k = gram(standardize(pooled, n, input.channels, trainRows), n, input.channels);
	const hk = cosineKernel(pooled.map(Math.sqrt), n, input.channels);
	try {
		return analyse();
	} finally {
		k.dispose();
		hk.dispose();
	}

	function analyse(): AuditCore {
		const cos = (i: number, j: number) => hk.at(i, j);
		lap('features');
		const nnDistance = trainRows.map((i) => 1 - Math.max(...trainRows.filter((j) => j !== i && records[j].patientId !== records[i].patientId).map((j) => cos(i, j))));
		const cosineThreshold = 1 - NEAR_DUP_FRACTION * quantile(nnDistance, 0.5);

		// Duplicates: same bytes, or close in feature space and confirmed by the perceptual hash.
		const hashes = input.rgb.map((px) => perceptualHash(px, input.size));
		const pairs: DuplicatePair[] = [];
		const uf = new UnionFind(n);
		for (let i = 0; i < n; i++) {
			for (let j = i + 1; j < n; j++) {
				const exact = input.sha256[i] === input.sha256[j];
				const c = cos(i, j);
				if (!exact && c < cosineThreshold) continue;
				const h = hamming(hashes[i], hashes[j]);
				if (!exact && h > NEAR_DUP_HAMMING) continue;
				uf.union(i, j);
				pairs.push({ a: image(i), b: image(j), kind: exact ? 'exact' : 'near', cosine: c, hamming: h, crossSplit: splitOf(i) !== splitOf(j) });
			}
		}
		const groupRows = new Map<number, number[]>();
		for (let i = 0; i < n; i++) groupRows.set(uf.find(i), [...(groupRows.get(uf.find(i)) ?? []), i]);
		const linked = [...groupRows.values()].filter((g) => g.length > 1).map((g) => g.map((i) => records[i].relPath).sort());
		const linkedSplit = splitIndex(splitDataset(records, { ...splitOpts, linked }));
		const duplicates: DuplicatesFinding = {
			cosineThreshold,
			hammingThreshold: NEAR_DUP_HAMMING,
			pairs: pairs.sort((a, b) => Number(b.crossSplit) - Number(a.crossSplit) || b.cosine - a.cosine),
			groups: linked,
			crossSplitPairs: pairs.filter((p) => p.crossSplit).length,
			crossSplitAfterLinking: pairs.filter((p) => linkedSplit.get(p.a.relPath) !== linkedSplit.get(p.b.relPath)).length,
		};
		lap('duplicates');

		// Label issues: out-of-fold probabilities, folds grouped by patient and duplicate group.
		const all = records.map((_, i) => i);
		const firstOfPatient = new Map<string, number>();
		records.forEach((r, i) => {
			const p = firstOfPatient.get(r.patientId);
			if (p === undefined) firstOfPatient.set(r.patientId, i);
			else uf.union(i, p);
		});
		const fold = groupedFolds(
			all.map((i) => String(uf.find(i))),
			labels,
			opts.folds,
			opts.seed,
		);
		const oof = crossValProbs(k, all, labels, CLASS_NAMES.length, fold, { lambda: opts.lambda });
		const cl = confidentLearning(oof, labels, CLASS_NAMES.length);
		const probsOf = (i: number) => Array.from(oof.subarray(i * CLASS_NAMES.length, (i + 1) * CLASS_NAMES.length));
		const labelIssues: LabelIssuesFinding = {
			method: 'confident-learning',
			folds: opts.folds,
			lambda: opts.lambda,
			outOfFoldAccuracy: all.filter((i) => argmaxRow(oof, i, CLASS_NAMES.length) === labels[i]).length / n,
			thresholds: cl.thresholds,
			confidentJoint: cl.confidentJoint,
			issues: cl.issues.map((i) => ({ ...image(i), suggested: CLASS_NAMES[cl.suggested[i]], probs: probsOf(i), margin: cl.margin[i], selfConfidence: cl.selfConfidence[i] })),
			...splitBySourceExplanation(cl, origin === 'none' ? undefined : sourceAwareIssues(oof, labels, source, CLASS_NAMES.length), (i) => ({
				...image(i),
				probs: probsOf(i),
				selfConfidence: cl.selfConfidence[i],
			})),
		};
		lap('labelIssues');

		// Out of distribution: mean cosine distance to the k nearest training images, fenced by the training images' own scores.
		const score = all.map((i) =>
			knnScore(
				trainRows.filter((j) => j !== i).map((j) => cos(i, j)),
				opts.k,
			),
		);
		const threshold = tukeyFence(trainRows.map((i) => score[i]));
		const flagged: OodImage[] = [];
		for (const i of all) {
			const v = oodVerdict(score[i], threshold, input.rgb[i], input.headers[i]);
			if (v.outOfDistribution) flagged.push({ ...image(i), score: score[i], reasons: v.reasons, details: v.details });
		}
		flagged.sort((a, b) => b.score - a.score);
		const outOfDistribution: OodFinding = {
			method: 'knn-cosine',
			k: opts.k,
			threshold,
			quantile: 0.75,
			flagged,
			scores: Object.fromEntries(records.map((r, i) => [r.relPath, score[i]])),
		};
		lap('outOfDistribution');

		const sources = sourceFinding(records, labels, source, origin, fold, k, opts.lambda);
		lap('sources');
		const mitigations = origin === 'none' ? [] : leaveOneSourceOut(k, labels, source, opts.lambda);
		lap('mitigations');
		return { labelIssues, outOfDistribution, duplicates, sources, mitigations, linked, timing };
	}
}

function sourceFinding(records: ImageRecord[], labels: number[], source: string[], origin: SourcesFinding['origin'], fold: number[], k: Kernel, lambda: number): SourcesFinding {
	const n = labels.length;
	const names = [...new Set(source)].sort();
	// The same class × source counts as the Dataset panel's table.
	const counts = classSourceTable(records.map((r, i) => ({ label: r.label, source: source[i] }))).counts;
	const table: Record<string, number[]> = Object.fromEntries(names.map((s) => [s, CLASS_NAMES.map((c) => counts[c][s] ?? 0)]));
	const total = CLASS_NAMES.map((_, c) => labels.filter((y) => y === c).length);
	const baseline = Math.max(...total) / n;
	// Label from source alone: each held-out fold gets its source's majority label in the other folds.
	let right = 0;
	const folds = Math.max(...fold) + 1;
	for (let f = 0; f < folds; f++) {
		const count = new Map<string, number[]>();
		const overall = CLASS_NAMES.map(() => 0);
		labels.forEach((y, i) => {
			if (fold[i] === f) return;
			const c = count.get(source[i]) ?? CLASS_NAMES.map(() => 0);
			c[y]++;
			overall[y]++;
			count.set(source[i], c);
		});
		labels.forEach((y, i) => {
			if (fold[i] !== f) return;
			const c = count.get(source[i]) ?? overall;
			if (c.indexOf(Math.max(...c)) === y) right++;
		});
	}
	const warnings: SourceWarning[] = [];
	if (names.length > 1) {
		CLASS_NAMES.forEach((cls, c) => {
			if (!total[c]) return;
			const share = source.map((s) => table[s][c] / table[s].reduce((a, b) => a + b, 0));
			const a = auc(
				share,
				labels.map((y) => y === c),
			);
			if (!(a >= SOURCE_AUC_WARNING)) return;
			const from = names.filter((s) => table[s][c] > 0);
			const only = names.filter((s) => table[s][c] === 0);
			const pct = (s: string) => ((100 * table[s][c]) / total[c]).toFixed(0);
			warnings.push({
				className: cls,
				auc: a,
				message:
					`${cls} is nearly determined by the source: ${from.map((s) => `${pct(s)} % of ${cls} images come from ${s}`).join(', ')}` +
					(only.length ? `, and ${only.join(' and ')} ${only.length > 1 ? 'have' : 'has'} no ${cls} image at all` : '') +
					`. A model can score well by telling the sources apart (age, scanner, hospital) instead of reading the lungs: ` +
					`its accuracy here says little about ${cls} on images from elsewhere. Check per-source results, evaluate with a held-out source (radreview train --test-source NAME), or add ${cls} and non-${cls} images from the same sources.`,
			});
		});
	}
	let sourceFromFeatures: SourcesFinding['sourceFromFeatures'];
	if (names.length > 1) {
		const sy = source.map((s) => names.indexOf(s));
		const all = records.map((_, i) => i);
		const p = crossValProbs(k, all, sy, names.length, fold, { lambda });
		const recall = names.map((_, s) => {
			const rows = all.filter((i) => sy[i] === s);
			return rows.filter((i) => argmaxRow(p, i, names.length) === s).length / rows.length;
		});
		sourceFromFeatures = { balancedAccuracy: recall.reduce((a, b) => a + b, 0) / names.length, chance: 1 / names.length };
	}
	return { origin, sources: names, table, labelFromSource: { accuracy: right / n, baseline }, sourceFromFeatures, warnings };
}

function argmaxRow(p: ArrayLike<number>, i: number, c: number): number {
	let best = 0;
	for (let j = 1; j < c; j++) if (p[i * c + j] > p[i * c + best]) best = j;
	return best;
}

/** Sample weights that give every class (or every class × source cell) the same total weight; mean 1. */
/**
 * The two lists of the label-issue finding: possible label errors (issues that remain within their source, ranked
 * by the source-adjusted margin) and issues the source explains (flagged overall, ordinary within their source).
 */
function splitBySourceExplanation(
	cl: ConfidentLearningResult,
	within: SourceAwareResult | undefined,
	image: (i: number) => Omit<LabelIssue, 'suggested' | 'margin'>,
): Pick<LabelIssuesFinding, 'possibleErrors' | 'explainedBySource'> {
	const issue = (i: number, suggested: number, margin: number): LabelIssue => ({ ...image(i), suggested: CLASS_NAMES[suggested], margin });
	if (!within) return { possibleErrors: cl.issues.map((i) => issue(i, cl.suggested[i], cl.margin[i])), explainedBySource: [] };
	const kept = new Set(within.issues);
	// Ranked by both margins together: the model's plain doubt about the label plus its doubt within the source.
	const score = (i: number) => cl.margin[i] + within.margin[i];
	const ranked = [...within.issues].sort((a, b) => score(a) - score(b) || a - b);
	return {
		possibleErrors: ranked.map((i) => issue(i, within.suggested[i], score(i) / 2)),
		explainedBySource: cl.issues.filter((i) => !kept.has(i)).map((i) => issue(i, cl.suggested[i], cl.margin[i])),
	};
}

export function balanceWeights(labels: number[], source: string[] | undefined, mode: 'class' | 'class-source'): number[] {
	const key = labels.map((y, i) => (mode === 'class' || !source ? String(y) : `${y}\u0000${source[i]}`));
	const count = new Map<string, number>();
	for (const k of key) count.set(k, (count.get(k) ?? 0) + 1);
	return key.map((k) => labels.length / (count.size * count.get(k)!));
}

/** Leave-one-source-out recall of the linear probe with each sample-weighting option. */
function leaveOneSourceOut(k: Kernel, labels: number[], source: string[], lambda: number): MitigationRow[] {
	const names = [...new Set(source)].sort();
	if (names.length < 2) return [];
	const rows: MitigationRow[] = [];
	for (const held of names) {
		const tr = labels.map((_, i) => i).filter((i) => source[i] !== held);
		const te = labels.map((_, i) => i).filter((i) => source[i] === held);
		// A handful of images (a stray file without a source) says nothing about recall.
		if (!tr.length || te.length < MIN_HELD_OUT) continue;
		for (const option of ['none', 'balance-class', 'balance-class-source'] as const) {
			const ytr = tr.map((i) => labels[i]);
			const weights =
				option === 'none'
					? undefined
					: balanceWeights(
							ytr,
							tr.map((i) => source[i]),
							option === 'balance-class' ? 'class' : 'class-source',
						);
			const model = fitDualSoftmax(k, tr, ytr, CLASS_NAMES.length, { lambda, weights });
			const p = predictDualSoftmax(k, model, te);
			const pred = te.map((_, t) => argmaxRow(p, t, CLASS_NAMES.length));
			const recall = CLASS_NAMES.map((_, c) => {
				const of = te.map((i, t) => [labels[i], pred[t]]).filter(([y]) => y === c);
				return of.length ? of.filter(([, q]) => q === c).length / of.length : null;
			});
			rows.push({ option, testSource: held, n: te.length, accuracy: pred.filter((q, t) => q === labels[te[t]]).length / te.length, recall });
		}
	}
	return rows;
}
