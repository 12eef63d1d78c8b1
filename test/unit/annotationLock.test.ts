// Two processes editing one radreview-annotations.csv at once lose nothing; the file's mode and a symlink stay;
// the lock recovers from a dead owner. On hard links of a real radiograph from ../shared/cxr/dev.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ANNOTATIONS_FILE, ANNOTATION_COLUMNS } from '../../src/engine/annotations/format';
import { applyAnnotations, editAnnotations, readAnnotations, readAnnotationsLeniently, writeAnnotations } from '../../src/engine/annotations/store';
import { scanDataset } from '../../src/engine/data/scan';
import { acquireFileLock, lockFileOf, withFileLock } from '../../src/engine/util/fileLock';

const DEV = path.resolve(__dirname, '../../../shared/cxr/dev');
let tmp: string;

before(async () => {
	tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-lock-'));
});
after(async () => {
	await fs.rm(tmp, { recursive: true, force: true });
});

/** A dataset of `n` names for one real radiograph (hard links: cheap, and each is a real image to hash). */
async function dataset(name: string, n: number): Promise<string> {
	const root = path.join(tmp, name);
	await fs.mkdir(path.join(root, 'NORMAL'), { recursive: true });
	const src = path.join(root, 'source.jpeg');
	await fs.copyFile(path.join(DEV, 'NORMAL', (await fs.readdir(path.join(DEV, 'NORMAL'))).sort()[0]), src);
	for (let i = 0; i < n; i++) await fs.link(src, path.join(root, 'NORMAL', `img${String(i).padStart(4, '0')}.jpeg`));
	await fs.rm(src);
	return root;
}

function writer(root: string, half: number) {
	const p = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'helpers', 'concurrentEdits.ts'), root, String(half)], { stdio: ['pipe', 'pipe', 'pipe'] });
	let out = '';
	let err = '';
	p.stdout.on('data', (d: Buffer) => (out += d.toString()));
	p.stderr.on('data', (d: Buffer) => (err += d.toString()));
	const ready = new Promise<void>((resolve, reject) => {
		p.stdout.on('data', () => out.includes('ready') && resolve());
		p.on('exit', (code) => reject(new Error(`writer ${half} exited before starting (${code}): ${err}`)));
	});
	const done = new Promise<void>((resolve, reject) => p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`writer ${half} failed (${code}): ${err}`)))));
	return { p, ready, done };
}

test('two processes applying 200 edits each to one annotations file at once: all 400 rows, parseable, mode kept', async () => {
	const root = await dataset('two', 400);
	const file = path.join(root, ANNOTATIONS_FILE);
	await fs.writeFile(file, ANNOTATION_COLUMNS.join(',') + '\n');
	await fs.chmod(file, 0o660); // a group-writable shared file
	const a = writer(root, 0);
	const b = writer(root, 1);
	await Promise.all([a.ready, b.ready]);
	a.p.stdin.write('go\n');
	b.p.stdin.write('go\n');
	await Promise.all([a.done, b.done]);
	const snap = await readAnnotations(root);
	assert.equal(snap.set.size, 400, `${400 - snap.set.size} row(s) lost`);
	for (const r of snap.set.values()) assert.equal(r.note, `${r.reviewer}, "quoted", with a comma`);
	assert.equal(((await fs.stat(file)).mode & 0o777).toString(8), '660');
	await assert.rejects(fs.access(lockFileOf(file)), 'the lock is released');
});

test('a symlinked annotations file: the link stays and its target gets the rows; a link out of the dataset is refused', async () => {
	const root = await dataset('link', 2);
	const target = path.join(root, 'shared', 'annotations.csv');
	await fs.mkdir(path.dirname(target));
	await fs.writeFile(target, ANNOTATION_COLUMNS.join(',') + '\n', { mode: 0o664 });
	await fs.chmod(target, 0o664);
	const file = path.join(root, ANNOTATIONS_FILE);
	await fs.symlink(path.join('shared', 'annotations.csv'), file);
	const base = await readAnnotations(root);
	const row = {
		path: 'NORMAL/img0000.jpeg',
		sha256: '',
		label: 'COVID' as const,
		originalLabel: 'NORMAL' as const,
		flags: [],
		note: '',
		reviewer: 'x',
		updated: '2026-01-01T00:00:00Z',
		reviewed: false,
	};
	await writeAnnotations(root, base, new Map([[row.path, row]]));
	assert.ok((await fs.lstat(file)).isSymbolicLink(), 'still a symlink');
	assert.match(await fs.readFile(target, 'utf8'), /NORMAL\/img0000\.jpeg/);
	assert.equal(((await fs.stat(target)).mode & 0o777).toString(8), '664');

	const outside = path.join(tmp, 'outside.csv');
	await fs.writeFile(outside, ANNOTATION_COLUMNS.join(',') + '\n');
	await fs.rm(file);
	await fs.symlink(outside, file);
	await assert.rejects(writeAnnotations(root, await readAnnotations(root), new Map([[row.path, row]])), /a symlink to .*outside.*refusing to write through it/);
	assert.equal(await fs.readFile(outside, 'utf8'), ANNOTATION_COLUMNS.join(',') + '\n');
});

