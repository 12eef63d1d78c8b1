// Nothing a user made is ever half-written: write a temporary file beside the target, fsync it, then rename
// (and fsync the folder, so the rename itself survives a power cut).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/**
 * Atomically replace `file` with `data`: a same-directory temp file, flushed to disk (fsync) before the rename, so a
 * crash leaves either the old file or the new one. Caches that verify their entries on read may skip the fsyncs.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, opts: { fsync?: boolean; mode?: number } = {}): Promise<void> {
	const dir = path.dirname(file);
	await fs.mkdir(dir, { recursive: true });
	const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
	try {
		const fh = await fs.open(tmp, 'w');
		try {
			await fh.writeFile(data);
			// Explicit chmod: the umask would otherwise narrow a group-writable shared file.
			if (opts.mode !== undefined) await fh.chmod(opts.mode);
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

/**
 * Like writeFileAtomic, but a shared file stays what it was: its permission bits are kept, and when `file` is a
 * symlink the file it points to is replaced (the link stays), provided that target is inside `within`.
 */
export async function replaceFileKeeping(file: string, data: string | Uint8Array, within: string): Promise<void> {
	let target = file;
	let mode: number | undefined;
	try {
		target = await fs.realpath(file);
		mode = (await fs.stat(target)).mode & 0o7777;
	} catch (e) {
		if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
		// A new file, or a dangling link: a link is never replaced by a file silently.
		if ((await fs.lstat(file).catch(() => null))?.isSymbolicLink()) throw new Error(`${file}: a symlink to a missing file; fix or remove the link`);
	}
	if (target !== file) {
		const root = await fs.realpath(within);
		const rel = path.relative(root, target);
		if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`${file}: a symlink to ${target}, outside ${within}; refusing to write through it`);
	}
	await writeFileAtomic(target, data, { mode });
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
