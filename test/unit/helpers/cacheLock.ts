// A lock between test files that fill one persistent cache (the unit suite runs files two at a time): the second
// waits for the first to finish, then finds the entries warm instead of computing the same ones alongside.
// The entries themselves are written atomically either way; this only saves doing the work twice.
import { promises as fs } from 'node:fs';

function alive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (e) {
		return (e as NodeJS.ErrnoException).code === 'EPERM';
	}
}

/** Runs `fn` holding `${dir}.lock` (a folder with the holder's pid); a lock whose holder died is taken over. */
export async function withCacheLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
	const lock = `${dir}.lock`;
	for (;;) {
		try {
			await fs.mkdir(lock);
			await fs.writeFile(`${lock}/pid`, String(process.pid));
			break;
		} catch (e) {
			if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
			const pid = Number(await fs.readFile(`${lock}/pid`, 'utf8').catch(() => ''));
			// No pid: the holder is between mkdir and writeFile (wait), or died there (a minute later: take over).
			const orphan = !(pid > 0) && Date.now() - ((await fs.stat(lock).catch(() => undefined))?.mtimeMs ?? Date.now()) > 60_000;
			if ((pid > 0 && !alive(pid)) || orphan) await fs.rm(lock, { recursive: true, force: true });
			else await new Promise((r) => setTimeout(r, 250));
		}
	}
	try {
		return await fn();
	} finally {
		await fs.rm(lock, { recursive: true, force: true });
	}
}
