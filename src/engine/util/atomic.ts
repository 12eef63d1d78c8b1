// Nothing a user made is ever half-written: write a temporary file beside the target, fsync it, then rename
// (and fsync the folder, so the rename itself survives a power cut).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/** Atomically replace `file` with `data` (same-directory temp file, fsync, rename). */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
	const dir = path.dirname(file);
	await fs.mkdir(dir, { recursive: true });
	const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
	try {
		const h = await fs.open(tmp, 'w');
		try {
			await h.writeFile(data);
			await h.sync();
		} finally {
			await h.close();
		}
		await fs.rename(tmp, file);
	} catch (e) {
		await fs.rm(tmp, { force: true });
		throw e;
	}
	await syncDir(dir);
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
