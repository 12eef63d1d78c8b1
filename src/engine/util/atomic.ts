// Nothing a user made is ever half-written: write to a temporary file beside the target, then rename.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/**
 * Atomically replace `file` with `data`: a same-directory temp file, flushed to disk (fsync) before the rename, so a
 * crash leaves either the old file or the new one. Caches that verify their entries on read may skip the fsync.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, opts: { fsync?: boolean } = {}): Promise<void> {
	await fs.mkdir(path.dirname(file), { recursive: true });
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
}

export function writeJsonAtomic(file: string, value: unknown): Promise<void> {
	return writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}
