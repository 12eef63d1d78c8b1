// `radreview reads import` / `reads export` / `readers` (the built CLI, as users run it) on copies of real dev
// radiographs: two readers' CSVs imported, pairwise κ with an interval; bad import files refused by line; and, with
// a small trained run, the model against the readers on the held-out images they read.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLASS_NAMES, type ClassName } from '../../src/engine/types';
import { readPredictionsCsv } from '../../src/engine/infer/classify';
import type { ReadersReport } from '../../src/engine/reads/study';
import type { ReportCard } from '../../src/engine/report/report';

const ROOT = path.resolve(__dirname, '../..');
const DEV = path.resolve(ROOT, '../shared/cxr/dev');
let tmp: string;
let data: string;
let paths: string[];

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
	const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/radreview.js'), ...args], { cwd: tmp, encoding: 'utf8', timeout: 300_000 });
	return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A reader who calls image i by `f(i)`. */
const labels = (f: (i: number, truth: ClassName) => ClassName) => paths.map((p, i) => f(i, p.split('/')[0] as ClassName));
const other = (c: ClassName): ClassName => CLASS_NAMES[(CLASS_NAMES.indexOf(c) + 1) % 3];

/** Cohen's κ from two label lists, written out here (the engine's own is checked against scikit-learn elsewhere). */
function kappa(a: ClassName[], b: ClassName[]): number {
	const n = a.length;
	const po = a.filter((x, i) => x === b[i]).length / n;
	const pe = CLASS_NAMES.reduce((s, c) => s + (a.filter((x) => x === c).length / n) * (b.filter((x) => x === c).length / n), 0);
	return (po - pe) / (1 - pe);
}

before(async () => {
	if (!existsSync(path.join(ROOT, 'dist/cli.js'))) {
		const b = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
		assert.equal(b.status, 0, b.stderr);
	}
	tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-readers-'));
	data = path.join(tmp, 'data');
	paths = [];
	for (const c of CLASS_NAMES) {
		await fs.mkdir(path.join(data, c), { recursive: true });
		for (const f of (await fs.readdir(path.join(DEV, c))).sort().slice(0, 8)) {
			await fs.copyFile(path.join(DEV, c, f), path.join(data, c, f));
			paths.push(`${c}/${f}`);
		}
	}
});

