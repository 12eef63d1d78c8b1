// What the sidebar reads from disk without the engine: run folders made by a real (tiny) CLI training, an
// interrupted run, a foreign folder, stale labels after the annotation file changes, and review counts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLASS_NAMES } from '../../src/engine/types';
import { countReview, readReviewCounts } from '../../src/views/reviewInfo';
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

test('readRuns: a finished run with backbone, weights, accuracy and n as its metrics.json says; partial and foreign folders marked', async () => {
	const metrics = JSON.parse(await fs.readFile(path.join(run, 'metrics.json'), 'utf8')) as { accuracy: number; support: number; createdAt: string; counts: { test: number } };
	await fs.mkdir(path.join(wd, 'runs', '.20990101-000000-resnet50.partial'));
	await fs.mkdir(path.join(wd, 'runs', 'notes'));
	const entries = await readRuns(wd);
	assert.equal(entries.length, 3);
	const done = entries.find((e) => e.dir === run)!;
	assert.equal(done.state, 'complete');
	assert.equal(done.backbone, 'vgg16');
	assert.equal(done.pretrained, false);
	assert.equal(done.accuracy, metrics.accuracy);
	assert.equal(done.n, metrics.counts.test, 'n is the test split');
	assert.equal(done.createdAt, metrics.createdAt);
	assert.equal(done.staleLabels, undefined, 'no annotation file recorded');
	const partial = entries.find((e) => e.state === 'incomplete')!;
	assert.deepEqual([partial.name, partial.backbone], ['20990101-000000-resnet50', 'resnet50']);
	const foreign = entries.find((e) => e.state === 'unreadable')!;
	assert.equal(foreign.name, 'notes');
	assert.match(foreign.problem ?? '', /metrics\.json/);
	await fs.rm(path.join(wd, 'runs', 'notes'), { recursive: true });
	await fs.rm(path.join(wd, 'runs', '.20990101-000000-resnet50.partial'), { recursive: true });
});

test('readRuns: a run trained with an annotation file turns stale when the file changes', async () => {
	const csv = path.join(data, ANNOTATIONS_FILE);
	await fs.writeFile(csv, 'path,label,original_label,flags\nCOVID/a.jpg,NORMAL,COVID,\n');
	const config = JSON.parse(await fs.readFile(path.join(run, 'config.json'), 'utf8')) as Record<string, unknown>;
	assert.equal(path.resolve(String(config.dataDir)), path.resolve(data));
	const sha256 = createHash('sha256')
		.update(await fs.readFile(csv))
		.digest('hex');
	await fs.writeFile(path.join(run, 'config.json'), JSON.stringify({ ...config, annotations: { sha256 } }));
	assert.equal((await readRuns(wd))[0].staleLabels, false);
	await fs.appendFile(csv, 'NORMAL/b.jpg,,,duplicate\n');
	assert.equal((await readRuns(wd))[0].staleLabels, true);
	await fs.writeFile(path.join(run, 'config.json'), JSON.stringify(config));
	await fs.rm(csv);
});

test('review counts: relabelled, flagged, reviewed; columns may be missing; no file → undefined', async () => {
	assert.equal(await readReviewCounts(data, 12), undefined);
	const full = countReview(
		'x.csv',
		'path,sha256,label,original_label,flags,note,reviewer,updated,reviewed\nCOVID/a.jpg,1,NORMAL,COVID,,,ann,2026-01-01,true\nCOVID/b.jpg,2,COVID,COVID,"exclude;duplicate",,ann,2026-01-01,\n"NORMAL/c, d.jpg",3,,,label doubtful,"a, note",ann,2026-01-02,1\n',
		12,
	);
	assert.deepEqual({ ...full, file: undefined }, { file: undefined, rows: 3, relabelled: 1, flagged: 2, reviewed: 2, unreviewed: 10 });
	// Without a `reviewed` column, an annotated (`updated`) row counts as reviewed; without a total, unreviewed is unknown.
	const lean = countReview('x.csv', 'path,label,updated\nCOVID/a.jpg,NORMAL,2026-01-01\nCOVID/b.jpg,,\n');
	assert.deepEqual([lean.relabelled, lean.flagged, lean.reviewed, lean.unreviewed], [1, 0, 1, undefined]);
	await fs.writeFile(path.join(data, ANNOTATIONS_FILE), 'path,flags\nCOVID/a.jpg,poor quality\n');
	assert.equal((await readReviewCounts(data, 12))?.flagged, 1);
	await fs.rm(path.join(data, ANNOTATIONS_FILE));
});
