// Reading and writing radreview-annotations.csv. Every write is atomic (temp file, fsync, rename) and re-reads
// the file first: what changed on disk meanwhile is merged in, and a file that does not parse is never replaced.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { AnnotationSummary, ClassName, Exclusion, ImageRecord, Relabel } from '../types';
import { replaceFileKeeping } from '../util/atomic';
import { withFileLock } from '../util/fileLock';
import { sha256, sha256File } from '../util/hash';
import { ANNOTATIONS_FILE, AnnotationParseError, checkRelPath, exclusionOf, parseAnnotations, serialiseAnnotations, type Annotation } from './format';
import { applyEdits, followRenames, mergeAnnotations, type AnnotationConflict, type AnnotationEdit, type AnnotationSet, type ImageFacts, type Rename, type Stamp } from './merge';

export type { AnnotationSummary, Exclusion, Relabel } from '../types';

export const annotationsPath = (root: string): string => path.join(root, ANNOTATIONS_FILE);

/** The file as read: its rows and the sha256 of its bytes (null when there is no file). */
export interface AnnotationSnapshot {
	file: string;
	set: AnnotationSet;
	sha256: string | null;
}

/** Reads and parses the file; a missing file is an empty set. Throws AnnotationParseError for a malformed one. */
export async function readAnnotations(root: string): Promise<AnnotationSnapshot> {
	const file = annotationsPath(root);
	let bytes: Uint8Array;
	try {
		bytes = await fs.readFile(file);
	} catch (e) {
		if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { file, set: new Map(), sha256: null };
		throw new Error(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
	}
	return { file, set: parseAnnotations(bytes, file), sha256: sha256(bytes) };
}

/**
 * For showing a malformed file read-only: the rows that parse, and each bad row named by line. Throws, as
 * readAnnotations does, when the file as a whole cannot be read (bad UTF-8, a conflict marker, a bad header).
 */
export async function readAnnotationsLeniently(root: string): Promise<{ set: AnnotationSet; problems: AnnotationParseError[] }> {
	const file = annotationsPath(root);
	const problems: AnnotationParseError[] = [];
	const bytes = await fs.readFile(file).catch((e: NodeJS.ErrnoException) => {
		if (e.code === 'ENOENT') return new Uint8Array();
		throw e;
	});
	return { set: parseAnnotations(bytes, file, problems), problems };
}

export class AnnotationConflictError extends Error {
	constructor(
		readonly file: string,
		readonly conflicts: AnnotationConflict[],
	) {
		super(
			`${file}: ${conflicts.length} row(s) changed both here and on disk: ${conflicts
				.map((c) => c.path)
				.slice(0, 5)
				.join(', ')}${conflicts.length > 5 ? ', …' : ''}`,
		);
		this.name = 'AnnotationConflictError';
	}
}

/**
 * Writes `next`, which was derived from `base` (the snapshot the caller read). If the file changed since, the
 * change is merged in (three-way); conflicting rows keep what is on disk and are returned, never overwritten.
 * A file on disk that does not parse is left as it is (AnnotationParseError).
 */
export async function writeAnnotations(root: string, base: AnnotationSnapshot, next: AnnotationSet): Promise<{ snapshot: AnnotationSnapshot; conflicts: AnnotationConflict[] }> {
	for (const p of next.keys()) if (!checkRelPath(p)) throw new Error(`${annotationsPath(root)}: refusing to write the path '${p}' (not a relative '/'-separated path inside the dataset)`);
	// Read, merge and rename under the lock: another window or the CLI never writes in between.
	return withFileLock(annotationsPath(root), async () => {
		const disk = await readAnnotations(root);
		let merged = next;
		let conflicts: AnnotationConflict[] = [];
		if (disk.sha256 !== base.sha256) ({ merged, conflicts } = mergeAnnotations(base.set, next, disk.set));
		const text = serialiseAnnotations(merged.values());
		const bytes = Buffer.from(text, 'utf8');
		const digest = sha256(bytes);
		if (digest !== disk.sha256) await replaceFileKeeping(disk.file, bytes, root);
		// Re-parse what was written: the snapshot is exactly the file's content.
		return { snapshot: { file: disk.file, set: parseAnnotations(bytes, disk.file), sha256: digest }, conflicts };
	});
}

/** The hash and folder label of images about to get a row. */
export async function imageFacts(root: string, images: ReadonlyMap<string, ClassName | null>, paths: Iterable<string>): Promise<Map<string, ImageFacts>> {
	const out = new Map<string, ImageFacts>();
	for (const p of paths) {
		if (out.has(p)) continue;
		if (!images.has(p)) throw new Error(`${path.join(root, p)}: not an image of the dataset ${root}`);
		out.set(p, { sha256: await sha256File(path.join(root, p)), originalLabel: images.get(p) ?? null });
	}
	return out;
}

/**
 * Reads, edits and writes in one step (the CLI, bulk actions). `images` maps each dataset image to its folder
 * label. Conflicting rows (changed on disk meanwhile) are reported and left as on disk.
 */
export async function editAnnotations(
	root: string,
	images: ReadonlyMap<string, ClassName | null>,
	edits: readonly AnnotationEdit[],
	stamp: Stamp,
): Promise<{ snapshot: AnnotationSnapshot; conflicts: AnnotationConflict[] }> {
	const base = await readAnnotations(root);
	const facts = await imageFacts(
		root,
		images,
		edits.filter((e) => !base.set.has(e.path) && e.kind !== 'clear').map((e) => e.path),
	);
	const next = applyEdits(base.set, edits, (p) => facts.get(p)!, stamp);
	return writeAnnotations(root, base, next);
}

/** sha256 of every image, for finding moved rows. */
export async function hashImages(images: readonly Pick<ImageRecord, 'path' | 'relPath'>[]): Promise<Map<string, string>> {
	const out = new Map<string, string>();
	for (const r of images) out.set(r.relPath, await sha256File(r.path));
	return out;
}

/** Rows for images that moved, re-attached by content hash (hashes images only when a row's image is missing). */
export async function reattachMoved(set: AnnotationSet, images: readonly Pick<ImageRecord, 'path' | 'relPath'>[]): Promise<{ set: AnnotationSet; renames: Rename[] }> {
	const present = new Set(images.map((r) => r.relPath));
	if ([...set.keys()].every((p) => present.has(p))) return { set, renames: [] };
	return followRenames(set, await hashImages(images));
}

export interface AppliedAnnotations {
	/** The images with corrected labels; excluded ones removed. */
	images: ImageRecord[];
	relabelled: Relabel[];
	excluded: Exclusion[];
	summary: AnnotationSummary;
}

/** Digest of what changes training: each row's corrected label and exclusion. */
export function labelsDigest(set: AnnotationSet): string {
	const parts: string[] = [];
	for (const a of [...set.values()].sort((x, y) => (x.path < y.path ? -1 : 1))) {
		const ex = exclusionOf(a);
		if (a.label || ex) parts.push(`${a.path}\t${a.label ?? ''}\t${ex ?? ''}`);
	}
	return sha256(parts.join('\n'));
}

/**
 * Why a run trained with `config` is stale, or undefined: the annotations' labels and exclusions now differ from
 * those it trained on (notes, flags that exclude nothing and "reviewed" do not count). A run made before annotations
 * existed is stale once any label is corrected or any image excluded. A file that cannot be read says why.
 */
export async function staleLabelsOf(config: { dataDir: string; annotations?: Pick<AnnotationSummary, 'labelsDigest'> }): Promise<string | undefined> {
	let now: string;
	try {
		now = labelsDigest((await readAnnotations(config.dataDir)).set);
	} catch (e) {
		return `the annotations cannot be read (${e instanceof Error ? e.message : String(e)})`;
	}
	const then = config.annotations?.labelsDigest ?? labelsDigest(new Map());
	return now === then ? undefined : 'labels are stale: annotations were changed after this run was trained (retrain to use them)';
}

export function summarise(snapshot: AnnotationSnapshot, moved = 0, relabelled?: number, excluded?: number): AnnotationSummary {
	const rows = [...snapshot.set.values()];
	return {
		file: snapshot.file,
		sha256: snapshot.sha256,
		rows: rows.length,
		relabelled: relabelled ?? rows.filter((a) => a.label && a.label !== a.originalLabel).length,
		excluded: excluded ?? rows.filter((a) => exclusionOf(a)).length,
		flagged: rows.filter((a) => a.flags.length).length,
		noted: rows.filter((a) => a.note).length,
		reviewed: rows.filter((a) => a.reviewed).length,
		moved,
		labelsDigest: labelsDigest(snapshot.set),
	};
}

/**
 * Applies the dataset's annotations to scanned images: corrected labels override folder / metadata labels, and
 * images flagged exclude / not frontal / duplicate are taken out with their reason. A malformed file is an error
 * that says plainly it cannot be used.
 */
export async function applyAnnotations(root: string, images: ImageRecord[]): Promise<AppliedAnnotations> {
	let snapshot: AnnotationSnapshot;
	try {
		snapshot = await readAnnotations(root);
	} catch (e) {
		if (e instanceof AnnotationParseError) throw new Error(`cannot use the annotations: ${e.message}. Fix the file (or move it aside) and try again.`);
		throw e;
	}
	const { set, renames } = await reattachMoved(snapshot.set, images);
	const out: ImageRecord[] = [];
	const relabelled: Relabel[] = [];
	const excluded: Exclusion[] = [];
	for (const r of images) {
		const a: Annotation | undefined = set.get(r.relPath);
		const ex = a && exclusionOf(a);
		if (ex) {
			excluded.push({ path: r.relPath, reason: ex });
			continue;
		}
		if (a?.label && a.label !== r.label) {
			relabelled.push({ path: r.relPath, from: r.label, to: a.label });
			out.push({ ...r, label: a.label, labelSource: `annotation (was ${r.labelSource ?? 'unlabelled'})` });
		} else out.push(r);
	}
	return { images: out, relabelled, excluded, summary: summarise({ ...snapshot, set }, renames.length, relabelled.length, excluded.length) };
}
