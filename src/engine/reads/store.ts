// Reading and writing radreview-reads.csv. Each write holds the lock, re-reads the file, changes only the rows of
// the reader who wrote (a read never replaces another reader's), and replaces the file atomically. A file that
// does not parse is left as it is.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../util/atomic';
import { sha256 } from '../util/hash';
import { READS_FILE, parseReads, readKey, serialiseReads, type Read } from './format';
import { withFileLock } from '../util/fileLock';

export const readsPath = (root: string): string => path.join(root, READS_FILE);

export interface ReadsSnapshot {
	file: string;
	reads: Read[];
	/** sha256 of the file's bytes; null when there is no file. */
	sha256: string | null;
}

/** Reads and parses the file; a missing file has no reads. Throws ReadsParseError for a malformed one. */
export async function readReads(root: string): Promise<ReadsSnapshot> {
	const file = readsPath(root);
	let bytes: Uint8Array;
	try {
		bytes = await fs.readFile(file);
	} catch (e) {
		if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { file, reads: [], sha256: null };
		throw new Error(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
	}
	return { file, reads: parseReads(bytes, file), sha256: sha256(bytes) };
}

/** What a change did: rows added, replaced (same reader, same image) and removed. */
export interface ReadsChange {
	snapshot: ReadsSnapshot;
	added: number;
	replaced: number;
	removed: number;
}

async function change(root: string, edit: (rows: Map<string, Read>) => Omit<ReadsChange, 'snapshot'>): Promise<ReadsChange> {
	const file = readsPath(root);
	return withFileLock(file, async () => {
		const disk = await readReads(root);
		const rows = new Map(disk.reads.map((r) => [readKey(r), r]));
		const counts = edit(rows);
		const bytes = Buffer.from(serialiseReads(rows.values()), 'utf8');
		const digest = sha256(bytes);
		if (digest !== disk.sha256) await writeFileAtomic(file, bytes);
		return { snapshot: { file, reads: parseReads(bytes, file), sha256: digest }, ...counts };
	});
}

/** Records reads: each replaces only the same reader's row for the same image. */
export function recordReads(root: string, reads: readonly Read[]): Promise<ReadsChange> {
	return change(root, (rows) => {
		let added = 0;
		let replaced = 0;
		for (const r of reads) {
			const k = readKey(r);
			if (rows.has(k)) replaced++;
			else added++;
			rows.set(k, { ...r, flags: [...new Set(r.flags)].sort() });
		}
		return { added, replaced, removed: 0 };
	});
}

/** Removes one reader's reads of the given images (undo); other readers' rows are untouched. */
export function removeReads(root: string, reader: string, paths: readonly string[]): Promise<ReadsChange> {
	return change(root, (rows) => {
		let removed = 0;
		for (const p of paths) if (rows.delete(readKey({ path: p, reader }))) removed++;
		return { added: 0, replaced: 0, removed };
	});
}
