// Splits that stay put (issue 19): review edits move only the edited image, a frozen split never moves an old
// image, and the seeded hash order still meets the fractions on the real dev set.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { computeSplits, testSplitChangesSince } from '../../src/engine/api';
import { readFrozenSplit, SPLITS_FILE } from '../../src/engine/data/frozenSplit';
import { scanDataset } from '../../src/engine/data/scan';
import { splitDataset, splitIndex } from '../../src/engine/data/splits';
import { ANNOTATIONS_FILE } from '../../src/engine/annotations/format';
import { CLASS_NAMES, type ImageRecord, type SplitResult } from '../../src/engine/types';

const ROOT = path.resolve(__dirname, '../..');
const DEV = path.resolve(ROOT, '../shared/cxr/dev');
const opts = { mode: 'patient' as const, seed: 40, testFraction: 0.2, valFraction: 0.1 };
let images: ImageRecord[];
let tmp: string;

before(async () => {
	images = (await scanDataset(DEV)).images;
	tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-stable-'));
});
after(async () => {
	if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

/** A dataset of the first `n` images of each dev class (file names as patients: no manifest). */
async function dataset(name: string, n: number, skip = 0): Promise<string> {
	const data = path.join(tmp, name);
	for (const c of CLASS_NAMES) {
		await fs.mkdir(path.join(data, c), { recursive: true });
		for (const f of (await fs.readdir(path.join(DEV, c))).sort().slice(skip, skip + n)) await fs.copyFile(path.join(DEV, c, f), path.join(data, c, f));
	}
	return data;
}

const assignment = (s: SplitResult) => splitIndex(s);

test("the dev set's 512 patients: every class meets the test and val fractions within ±1 image, for several seeds", () => {
	assert.equal(new Set(images.map((i) => i.patientId)).size, 512);
	for (const seed of [40, 1, 2026]) {
		const s = splitDataset(images, { ...opts, seed });
		assert.deepEqual(s.leakedPatients, []);
		const label = new Map(images.map((i) => [i.relPath, i.label]));
		for (const c of CLASS_NAMES) {
			const n = (xs: string[]) => xs.filter((x) => label.get(x) === c).length;
			const total = n(s.train) + n(s.val) + n(s.test);
			assert.ok(Math.abs(n(s.test) - opts.testFraction * total) <= 1, `seed ${seed} ${c}: test ${n(s.test)} of ${total}`);
			const rest = n(s.train) + n(s.val);
			assert.ok(Math.abs(n(s.val) - opts.valFraction * rest) <= 1, `seed ${seed} ${c}: val ${n(s.val)} of ${rest}`);
		}
	}
});

test('removing or relabelling groups on the dev set, with their places kept, moves nothing else', () => {
	const before = splitDataset(images, opts);
	const test = before.test.slice(0, 6);
	const [gone, relabelled] = [test.slice(0, 3), test.slice(3)];
	const byPath = new Map(images.map((i) => [i.relPath, i]));
	const other = (l: string | null) => CLASS_NAMES.find((c) => c !== l)!;
	const edited = images.filter((i) => !gone.includes(i.relPath)).map((i) => (relabelled.includes(i.relPath) ? { ...i, label: other(i.label) } : i));
	const after = splitDataset(edited, { ...opts, ghosts: gone.map((p) => byPath.get(p)!), placeBy: new Map(relabelled.map((p) => [p, byPath.get(p)!.label])) });
	assert.deepEqual(
		after.test,
		before.test.filter((p) => !gone.includes(p)),
	);
	assert.deepEqual(after.val, before.val);
	assert.deepEqual(after.train, before.train);
});

test('radreview split, one relabel and one exclusion, split again: only the excluded image leaves the test split', async () => {
	const data = await dataset('review', 20);
	const first = await computeSplits(data, opts);
	assert.ok(first.split.test.length >= 10);
	const [excluded, relabelled] = first.split.test;
	const from = relabelled.split('/')[0];
	const to = CLASS_NAMES.find((c) => c !== from)!;
	await fs.writeFile(
		path.join(data, ANNOTATIONS_FILE),
		`path,sha256,label,original_label,flags,note,reviewer,updated,reviewed\n${excluded},,,,exclude,,ann,2026-01-01T00:00:00Z,\n${relabelled},,${to},${from},,,ann,2026-01-01T00:00:00Z,yes\n`,
	);
	const second = await computeSplits(data, opts);
	assert.deepEqual(
		second.split.excluded?.map((x) => x.path),
		[excluded],
	);
	assert.deepEqual(
		second.split.relabelled?.map((x) => [x.path, x.to]),
		[[relabelled, to]],
	);
	assert.deepEqual(
		second.split.test,
		first.split.test.filter((p) => p !== excluded),
		'only the excluded image left test; nothing took its place',
	);
	assert.ok(second.split.test.includes(relabelled), 'the relabelled image stays in test');
	assert.deepEqual(second.split.val, first.split.val);
	assert.deepEqual(second.split.train, first.split.train);
});

test('a frozen split: adding 10 new images moves none of the old ones; the file is sorted and refused when damaged', async () => {
	const data = await dataset('frozen', 25);
	const frozen = await computeSplits(data, { ...opts, freeze: true });
	assert.equal(frozen.frozenFile, path.join(data, SPLITS_FILE));
	const text = await fs.readFile(frozen.frozenFile!, 'utf8');
	const lines = text.trim().split('\n');
	assert.equal(lines[0], 'path,split');
	assert.equal(lines.length, 76);
	assert.deepEqual(lines.slice(1), [...lines.slice(1)].sort());
	const old = assignment(frozen.split);
	assert.deepEqual(await readFrozenSplit(data), old);

	// 10 new images (4, 3, 3 per class) from further down the dev folders.
	const added: string[] = [];
	for (const [k, c] of CLASS_NAMES.entries()) {
		for (const f of (await fs.readdir(path.join(DEV, c))).sort().slice(100, 100 + (k === 0 ? 4 : 3))) {
			await fs.copyFile(path.join(DEV, c, f), path.join(data, c, f));
			added.push(`${c}/${f}`);
		}
	}
	const next = await computeSplits(data, opts);
	assert.equal(next.split.frozen, true);
	const now = assignment(next.split);
	for (const [p, s] of old) assert.equal(now.get(p), s, `${p} moved`);
	for (const p of added) assert.ok(now.has(p), `${p} has a split`);
	assert.equal(await fs.readFile(frozen.frozenFile!, 'utf8'), text, 'a plain split leaves the frozen file alone');
	// The same rule deals the new images: the fractions still hold within a few images.
	assert.ok(Math.abs(next.split.test.length - 0.2 * 85) <= 3, `test ${next.split.test.length} of 85`);

	await fs.writeFile(frozen.frozenFile!, 'path,split\nCOVID/a.jpg,holdout\n');
	await assert.rejects(computeSplits(data, opts), /radreview-splits\.csv:2: split "holdout"/);
	await fs.writeFile(frozen.frozenFile!, 'path,split\n../outside.png,test\n');
	await assert.rejects(computeSplits(data, opts), /radreview-splits\.csv:2: "\.\.\/outside\.png" is not a path inside the dataset/);
});

test('radreview split --freeze writes radreview-splits.csv and later splits say they use it', async () => {
	if (!existsSync(path.join(ROOT, 'dist/cli.js'))) {
		const b = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
		assert.equal(b.status, 0, b.stderr);
	}
	const data = await dataset('cli', 4);
	const cli = (...args: string[]) => spawnSync(process.execPath, [path.join(ROOT, 'bin/radreview.js'), ...args], { cwd: tmp, encoding: 'utf8', timeout: 300_000 });
	const r = cli('split', '--data', data, '--freeze');
	assert.equal(r.status, 0, r.stderr);
	assert.match(r.stdout, /split frozen in .*radreview-splits\.csv/);
	assert.equal((await readFrozenSplit(data))?.size, 12);
	const again = cli('split', '--data', data);
	assert.equal(again.status, 0, again.stderr);
	assert.match(again.stdout, /frozen split \(radreview-splits\.csv\)/);
});

test("a run's panels learn how many test images changed since it: an exclusion and new images unfrozen, none frozen", async () => {
	const data = await dataset('drift', 20);
	const run = (await computeSplits(data, opts)).split;
	assert.deepEqual(await testSplitChangesSince(data, run), { left: [], joined: [] });
	const gone = run.test[0];
	await fs.writeFile(path.join(data, ANNOTATIONS_FILE), `path,sha256,label,original_label,flags,note,reviewer,updated,reviewed\n${gone},,,,exclude,,ann,2026-01-01T00:00:00Z,\n`);
	const changed = await testSplitChangesSince(data, run);
	assert.deepEqual(changed.left, [gone]);
	assert.deepEqual(changed.joined, []);
	// Frozen now (the exclusion holds its place), then 10 images more: the old test images stay, only new ones join.
	await computeSplits(data, { ...opts, freeze: true });
	for (const c of CLASS_NAMES) for (const f of (await fs.readdir(path.join(DEV, c))).sort().slice(150, 154)) await fs.copyFile(path.join(DEV, c, f), path.join(data, c, f));
	const after = await testSplitChangesSince(data, run);
	assert.deepEqual(after.left, [gone]);
	assert.ok(
		after.joined.every((p) => /\//.test(p) && !run.train.includes(p) && !run.val.includes(p)),
		'only new images join the test split',
	);
});
