// Test-only hooks, in one place; nothing here acts unless a test harness set its environment variable.
// RADREVIEW_TEST_HOLD names a folder: a training waits at a named stage while a file of that name exists in the folder, so a test
// can act on a training that is certainly running (cancel, stop, reload) without racing the engine's speed.
import { existsSync, promises as fs, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { CancelledError } from './util/cancel';

/** Where a training can be held: the stages a user can cancel in. 'train' holds after the first epoch was reported. */
export const HOLD_STAGES = ['scan', 'decode', 'features', 'train', 'evaluate'] as const;
export type HoldStage = (typeof HOLD_STAGES)[number];

const POLL_MS = 50;

/** The folder of hold files, when a harness set one. */
function holdDir(): string | undefined {
	const d = process.env.RADREVIEW_TEST_HOLD;
	return d && path.isAbsolute(d) ? d : undefined;
}

const exists = (f: string): Promise<boolean> =>
	fs.access(f).then(
		() => true,
		() => false,
	);

/**
 * Waits while `<RADREVIEW_TEST_HOLD>/<stage>` exists (the harness deletes it to release), after writing
 * `<stage>.reached` so the harness knows the engine got there. A cancel during the hold ends it with CancelledError,
 * as the stage itself would; a stop (Stop and keep) ends it too. Without the variable (every real use) this returns at once.
 */
export async function holdForTest(stage: HoldStage, signal?: AbortSignal, stopSignal?: AbortSignal): Promise<void> {
	const dir = holdDir();
	if (!dir) return;
	const file = path.join(dir, stage);
	if (!(await exists(file))) return;
	await fs.writeFile(path.join(dir, `${stage}.reached`), `${process.pid}\n`);
	while (!stopSignal?.aborted && (await exists(file))) {
		if (signal?.aborted) throw new CancelledError();
		await new Promise((r) => setTimeout(r, POLL_MS));
	}
}

/**
 * Fault injection for the crash-safety tests: RADREVIEW_TEST_WORKER_EXIT=<job type>:<marker file> makes the engine worker
 * exit on the first such job (once: the marker records it), as a native crash would.
 */
export function exitForTest(type: string): void {
	const spec = process.env.RADREVIEW_TEST_WORKER_EXIT;
	if (!spec) return;
	const [job, marker] = spec.split(':');
	if (job !== type || !marker || existsSync(marker)) return;
	writeFileSync(marker, `${process.pid}\n`);
	process.exit(70);
}

/**
 * RADREVIEW_TEST_SLOW_DECODE=<file name>: the decode worker spins without end on that file's frame, as a pathological
 * frame would, so a test can show the per-frame time limit stopping it while the files around it still decode.
 */
export function slowDecodeForTest(file: string | undefined): boolean {
	const name = process.env.RADREVIEW_TEST_SLOW_DECODE;
	return !!name && !!file && path.basename(file) === name;
}
