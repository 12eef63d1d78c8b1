// Issue 18, item 6: headless users get the extension's run hygiene. `kill -9` of a CLI training leaves a `.partial`
// folder; `radreview runs` and `radreview train` turn it into an interrupted run (history kept) or remove it (no epoch
// saved) with the engine's recoverPartialRuns, the call the extension makes at start-up.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { CLASS_NAMES } from '../../src/engine/types';

const ROOT = path.resolve(__dirname, '../..');
const DEV = path.resolve(ROOT, '../shared/cxr/dev');
const tmp = mkdtempSync(path.join(tmpdir(), 'radreview-recover-'));
const data = path.join(tmp, 'data');
const workDir = path.join(tmp, 'wd');
const runsRoot = path.join(workDir, 'runs');
const BIN = path.join(ROOT, 'bin/radreview.js');
const TRAIN = ['train', '--backbone', 'vgg16', '--data', data, '--weights', 'none', '--image-size', '64', '--base-runtime', 'tfjs', '--workdir', workDir];

before(() => {
	if (!existsSync(path.join(ROOT, 'dist/cli.js'))) {
		const b = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
		assert.equal(b.status, 0, b.stderr);
	}
	for (const c of CLASS_NAMES) {
		mkdirSync(path.join(data, c), { recursive: true });
		for (const f of readdirSync(path.join(DEV, c)).sort().slice(0, 4)) copyFileSync(path.join(DEV, c, f), path.join(data, c, f));
	}
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const partials = (): string[] => (existsSync(runsRoot) ? readdirSync(runsRoot).filter((n) => n.endsWith('.partial')) : []);

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
	const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 300_000 });
	return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Starts `radreview train` and kills it with SIGKILL once `ready()` holds (checked on every stderr line). */
function trainAndKill(epochs: number, ready: (stderr: string) => boolean): Promise<{ killed: boolean; stderr: string }> {
	return new Promise((resolve) => {
		const p = spawn(process.execPath, [BIN, ...TRAIN, '--epochs', String(epochs)], { stdio: ['ignore', 'ignore', 'pipe'] });
		let stderr = '';
		let killed = false;
		const check = (): void => {
			if (!killed && ready(stderr)) {
				killed = true;
				p.kill('SIGKILL');
			}
		};
		p.stderr.on('data', (d: Buffer) => {
			stderr += d.toString();
			check();
		});
		// history.json lands a moment after the epoch line: look again until it is there (a state, not a time).
		const poll = setInterval(check, 50);
		p.on('close', () => {
			clearInterval(poll);
			resolve({ killed, stderr });
		});
	});
}

/** The partial folder's history checkpoint holds at least one epoch. */
const historySaved = (): boolean => partials().some((n) => existsSync(path.join(runsRoot, n, 'history.json')));

test('kill -9 mid-training, then `radreview runs`: listed as interrupted, no .partial left', { timeout: 10 * 60_000 }, async () => {
	const k = await trainAndKill(1000, (s) => /epoch 1\/1000\b/.test(s) && historySaved());
	assert.ok(k.killed, `the training reached its first epoch checkpoint (stderr: ${k.stderr.slice(-400)})`);
	assert.equal(partials().length, 1, 'the killed training left its .partial folder');

	const r = cli('runs', '--workdir', workDir);
	assert.equal(r.code, 0, r.stderr);
	assert.match(r.stderr, /interrupted run recorded: /);
	assert.match(r.stdout, /interrupted after \d+\/1000 epochs/);
	assert.deepEqual(partials(), [], 'no .partial folder is left');
	const [name] = readdirSync(runsRoot);
	assert.ok(existsSync(path.join(runsRoot, name, 'interrupted.json')), 'the engine marked the run interrupted');

	const j = cli('runs', '--workdir', workDir, '--json');
	assert.equal(j.code, 0, j.stderr);
	const list = JSON.parse(j.stdout) as { state: string; name: string; epochs: number; plannedEpochs: number }[];
	assert.deepEqual(
		list.map((x) => [x.state, x.name, x.plannedEpochs]),
		[['interrupted', name, 1000]],
	);
	assert.ok(list[0].epochs >= 1);
});

test('a .partial with no epoch left by a dead process: `radreview train` removes it and the new run completes', { timeout: 10 * 60_000 }, async () => {
	// The engine's own beginRun in a process that then exits: the folder a kill before the first epoch leaves.
	const begin = `require('./src/engine/run/runDir').beginRun(${JSON.stringify(workDir)}, 'vgg16').then(() => process.exit(0))`;
	const b = spawnSync(process.execPath, ['--import', 'tsx', '-e', begin], { cwd: ROOT, encoding: 'utf8' });
	assert.equal(b.status, 0, b.stderr);
	assert.equal(partials().length, 1, 'the dead process left its .partial folder');

	const r = cli(...TRAIN, '--epochs', '1');
	assert.equal(r.code, 0, r.stderr.slice(-1000));
	assert.match(r.stderr, /removed an unfinished run folder with no epoch: .*\.partial/);
	assert.deepEqual(partials(), [], 'no .partial folder is left');
	const complete = readdirSync(runsRoot).filter((n) => existsSync(path.join(runsRoot, n, 'metrics.json')));
	assert.equal(complete.length, 1, 'the new run is complete');
});
