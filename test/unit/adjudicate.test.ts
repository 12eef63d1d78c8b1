// Adjudication and blinded-read ordering on real dev radiographs: the disagreement queue shows every read, the
// majority vote is a proposal only, a decision becomes the image's label in radreview-annotations.csv with its
// provenance and the reference of the readers' report; the stratified sample is seeded and covers class x source.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLASS_NAMES, type ClassName } from '../../src/engine/types';
import { scanDataset } from '../../src/engine/data/scan';
import { readAnnotations } from '../../src/engine/annotations/store';
import { recordReads, readReads } from '../../src/engine/reads/store';
import { adjudicate, disagreements } from '../../src/engine/reads/adjudicate';
import { remaining, splitSet, stratifiedSample } from '../../src/engine/reads/blinded';
import { readersReport } from '../../src/engine/reads/study';
import type { Read } from '../../src/engine/reads/format';

const DEV = path.resolve(__dirname, '../../../shared/cxr/dev');
let tmp: string;
let root: string;
let images: Map<string, ClassName | null>;

const read = (p: string, reader: string, label: ClassName): Read => ({ path: p, sha256: '', reader, label, confidence: 4, flags: [], seconds: 3, time: '2026-12-08T05:00:00.000Z', blinded: true });

before(async () => {
	tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-adjudicate-'));
	root = path.join(tmp, 'data');
	for (const c of CLASS_NAMES) {
		await fs.mkdir(path.join(root, c), { recursive: true });
		for (const f of (await fs.readdir(path.join(DEV, c))).sort().slice(0, 4)) await fs.copyFile(path.join(DEV, c, f), path.join(root, c, f));
	}
	images = new Map((await scanDataset(root)).images.map((r) => [r.relPath, r.label]));
});

after(async () => {
	if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

test('disagreements: every read shown, majority only a proposal; a decision becomes the label with provenance and the reference', async () => {
	const ps = [...images.keys()];
	const truth = (p: string) => p.split('/')[0] as ClassName;
	const shift = (p: string, k: number) => CLASS_NAMES[(CLASS_NAMES.indexOf(truth(p)) + k) % 3];
	await recordReads(root, [
		...ps.map((p) => read(p, 'Ann', truth(p))),
		...ps.map((p, i) => read(p, 'Bob', i % 4 === 0 ? shift(p, 1) : truth(p))),
		...ps.map((p, i) => read(p, 'Cy', i % 4 === 0 && i % 8 !== 0 ? shift(p, 2) : truth(p))),
	]);
	const { reads } = await readReads(root);
	const queue = disagreements(reads);
	assert.deepEqual(
		queue.map((d) => d.path),
		ps.filter((_, i) => i % 4 === 0),
	);
	for (const d of queue)
		assert.deepEqual(
			d.reads.map((r) => r.reader),
			['Ann', 'Bob', 'Cy'],
		);
	// i = 0, 8: Ann and Cy agree → majority; i = 4: three different classes → no majority.
	assert.equal(queue[0].majority, truth(queue[0].path));
	assert.equal(queue[1].majority, null);
	assert.equal(queue[2].majority, truth(queue[2].path));
	assert.equal(truth(queue[1].path), 'NORMAL');
	// Nothing is applied by itself.
	assert.equal((await readAnnotations(root)).set.size, 0);

	const d = queue[1];
	await adjudicate(root, images, { path: d.path, label: 'PNEUMONIA', reads: d.reads }, 'Dr Adjudicator', '2026-12-08T05:10:00.000Z');
	const row = (await readAnnotations(root)).set.get(d.path)!;
	assert.equal(row.label, 'PNEUMONIA');
	assert.equal(row.reviewer, 'Dr Adjudicator');
	assert.equal(row.updated, '2026-12-08T05:10:00.000Z');
	assert.equal(row.note, `adjudicated PNEUMONIA from reads: Ann=NORMAL, Bob=PNEUMONIA, Cy=COVID`);
	// The folder label confirmed by adjudication still counts as adjudicated (the row carries the note).
	await adjudicate(root, images, { path: queue[0].path, label: truth(queue[0].path), reads: queue[0].reads }, 'Dr Adjudicator');
	const rep = await readersReport(root, { resamples: 50 });
	assert.deepEqual(rep.reference, { folder: ps.length - 2, adjudicated: 2, missing: 0 });
	const ann = rep.vsReference.find((v) => v.reader === 'Ann')!;
	assert.equal(ann.accuracy.est, (ps.length - 1) / ps.length, 'Ann is wrong only where the adjudicator overruled the folder');
});

test('stratified sample: seeded, n images, every class x source cell of the dev set represented; resume lists what is left', async () => {
	const scan = await scanDataset(DEV);
	const cells = new Set(scan.images.map((r) => `${r.label}|${r.source}`));
	const a = stratifiedSample(scan.images, 30, 5);
	assert.equal(a.length, 30);
	assert.equal(new Set(a).size, 30);
	assert.deepEqual(stratifiedSample(scan.images, 30, 5), a);
	assert.notDeepEqual(stratifiedSample(scan.images, 30, 6), a);
	const byPath = new Map(scan.images.map((r) => [r.relPath, `${r.label}|${r.source}`]));
	assert.equal(new Set(a.map((p) => byPath.get(p))).size, Math.min(cells.size, 30));
	// Proportional: each class within one image of its share.
	for (const c of CLASS_NAMES) {
		const share = scan.images.filter((r) => r.label === c).length / scan.images.length;
		assert.ok(Math.abs(a.filter((p) => p.startsWith(`${c}/`)).length - 30 * share) <= cells.size, c);
	}
	assert.equal(stratifiedSample(scan.images, 10_000, 1).length, scan.images.length);
	const reads = a.slice(0, 7).map((p) => read(p, 'Ann', 'COVID'));
	assert.deepEqual(remaining(a, reads, 'Ann'), a.slice(7));
	assert.deepEqual(remaining(a, reads, 'Bob'), a);
});

test('a run’s test split as a reading set: only that split, only images still in the dataset, shuffled the same way each time', () => {
	const splits = { train: ['COVID/t1.jpg'], val: ['NORMAL/v1.jpg'], test: ['COVID/a.jpg', 'COVID/b.jpg', 'NORMAL/c.jpg', 'NORMAL/gone.jpg', 'PNEUMONIA/d.jpg'] };
	const inDataset = new Set(['COVID/t1.jpg', 'NORMAL/v1.jpg', 'COVID/a.jpg', 'COVID/b.jpg', 'NORMAL/c.jpg', 'PNEUMONIA/d.jpg']);
	const set = splitSet(splits, 'test', inDataset, 22);
	assert.deepEqual([...set].sort(), ['COVID/a.jpg', 'COVID/b.jpg', 'NORMAL/c.jpg', 'PNEUMONIA/d.jpg']);
	assert.deepEqual(splitSet(splits, 'test', inDataset, 22), set, 'same seed, same order (resume)');
	const orders = new Set([1, 2, 3, 4, 5, 6, 7, 8].map((seed) => splitSet(splits, 'test', inDataset, seed).join()));
	assert.ok(orders.size > 1, 'the order depends on the seed: the folders do not come in blocks');
});
