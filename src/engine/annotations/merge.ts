// Edits and merges over annotation sets. Pure functions: the store and the host decide when to read and write.
import type { ClassName } from '../types';
import { checkRelPath, isEmptyAnnotation, normaliseFlag, sameContent, type Annotation } from './format';

export type AnnotationSet = Map<string, Annotation>;

/** One reviewer action on one image. */
export type AnnotationEdit =
	| { kind: 'label'; path: string; label: ClassName | null }
	| { kind: 'flag'; path: string; flag: string }
	| { kind: 'unflag'; path: string; flag: string }
	| { kind: 'note'; path: string; note: string }
	| { kind: 'reviewed'; path: string; reviewed: boolean }
	| { kind: 'clear'; path: string };

/** What an edit needs to know about the image that a new row describes. */
export interface ImageFacts {
	sha256: string;
	originalLabel: ClassName | null;
}

/** Who and when, stamped on each row an edit touches. */
export interface Stamp {
	reviewer: string;
	updated: string;
}

/**
 * Applies edits to a copy of `set`. A label equal to the original label clears the correction; a row left with
 * nothing in it is removed. `facts` gives the hash and original label of images without a row yet.
 */
export function applyEdits(set: AnnotationSet, edits: readonly AnnotationEdit[], facts: (path: string) => ImageFacts, stamp: Stamp): AnnotationSet {
	const out = new Map(set);
	for (const e of edits) {
		if (!checkRelPath(e.path)) throw new Error(`refusing to annotate '${e.path}': not a relative '/'-separated path inside the dataset`);
		if (e.kind === 'clear') {
			out.delete(e.path);
			continue;
		}
		const prior = out.get(e.path);
		const a: Annotation = prior ? { ...prior, flags: [...prior.flags] } : { path: e.path, ...blank(facts(e.path)) };
		switch (e.kind) {
			case 'label':
				a.label = e.label === a.originalLabel ? null : e.label;
				break;
			case 'flag': {
				const f = normaliseFlag(e.flag);
				if (f && !a.flags.includes(f)) a.flags = [...a.flags, f].sort();
				break;
			}
			case 'unflag': {
				const f = normaliseFlag(e.flag);
				a.flags = a.flags.filter((x) => x !== f);
				break;
			}
			case 'note':
				a.note = e.note.replace(/\r\n?/g, '\n').trim();
				break;
			case 'reviewed':
				a.reviewed = e.reviewed;
				break;
			default:
				throw new Error(`unknown annotation edit ${(e as { kind: string }).kind}`);
		}
		if (sameContent(prior, a)) continue;
		a.reviewer = stamp.reviewer;
		a.updated = stamp.updated;
		if (isEmptyAnnotation(a)) out.delete(e.path);
		else out.set(e.path, a);
	}
	return out;
}

function blank(f: ImageFacts): Omit<Annotation, 'path'> {
	return { sha256: f.sha256, label: null, originalLabel: f.originalLabel, flags: [], note: '', reviewer: '', updated: '', reviewed: false };
}

/** One row changed on both sides in different ways. */
export interface AnnotationConflict {
	path: string;
	/** The row both sides started from (undefined: neither had it). */
	base?: Annotation;
	/** Ours (pending edits / the current file on import); undefined = we deleted it. */
	ours?: Annotation;
	/** Theirs (the file now on disk / the imported file); undefined = they deleted it. */
	theirs?: Annotation;
}

export interface MergeResult {
	merged: AnnotationSet;
	/** Rows where both sides changed differently; `merged` holds theirs for them until the reviewer chooses. */
	conflicts: AnnotationConflict[];
}

/**
 * Three-way merge by row: a side that did not change a row takes the other's; both changing it the same way is no
 * conflict; otherwise it is a conflict and the merge keeps theirs (what is on disk) so nothing is overwritten
 * silently. Without a base (an import), rows only one side has are taken and differing rows conflict.
 */
export function mergeAnnotations(base: AnnotationSet | undefined, ours: AnnotationSet, theirs: AnnotationSet): MergeResult {
	const merged: AnnotationSet = new Map();
	const conflicts: AnnotationConflict[] = [];
	const paths = new Set([...(base?.keys() ?? []), ...ours.keys(), ...theirs.keys()]);
	for (const p of [...paths].sort()) {
		const b = base?.get(p);
		const o = ours.get(p);
		const t = theirs.get(p);
		let pick: Annotation | undefined;
		if (sameContent(o, t)) pick = newer(o, t);
		else if (base && sameContent(o, b)) pick = t;
		else if (base && sameContent(t, b)) pick = o;
		else if (!base && (!o || !t)) pick = o ?? t;
		else {
			conflicts.push({ path: p, base: b, ours: o, theirs: t });
			pick = t ?? o;
		}
		if (pick) merged.set(p, pick);
	}
	return { merged, conflicts };
}

const newer = (a: Annotation | undefined, b: Annotation | undefined) => (!a ? b : !b ? a : a.updated >= b.updated ? a : b);

/** The rows of `next` that differ from `prev` (added, changed or removed), as paths. */
export function changedPaths(prev: AnnotationSet, next: AnnotationSet): string[] {
	const out: string[] = [];
	for (const p of new Set([...prev.keys(), ...next.keys()])) if (!sameContent(prev.get(p), next.get(p))) out.push(p);
	return out.sort();
}

/** A row found again at a new path by its content hash. */
export interface Rename {
	from: string;
	to: string;
}

/**
 * Moves rows whose image is gone to the image now holding the same bytes (sha256), when that image has no row of
 * its own and the hash is unique among the dataset's images. `hashes` maps each current image path to its sha256.
 */
export function followRenames(set: AnnotationSet, hashes: ReadonlyMap<string, string>): { set: AnnotationSet; renames: Rename[] } {
	const missing = [...set.values()].filter((a) => !hashes.has(a.path) && a.sha256);
	if (missing.length === 0) return { set, renames: [] };
	const byHash = new Map<string, string[]>();
	for (const [p, h] of hashes) byHash.set(h, [...(byHash.get(h) ?? []), p]);
	const out = new Map(set);
	const renames: Rename[] = [];
	for (const a of missing) {
		const candidates = (byHash.get(a.sha256) ?? []).filter((p) => !out.has(p));
		if (candidates.length !== 1) continue;
		out.delete(a.path);
		out.set(candidates[0], { ...a, path: candidates[0] });
		renames.push({ from: a.path, to: candidates[0] });
	}
	return { set: out, renames };
}