after(async () => {
	if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

test('reads import of two readers’ CSVs, then readers --json: pairwise κ with an interval, reader-vs-reference; export round-trips', async () => {
	const ann = labels((i, t) => (i % 5 === 0 ? other(t) : t));
	const bob = labels((i, t) => (i % 4 === 1 ? other(t) : t));
	await fs.writeFile(path.join(tmp, 'ann.csv'), 'path,reader,label,confidence\n' + paths.map((p, i) => `${p},Ann,${ann[i].toLowerCase()},${1 + (i % 5)}`).join('\n') + '\n');
	await fs.writeFile(path.join(tmp, 'bob.csv'), 'path,label\n' + paths.map((p, i) => `${p},${bob[i]}`).join('\n') + '\n');
	let r = cli('reads', 'import', 'ann.csv', '--data', data);
	assert.equal(r.code, 0, r.stderr);
	assert.match(r.stdout, /imported 24 read\(s\) by Ann .* 24 new, 0 replaced/);
	r = cli('reads', 'import', 'bob.csv', '--data', data, '--reader', 'Bob');
	assert.equal(r.code, 0, r.stderr);
	assert.match(r.stdout, /24 new, 0 replaced; 48 read\(s\) in /);

	r = cli('readers', '--data', data, '--json', 'readers.json', '--md', 'readers.md', '--resamples', '300');
	assert.equal(r.code, 0, r.stderr);
	assert.match(r.stdout, /κ\s+Ann vs Bob: -?\d\.\d{3} \[-?\d\.\d{3}, -?\d\.\d{3}\] on 24 image\(s\)/);
	const rep = JSON.parse(await fs.readFile(path.join(tmp, 'readers.json'), 'utf8')) as ReadersReport;
	assert.equal(rep.pairs.length, 1);
	const k = rep.pairs[0].kappa;
	assert.ok(Math.abs(k.est - kappa(ann, bob)) < 1e-12, `${k.est} vs ${kappa(ann, bob)}`);
	assert.ok(k.lo < k.est && k.est < k.hi && k.hi <= 1, JSON.stringify(k));
	assert.equal(rep.bootstrap.unit, 'patient');
	const annRef = rep.vsReference.find((v) => v.reader === 'Ann')!;
	assert.equal(annRef.accuracy.est, ann.filter((l, i) => l === paths[i].split('/')[0]).length / 24);
	assert.match(await fs.readFile(path.join(tmp, 'readers.md'), 'utf8'), /## Agreement[\s\S]*\| Ann – Bob \| 24 \|/);

	// Without a file, the JSON goes to stdout.
	r = cli('readers', '--data', data, '--resamples', '50');
	assert.equal(r.code, 0, r.stderr);
	assert.equal((JSON.parse(r.stdout) as ReadersReport).pairs[0].kappa.est, k.est);

	r = cli('reads', 'export', '--data', data);
	assert.equal(r.code, 0, r.stderr);
	assert.equal(r.stdout, await fs.readFile(path.join(data, 'radreview-reads.csv'), 'utf8'));
	assert.equal(r.stdout.trimEnd().split('\n').length, 49);
});

test('reads import refuses a file with unknown paths or labels, naming each line; the reads file stays as it was', async () => {
	const before = await fs.readFile(path.join(data, 'radreview-reads.csv'), 'utf8');
	await fs.writeFile(path.join(tmp, 'bad.csv'), `path,reader,label\n${paths[0]},Cy,COVID\nCOVID/not-here.png,Cy,COVID\n${paths[1]},Cy,flu\n../../etc/passwd,Cy,NORMAL\n`);
	const r = cli('reads', 'import', 'bad.csv', '--data', data);
	assert.equal(r.code, 1);
	assert.match(r.stderr, /bad\.csv:3: 'COVID\/not-here\.png' is not an image of the dataset/);
	assert.match(r.stderr, /bad\.csv:4: label 'flu' is not a class/);
	assert.match(r.stderr, /bad\.csv:5: '\.\.\/\.\.\/etc\/passwd' is not an image/);
	assert.equal(await fs.readFile(path.join(data, 'radreview-reads.csv'), 'utf8'), before);
	// One reader only: agreement says so, reader-vs-reference is still there.
	const solo = path.join(tmp, 'solo');
	await fs.mkdir(path.join(solo, 'COVID'), { recursive: true });
	await fs.copyFile(path.join(data, paths[0]), path.join(solo, paths[0]));
	await fs.writeFile(path.join(tmp, 'solo.csv'), `path,label\n${paths[0]},COVID\n`);
	assert.equal(cli('reads', 'import', 'solo.csv', '--data', solo, '--reader', 'Ann').code, 0);
	const s = cli('readers', '--data', solo, '--resamples', '20');
	assert.equal(s.code, 0, s.stderr);
	const rep = JSON.parse(s.stdout) as ReadersReport;
	assert.match(rep.agreementNote!, /needs reads by two readers or more; only Ann has read/);
	assert.equal(rep.vsReference[0].accuracy.est, 1);
});

test('readers --run: the model against the readers on the held-out images they read (ROC points, paired differences, agreement)', async () => {
	const t = cli('train', '--backbone', 'vgg16', '--weights', 'none', '--data', data, '--image-size', '64', '--epochs', '2', '--workdir', path.join(tmp, 'wd'));
	assert.equal(t.code, 0, t.stderr);
	const runs = (await fs.readdir(path.join(tmp, 'wd', 'runs'))).filter((n) => !n.startsWith('.'));
	const run = path.join(tmp, 'wd', 'runs', runs[0]);
	const held = (await readPredictionsCsv(path.join(run, 'predictions.csv'))).filter((p) => p.split === 'test');
	assert.ok(held.length >= 3, `${held.length} test images`);
	const r = cli('readers', '--data', data, '--run', run, '--json', 'model.json', '--resamples', '200');
	assert.equal(r.code, 0, r.stderr);
	const rep = JSON.parse(await fs.readFile(path.join(tmp, 'model.json'), 'utf8')) as ReadersReport;
	const m = rep.model!;
	assert.equal(m.cases, held.length, 'exactly the held-out images the readers read');
	assert.equal(m.notPredicted, 24 - held.length);
	assert.equal(m.vsReference.accuracy.est, held.filter((p) => p.predicted === p.label).length / held.length);
	for (const c of m.classes) {
		assert.equal(c.readers.length, 2);
		assert.equal(c.roc.fpr[0], 0);
		for (const pt of c.readers) if (Number.isFinite(pt.sensitivity.est)) assert.ok(pt.sensitivity.lo <= pt.sensitivity.est && pt.sensitivity.est <= pt.sensitivity.hi);
	}
	const ann = m.differences.find((d) => d.reader === 'Ann')!;
	const annAcc = rep.vsReference.find((v) => v.reader === 'Ann')!;
	assert.equal(ann.n, held.length);
	// Paired on the same cases: model accuracy − Ann's accuracy on the held-out images.
	const annReads = new Map((await fs.readFile(path.join(data, 'radreview-reads.csv'), 'utf8')).split('\n').flatMap((l) => (l.includes(',Ann,') ? [[l.split(',')[0], l.split(',')[3]] as const] : [])));
	const annRight = held.filter((p) => annReads.get(p.relPath) === p.label).length;
	assert.ok(Math.abs(ann.accuracy.est - (m.vsReference.accuracy.est - annRight / held.length)) < 1e-12);
	assert.ok(annAcc.n === 24);
	assert.equal(m.agreement.length, 2);
	assert.ok(m.agreement.every((a) => a.n === held.length && a.observed >= 0 && a.observed <= 1));

	// The report card carries the same section: κ with its interval, and the readers on the model's ROC (HTML).
	const c = cli('report', '--run', run, '--format', 'json', '--out', 'card.json', '--resamples', '200', '--workdir', path.join(tmp, 'wd'));
	assert.equal(c.code, 0, c.stderr);
	const card = JSON.parse(await fs.readFile(path.join(tmp, 'card.json'), 'utf8')) as ReportCard;
	assert.deepEqual(card.readers!.readers, ['Ann', 'Bob']);
	assert.equal(card.readers!.pairs[0].kappa.est, rep.pairs[0].kappa.est);
	assert.equal(card.readers!.model!.cases, held.length);
	const hc = cli('report', '--run', run, '--format', 'html', '--out', 'card.html', '--resamples', '200', '--workdir', path.join(tmp, 'wd'));
	assert.equal(hc.code, 0, hc.stderr);
	const html = await fs.readFile(path.join(tmp, 'card.html'), 'utf8');
	assert.match(html, /<h2>Readers<\/h2>/);
	assert.match(html, /Ann – Bob<\/t[hd]><td>24<\/td><td>Cohen -?\d\.\d{3} \[/);
	for (const cls of CLASS_NAMES) assert.match(html, new RegExp(`${cls}: model AUC`));
	assert.equal((html.match(/class="reader-point" data-reader="(Ann|Bob)"/g) ?? []).length >= 2, true);
});
