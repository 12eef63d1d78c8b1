// Cancel is answered at every stage of a training (scan, decode, feature pass, head, evaluation) through the engine
// worker, as the extension runs it, on real radiographs. Each test gets to its stage by a state, never by a delay:
// the stage's first progress event, or the engine's test hold (src/engine/testHooks.ts) where a stage could end
// before a cancel lands. The bound is generous (a busy machine must not fail it); the product's own is
// CANCEL_GRACE_MS, after which the client reports a job cancelled that is inside a step too long to read it. Needs dist/worker.js.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { CANCEL_GRACE_MS, EngineClient } from '../../src/engine/client';
import { DEFAULT_TRAIN_CONFIG, type ProgressEvent, type TrainConfig } from '../../src/engine/types';
import { isCancelled } from '../../src/engine/util/cancel';
import type { HoldStage } from '../../src/engine/testHooks';

const WORKER = path.join(__dirname, '../../dist/worker.js');
const DEV = path.join(__dirname, '../../../shared/cxr/dev');
/** How long after its cancel a job must have ended: far above CANCEL_GRACE_MS, so only a cancel never answered fails. */
const ENDED_WITHIN_MS = 60_000;
/** Getting to a stage may take long on a busy machine (the base is built and exported first): a state, not a bound. */
const REACH_MS = 10 * 60_000;
const tmp = mkdtempSync(path.join(tmpdir(), 'radreview-cancel-'));
const data = path.join(tmp, 'data');
const holds = path.join(tmp, 'holds');
const logs: string[] = [];
let client: EngineClient;

before(() => {
	assert.ok(existsSync(WORKER), 'dist/worker.js is missing: run npm run build');
	for (const c of ['COVID', 'NORMAL', 'PNEUMONIA']) {
		mkdirSync(path.join(data, c), { recursive: true });
		for (const f of readdirSync(path.join(DEV, c)).sort().slice(0, 6)) copyFileSync(path.join(DEV, c, f), path.join(data, c, f));
	}
	mkdirSync(holds);
	client = new EngineClient({ workerPath: WORKER, env: { RADREVIEW_TEST_HOLD: holds }, log: (level, message) => logs.push(`${level}: ${message}`) });
});

after(() => {
	client?.dispose();
	rmSync(tmp, { recursive: true, force: true });
});

const config = (workDir: string, epochs = 1000): TrainConfig => ({
	...DEFAULT_TRAIN_CONFIG,
	backbone: 'vgg16',
	weights: 'none',
	dataDir: data,
	workDir,
	imageSize: 64,
	epochs,
	batchSize: 1,
	baseRuntime: 'auto',
});

/** Resolves when `cond` holds, polling; fails after `ms` naming `what`. */
async function until(what: string, cond: () => boolean, ms: number): Promise<void> {
	const deadline = Date.now() + ms;
	while (!cond()) {
		if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 50));
	}
}

interface Stop {
	/** Cancel at the first progress event this accepts. */
	at?: (e: ProgressEvent) => boolean;
	/** Or hold the engine at this stage and cancel once it is there. */
	hold?: HoldStage;
	epochs?: number;
}

/** Trains in `workDir`, cancels where `stop` says, and checks that the job ended as cancelled, leaving no run. */
async function cancelled(workDir: string, stop: Stop): Promise<{ seen: ProgressEvent[] }> {
	const ac = new AbortController();
	const seen: ProgressEvent[] = [];
	if (stop.hold) rmSync(path.join(holds, `${stop.hold}.reached`), { force: true });
	if (stop.hold) writeFileSync(path.join(holds, stop.hold), 'held by cancelStages.test.ts\n');
	let ended = false;
	const job = client.run({ type: 'train', config: config(workDir, stop.epochs) }, { signal: ac.signal, onProgress: (e) => (seen.push(e), stop.at?.(e) && ac.abort()) });
	const outcome = job.then(
		() => 'resolved' as const,
		(e: unknown) => (isCancelled(e) ? ('cancelled' as const) : `failed: ${(e as Error).message}`),
	);
	void outcome.finally(() => (ended = true));
	try {
		if (stop.hold) {
			await until(`the engine to reach the ${stop.hold} hold`, () => ended || existsSync(path.join(holds, `${stop.hold}.reached`)), REACH_MS);
			ac.abort();
		} else await until('the stage to begin', () => ended || ac.signal.aborted, REACH_MS);
		await until(`the job to end after its cancel (${ENDED_WITHIN_MS / 1000} s)`, () => ended, ENDED_WITHIN_MS);
	} finally {
		if (stop.hold) rmSync(path.join(holds, stop.hold), { force: true });
	}
	assert.equal(await outcome, 'cancelled');
	const runs = path.join(workDir, 'runs');
	assert.deepEqual(existsSync(runs) ? readdirSync(runs) : [], [], 'no run and no .partial folder left');
	return { seen };
}

const isStage = (e: ProgressEvent, stage: string, message?: RegExp): boolean => e.kind === 'stage' && e.stage === stage && (!message || message.test(e.message ?? ''));

test('cancel during the scan ends the training as cancelled', async () => {
	await cancelled(path.join(tmp, 'w-scan'), { at: (e) => isStage(e, 'scan') });
});

test('cancel during the decode ends the training as cancelled', async () => {
	await cancelled(path.join(tmp, 'w-decode'), { at: (e) => isStage(e, 'decode') && e.kind === 'stage' && e.done > 0 });
});

test('cancel while the feature pass builds the base (one long native step) ends the training, and the next job is served', async () => {
	const { seen } = await cancelled(path.join(tmp, 'w-features'), { at: (e) => isStage(e, 'weights', /^building/) });
	assert.ok(!seen.some((e) => e.kind === 'epoch'), 'cancelled before any epoch');
	// Whether the worker answered at once or after its long step, the engine serves the next job.
	const r = await client.run({ type: 'splits', dataDir: data, mode: 'patient', seed: 40, testFraction: 0.25, valFraction: 0.1 });
	assert.equal(r.scan.images.length, 18);
	assert.ok(CANCEL_GRACE_MS <= 5000, 'the product answers a cancel within 5 s');
});

test('cancel during the feature pass (held before its first batch) ends the training as cancelled', async () => {
	await cancelled(path.join(tmp, 'w-features-held'), { hold: 'features' });
});

test('cancel during head training ends it as cancelled, with no partial run left', async () => {
	const { seen } = await cancelled(path.join(tmp, 'w-late'), { hold: 'train' });
	assert.ok(
		seen.some((e) => e.kind === 'epoch'),
		'the head had started',
	);
});

test('cancel during the evaluation ends the training as cancelled, with no partial run left', async () => {
	const { seen } = await cancelled(path.join(tmp, 'w-late'), { hold: 'evaluate', epochs: 3 });
	assert.ok(
		seen.some((e) => isStage(e, 'evaluate')),
		'the evaluation had started',
	);
});
