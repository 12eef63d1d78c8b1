// docs/SCALE.md's Slurm scripts, as printed, on a real single-node Slurm (slurmctld + slurmd + munged on localhost):
// the feature array and the dependent training job give the same cache and predictions as one process, and a task
// cancelled part-way and resubmitted computes only what is missing. 40 real radiographs; ResNet50 on random
// weights at 64 px (the scheduling is under test here, not the backbone).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLASS_NAMES } from '../../src/engine/types';
import { fencedBlocks } from './helpers/markdown';
import { jobStates, missingSlurmTools, startSlurm, waitForJob, type SlurmCluster } from './helpers/slurm';
import { CI } from './prereq';

const ROOT = path.resolve(__dirname, '../..');
const DEV = path.resolve(ROOT, '../shared/cxr/dev');
const OPTS = '--weights none --image-size 64 --seed 7 --epochs 2';
const PER_CLASS = [14, 13, 13];

let tmp: string;
let data: string;
let jobDir: string;
let slurm: SlurmCluster | undefined;
let setupError: string | undefined;
const scripts: Record<'features' | 'train' | 'submit', string> = { features: '', train: '', submit: '' };

before(async () => {
	const blocks = fencedBlocks(path.join(ROOT, 'docs/SCALE.md'), 'Slurm: a job array', 'bash');
	assert.equal(blocks.length, 3, 'docs/SCALE.md: features.sh, train.sh and the submission commands');
	[scripts.features, scripts.train, scripts.submit] = blocks;
	if (!existsSync(path.join(ROOT, 'dist/cli.js'))) {
		const b = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
		assert.equal(b.status, 0, b.stderr);
	}
	tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-slurmtest-'));
	data = path.join(tmp, 'data');
	for (const [i, c] of CLASS_NAMES.entries()) {
		await fs.mkdir(path.join(data, c), { recursive: true });
		for (const f of (await fs.readdir(path.join(DEV, c))).sort().slice(20, 20 + PER_CLASS[i])) await fs.copyFile(path.join(DEV, c, f), path.join(data, c, f));
	}
	// Where the jobs are submitted: a folder where `npx radreview` resolves to this checkout, as in an installed project.
	jobDir = path.join(tmp, 'jobs');
	await fs.mkdir(path.join(jobDir, 'node_modules', '.bin'), { recursive: true });
	await fs.symlink(path.join(ROOT, 'bin', 'radreview.js'), path.join(jobDir, 'node_modules', '.bin', 'radreview'));
	await fs.writeFile(path.join(jobDir, 'features.sh'), scripts.features);
	await fs.writeFile(path.join(jobDir, 'train.sh'), scripts.train);
	const missing = missingSlurmTools();
	if (missing.length) setupError = `Slurm is not installed (${missing.join(', ')}): apt-get install slurm-wlm munge (scripts/setup.sh)`;
	else slurm = await startSlurm(2).catch((e: Error) => ((setupError = `Slurm did not start: ${e.message}`), undefined));
});

