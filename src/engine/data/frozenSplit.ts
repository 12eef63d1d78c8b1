// A frozen split: radreview-splits.csv at the dataset root (path,split; sorted, so git shows one line per moved
// image). Once it exists every run and `radreview split` keep these images where they are and deal only new ones
// by the same seeded rule; excluded images stay listed, so lifting an exclusion brings an image back to its split.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { AppliedAnnotations } from '../annotations/store';
import type { ClassName, ImageRecord, ScanResult, SplitName } from '../types';
import { writeFileAtomic } from '../util/atomic';
import { parseCsv, toCsv } from './csv';

export const SPLITS_FILE = 'radreview-splits.csv';
const NAMES: readonly SplitName[] = ['train', 'val', 'test'];
/** A bound on what a workspace file can make us hold (rows, bytes): the file is untrusted. */
const MAX_BYTES = 64 * 1024 * 1024;

export const frozenSplitFile = (root: string) => path.join(root, SPLITS_FILE);

/** The frozen assignment of a dataset, or undefined when it has none. A damaged file is refused with its name and line. */
export async function readFrozenSplit(root: string): Promise<Map<string, SplitName> | undefined> {
	const file = frozenSplitFile(root);
	let text: string;
	try {
		const st = await fs.stat(file);
		if (st.size > MAX_BYTES) throw new Error(`${file}: ${st.size} bytes, more than a split file can be (${MAX_BYTES})`);
		text = await fs.readFile(file, 'utf8');
	} catch (e) {
		if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
		throw e;
	}
	const [header, ...rows] = parseCsv(text);
	if (!header || header[0]?.trim().toLowerCase() !== 'path' || header[1]?.trim().toLowerCase() !== 'split') {
		throw new Error(`${file}: the first line must be "path,split"`);
	}
	const out = new Map<string, SplitName>();
	rows.forEach((r, i) => {
		const [rel, split] = [r[0] ?? '', (r[1] ?? '').trim()];
		const line = i + 2;
		if (!NAMES.includes(split as SplitName)) throw new Error(`${file}:${line}: split "${split}" is not train, val or test`);
		// Paths are keys only, never opened; still, one that leaves the dataset cannot name an image of it.
		if (!rel || rel.startsWith('/') || /^[A-Za-z]:/.test(rel) || rel.split(/[\\/]/).includes('..')) throw new Error(`${file}:${line}: "${rel}" is not a path inside the dataset`);
		if (out.has(rel)) throw new Error(`${file}:${line}: ${rel} is listed twice`);
		out.set(rel, split as SplitName);
	});
	return out;
}

/** Writes the assignment atomically, sorted by path. */
export async function writeFrozenSplit(root: string, assignment: ReadonlyMap<string, SplitName>): Promise<string> {
	const file = frozenSplitFile(root);
	const rows = [...assignment].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
	await writeFileAtomic(file, toCsv(['path', 'split'], rows));
	return file;
}

/** What keeps review edits local: the dataset labels of relabelled images and the excluded images, which keep their place. */
export function reviewPlacement(scanned: ScanResult, annotated: AppliedAnnotations): { placeBy: Map<string, ClassName | null>; ghosts: ImageRecord[] } {
	const original = new Map(scanned.images.map((r) => [r.relPath, r]));
	const placeBy = new Map(annotated.relabelled.map((x) => [x.path, x.from]));
	const ghosts = annotated.excluded.map((x) => original.get(x.path)).filter((r): r is ImageRecord => Boolean(r && r.label !== null));
	return { placeBy, ghosts };
}
