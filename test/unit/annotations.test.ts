// radreview-annotations.csv on copies of real radiographs from ../shared/cxr/dev: round trip, merge, conflicts,
// malformed files, renames, training obeying the file, and kill -9 during a bulk relabel.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLASS_NAMES, DEFAULT_TRAIN_CONFIG, type ClassName } from '../../src/engine/types';
import { scanDataset } from '../../src/engine/data/scan';
import { sha256File } from '../../src/engine/util/hash';
import { ANNOTATIONS_FILE, AnnotationParseError, parseAnnotations, serialiseAnnotations, type Annotation } from '../../src/engine/annotations/format';
import { applyEdits, mergeAnnotations, type AnnotationEdit } from '../../src/engine/annotations/merge';
import { applyAnnotations, editAnnotations, readAnnotations, writeAnnotations } from '../../src/engine/annotations/store';
import { computeSplits, loadRun, trainRun } from '../../src/engine/api';
import { initBackend, shutdownBackend } from '../../src/engine/model/tf';
import { isPredictionsFromWebview } from '../../src/protocol/predictions';

const DEV = path.resolve(__dirname, '../../../shared/cxr/dev');
const STAMP = { reviewer: 'Ada Lovelace', updated: '2026-12-02T00:00:00.000Z' };
let tmp: string;

/** A fresh dataset of `perClass` real images per class (copies: the shared data is read-only). */
async function dataset(name: string, perClass: number, classes: readonly ClassName[] = CLASS_NAMES): Promise<{ root: string; images: Map<string, ClassName | null> }> {
	const root = path.join(tmp, name);
	for (const c of classes) {
		await fs.mkdir(path.join(root, c), { recursive: true });
		for (const f of (await fs.readdir(path.join(DEV, c))).sort().slice(0, perClass)) await fs.copyFile(path.join(DEV, c, f), path.join(root, c, f));
	}
	const scan = await scanDataset(root);
	return { root, images: new Map(scan.images.map((r) => [r.relPath, r.label])) };
}

const file = (root: string) => path.join(root, ANNOTATIONS_FILE);

before(async () => {
	tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-annotations-'));
});

