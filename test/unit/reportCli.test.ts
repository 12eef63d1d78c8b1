// `radreview report` and `radreview explain` (the built CLI, as users run it) on a small run trained on copies of
// real radiographs: the JSON card agrees with the stored predictions, HTML and PDF are written, overlays are PNGs of
// the expected size with where-it-looks shares, and a bad file is reported without stopping the batch.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { CLASS_NAMES } from '../../src/engine/types';
import { readPredictionsCsv } from '../../src/engine/infer/classify';
import type { ReportCard } from '../../src/engine/report/report';

const ROOT = path.resolve(__dirname, '../..');
const DEV = path.resolve(ROOT, '../shared/cxr/dev');
let tmp: string;
let run: string;

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
	const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/radreview.js'), ...args], { cwd: tmp, encoding: 'utf8', timeout: 300_000 });
	return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
	if (!existsSync(path.join(ROOT, 'dist/cli.js'))) {
		const b = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
		assert.equal(b.status, 0, b.stderr);
	}
	tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-report-'));
	const data = path.join(tmp, 'data');
	for (const c of CLASS_NAMES) {
		await fs.mkdir(path.join(data, c), { recursive: true });
		for (const f of (await fs.readdir(path.join(DEV, c))).sort().slice(0, 8)) await fs.copyFile(path.join(DEV, c, f), path.join(data, c, f));
	}
	const r = cli('train', '--backbone', 'vgg16', '--weights', 'none', '--data', data, '--image-size', '64', '--epochs', '3', '--workdir', path.join(tmp, 'wd'));
	assert.equal(r.code, 0, r.stderr);
	const runs = await fs.readdir(path.join(tmp, 'wd', 'runs'));
	run = path.join(
		tmp,
		'wd',
		'runs',
		runs.find((n) => !n.startsWith('.'))!,
	);
});

after(async () => {
	if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

test('report --format json: the card matches the run’s test predictions, with intervals and provenance', async () => {
	const out = path.join(tmp, 'card.json');
	const r = cli('report', '--run', run, '--format', 'json', '--out', out, '--resamples', '200', '--workdir', path.join(tmp, 'wd'));
	assert.equal(r.code, 0, r.stderr);
	assert.match(r.stdout, /accuracy\s+\d+\.\d+ % \[\d+\.\d–\d+\.\d %\] \(n = \d+\)/);
	const card = JSON.parse(await fs.readFile(out, 'utf8')) as ReportCard;
	const test_ = (await readPredictionsCsv(path.join(run, 'predictions.csv'))).filter((p) => p.split === 'test');
	assert.equal(card.n, test_.length);
	assert.equal(card.accuracy.est, test_.filter((p) => p.predicted === p.label).length / test_.length);
	assert.ok(card.accuracy.lo <= card.accuracy.est && card.accuracy.est <= card.accuracy.hi);
	assert.deepEqual(
		card.confusion.counts.flat().reduce((a, b) => a + b, 0),
		test_.length,
	);
	assert.equal(card.provenance.bootstrap.resamples, 200);
	assert.equal(card.provenance.weights.pretrained, false);
	assert.equal(card.provenance.splitMode, 'patient');
	assert.equal(card.classes.length, 3);
	// Same seed, same card.
	const again = path.join(tmp, 'card2.json');
	assert.equal(cli('report', '--run', run, '--format', 'json', '--out', again, '--resamples', '200', '--workdir', path.join(tmp, 'wd')).code, 0);
	assert.deepEqual(JSON.parse(await fs.readFile(again, 'utf8')), card);
});

test('report --format json without --out: the JSON alone on stdout (pipes to jq), the summary on stderr', async () => {
	const r = cli('report', '--run', run, '--format', 'json', '--resamples', '200', '--workdir', path.join(tmp, 'wd'));
	assert.equal(r.code, 0, r.stderr);
	const card = JSON.parse(r.stdout) as ReportCard;
	assert.match(r.stderr, /accuracy\s+\d+\.\d+ % \[\d+\.\d–\d+\.\d %\] \(n = \d+\)/);
	assert.ok(!existsSync(path.join(run, 'report.json')), 'no file written when the JSON goes to stdout');
	// The same card as the file form writes.
	const file = path.join(tmp, 'card-file.json');
	assert.equal(cli('report', '--run', run, '--format', 'json', '--out', file, '--resamples', '200', '--workdir', path.join(tmp, 'wd')).code, 0);
	assert.deepEqual(card, JSON.parse(await fs.readFile(file, 'utf8')));
	assert.equal(typeof card.accuracy.est, 'number');
	assert.match(cli('report', '--help').stdout, /stdout/);
});

test('report --format html and pdf are written; the pdf carries Grad-CAM', async () => {
	const html = path.join(tmp, 'card.html');
	assert.equal(cli('report', '--run', run, '--format', 'html', '--out', html, '--resamples', '100', '--workdir', path.join(tmp, 'wd')).code, 0);
	const text = await fs.readFile(html, 'utf8');
	assert.match(text, /<svg[^>]*aria-label="ROC \(test, one-vs-rest\)"/);
	assert.match(text, /NOT pretrained/);
	assert.doesNotMatch(text, /<script/i);
	const pdf = path.join(tmp, 'card.pdf');
	const r = cli('report', '--run', run, '--format', 'pdf', '--out', pdf, '--resamples', '100', '--workdir', path.join(tmp, 'wd'));
	assert.equal(r.code, 0, r.stderr);
	assert.match(r.stdout, /Grad-CAM: \d+ of \d+ test maps look outside the lungs/);
	const bytes = await fs.readFile(pdf);
	assert.equal(bytes.subarray(0, 5).toString('latin1'), '%PDF-');
	assert.ok(bytes.includes(Buffer.from('/Subtype /Image')), 'the PDF embeds the overlay images');
});

test('explain writes one overlay PNG per image with where-it-looks, and reports a bad file without stopping', async () => {
	const preds = await readPredictionsCsv(path.join(run, 'predictions.csv'));
	const imgs = preds.slice(0, 2).map((p) => p.path);
	const bad = path.join(tmp, 'broken.png');
	await fs.writeFile(bad, 'not an image');
	const outDir = path.join(tmp, 'cams');
	const r = cli('explain', '--run', run, ...imgs, bad, '--out', outDir, '--class', 'COVID', '--workdir', path.join(tmp, 'wd'));
	assert.equal(r.code, 0, r.stderr);
	assert.match(r.stderr, /skipped .*broken\.png/);
	const lines = r.stdout.trim().split('\n');
	assert.equal(lines.length, 2, r.stdout);
	for (const l of lines) assert.match(l, /-gradcam-COVID\.png {2}predicted \w+ \d+ %, map of COVID: border \d+ %, corners \d+ %/);
	for (const f of await fs.readdir(outDir)) {
		const meta = await sharp(path.join(outDir, f)).metadata();
		assert.deepEqual([meta.format, meta.width, meta.height], ['png', 512, 512]);
	}
	assert.equal((await fs.readdir(outDir)).length, 2);
});
