// Adjudication of disagreements: the queue of images whose readers disagree (every read shown), a majority-vote
// proposal that is only ever a proposal, and the decision written as the image's label in
// radreview-annotations.csv with its provenance (who, when, from which reads).
import type { ClassName } from '../types';
import { editAnnotations } from '../annotations/store';
import type { AnnotationConflict } from '../annotations/merge';
import type { Read } from './format';
import { ADJUDICATED_NOTE } from './study';

export interface Disagreement {
	path: string;
	/** Every read of the image, sorted by reader. */
	reads: Read[];
	/** The class most readers chose, when one class has a strict majority; null on a tie. Never applied by itself. */
	majority: ClassName | null;
}

/** Images read by two or more readers who did not all choose the same class, in path order. */
export function disagreements(reads: readonly Read[]): Disagreement[] {
	const byPath = new Map<string, Read[]>();
	for (const r of reads) byPath.set(r.path, [...(byPath.get(r.path) ?? []), r]);
	const out: Disagreement[] = [];
	for (const [p, rs] of [...byPath].sort(([a], [b]) => (a < b ? -1 : 1))) {
		if (rs.length < 2 || rs.every((r) => r.label === rs[0].label)) continue;
		const counts = new Map<ClassName, number>();
		for (const r of rs) counts.set(r.label, (counts.get(r.label) ?? 0) + 1);
		const [top, second] = [...counts].sort((a, b) => b[1] - a[1]);
		out.push({ path: p, reads: [...rs].sort((a, b) => (a.reader < b.reader ? -1 : 1)), majority: top[1] > rs.length / 2 && top[1] > (second?.[1] ?? 0) ? top[0] : null });
	}
	return out;
}

/** The provenance note of a decision: the adjudicator's choice and the reads it was made from. */
export function adjudicationNote(label: ClassName, reads: readonly Read[]): string {
	return `${ADJUDICATED_NOTE} ${label} from reads: ${reads.map((r) => `${r.reader}=${r.label}`).join(', ')}`;
}

/**
 * Writes the adjudicator's decision as the image's label in radreview-annotations.csv, with a note naming the
 * reads it settles; the row's reviewer and time are the adjudicator and now. Conflicting rows changed on disk
 * meanwhile are returned, never overwritten.
 */
export async function adjudicate(
	root: string,
	images: ReadonlyMap<string, ClassName | null>,
	decision: { path: string; label: ClassName; reads: readonly Read[] },
	adjudicator: string,
	time = new Date().toISOString(),
): Promise<{ conflicts: AnnotationConflict[] }> {
	const { conflicts } = await editAnnotations(
		root,
		images,
		[
			{ kind: 'label', path: decision.path, label: decision.label },
			{ kind: 'note', path: decision.path, note: adjudicationNote(decision.label, decision.reads) },
		],
		{ reviewer: adjudicator, updated: time },
	);
	return { conflicts };
}
