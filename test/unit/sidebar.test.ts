// What the sidebar reads from disk with the engine's own readers (no worker): run folders made by a real (tiny) CLI
// training, a run the engine recorded as interrupted, a foreign folder, stale labels only when labels or exclusions
// change (not notes or "reviewed"), a malformed annotation file with the engine's error, and review counts. Every
// file here is written by the engine itself (CLI training, beginRun, recoverPartialRuns, editAnnotations).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { editAnnotations, readAnnotations } from '../../src/engine/annotations/store';
import type { AnnotationEdit } from '../../src/engine/annotations/merge';
import { beginRun, recoverPartialRuns } from '../../src/engine/run/runDir';
import { CLASS_NAMES, type ClassName } from '../../src/engine/types';
import { readReviewCounts } from '../../src/views/reviewInfo';
import { ANNOTATIONS_FILE, readRuns } from '../../src/views/runInfo';

const ROOT = path.resolve(__dirname, '../..');
const SAMPLES = path.join(ROOT, 'media', 'samples');
let tmp: string;
let data: string;
let wd: string;
let run: string;

before(async () => {
	if (!existsSync(path.join(ROOT, 'dist/cli.js'))) {
		const b = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
		assert.equal(b.status, 0, b.stderr);
	}
	tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-sidebar-'));
	data = path.join(tmp, 'data');
	wd = path.join(tmp, 'work');
	for (const c of CLASS_NAMES) {
		await fs.mkdir(path.join(data, c), { recursive: true });
		for (const f of (await fs.readdir(path.join(SAMPLES, c))).sort().slice(0, 4)) await fs.copyFile(path.join(SAMPLES, c, f), path.join(data, c, f));
	}
	// The smallest real run: random backbone, tiny images, one epoch (the view must show "not pretrained").
	const r = spawnSync(
		process.execPath,
		[path.join(ROOT, 'bin/radreview.js'), 'train', '--backbone', 'vgg16', '--weights', 'none', '--epochs', '1', '--image-size', '64', '--data', data, '--workdir', wd],
		{
			cwd: tmp,
			encoding: 'utf8',
			timeout: 300_000,
		},
	);
	assert.equal(r.status, 0, r.stderr);
	const runs = (await fs.readdir(path.join(wd, 'runs'))).filter((n) => !n.startsWith('.'));
	assert.equal(runs.length, 1);
	run = path.join(wd, 'runs', runs[0]);
});

