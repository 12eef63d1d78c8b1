// Splits on the real dev set (600 images, patients with several images, mixed-label patients).
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, test } from 'node:test';
import { scanDataset } from '../../src/engine/data/scan';
import { loadSplits, mulberry32, saveSplits, splitDataset, splitIndex } from '../../src/engine/data/splits';
import { CLASS_NAMES, type ImageRecord, type SplitResult } from '../../src/engine/types';

const DEV = path.resolve(__dirname, '../../../shared/cxr/dev');
const ref = { testFraction: 0.2, valFraction: 0.1, seed: 40 };
let images: ImageRecord[];
before(async () => (images = (await scanDataset(DEV)).images));

const labelOf = () => new Map(images.map((i) => [i.relPath, i.label]));
const patientsOf = (paths: string[]) => new Set(paths.map((p) => images.find((i) => i.relPath === p)!.patientId));

function assertStratified(s: SplitResult, tolerance: number) {
	const label = labelOf();
	for (const c of CLASS_NAMES) {
		const n = (xs: string[]) => xs.filter((x) => label.get(x) === c).length;
		const total = n(s.train) + n(s.val) + n(s.test);
		assert.ok(Math.abs(n(s.test) / total - s.testFraction) <= tolerance, `${c}: test ${n(s.test)}/${total}`);
		const rest = n(s.train) + n(s.val);
		assert.ok(Math.abs(n(s.val) / rest - s.valFraction) <= tolerance, `${c}: val ${n(s.val)}/${rest}`);
	}
}

test('patient mode: every image once, stratified, no patient in two splits', () => {
	const s = splitDataset(images, { mode: 'patient', ...ref });
	assert.equal(s.train.length + s.val.length + s.test.length, 600);
	assert.equal(new Set([...s.train, ...s.val, ...s.test]).size, 600);
	assert.deepEqual(s.leakedPatients, []);
	const [tr, va, te] = [patientsOf(s.train), patientsOf(s.val), patientsOf(s.test)];
	for (const p of te) assert.ok(!tr.has(p) && !va.has(p), p);
	for (const p of va) assert.ok(!tr.has(p), p);
	assertStratified(s, 0.02);
	assert.deepEqual(s.test, [...s.test].sort());
});

test('image mode: stratified like train_test_split(stratify) and reports the patients it leaks', () => {
	const s = splitDataset(images, { mode: 'image', ...ref });
	assert.equal(s.test.length, 120);
	assert.equal(s.val.length, 48);
	assertStratified(s, 0.01);
	assert.ok(s.leakedPatients.length > 0, 'dev has multi-image patients, an image split leaks some');
	const [tr, te] = [patientsOf(s.train), patientsOf(s.test)];
	for (const p of s.leakedPatients) assert.ok(images.filter((i) => i.patientId === p).length > 1, p);
	assert.ok([...te].some((p) => tr.has(p)));
});

test('reproducible: same seed → identical (whatever the input order), another seed → different', () => {
	const a = splitDataset(images, { mode: 'patient', ...ref });
	const rand = mulberry32(7);
	const shuffled = [...images].sort(() => rand() - 0.5);
	assert.deepEqual(splitDataset(shuffled, { mode: 'patient', ...ref }), a);
	const b = splitDataset(images, { mode: 'patient', ...ref, seed: 41 });
	assert.notDeepEqual(b.test, a.test);
	assert.notDeepEqual(splitDataset(images, { mode: 'image', ...ref }).test, splitDataset(images, { mode: 'image', ...ref, seed: 41 }).test);
});

test('unlabelled images are excluded; bad fractions are refused', () => {
	const withNull = [...images.slice(0, 30), { path: '/x.png', relPath: 'x.png', label: null, patientId: 'x.png' }];
	const s = splitDataset(withNull, { mode: 'patient', ...ref });
	assert.ok(!splitIndex(s).has('x.png'));
	assert.equal(splitIndex(s).size, 30);
	assert.throws(() => splitDataset(images, { mode: 'patient', ...ref, testFraction: 1.2 }), RangeError);
});

test('save/load round trip; a damaged file is refused with its name', async () => {
	const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-splits-'));
	try {
		const s = splitDataset(images, { mode: 'image', ...ref });
		const file = path.join(dir, 'run', 'splits.json');
		await saveSplits(file, s);
		assert.deepEqual(await loadSplits(file), s);
		await fs.writeFile(file, '{"mode":"patient","train":[1]}');
		await assert.rejects(loadSplits(file), new RegExp(file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
	} finally {
		await fs.rm(dir, { recursive: true, force: true });
	}
});
