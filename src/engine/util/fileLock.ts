// A lock between processes (two windows, a window and the CLI) for read-modify-write of one shared file. The lock
// is a file beside it, created with O_EXCL and holding its owner (pid, host, time); a lock whose owner is dead, or
// which is older than `staleMs`, is broken so that a crash never blocks editing for good.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';

export interface LockOwner {
	pid: number;
	host: string;
	/** ms since the epoch, when the lock was taken. */
	time: number;
	/** Random, so that a holder only ever removes its own lock. */
	token: string;
}

export interface FileLockOptions {
	/** Give up after this long (default 30 s); the error names the owner. */
	timeoutMs?: number;
	/** A lock older than this is broken even if its owner seems alive (default 60 s). */
	staleMs?: number;
	/** First wait between tries; grows to 100 ms (default 5 ms). */
	retryMs?: number;
}

export class FileLockTimeoutError extends Error {
	constructor(
		readonly lockFile: string,
		readonly owner: LockOwner | null,
	) {
		super(
			`${lockFile}: still locked after waiting${owner ? ` (by pid ${owner.pid} on ${owner.host} since ${new Date(owner.time).toISOString()})` : ''}; if no other program is writing, delete the lock file`,
		);
		this.name = 'FileLockTimeoutError';
	}
}

/** The lock file that guards `file`. */
export const lockFileOf = (file: string): string => `${file}.lock`;

/**
 * Runs `fn` while holding the lock on `file` (a lock file beside it) and releases it afterwards, also when `fn`
 * throws. Waits for another holder; breaks a stale lock. Not re-entrant: do not nest on the same file.
 */
export async function withFileLock<T>(file: string, fn: () => Promise<T>, opts: FileLockOptions = {}): Promise<T> {
	const lock = await acquireFileLock(file, opts);
	try {
		return await fn();
	} finally {
		await lock.release();
	}
}

export interface HeldLock {
	lockFile: string;
	owner: LockOwner;
	release(): Promise<void>;
}

export async function acquireFileLock(file: string, opts: FileLockOptions = {}): Promise<HeldLock> {
	const lockFile = lockFileOf(file);
	const timeoutMs = opts.timeoutMs ?? 30_000;
	const staleMs = opts.staleMs ?? 60_000;
	const owner: LockOwner = { pid: process.pid, host: os.hostname(), time: Date.now(), token: Math.random().toString(36).slice(2) + Date.now().toString(36) };
	const started = Date.now();
	let wait = opts.retryMs ?? 5;
	for (;;) {
		owner.time = Date.now();
		if (await tryCreate(lockFile, owner)) return { lockFile, owner, release: () => release(lockFile, owner) };
		const current = await readOwner(lockFile);
		if (current === undefined) continue; // removed between our try and the read: try again at once
		if (isStale(current, staleMs, await lockAge(lockFile))) {
			await breakStale(lockFile, current);
			continue;
		}
		if (Date.now() - started > timeoutMs) throw new FileLockTimeoutError(lockFile, current);
		await new Promise((r) => setTimeout(r, wait * (0.5 + Math.random())));
		wait = Math.min(100, wait * 2);
	}
}

/**
 * Takes the lock with its owner already inside: the owner is written to a file of our own and hard-linked into place
 * (link() is atomic and fails when the lock exists), so a writer killed while taking the lock never leaves an empty
 * lock that nobody could judge. Where hard links are not supported, an O_EXCL create is the fallback.
 */
async function tryCreate(lockFile: string, owner: LockOwner): Promise<boolean> {
	const mine = `${lockFile}.${owner.token}`;
	try {
		await fs.writeFile(mine, JSON.stringify(owner), { mode: 0o644 });
		await fs.link(mine, lockFile);
		return true;
	} catch (e) {
		const code = (e as NodeJS.ErrnoException).code;
		if (code === 'EEXIST') return false;
		if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') return createExclusive(lockFile, owner);
		throw new Error(`${lockFile}: cannot create the lock file (${code ?? (e as Error).message})`);
	} finally {
		await fs.rm(mine, { force: true });
	}
}

async function createExclusive(lockFile: string, owner: LockOwner): Promise<boolean> {
	let fh: fs.FileHandle;
	try {
		fh = await fs.open(lockFile, 'wx', 0o644);
	} catch (e) {
		if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
		throw new Error(`${lockFile}: cannot create the lock file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
	}
	try {
		await fh.writeFile(JSON.stringify(owner));
	} finally {
		await fh.close();
	}
	return true;
}

/** The lock's owner; null when the file is unreadable or half-written; undefined when there is no lock. */
async function readOwner(lockFile: string): Promise<LockOwner | null | undefined> {
	let text: string;
	try {
		text = await fs.readFile(lockFile, 'utf8');
	} catch (e) {
		if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
		return null;
	}
	try {
		const o = JSON.parse(text) as LockOwner;
		return typeof o.pid === 'number' && typeof o.host === 'string' && typeof o.time === 'number' ? o : null;
	} catch {
		return null; // being written right now, or garbage: its age decides
	}
}

async function lockAge(lockFile: string): Promise<number> {
	try {
		return Date.now() - (await fs.stat(lockFile)).mtimeMs;
	} catch {
		return 0;
	}
}

/** A lock that holds no owner can only come from a writer killed inside an O_EXCL create: it fills it within ms. */
const OWNERLESS_STALE_MS = 5000;

function isStale(owner: LockOwner | null, staleMs: number, ageMs: number): boolean {
	if (ageMs > staleMs) return true;
	if (!owner) return ageMs > OWNERLESS_STALE_MS;
	if (owner.host !== os.hostname()) return false;
	return !pidAlive(owner.pid);
}

function pidAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (e) {
		return (e as NodeJS.ErrnoException).code === 'EPERM'; // alive, owned by someone else
	}
}

/**
 * Removes a stale lock, but only the one judged stale: breakers take a second short lock so that two of them
 * never remove a lock a third process has just taken.
 */
async function breakStale(lockFile: string, judged: LockOwner | null): Promise<void> {
	const guard = `${lockFile}.break`;
	try {
		await fs.writeFile(guard, String(process.pid), { flag: 'wx' });
	} catch (e) {
		if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
		// Another process is breaking it; a guard left by a crash is cleared after a while.
		if ((await lockAge(guard)) > 10_000) await fs.rm(guard, { force: true });
		await new Promise((r) => setTimeout(r, 5));
		return;
	}
	try {
		const now = await readOwner(lockFile);
		const same = now === null || judged === null ? now === judged : now !== undefined && now.token === judged.token;
		if (same) await fs.rm(lockFile, { force: true });
	} finally {
		await fs.rm(guard, { force: true });
	}
}

async function release(lockFile: string, owner: LockOwner): Promise<void> {
	const now = await readOwner(lockFile);
	// Only our own lock: if it was broken as stale meanwhile, the new holder's lock stays.
	if (now && now.token === owner.token) await fs.rm(lockFile, { force: true });
}