after(async () => {
	shutdownBackend();
	if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

test('round trip: written, read and written again byte-identical; sorted by path; quoted only where needed', async () => {
	const { root, images } = await dataset('roundtrip', 3);
	const paths = [...images.keys()].reverse(); // edit in reverse order: the file is still sorted
	const edits: AnnotationEdit[] = [
		{ kind: 'label', path: paths[0], label: 'COVID' },
		{ kind: 'flag', path: paths[1], flag: 'not a frontal chest X-ray' },
		{ kind: 'flag', path: paths[1], flag: 'rotated; cropped' },
		{ kind: 'note', path: paths[2], note: 'He said "look again",\nthen: opacité à droite' },
		{ kind: 'reviewed', path: paths[3], reviewed: true },
	];
	const { snapshot, conflicts } = await editAnnotations(root, images, edits, STAMP);
	assert.deepEqual(conflicts, []);
	const bytes = await fs.readFile(file(root));
	const text = bytes.toString('utf8');
	const lines = text.split('\n');
	assert.equal(lines[0], 'path,sha256,label,original_label,flags,note,reviewer,updated,reviewed');
	const rowPaths = [...snapshot.set.keys()];
	assert.deepEqual(rowPaths, [...rowPaths].sort());
	assert.equal(rowPaths.length, 4);
	// The row of paths[0]: unquoted, with the image's real sha256 and its folder label as original_label.
	const sha = await sha256File(path.join(root, paths[0]));
	assert.ok(lines.includes(`${paths[0]},${sha},COVID,${images.get(paths[0])},,,Ada Lovelace,${STAMP.updated},`), text);
	assert.match(text, /,"He said ""look again"",\nthen: opacité à droite",/);
	assert.match(text, /,"not-frontal;rotated, cropped",/);
	// Read back → the same rows; serialised again → the same bytes.
	const read = parseAnnotations(bytes);
	assert.deepEqual(read, snapshot.set);
	assert.equal(serialiseAnnotations(read.values()), text);
	assert.equal(read.get(paths[2])!.note, 'He said "look again",\nthen: opacité à droite');
	assert.deepEqual(read.get(paths[1])!.flags, ['not-frontal', 'rotated, cropped']);
	// Changing one row changes exactly one line of the file (what git diff shows).
	await editAnnotations(root, images, [{ kind: 'label', path: paths[0], label: 'NORMAL' }], STAMP); // paths[0] is a PNEUMONIA image
	const after = (await fs.readFile(file(root), 'utf8')).split('\n');
	assert.equal(after.length, lines.length);
	assert.deepEqual(after.map((l, i) => (l === lines[i] ? null : i)).filter((i) => i !== null).length, 1);
	// Setting the label back to the original removes the correction; clearing removes the row.
	await editAnnotations(
		root,
		images,
		[
			{ kind: 'label', path: paths[0], label: images.get(paths[0])! },
			{ kind: 'clear', path: paths[3] },
		],
		STAMP,
	);
	const last = (await readAnnotations(root)).set;
	assert.equal(last.has(paths[0]), false);
	assert.equal(last.has(paths[3]), false);
	assert.equal(last.size, 2);
});

test('pending edits merge with rows changed on disk meanwhile; the same row changed both ways is a conflict showing both sides', async () => {
	const { root, images } = await dataset('merge', 2);
	const [a, b, c] = [...images.keys()];
	await editAnnotations(root, images, [{ kind: 'note', path: a, note: 'base' }], STAMP);
	const base = await readAnnotations(root);
	// Someone else (git pull, another window) changes row b and row a on disk.
	await editAnnotations(root, images, [{ kind: 'label', path: b, label: 'NORMAL' === images.get(b) ? 'COVID' : 'NORMAL' }], { ...STAMP, reviewer: 'Bob' });
	const facts = (p: string) => ({ sha256: '', originalLabel: images.get(p) ?? null });
	// Our pending edit touches row c only: both survive, no conflict.
	const ours = applyEdits(base.set, [{ kind: 'flag', path: c, flag: 'poor quality' }], facts, STAMP);
	const r1 = await writeAnnotations(root, base, ours);
	assert.deepEqual(r1.conflicts, []);
	assert.deepEqual([...r1.snapshot.set.keys()].sort(), [a, b, c].sort());
	assert.deepEqual(r1.snapshot.set.get(c)!.flags, ['poor-quality']);
	assert.equal(r1.snapshot.set.get(b)!.reviewer, 'Bob');

	// Now both sides change row a's note differently.
	const base2 = r1.snapshot;
	await editAnnotations(root, images, [{ kind: 'note', path: a, note: 'theirs' }], { ...STAMP, reviewer: 'Bob' });
	const onDisk = await fs.readFile(file(root));
	const ours2 = applyEdits(base2.set, [{ kind: 'note', path: a, note: 'ours' }], facts, STAMP);
	const r2 = await writeAnnotations(root, base2, ours2);
	assert.equal(r2.conflicts.length, 1);
	assert.equal(r2.conflicts[0].path, a);
	assert.equal(r2.conflicts[0].base!.note, 'base');
	assert.equal(r2.conflicts[0].ours!.note, 'ours');
	assert.equal(r2.conflicts[0].theirs!.note, 'theirs');
	// Never silently overwritten: the file keeps theirs (unchanged bytes, as nothing else differed).
	assert.deepEqual(await fs.readFile(file(root)), onDisk);

	// An import without a common base: rows only one side has are taken, differing rows conflict.
	const imported = new Map<string, Annotation>([[c, { ...r2.snapshot.set.get(c)!, note: 'imported' }]]);
	const m = mergeAnnotations(undefined, r2.snapshot.set, imported);
	assert.deepEqual(
		m.conflicts.map((x) => x.path),
		[c],
	);
	assert.equal(m.merged.size, 3);
});

const MALFORMED: Array<{ kind: string; text: (rows: string[]) => string; line: number; reason: RegExp }> = [
	{ kind: 'bad header', text: (r) => ['path,sha,label', ...r].join('\n') + '\n', line: 1, reason: /bad header/ },
	{ kind: 'unknown class', text: (r) => [r[0], r[1], r[2].replace(/,(COVID|NORMAL|PNEUMONIA),/, ',PNEUMONIAE,'), r[3]].join('\n') + '\n', line: 3, reason: /label 'PNEUMONIAE' is not a class/ },
	{ kind: 'duplicate row', text: (r) => [...r, r[2]].join('\n') + '\n', line: 5, reason: /duplicate row for .*first on line 3/ },
	{ kind: 'merge-conflict markers', text: (r) => [r[0], r[1], '<<<<<<< HEAD', r[2], '=======', r[3], '>>>>>>> theirs'].join('\n') + '\n', line: 3, reason: /merge-conflict marker/ },
	{ kind: 'bad UTF-8', text: () => '', line: 3, reason: /not valid UTF-8/ },
	{ kind: 'wrong number of fields', text: (r) => [r[0], r[1], r[2] + ',extra', r[3]].join('\n') + '\n', line: 3, reason: /10 fields, expected 9/ },
];

for (const m of MALFORMED) {
	test(`a malformed file (${m.kind}) is rejected naming line ${m.line}, and left byte-identical`, async () => {
		const { root, images } = await dataset(`bad-${m.kind.replace(/\W+/g, '-')}`, 1);
		const paths = [...images.keys()];
		await editAnnotations(
			root,
			images,
			paths.map((p) => ({ kind: 'note', path: p, note: `note for ${p}` }) as const),
			STAMP,
		);
		const good = (await fs.readFile(file(root), 'utf8')).trimEnd().split('\n');
		let bytes: Buffer;
		if (m.kind === 'bad UTF-8') {
			// Latin-1 'é' (0xE9) in the second row's note, as an editor saving in the wrong encoding writes it.
			const head = Buffer.from(good.slice(0, 2).join('\n') + '\n');
			const row = Buffer.from(good[2].replace('note for', 'note fXr'));
			row[row.indexOf('fXr') + 1] = 0xe9;
			bytes = Buffer.concat([head, row, Buffer.from('\n' + good.slice(3).join('\n') + '\n')]);
		} else bytes = Buffer.from(m.text(good));
		await fs.writeFile(file(root), bytes);

		await assert.rejects(readAnnotations(root), (e: unknown) => {
			assert.ok(e instanceof AnnotationParseError, String(e));
			assert.equal(e.line, m.line, e.message);
			assert.match(e.reason, m.reason);
			assert.ok(e.message.startsWith(`${file(root)}:${m.line}: `), e.message);
			return true;
		});
		// The product refuses to write to it, and training says plainly that it cannot use it.
		await assert.rejects(editAnnotations(root, images, [{ kind: 'label', path: paths[0], label: 'NORMAL' }], STAMP), AnnotationParseError);
		await assert.rejects(computeSplits(root, { mode: 'patient', seed: 1, testFraction: 0.34, valFraction: 0 }), new RegExp(`cannot use the annotations: .*:${m.line}:`));
		assert.deepEqual(await fs.readFile(file(root)), bytes);
	});
}

test('a moved or renamed image keeps its annotation (matched by content hash)', async () => {
	const { root, images } = await dataset('rename', 2);
	const [a] = [...images.keys()].filter((p) => p.startsWith('NORMAL/'));
	await editAnnotations(
		root,
		images,
		[
			{ kind: 'label', path: a, label: 'PNEUMONIA' },
			{ kind: 'note', path: a, note: 'consolidation' },
		],
		STAMP,
	);
	const moved = `NORMAL/renamed-${path.basename(a)}`;
	await fs.rename(path.join(root, a), path.join(root, moved));
	const scan = await scanDataset(root);
	const applied = await applyAnnotations(root, scan.images);
	assert.equal(applied.summary.moved, 1);
	assert.deepEqual(applied.relabelled, [{ path: moved, from: 'NORMAL', to: 'PNEUMONIA' }]);
	assert.equal(applied.images.find((r) => r.relPath === moved)!.label, 'PNEUMONIA');
});

test('splits obey corrected labels and exclusions, listed with their reason', async () => {
	const { root, images } = await dataset('splits', 6);
	const normals = [...images.keys()].filter((p) => p.startsWith('NORMAL/'));
	await editAnnotations(
		root,
		images,
		[
			{ kind: 'label', path: normals[0], label: 'COVID' },
			{ kind: 'flag', path: normals[1], flag: 'exclude' },
			{ kind: 'flag', path: normals[2], flag: 'not a frontal chest X-ray' },
			{ kind: 'flag', path: normals[3], flag: 'duplicate' },
			{ kind: 'flag', path: normals[4], flag: 'poor quality' }, // flagged but kept
		],
		STAMP,
	);
	const { scan, split, annotations } = await computeSplits(root, { mode: 'image', seed: 3, testFraction: 0.3, valFraction: 0 });
	const all = [...split.train, ...split.val, ...split.test];
	assert.equal(all.length, 18 - 3);
	for (const p of normals.slice(1, 4)) assert.ok(!all.includes(p), p);
	assert.ok(all.includes(normals[4]));
	assert.deepEqual(split.excluded, [
		{ path: normals[1], reason: 'exclude' },
		{ path: normals[2], reason: 'not-frontal' },
		{ path: normals[3], reason: 'duplicate' },
	]);
	assert.deepEqual(split.relabelled, [{ path: normals[0], from: 'NORMAL', to: 'COVID' }]);
	assert.equal(scan.images.find((r) => r.relPath === normals[0])!.label, 'COVID');
	assert.equal(annotations.relabelled, 1);
	assert.equal(annotations.excluded, 3);
	assert.equal(annotations.flagged, 4);
});

test('training uses relabels and exclusions (splits.json, config.json), and a later relabel makes the run stale', async () => {
	await initBackend();
	const { root, images } = await dataset('train', 4);
	const normals = [...images.keys()].filter((p) => p.startsWith('NORMAL/'));
	await editAnnotations(
		root,
		images,
		[
			{ kind: 'label', path: normals[0], label: 'PNEUMONIA' },
			{ kind: 'flag', path: normals[1], flag: 'exclude' },
		],
		STAMP,
	);
	const cfg = { ...DEFAULT_TRAIN_CONFIG, backbone: 'vgg16' as const, dataDir: root, workDir: path.join(tmp, 'train-work'), weights: 'none', epochs: 2, imageSize: 64, baseRuntime: 'tfjs' as const };
	const run = await trainRun(cfg);
	const splits = JSON.parse(await fs.readFile(path.join(run.runDir, 'splits.json'), 'utf8'));
	assert.deepEqual(splits.excluded, [{ path: normals[1], reason: 'exclude' }]);
	assert.deepEqual(splits.relabelled, [{ path: normals[0], from: 'NORMAL', to: 'PNEUMONIA' }]);
	const used = [...splits.train, ...splits.val, ...splits.test];
	assert.equal(used.length, 11);
	assert.ok(!used.includes(normals[1]));
	const config = JSON.parse(await fs.readFile(path.join(run.runDir, 'config.json'), 'utf8'));
	assert.equal(config.annotations.relabelled, 1);
	assert.equal(config.annotations.excluded, 1);
	assert.equal(config.annotations.sha256, (await readAnnotations(root)).sha256);
	const view = await loadRun(run.runDir);
	const pred = view.predictions.find((p) => p.relPath === normals[0]);
	assert.equal(pred?.label, 'PNEUMONIA');
	assert.equal(view.staleLabels, undefined);
	// A note does not make it stale; a relabel does.
	await editAnnotations(root, images, [{ kind: 'note', path: normals[2], note: 'fine' }], STAMP);
	assert.equal((await loadRun(run.runDir)).staleLabels, undefined);
	await editAnnotations(root, images, [{ kind: 'label', path: normals[2], label: 'COVID' }], STAMP);
	assert.match((await loadRun(run.runDir)).staleLabels ?? '', /labels are stale/);
});

test('kill -9 during a bulk relabel of 200 images leaves the old file or the new one, never a torn one', async () => {
	const { root } = await dataset('kill', 200, ['COVID']);
	const child = path.join(__dirname, 'helpers', 'bulkRelabel.ts');
	const seen = new Set<string>();
	const ROUNDS = 12;
	for (let i = 0; i < ROUNDS; i++) {
		const p = spawn(process.execPath, ['--import', 'tsx', child, root], { stdio: ['ignore', 'pipe', 'inherit'] });
		await new Promise<void>((resolve, reject) => {
			p.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
			p.on('exit', (code) => reject(new Error(`child exited early (${code})`)));
		});
		await new Promise((r) => setTimeout(r, Math.random() * 600));
		const exited = new Promise((r) => p.once('exit', r));
		p.kill('SIGKILL');
		await exited;
		// Whatever is there parses, holds all 200 rows, and each row carries one round's label and note together.
		const snap = await readAnnotations(root);
		assert.equal(snap.set.size, 200);
		const labels = new Set([...snap.set.values()].map((a) => a.label));
		assert.equal(labels.size, 1, `a mix of rounds: ${[...labels].join(', ')}`);
		const label = [...labels][0]!;
		for (const a of snap.set.values()) assert.equal(a.note, `round ${label}, "quoted", with a comma`);
		assert.equal(serialiseAnnotations(snap.set.values()), await fs.readFile(file(root), 'utf8'));
		seen.add(label);
	}
	// Killed at different moments: both states were seen (not a test that cannot fail to notice a stuck writer).
	assert.equal(seen.size, 2, `only ${[...seen].join(', ')} seen in ${ROUNDS} kills`);
});

test('CLI: radreview annotate set / flag / note / list --json / export / import (conflicts reported, ours kept) / clear', async () => {
	const { root } = await dataset('cli', 2);
	const cli = (...args: string[]) =>
		spawnSync(process.execPath, [path.resolve(__dirname, '../../bin/radreview.js'), 'annotate', '--data', root, '--reviewer', 'Ada', ...args], { encoding: 'utf8', cwd: tmp });
	const img = (await fs.readdir(path.join(root, 'NORMAL'))).sort()[0];
	const rel = `NORMAL/${img}`;
	assert.equal(cli('set', path.join(root, rel), 'covid').status, 0); // a path relative to the current folder works too
	assert.equal(cli('flag', rel, '--reason', 'label doubtful').status, 0);
	assert.equal(cli('note', rel, 'see prior, "2019"').status, 0);
	const bad = cli('set', rel, 'ARDS');
	assert.equal(bad.status, 1);
	assert.match(bad.stderr, /'ARDS' is not a class/);
	const list = JSON.parse(cli('list', '--json').stdout) as Annotation[];
	assert.equal(list.length, 1);
	assert.deepEqual(
		{ ...list[0], updated: '' },
		{
			path: rel,
			sha256: await sha256File(path.join(root, rel)),
			label: 'COVID',
			originalLabel: 'NORMAL',
			flags: ['label-doubtful'],
			note: 'see prior, "2019"',
			reviewer: 'Ada',
			updated: '',
			reviewed: false,
		},
	);
	const exported = path.join(tmp, 'cli-export.csv');
	assert.equal(cli('export', exported).status, 0);
	assert.equal(await fs.readFile(exported, 'utf8'), await fs.readFile(file(root), 'utf8'));
	await fs.writeFile(exported, (await fs.readFile(exported, 'utf8')).replace('see prior', 'see later'));
	const before = await fs.readFile(file(root));
	const imp = cli('import', exported);
	assert.equal(imp.status, 1);
	assert.match(imp.stderr, /conflict NORMAL\/.*\n {2}ours: .*see prior.*\n {2}theirs: .*see later/);
	assert.deepEqual(await fs.readFile(file(root)), before);
	assert.equal(cli('clear', rel).status, 0);
	assert.equal((await readAnnotations(root)).set.size, 0);
});

test('webview annotation messages are checked at the boundary', () => {
	const ok = [
		{
			type: 'annotate',
			edits: [
				{ kind: 'label', path: 'NORMAL/a.png', label: 'COVID' },
				{ kind: 'label', path: 'NORMAL/a.png', label: null },
			],
		},
		{
			type: 'annotate',
			edits: [
				{ kind: 'flag', path: 'a.png', flag: 'exclude' },
				{ kind: 'unflag', path: 'a.png', flag: 'exclude' },
				{ kind: 'note', path: 'a.png', note: '' },
				{ kind: 'reviewed', path: 'a.png', reviewed: true },
				{ kind: 'clear', path: 'a.png' },
			],
		},
		{ type: 'undoAnnotation', redo: false },
	];
	for (const m of ok) assert.ok(isPredictionsFromWebview(m), JSON.stringify(m));
	const bad = [
		{ type: 'annotate', edits: [] },
		{ type: 'annotate', edits: [{ kind: 'label', path: 'a.png', label: 'ARDS' }] },
		{ type: 'annotate', edits: [{ kind: 'label', path: '', label: 'COVID' }] },
		{ type: 'annotate', edits: [{ kind: 'flag', path: 'a.png', flag: 'x'.repeat(201) }] },
		{ type: 'annotate', edits: [{ kind: 'note', path: 'a.png', note: 'n', extra: 1 }] },
		{ type: 'annotate', edits: [{ kind: 'delete', path: 'a.png' }] },
		{ type: 'undoAnnotation' },
	];
	for (const m of bad) assert.ok(!isPredictionsFromWebview(m), JSON.stringify(m));
});