test('the writer refuses a path the reader would refuse', async () => {
	const root = await dataset('badpath', 1);
	const row = { path: '../escape.jpeg', sha256: '', label: 'COVID' as const, originalLabel: null, flags: [], note: '', reviewer: 'x', updated: '2026-01-01T00:00:00Z', reviewed: false };
	await assert.rejects(writeAnnotations(root, await readAnnotations(root), new Map([[row.path, row]])), /refusing to write the path '\.\.\/escape\.jpeg'/);
	await assert.rejects(fs.access(path.join(root, ANNOTATIONS_FILE)));
});

test('file lock: a second holder waits; a lock whose owner is dead, or an old one, is broken', async () => {
	const file = path.join(tmp, 'locked.csv');
	const first = await acquireFileLock(file);
	let second = false;
	const waiting = withFileLock(file, async () => {
		second = true;
	});
	await new Promise((r) => setTimeout(r, 50));
	assert.equal(second, false, 'the second holder waits for the first');
	await first.release();
	await waiting;
	assert.equal(second, true);
	// A dead owner on this host (a pid that exited).
	const dead = spawn(process.execPath, ['-e', '0']);
	await new Promise((r) => dead.on('exit', r));
	await fs.writeFile(lockFileOf(file), JSON.stringify({ pid: dead.pid, host: os.hostname(), time: Date.now(), token: 'x' }));
	await withFileLock(file, async () => undefined, { timeoutMs: 5000 });
	// An old lock of a live process on another host.
	await fs.writeFile(lockFileOf(file), JSON.stringify({ pid: 1, host: 'elsewhere', time: 0, token: 'y' }));
	const old = new Date(Date.now() - 120_000);
	await fs.utimes(lockFileOf(file), old, old);
	await withFileLock(file, async () => undefined, { timeoutMs: 5000 });
	// An empty lock (a writer killed inside an exclusive create) is broken once it is a few seconds old.
	await fs.writeFile(lockFileOf(file), '');
	const seconds = new Date(Date.now() - 10_000);
	await fs.utimes(lockFileOf(file), seconds, seconds);
	await withFileLock(file, async () => undefined, { timeoutMs: 5000 });
	// A lock is never seen empty while it is taken: its owner is linked into place whole.
	const held = await acquireFileLock(file);
	assert.equal(JSON.parse(await fs.readFile(lockFileOf(file), 'utf8')).token, held.owner.token);
	assert.deepEqual(
		(await fs.readdir(tmp)).filter((f) => f.startsWith('locked.csv.lock.')),
		[],
		'no owner file left beside the lock',
	);
	await held.release();
	// A fresh lock of another host is respected, and the timeout names its owner.
	await fs.writeFile(lockFileOf(file), JSON.stringify({ pid: 1, host: 'elsewhere', time: Date.now(), token: 'z' }));
	await assert.rejects(
		withFileLock(file, async () => undefined, { timeoutMs: 100 }),
		/still locked.*pid 1 on elsewhere/,
	);
});

test('a malformed row is named by line; the other rows stay readable; writing and training refuse until it is fixed', async () => {
	const root = await dataset('malformed', 3);
	const file = path.join(root, ANNOTATIONS_FILE);
	const good = (n: number) => `NORMAL/img000${n}.jpeg,,COVID,NORMAL,,,x,2026-01-01T00:00:00Z,`;
	await fs.writeFile(file, [ANNOTATION_COLUMNS.join(','), good(0), 'NORMAL/img0001.jpeg,,ARDS,NORMAL,,,x,,', good(2), ''].join('\n'));
	const { set, problems } = await readAnnotationsLeniently(root);
	assert.deepEqual([...set.keys()], ['NORMAL/img0000.jpeg', 'NORMAL/img0002.jpeg']);
	assert.equal(problems.length, 1);
	assert.match(problems[0].message, /radreview-annotations\.csv:3: label 'ARDS' is not a class/);
	const before = await fs.readFile(file, 'utf8');
	await assert.rejects(readAnnotations(root), /:3: label 'ARDS'/);
	const images = new Map([['NORMAL/img0000.jpeg', 'NORMAL' as const]]);
	await assert.rejects(editAnnotations(root, images, [{ kind: 'note', path: 'NORMAL/img0000.jpeg', note: 'x' }], { reviewer: 'x', updated: '2026-01-01T00:00:00Z' }), /:3: label 'ARDS'/);
	const scan = await scanDataset(root);
	await assert.rejects(applyAnnotations(root, scan.images), /cannot use the annotations: .*radreview-annotations\.csv:3: label 'ARDS' is not a class/);
	assert.equal(await fs.readFile(file, 'utf8'), before, 'never rewritten');
});
