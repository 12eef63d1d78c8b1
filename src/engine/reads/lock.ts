// A lock between processes that write the same file (two VS Code windows, the CLI): `<file>.lock`, created with
// O_EXCL, holding the owner's pid, host and time. A lock whose owner is gone (same host, pid not alive), or older
// than `staleMs`, is taken over. Kept in this one module so a shared lock can replace it.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';

export interface LockOptions {
	/** Give up after this long waiting for another writer (default 15 s). */
	timeoutMs?: number;
	/** A lock older than this is presumed abandoned (default 2 min; writes take milliseconds). */
	staleMs?: number;
}

interface Owner {
	pid: number;
	host: string;
	time: number;
}

export class LockTimeoutError extends Error {
	constructor(
		readonly file: string,
		readonly owner: string,
	) {
		super(`${file}: locked by ${owner}; try again when it is done (or remove ${file}.lock if no such process runs)`);
		this.name = 'LockTimeoutError';
	}
}

function alive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (e) {
		return (e as NodeJS.ErrnoException).code === 'EPERM';
	}
}

async function readOwner(lock: string): Promise<Owner | null> {
	try {
		const o = JSON.parse(await fs.readFile(lock, 'utf8')) as Partial<Owner>;
		return typeof o.pid === 'number' && typeof o.host === 'string' && typeof o.time === 'number' ? (o as Owner) : null;
	} catch {
		return null;
	}
}

async function tryCreate(lock: string): Promise<boolean> {
	try {
		const fh = await fs.open(lock, 'wx');
		try {
			await fh.writeFile(JSON.stringify({ pid: process.pid, host: os.hostname(), time: Date.now() } satisfies Owner));
		} finally {
			await fh.close();
		}
		return true;
	} catch (e) {
		if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
		throw e;
	}
}

/** Runs `fn` holding `<file>.lock`; waits (polling) while another live writer holds it. */
export async function withFileLock<T>(file: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
	const lock = `${file}.lock`;
	const timeoutMs = opts.timeoutMs ?? 15_000;
	const staleMs = opts.staleMs ?? 120_000;
	const started = Date.now();
	let wait = 5;
	while (!(await tryCreate(lock))) {
		const owner = await readOwner(lock);
		// A lock file without a readable owner may be mid-write by its creator: only its age makes it stale.
		const age = owner ? Date.now() - owner.time : Date.now() - ((await fs.stat(lock).catch(() => null))?.mtimeMs ?? Date.now());
		const dead = owner !== null && owner.host === os.hostname() && !alive(owner.pid);
		if (dead || age > staleMs) {
			// Take over by renaming: of two processes that both found it stale, only one rename succeeds.
			const aside = `${lock}.${process.pid}.stale`;
			if (
				await fs.rename(lock, aside).then(
					() => true,
					() => false,
				)
			) {
				// Another waiter may have taken it over first and this rename moved its fresh lock: put that one back.
				const moved = await readOwner(aside);
				if (moved && owner && (moved.pid !== owner.pid || moved.time !== owner.time)) await fs.link(aside, lock).catch(() => undefined);
				await fs.rm(aside, { force: true });
			}
			continue;
		}
		if (Date.now() - started > timeoutMs) throw new LockTimeoutError(file, owner ? `process ${owner.pid} on ${owner.host}` : 'another process');
		await new Promise((r) => setTimeout(r, wait));
		wait = Math.min(200, wait * 2);
	}
	try {
		return await fn();
	} finally {
		await fs.rm(lock, { force: true });
	}
}
