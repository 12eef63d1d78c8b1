// Mitigations training can apply: leave-one-source-out splits, balancing, and the linear-probe head written into
// the reference layout (its predictions must equal the fitted regression's, or classify would silently differ).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decodeToRgb } from '../../src/engine/data/decode';
import { decodeCached } from '../../src/engine/data/cache';
import { CLASS_NAMES, type ImageRecord } from '../../src/engine/types';
import { initBackend, shutdownBackend } from '../../src/engine/model/tf';
import { buildHead, predictPooled } from '../../src/engine/model/head';
import { mulberry32 } from '../../src/engine/data/splits';
import { balancedRows, fitLinearProbe, splitBySource } from '../../src/engine/train/mitigations';
import { fitDualSoftmax, globalPool, gram, predictDualSoftmax, standardize } from '../../src/engine/audit/linear';

/** A missing prerequisite fails in CI and is reported (not silently passed) elsewhere. */
function need(what: string, ok: boolean): void {
	if (!ok) assert.fail(`${what} missing`);
}

before(async () => {
	await initBackend();
});
after(() => shutdownBackend());

function records(): ImageRecord[] {
	const out: ImageRecord[] = [];
	for (let i = 0; i < 90; i++) {
		const source = i < 31 ? 'A' : i < 70 ? 'B' : 'C';
		out.push({ path: `/d/${i}.png`, relPath: `${CLASS_NAMES[i % 3]}/${i}.png`, label: CLASS_NAMES[i % 3], patientId: `p${Math.floor(i / 2)}`, source });
	}
	return out;
}

test('leave-one-source-out: the test split is exactly the held-out source; the others train and validate', () => {
	const recs = records();
	const s = splitBySource(recs, 'B', { splitMode: 'patient', seed: 40, valFraction: 0.1 });
	const bySource = new Map(recs.map((r) => [r.relPath, r.source]));
	assert.equal(s.test.length, 39);
	assert.ok(s.test.every((p) => bySource.get(p) === 'B'));
	assert.ok([...s.train, ...s.val].every((p) => bySource.get(p) !== 'B'));
	assert.equal(s.train.length + s.val.length, 51);
	assert.ok(s.val.length > 0);
	// Patient p15 has image 30 in A and 31 in B: it straddles train and test, and is reported.
	assert.deepEqual(s.leakedPatients, ['p15']);
	assert.throws(() => splitBySource(recs, 'Z', { splitMode: 'patient', seed: 40, valFraction: 0.1 }), /no image has that source \(known: A, B, C\)/);
});

test('balancing by class × source evens out the cells by oversampling', () => {
	// 12 of (0, A), 3 of (0, B), 6 of (1, A): weights 1 : 4 : 2.
	const labels = [...Array<number>(12).fill(0), ...Array<number>(3).fill(0), ...Array<number>(6).fill(1)];
	const sources = [...Array<string>(12).fill('A'), ...Array<string>(3).fill('B'), ...Array<string>(6).fill('A')];
	const rows = balancedRows(
		labels.map((_, i) => i),
		labels,
		sources,
		'class-source',
	);
	const cell = (l: number, s: string) => rows.filter((r) => labels[r] === l && sources[r] === s).length;
	assert.deepEqual([cell(0, 'A'), cell(0, 'B'), cell(1, 'A')], [12, 12, 12]);
	// By class only: 15 of class 0 and 5 of class 1 become 15 and 15.
	const two = [...Array<number>(15).fill(0), ...Array<number>(5).fill(1)];
	const byClass = balancedRows(
		two.map((_, i) => i),
		two,
		two.map(() => 'A'),
		'class',
	);
	assert.deepEqual([byClass.filter((r) => two[r] === 0).length, byClass.filter((r) => two[r] === 1).length], [15, 15]);
});

test('the linear probe in the reference layout predicts exactly what the regression predicts', () => {
	const baseShape: [number, number, number] = [4, 4, 8];
	const cells = 4; // 2×2 after the head's average pooling
	const dim = cells * 8;
	const n = 60;
	const rand = mulberry32(5);
	const labels = Array.from({ length: n }, (_, i) => i % 3);
	// Non-negative activations whose mean over cells depends on the class, with noise.
	const feats = new Float32Array(n * dim).map((_, t) => {
		const i = Math.floor(t / dim);
		const c = t % 8;
		return Math.max(0, (c % 3 === labels[i] ? 1.5 : 0.5) + rand() - 0.5);
	});
	const head = buildHead({ baseShape, dropout: 0.2, seed: 1 });
	try {
		const rows = Array.from({ length: 45 }, (_, i) => i);
		const probe = fitLinearProbe(
			head,
			feats,
			dim,
			rows,
			labels,
			rows.map((r) => `p${r}`),
			40,
		);
		// The same regression, fitted directly on z-scored GAP features of the training rows.
		const all = globalPool(feats, n, 8);
		const z = standardize(all, n, 8, rows);
		const k = gram(z, n, 8);
		const model = fitDualSoftmax(
			k,
			rows,
			rows.map((r) => labels[r]),
			3,
			{ lambda: probe.lambda },
		);
		const want = predictDualSoftmax(
			k,
			model,
			Array.from({ length: n }, (_, i) => i),
		);
		k.dispose();
		const got = predictPooled(head, feats, n);
		for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) < 2e-3, `prob ${i}: ${got[i]} vs ${want[i]}`);
		const acc = labels.slice(45).filter((y, i) => [0, 1, 2].reduce((b, c) => (got[(45 + i) * 3 + c] > got[(45 + i) * 3 + b] ? c : b), 0) === y).length / 15;
		assert.ok(acc > 0.9, `held-out accuracy ${acc}`);
	} finally {
		head.model.dispose();
	}
});

test('CLAHE: a real radiograph stays gray, gains local contrast, and is cached apart from the plain pixels', async () => {
	const dev = path.resolve(__dirname, '../../../shared/cxr/dev/NORMAL');
	need(dev, existsSync(dev));
	const file = path.join(dev, (await fs.readdir(dev)).sort()[0]);
	const plain = await decodeToRgb(file, { size: 237, resize: 'stretch' });
	const eq = await decodeToRgb(file, { size: 237, resize: 'stretch', equalize: 'clahe' });
	assert.equal(eq.rgb.length, plain.rgb.length);
	for (let i = 0; i < eq.rgb.length; i += 3) assert.ok(eq.rgb[i] === eq.rgb[i + 1] && eq.rgb[i + 1] === eq.rgb[i + 2]);
	// Mean absolute difference between horizontal neighbours: local contrast.
	const local = (px: Uint8Array) => {
		let s = 0;
		for (let y = 0; y < 237; y++) for (let x = 1; x < 237; x++) s += Math.abs(px[(y * 237 + x) * 3] - px[(y * 237 + x - 1) * 3]);
		return s / (237 * 236);
	};
	assert.ok(local(eq.rgb) > local(plain.rgb) * 1.1, `${local(eq.rgb)} vs ${local(plain.rgb)}`);
	const work = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-clahe-'));
	try {
		const a = await decodeCached(file, { workDir: work, size: 237, resize: 'stretch' });
		const b = await decodeCached(file, { workDir: work, size: 237, resize: 'stretch', equalize: 'clahe' });
		assert.equal(b.cached, false);
		assert.notDeepEqual(Buffer.from(a.rgb), Buffer.from(b.rgb));
	} finally {
		await fs.rm(work, { recursive: true, force: true });
	}
});