after(async () => {
	if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

/** The dataset's images with their folder labels, as the engine's annotation writer takes them. */
async function images(): Promise<Map<string, ClassName | null>> {
	const out = new Map<string, ClassName | null>();
	for (const c of CLASS_NAMES) for (const f of await fs.readdir(path.join(data, c))) out.set(`${c}/${f}`, c);
	return out;
}

async function edit(...edits: AnnotationEdit[]): Promise<void> {
	const r = await editAnnotations(data, await images(), edits, { reviewer: 'tester', updated: new Date().toISOString() });
	assert.deepEqual(r.conflicts, []);
}

const firstOf = async (c: ClassName): Promise<string> => `${c}/${(await fs.readdir(path.join(data, c))).sort()[0]}`;

test('readRuns: a finished run as its validated metrics.json says; a live .partial, a foreign folder and a bad metrics.json marked', async () => {
	const metrics = JSON.parse(await fs.readFile(path.join(run, 'metrics.json'), 'utf8')) as { accuracy: number; support: number; createdAt: string };
	const live = await beginRun(wd, 'resnet50'); // this process owns it: training now
	await fs.mkdir(path.join(wd, 'runs', 'notes'));
	const bad = path.join(wd, 'runs', 'bad-metrics');
	await fs.cp(run, bad, { recursive: true });
	const m = JSON.parse(await fs.readFile(path.join(bad, 'metrics.json'), 'utf8')) as Record<string, unknown>;
	await fs.writeFile(path.join(bad, 'metrics.json'), JSON.stringify({ ...m, accuracy: 'high' }));
	try {
		const entries = await readRuns(wd);
		assert.equal(entries.length, 4);
		const done = entries.find((e) => e.dir === run)!;
		assert.equal(done.state, 'complete');
		assert.equal(done.backbone, 'vgg16');
		assert.equal(done.pretrained, false);
		assert.equal(done.accuracy, metrics.accuracy);
		assert.equal(done.n, metrics.support);
		assert.equal(done.createdAt, metrics.createdAt);
		assert.equal(done.staleLabels, false, 'no annotation file: not stale');
		const partial = entries.find((e) => e.state === 'incomplete')!;
		assert.deepEqual([partial.dir, partial.backbone], [live.partialDir, 'resnet50']);
		const foreign = entries.find((e) => e.name === 'notes')!;
		assert.equal(foreign.state, 'unreadable');
		assert.match(foreign.problem ?? '', /notes[/\\]metrics\.json: cannot read \(ENOENT\)/);
		const invalid = entries.find((e) => e.name === 'bad-metrics')!;
		assert.equal(invalid.state, 'unreadable');
		assert.match(invalid.problem ?? '', /metrics\.json.*accuracy/, 'the engine validator names the file and the field');
	} finally {
		await fs.rm(path.join(wd, 'runs', 'notes'), { recursive: true });
		await fs.rm(bad, { recursive: true });
		await fs.rm(live.partialDir, { recursive: true });
	}
});

test('readRuns: a run the engine recorded as interrupted shows as interrupted, with its epochs', async () => {
	// A training cut off after its history checkpoint: the engine's own partial folder and files, its owner gone.
	const cut = await beginRun(wd, 'vgg16');
	for (const f of ['config.json', 'history.json', 'weights.json']) await fs.copyFile(path.join(run, f), path.join(cut.partialDir, f));
	const recovered = await recoverPartialRuns(wd, () => false);
	assert.equal(recovered.interrupted.length, 1);
	const dir = recovered.interrupted[0];
	try {
		assert.ok(existsSync(path.join(dir, 'interrupted.json')));
		const entry = (await readRuns(wd)).find((e) => e.dir === dir)!;
		const history = JSON.parse(await fs.readFile(path.join(run, 'history.json'), 'utf8')) as unknown[];
		const config = JSON.parse(await fs.readFile(path.join(run, 'config.json'), 'utf8')) as { epochs: number };
		assert.equal(entry.state, 'interrupted', entry.problem);
		assert.deepEqual([entry.backbone, entry.epochs, entry.plannedEpochs, entry.pretrained], ['vgg16', history.length, config.epochs, false]);
	} finally {
		await fs.rm(dir, { recursive: true });
	}
});

test('readRuns: only label or exclusion changes make a run stale; a malformed annotation file gives the engine’s error', async () => {
	const csv = path.join(data, ANNOTATIONS_FILE);
	const covid = await firstOf('COVID');
	const normal = await firstOf('NORMAL');
	const stale = async () => (await readRuns(wd)).find((e) => e.dir === run)!;
	try {
		await edit({ kind: 'note', path: covid, note: 'a note, not a label' }, { kind: 'reviewed', path: normal, reviewed: true });
		assert.equal((await stale()).staleLabels, false, 'a note and "reviewed" change no label');
		await edit({ kind: 'flag', path: normal, flag: 'poor-quality' });
		assert.equal((await stale()).staleLabels, false, 'a flag that excludes nothing');
		await edit({ kind: 'label', path: covid, label: 'NORMAL' });
		const relabelled = await stale();
		assert.equal(relabelled.staleLabels, true);
		assert.match(relabelled.staleReason ?? '', /labels are stale/);
		await edit({ kind: 'label', path: covid, label: 'COVID' }, { kind: 'flag', path: normal, flag: 'exclude' });
		assert.equal((await stale()).staleLabels, true, 'an exclusion');
		await edit({ kind: 'unflag', path: normal, flag: 'exclude' });
		assert.equal((await stale()).staleLabels, false, 'back to the labels it trained on');

		await fs.appendFile(csv, 'not,a,valid,row\n');
		const engineError = await readAnnotations(data).then(
			() => assert.fail('the engine accepts the file'),
			(e: Error) => e.message,
		);
		const broken = await stale();
		assert.equal(broken.staleLabels, true);
		assert.ok(broken.staleReason?.includes(engineError), broken.staleReason);
		await assert.rejects(readReviewCounts(data, 12), (e: Error) => e.message === engineError);
	} finally {
		await fs.rm(csv, { force: true });
	}
});

test('review counts: the engine’s summary of a file it wrote; no file → undefined', async () => {
	assert.equal(await readReviewCounts(data, 12), undefined);
	const [a, b, c] = [await firstOf('COVID'), await firstOf('NORMAL'), await firstOf('PNEUMONIA')];
	try {
		await edit(
			{ kind: 'label', path: a, label: 'NORMAL' },
			{ kind: 'reviewed', path: a, reviewed: true },
			{ kind: 'flag', path: b, flag: 'exclude' },
			{ kind: 'flag', path: b, flag: 'duplicate' },
			{ kind: 'note', path: c, note: 'a, note' },
			{ kind: 'reviewed', path: c, reviewed: true },
		);
		const counts = await readReviewCounts(data, 12);
		assert.deepEqual(counts, { file: path.join(data, ANNOTATIONS_FILE), rows: 3, relabelled: 1, flagged: 1, reviewed: 2, unreviewed: 10 });
		assert.equal((await readReviewCounts(data))?.unreviewed, undefined, 'unknown without the dataset size');
	} finally {
		await fs.rm(path.join(data, ANNOTATIONS_FILE), { force: true });
	}
});
