// The readers' report: agreement between readers (Cohen's κ per pair, Fleiss' κ for three or more, per-class
// specific agreement), each with a seeded bootstrap interval over patients, reader-by-reader confusion matrices,
// and each reader against the reference standard with Wilson intervals. Pure: the caller reads the files.
import { CLASS_NAMES, type ClassName } from '../types';
import { groupRows, wilson, type Interval } from '../report/stats';
import { bcaIntervals } from './bca';
import { cohenKappa, countsTable, fleissKappa, pairConfusion, specificAgreement } from './kappa';
import type { Read } from './format';

export const DEFAULT_READS_RESAMPLES = 1000;
export const DEFAULT_READS_SEED = 12345;

export interface SpecificAgreement {
	className: ClassName;
	positive: Interval;
	negative: Interval;
}

export interface PairAgreement {
	a: string;
	b: string;
	/** Images both read. */
	n: number;
	/** Share of those images with the same class. */
	observed: number;
	kappa: Interval;
	/** Rows: a's class, columns: b's class, in CLASS_NAMES order. */
	confusion: number[][];
	specific: SpecificAgreement[];
}

export interface ClassVsReference {
	className: ClassName;
	/** Reference-positive images. */
	support: number;
	sensitivity: Interval;
	specificity: Interval;
}

export interface ReaderVsReference {
	reader: string;
	n: number;
	accuracy: Interval;
	classes: ClassVsReference[];
}

/** The reference standard of one image: the adjudicated label where there is one, else the folder label. */
export interface Reference {
	label: ClassName;
	adjudicated: boolean;
}

export interface ReaderAgreement {
	classes: readonly ClassName[];
	readers: { name: string; reads: number; blinded: number; medianSeconds: number | null }[];
	images: number;
	bootstrap: { resamples: number; seed: number; unit: 'patient' | 'image' };
	/** Set when agreement cannot be computed (fewer than two readers, or no image read by two). */
	agreementNote?: string;
	pairs: PairAgreement[];
	/** Three or more readers, over the images every one of them read. */
	fleiss?: { readers: string[]; n: number; kappa: Interval; specific: SpecificAgreement[] };
	reference: { folder: number; adjudicated: number; missing: number };
	vsReference: ReaderVsReference[];
}

export interface AgreementInput {
	reads: readonly Read[];
	/** Image → patient id (the bootstrap unit); images without one count as their own patient. */
	patients?: ReadonlyMap<string, string>;
	/** Image → reference label; images without one are left out of reader-vs-reference. */
	reference: ReadonlyMap<string, Reference>;
	resamples?: number;
	seed?: number;
}

const K = CLASS_NAMES.length;
const classIndex = (c: ClassName): number => CLASS_NAMES.indexOf(c);