after(async () => {
	await slurm?.stop();
	if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

function needSlurm(t: { skip(m: string): void }): SlurmCluster | undefined {
	if (slurm) return slurm;
	if (CI) assert.fail(`${setupError} (CI=true: prerequisites must be installed, see scripts/setup.sh)`);
	t.skip(setupError ?? 'no slurm');
	return undefined;
}

function cli(cwd: string, ...args: string[]): string {
	const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/radreview.js'), ...args], { cwd, encoding: 'utf8' });
	assert.equal(r.status, 0, r.stderr);
	return r.stdout;
}

async function cacheContents(workDir: string): Promise<Map<string, Buffer>> {
	const out = new Map<string, Buffer>();
	const root = path.join(workDir, 'cache', 'features');
	for (const key of await fs.readdir(root).catch(() => [] as string[])) {
		for (const f of (await fs.readdir(path.join(root, key))).filter((n) => /^[0-9a-f]{64}\.f32s$/.test(n))) out.set(`${key}/${f}`, await fs.readFile(path.join(root, key, f)));
	}
	return out;
}

function assertSameCache(a: Map<string, Buffer>, b: Map<string, Buffer>, what: string): void {
	assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort(), `${what}: same entries`);
	for (const [k, v] of a) assert.ok(v.equals(b.get(k)!), `${what}: ${k} byte-identical`);
}

/** The run folder a `radreview train` printed, and its predictions. */
async function predictionsOf(stdout: string): Promise<string> {
	const m = /^run\s+(.+)$/m.exec(stdout);
	assert.ok(m, stdout);
	return fs.readFile(path.join(m[1].trim(), 'predictions.csv'), 'utf8');
}

/** `sbatch` with the documented script; the environment at submission reaches the tasks. */
function sbatch(c: SlurmCluster, args: string[], env: NodeJS.ProcessEnv): string {
	return c
		.run('sbatch', ['--parsable', '--cpus-per-task=1', '--mem=2G', ...args], { cwd: jobDir, env })
		.trim()
		.split(';')[0];
}

/** sha256 of each image file, sorted by relative path: what names its cache entry, in shard order. */
async function imagesByPath(): Promise<{ relPath: string; sha: string }[]> {
	const out: { relPath: string; sha: string }[] = [];
	for (const c of CLASS_NAMES)
		for (const f of await fs.readdir(path.join(data, c)))
			out.push({
				relPath: `${c}/${f}`,
				sha: createHash('sha256')
					.update(await fs.readFile(path.join(data, c, f)))
					.digest('hex'),
			});
	return out.sort((a, b) => (a.relPath < b.relPath ? -1 : 1));
}

let reference: Map<string, Buffer>;

test('the documented job array and dependent training on Slurm equal one process: cache byte for byte, same predictions', async (t) => {
	const c = needSlurm(t);
	if (!c) return;
	assert.match(scripts.submit, /mkdir -p logs/);
	assert.match(scripts.submit, /sbatch --dependency=afterok:\$array train\.sh/);
	await fs.mkdir(path.join(jobDir, 'logs'), { recursive: true });

	const single = path.join(tmp, 'single');
	const singleOut = cli(tmp, 'train', '--data', data, '--backbone', 'resnet50', '--workdir', single, ...OPTS.split(' '));
	reference = await cacheContents(single);
	assert.equal(reference.size, 40);
	assert.deepEqual([...reference.keys()].map((k) => k.split('/')[1]).sort(), (await imagesByPath()).map((i) => `${i.sha}.f32s`).sort(), 'one entry per image, named by its sha256');

	const work = path.join(tmp, 'slurm-work');
	const env = { RADREVIEW_DATA: data, RADREVIEW_WORK: work, RADREVIEW_SHARDS: '4', RADREVIEW_OPTS: OPTS };
	const array = sbatch(c, ['--array=1-4', 'features.sh'], env);
	const train = sbatch(c, [`--dependency=afterok:${array}`, 'train.sh'], env);
	const states = await waitForJob(c, array);
	assert.deepEqual(
		[...states].sort(),
		[1, 2, 3, 4].map((k) => [`${array}_${k}`, 'COMPLETED']),
	);
	for (const k of [1, 2, 3, 4]) {
		const log = await fs.readFile(path.join(jobDir, 'logs', `features-${array}_${k}.out`), 'utf8');
		assert.match(log, new RegExp(`^shard ${k}/4: 10 images \\(\\d+ computed, \\d+ from cache\\)`, 'm'), log);
	}
	assert.deepEqual([...(await waitForJob(c, train)).values()], ['COMPLETED']);
	assertSameCache(await cacheContents(work), reference, 'cache written by the array');
	const trainLog = await fs.readFile(path.join(jobDir, 'logs', `train-${train}.out`), 'utf8');
	assert.equal(await predictionsOf(trainLog), await predictionsOf(singleOut), 'predictions of the Slurm training equal the single process');
});

test('a task cancelled part-way with scancel, resubmitted alone, computes only the missing entries', async (t) => {
	const c = needSlurm(t);
	if (!c || !reference) return;
	// Two shards of 20 (three batches each): the task is cancelled once some, not all, of its entries are written.
	const mine = new Set((await imagesByPath()).filter((_, i) => i % 2 === 1).map((i) => `${i.sha}.f32s`));
	let partial = 0;
	let work = '';
	let env: Record<string, string> = {};
	// The state to cancel at: some of task 2's entries written, not all. Its process is frozen (SIGSTOP) the moment the
	// first entry lands, so the state holds however slow scancel is; scancel then ends it (SIGCONT, SIGTERM).
	// Should a batch still slip through, the attempt proves nothing and runs again.
	for (let attempt = 1; attempt <= 3 && !(partial > 0 && partial < 20); attempt++) {
		work = path.join(tmp, `cancel-${attempt}`);
		env = { RADREVIEW_DATA: data, RADREVIEW_WORK: work, RADREVIEW_SHARDS: '2', RADREVIEW_OPTS: OPTS };
		const array = sbatch(c, ['--array=1-2', 'features.sh'], env);
		let pid: number | undefined;
		for (let i = 0; ; i++) {
			pid ??= await shardProcess(work, '2/2');
			if (pid && (await countEntries(work, mine)) > 0) {
				process.kill(pid, 'SIGSTOP');
				break;
			}
			if (i % 50 === 49 && ended(c, array)) break;
			await new Promise((r) => setTimeout(r, 5));
		}
		c.run('scancel', [`${array}_2`]);
		const states = await waitForJob(c, array);
		partial = await countEntries(work, mine);
		if (partial < 20) assert.equal(states.get(`${array}_2`), 'CANCELLED', `task 2 of ${array} was cancelled`);
		assert.equal(states.get(`${array}_1`), 'COMPLETED');
	}
	assert.ok(partial > 0 && partial < 20, `task 2 cancelled part-way (it had written ${partial} of 20 entries)`);

	const again = sbatch(c, ['--array=2', 'features.sh'], env);
	assert.deepEqual([...(await waitForJob(c, again)).values()], ['COMPLETED']);
	const log = await fs.readFile(path.join(jobDir, 'logs', `features-${again}_2.out`), 'utf8');
	assert.match(log, new RegExp(`^shard 2/2: 20 images \\(${20 - partial} computed, ${partial} from cache\\)`, 'm'), log);
	assertSameCache(await cacheContents(work), reference, 'cache after the resubmitted task');
});

/** Whether job `id` has ended (no task pending or running). */
function ended(c: SlurmCluster, id: string): boolean {
	return [...jobStates(c, id).values()].every((s) => !['PENDING', 'CONFIGURING', 'RUNNING', 'COMPLETING'].includes(s));
}

/** Entries of `names` in a work folder's feature cache (names only: cheap enough to poll). */
async function countEntries(work: string, names: Set<string>): Promise<number> {
	const root = path.join(work, 'cache', 'features');
	let n = 0;
	for (const key of await fs.readdir(root).catch(() => [] as string[])) n += (await fs.readdir(path.join(root, key)).catch(() => [] as string[])).filter((f) => names.has(f)).length;
	return n;
}

/** PID of the `radreview features` process of shard `shard` writing into `work` (from /proc), once it runs. */
async function shardProcess(work: string, shard: string): Promise<number | undefined> {
	for (const d of await fs.readdir('/proc')) {
		if (!/^\d+$/.test(d)) continue;
		const argv = (await fs.readFile(`/proc/${d}/cmdline`, 'utf8').catch(() => '')).split('\0');
		if (/radreview(\.js)?$/.test(argv[1] ?? '') && argv.includes('features') && argv.includes(work) && argv.includes(shard)) return Number(d);
	}
	return undefined;
}
