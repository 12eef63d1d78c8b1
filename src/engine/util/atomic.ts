// Nothing a user made is ever half-written: write to a temporary file beside the target, then rename.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/** Atomically replace `file` with `data` (same-directory temp file + rename). */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
	await fs.mkdir(path.dirname(file), { recursive: true });
	const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
	try {
		await fs.writeFile(tmp, data);
		await fs.rename(tmp, file);
	} catch (e) {
		await fs.rm(tmp, { force: true });
		throw e;
	}
}

export function writeJsonAtomic(file: string, value: unknown): Promise<void> {
	return writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n');
}