function median(xs: number[]): number | null {
	if (!xs.length) return null;
	const s = [...xs].sort((a, b) => a - b);
	const m = s.length >> 1;
	return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Per reader: image → class index. */
function byReader(reads: readonly Read[]): Map<string, Map<string, number>> {
	const out = new Map<string, Map<string, number>>();
	for (const r of reads) {
		let m = out.get(r.reader);
		if (!m) out.set(r.reader, (m = new Map<string, number>()));
		m.set(r.path, classIndex(r.label));
	}
	return out;
}

/** BCa bootstrap intervals over patients of several statistics of a table of subjects (images). */
function withIntervals(images: string[], patients: ReadonlyMap<string, string> | undefined, resamples: number, seed: number, stats: (w?: ArrayLike<number>) => number[]): Interval[] {
	return bcaIntervals(groupRows(images.map((p) => patients?.get(p) ?? p)), images.length, resamples, seed, stats);
}

function specificStats(table: number[][], w?: ArrayLike<number>): number[] {
	return CLASS_NAMES.flatMap((_, c) => {
		const s = specificAgreement(table, c, w);
		return [s.positive, s.negative];
	});
}

const specificOf = (iv: Interval[]): SpecificAgreement[] => CLASS_NAMES.map((className, c) => ({ className, positive: iv[2 * c], negative: iv[2 * c + 1] }));

function pairAgreement(a: string, b: string, ra: Map<string, number>, rb: Map<string, number>, input: AgreementInput, resamples: number, seed: number): PairAgreement | null {
	const images = [...ra.keys()].filter((p) => rb.has(p)).sort();
	if (!images.length) return null;
	const xa = images.map((p) => ra.get(p)!);
	const xb = images.map((p) => rb.get(p)!);
	const table = countsTable([xa, xb], K);
	const iv = withIntervals(images, input.patients, resamples, seed, (w) => [cohenKappa(pairConfusion(xa, xb, K, w)), ...specificStats(table, w)]);
	return {
		a,
		b,
		n: images.length,
		observed: xa.filter((x, i) => x === xb[i]).length / images.length,
		kappa: iv[0],
		confusion: pairConfusion(xa, xb, K),
		specific: specificOf(iv.slice(1)),
	};
}

function vsReference(reader: string, mine: Map<string, number>, reference: ReadonlyMap<string, Reference>): ReaderVsReference {
	const rows = [...mine].filter(([p]) => reference.has(p)).map(([p, x]) => ({ x, ref: classIndex(reference.get(p)!.label) }));
	return {
		reader,
		n: rows.length,
		accuracy: wilson(rows.filter((r) => r.x === r.ref).length, rows.length),
		classes: CLASS_NAMES.map((className, c) => {
			const pos = rows.filter((r) => r.ref === c);
			const neg = rows.filter((r) => r.ref !== c);
			return {
				className,
				support: pos.length,
				sensitivity: wilson(pos.filter((r) => r.x === c).length, pos.length),
				specificity: wilson(neg.filter((r) => r.x !== c).length, neg.length),
			};
		}),
	};
}

export function readerAgreement(input: AgreementInput): ReaderAgreement {
	const resamples = input.resamples ?? DEFAULT_READS_RESAMPLES;
	const seed = input.seed ?? DEFAULT_READS_SEED;
	const per = byReader(input.reads);
	const names = [...per.keys()].sort();
	const readImages = [...new Set(input.reads.map((r) => r.path))];
	const pairs: PairAgreement[] = [];
	for (let i = 0; i < names.length; i++)
		for (let j = i + 1; j < names.length; j++) {
			const p = pairAgreement(names[i], names[j], per.get(names[i])!, per.get(names[j])!, input, resamples, seed);
			if (p) pairs.push(p);
		}
	let fleiss: ReaderAgreement['fleiss'];
	if (names.length >= 3) {
		const all = readImages.filter((p) => names.every((n) => per.get(n)!.has(p))).sort();
		if (all.length) {
			const table = countsTable(
				names.map((n) => all.map((p) => per.get(n)!.get(p)!)),
				K,
			);
			const iv = withIntervals(all, input.patients, resamples, seed, (w) => [fleissKappa(table, w), ...specificStats(table, w)]);
			fleiss = { readers: names, n: all.length, kappa: iv[0], specific: specificOf(iv.slice(1)) };
		}
	}
	const agreementNote =
		names.length < 2
			? `agreement needs reads by two readers or more; ${names.length === 0 ? 'there are no reads' : `only ${names[0]} has read`}`
			: pairs.length === 0
				? 'agreement needs images read by two readers; no image has been read by more than one'
				: undefined;
	const refs = readImages.map((p) => input.reference.get(p));
	const bootUnit = input.patients && readImages.some((p) => input.patients!.has(p)) ? 'patient' : 'image';
	return {
		classes: CLASS_NAMES,
		readers: names.map((name) => {
			const mine = input.reads.filter((r) => r.reader === name);
			return { name, reads: mine.length, blinded: mine.filter((r) => r.blinded).length, medianSeconds: median(mine.flatMap((r) => (r.seconds === null ? [] : [r.seconds]))) };
		}),
		images: readImages.length,
		bootstrap: { resamples, seed, unit: bootUnit },
		...(agreementNote ? { agreementNote } : {}),
		pairs,
		...(fleiss ? { fleiss } : {}),
		reference: { folder: refs.filter((r) => r && !r.adjudicated).length, adjudicated: refs.filter((r) => r?.adjudicated).length, missing: refs.filter((r) => !r).length },
		vsReference: names.map((n) => vsReference(n, per.get(n)!, input.reference)),
	};
}
