// Nothing a user made is ever half-written: write a temporary file beside the target, fsync it, then rename
// (and fsync the folder, so the rename itself survives a power cut).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/**
 * Atomically replace `file` with `data`: a same-directory temp file, flushed to disk (fsync) before the rename, so a
 * crash leaves either the old file or the new one. Caches that verify their entries on read may skip the fsyncs.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, opts: { fsync?: boolean } = {}): Promise<void> {
	const dir = path.dirname(file);
	await fs.mkdir(dir, { recursive: true });
	const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
	try {
		const fh = await fs.open(tmp, 'w');
		try {
			await fh.writeFile(data);
			if (opts.fsync !== false) await fh.sync();
		} finally {
			await fh.close();
		}
		await fs.rename(tmp, file);
	} catch (e) {
		await fs.rm(tmp, { force: true });
		throw e;
	}
	if (opts.fsync !== false) await syncDir(dir);
}

/** Best effort: some file systems (and Windows) cannot open a folder for fsync. */
async function syncDir(dir: string): Promise<void> {
	try {
		const h = await fs.open(dir, 'r');
		try {
			await h.sync();
		} finally {
			await h.close();
		}
	} catch {
		// the rename is still atomic; only its durability across a crash is not guaranteed here
	}
}

export function writeJsonAtomic(file: string, value: unknown): Promise<void> {
	return writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}
