// Class × source counts of a dataset, and the confound warnings they imply. Pure: no fs, no tfjs, no vscode,
// so the Dataset panel, the audit and the CLI compute the same table from the same image records.
import { CLASS_NAMES, type ClassName } from '../types';

/** The source of an image whose manifest / metadata names none. */
export const UNKNOWN_SOURCE = 'unknown';

/** What a table is built from: anything with a label and an optional source (an ImageRecord, a dataset image view). */
export interface SourcedImage {
	label: ClassName | null;
	source?: string;
}

/** Why a source may stand in for a class. */
export type ConfoundKind = 'classFromOneSource' | 'sourceHoldsOneClass';

export interface ConfoundWarning {
	kind: ConfoundKind;
	className: ClassName;
	source: string;
	/** Images of that class (classFromOneSource) or of that source (sourceHoldsOneClass). */
	count: number;
	/** A plain sentence for the panel, e.g. "every COVID image comes from ieee8023: a model can score by recognising the source". */
	message: string;
}

export interface ClassSourceTable {
	/** Column order: largest source first, then by name; 'unknown' last. */
	sources: string[];
	/** counts[class][source], for every class in CLASS_NAMES (0 where none). */
	counts: Record<ClassName, Record<string, number>>;
	/** Labelled images per source, in `sources` order. */
	sourceTotals: number[];
	/** Labelled images per class, in CLASS_NAMES order. */
	classTotals: number[];
	/** Labelled images counted (unlabelled ones are left out: they cannot confound a label). */
	total: number;
	/** Empty when there is one source (or one class): nothing to tell apart then. */
	warnings: ConfoundWarning[];
}

/** An image's source, 'unknown' when none is recorded; blanks count as none. */
export function sourceOf(image: { source?: string }): string {
	const s = image.source?.trim();
	return s ? s : UNKNOWN_SOURCE;
}

/**
 * Counts labelled images per class and source, and warns where a class comes from a single source or a
 * source holds a single class: there the source alone predicts the label, and a model may learn the source
 * (scanner, age group, preprocessing) instead of the disease.
 */
export function classSourceTable(images: Iterable<SourcedImage>): ClassSourceTable {
	const counts = Object.fromEntries(CLASS_NAMES.map((c) => [c, {}])) as Record<ClassName, Record<string, number>>;
	const bySource = new Map<string, number>();
	let total = 0;
	for (const im of images) {
		if (im.label === null || !CLASS_NAMES.includes(im.label)) continue;
		const s = sourceOf(im);
		counts[im.label][s] = (counts[im.label][s] ?? 0) + 1;
		bySource.set(s, (bySource.get(s) ?? 0) + 1);
		total++;
	}
	const sources = [...bySource.keys()].sort((a, b) => {
		if ((a === UNKNOWN_SOURCE) !== (b === UNKNOWN_SOURCE)) return a === UNKNOWN_SOURCE ? 1 : -1;
		return (bySource.get(b) ?? 0) - (bySource.get(a) ?? 0) || a.localeCompare(b);
	});
	const classTotals = CLASS_NAMES.map((c) => Object.values(counts[c]).reduce((a, b) => a + b, 0));
	const present = CLASS_NAMES.filter((_, i) => classTotals[i] > 0);
	const warnings: ConfoundWarning[] = [];
	// One source or one class: the table cannot tell them apart, so it warns about nothing.
	if (sources.length > 1 && present.length > 1) {
		for (const c of present) {
			const from = sources.filter((s) => (counts[c][s] ?? 0) > 0);
			if (from.length === 1) {
				const n = classTotals[CLASS_NAMES.indexOf(c)];
				warnings.push({
					kind: 'classFromOneSource',
					className: c,
					source: from[0],
					count: n,
					message: `every ${c} image (${n}) ${from[0] === UNKNOWN_SOURCE ? 'has no recorded source' : `comes from ${from[0]}`}: a model can score by recognising the source`,
				});
			}
		}
		for (const s of sources) {
			const holds = present.filter((c) => (counts[c][s] ?? 0) > 0);
			if (holds.length === 1) {
				const n = bySource.get(s) ?? 0;
				warnings.push({
					kind: 'sourceHoldsOneClass',
					className: holds[0],
					source: s,
					count: n,
					message: `every image ${s === UNKNOWN_SOURCE ? 'with no recorded source' : `from ${s}`} (${n}) is ${holds[0]}: a model can score by recognising the source`,
				});
			}
		}
	}
	return { sources, counts, sourceTotals: sources.map((s) => bySource.get(s) ?? 0), classTotals, total, warnings };
}
