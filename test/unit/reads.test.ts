// radreview-reads.csv on copies of real radiographs from ../shared/cxr/dev: one row per (image, reader), a read
// never replaces another reader's, writers in separate processes serialise on the lock, two readers' branches
// merge in git, and a malformed file is named by line and left untouched.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLASS_NAMES, type ClassName } from '../../src/engine/types';
import { scanDataset } from '../../src/engine/data/scan';
import { READS_FILE, ReadsParseError, parseReads, serialiseReads, type Read } from '../../src/engine/reads/format';
import { readReads, recordReads, removeReads } from '../../src/engine/reads/store';
import { FileLockTimeoutError, withFileLock } from '../../src/engine/util/fileLock';
import { ReadsImportError, parseImport } from '../../src/engine/reads/importReads';
import { missingPrereq } from './prereq';

const ROOT = path.resolve(__dirname, '../..');
const DEV = path.resolve(ROOT, '../shared/cxr/dev');
let tmp: string;
let root: string;
let images: Map<string, ClassName | null>;

const read = (p: string, reader: string, label: ClassName, extra: Partial<Read> = {}): Read => ({
	path: p,
	sha256: '',
	reader,
	label,
	confidence: 3,
	flags: [],
	seconds: 4.5,
	time: '2026-12-08T04:00:00.000Z',
	blinded: true,
	...extra,
});

before(async () => {
	tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-reads-'));
	root = path.join(tmp, 'data');
	for (const c of CLASS_NAMES) {
		await fs.mkdir(path.join(root, c), { recursive: true });
		for (const f of (await fs.readdir(path.join(DEV, c))).sort().slice(0, 4)) await fs.copyFile(path.join(DEV, c, f), path.join(root, c, f));
	}
	images = new Map((await scanDataset(root)).images.map((r) => [r.relPath, r.label]));
	assert.equal(images.size, 12);
});

after(async () => {
	if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

test('a read never replaces another reader’s; the same reader reading again replaces only their own row; rows sorted by path then reader', async () => {
	const d = path.join(tmp, 'own');
	await fs.mkdir(d);
	const [p1, p2] = [...images.keys()];
	await recordReads(d, [read(p2, 'Zoe', 'NORMAL'), read(p1, 'Zoe', 'COVID')]);
	await recordReads(d, [read(p1, 'Ann', 'PNEUMONIA')]);
	let r = await recordReads(d, [read(p1, 'Zoe', 'NORMAL', { confidence: 5, flags: ['poor-quality'] })]);
	assert.deepEqual([r.added, r.replaced], [0, 1]);
	const text = await fs.readFile(path.join(d, READS_FILE), 'utf8');
	const lines = text.trimEnd().split('\n');
	assert.equal(lines[0], 'path,sha256,reader,label,confidence,flags,seconds,time,blinded');
	assert.deepEqual(
		lines.slice(1).map((l) => l.split(',').slice(0, 5).join(',')),
		[`${p1},,Ann,PNEUMONIA,3`, `${p1},,Zoe,NORMAL,5`, `${p2},,Zoe,NORMAL,3`],
	);
	assert.match(lines[2], /,poor-quality,4\.5,2026-12-08T04:00:00\.000Z,yes$/);
	r = await removeReads(d, 'Zoe', [p1]);
	assert.equal(r.removed, 1);
	assert.deepEqual(
		(await readReads(d)).reads.map((x) => `${x.path} ${x.reader} ${x.label}`),
		[`${p1} Ann PNEUMONIA`, `${p2} Zoe NORMAL`],
	);
	// Round trip: what is written parses to the same rows and serialises to the same bytes.
	assert.equal(serialiseReads(parseReads(await fs.readFile(path.join(d, READS_FILE)))), await fs.readFile(path.join(d, READS_FILE), 'utf8'));
});

test('writers in three processes at once: every read survives (the lock serialises the read-modify-write)', async () => {
	const d = path.join(tmp, 'race');
	await fs.mkdir(d);
	const paths = [...images.keys()];
	const script = `
const { recordReads } = require(${JSON.stringify(path.join(ROOT, 'src/engine/reads/store.ts'))});
(async () => {
	const [dir, reader, ...paths] = process.argv.slice(1);
	for (const p of paths) await recordReads(dir, [{ path: p, sha256: '', reader, label: 'NORMAL', confidence: 2, flags: [], seconds: 1, time: new Date().toISOString(), blinded: true }]);
})().catch((e) => { console.error(e); process.exit(1); });`;
	const runs = ['R1', 'R2', 'R3'].map(
		(reader) =>
			new Promise<number | null>((resolve) => {
				const c = spawn(process.execPath, ['--import', 'tsx', '-e', script, d, reader, ...paths], { stdio: ['ignore', 'ignore', 'inherit'] });
				c.on('exit', resolve);
			}),
	);
	assert.deepEqual(await Promise.all(runs), [0, 0, 0]);
	const { reads } = await readReads(d);
	assert.equal(reads.length, 3 * paths.length);
	await assert.rejects(fs.stat(path.join(d, `${READS_FILE}.lock`)), /ENOENT/);
});

test('two readers on two git branches read the same images: with merge=union the merge is clean and keeps every read', async (t) => {
	if (spawnSync('git', ['--version']).status !== 0) return missingPrereq(t, 'git is not installed');
	const d = path.join(tmp, 'git');
	await fs.mkdir(d);
	const git = (...args: string[]) => {
		const r = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@e', ...args], { cwd: d, encoding: 'utf8' });
		assert.equal(r.status, 0, r.stderr + r.stdout);
		return r.stdout;
	};
	const paths = [...images.keys()];
	git('init', '-q', '-b', 'main');
	await fs.writeFile(path.join(d, '.gitattributes'), `${READS_FILE} merge=union\n`);
	await recordReads(d, [read(paths[0], 'Base', 'COVID')]);
	git('add', '.');
	git('commit', '-qm', 'base');
	git('checkout', '-qb', 'ann');
	await recordReads(
		d,
		paths.map((p) => read(p, 'Ann', 'NORMAL')),
	);
	git('commit', '-qam', 'ann');
	git('checkout', '-q', 'main');
	await recordReads(
		d,
		paths.map((p) => read(p, 'Bob', 'PNEUMONIA')),
	);
	git('commit', '-qam', 'bob');
	git('merge', '-q', '--no-edit', 'ann');
	const { reads } = await readReads(d);
	assert.equal(reads.length, 1 + 2 * paths.length);
	// The next write puts the rows back in order.
	await recordReads(d, [read(paths[1], 'Base', 'NORMAL')]);
	const again = (await readReads(d)).reads;
	assert.deepEqual(
		again.map((r) => `${r.path}\t${r.reader}`),
		again.map((r) => `${r.path}\t${r.reader}`).sort(),
	);
});

test('a malformed reads file is named by line and left untouched: conflict markers, unknown labels, paths outside, duplicates', async () => {
	const p = [...images.keys()][0];
	const good = serialiseReads([read(p, 'Ann', 'COVID'), read(p, 'Bob', 'NORMAL')]);
	const [header, a, b] = good.trimEnd().split('\n');
	const cases: [string, number, RegExp][] = [
		[[header, a, '<<<<<<< HEAD', b, '=======', b.replace(',NORMAL,', ',COVID,'), '>>>>>>> other'].join('\n') + '\n', 3, /merge-conflict marker/],
		[[header, a, b.replace('NORMAL', 'FLU')].join('\n') + '\n', 3, /label 'FLU' is not a class/],
		[[header, a.replace(p, `../${p}`), b].join('\n') + '\n', 2, /not a relative '\/'-separated path inside the dataset/],
		[[header, a, b, a.replace(',COVID,', ',NORMAL,')].join('\n') + '\n', 4, /duplicate row for .* by 'Ann' \(first on line 2\)/],
		[[header, a.replace(',3,', ',7,'), b].join('\n') + '\n', 2, /confidence '7' must be 1–5/],
	];
	for (const [text, line, why] of cases) {
		const d = await fs.mkdtemp(path.join(tmp, 'bad-'));
		const f = path.join(d, READS_FILE);
		await fs.writeFile(f, text);
		await assert.rejects(recordReads(d, [read(p, 'Cy', 'COVID')]), (e: unknown) => {
			assert.ok(e instanceof ReadsParseError, String(e));
			assert.equal(e.file, f);
			assert.equal(e.line, line, e.message);
			assert.match(e.reason, why);
			return true;
		});
		assert.equal(await fs.readFile(f, 'utf8'), text);
		await assert.rejects(fs.stat(`${f}.lock`), /ENOENT/);
	}
});

test('the lock: a dead owner’s lock is taken over, a live owner’s is waited for and then reported', async () => {
	const d = path.join(tmp, 'lock');
	await fs.mkdir(d);
	const f = path.join(d, READS_FILE);
	const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
	const deadPid = Number(dead.stdout.trim());
	await fs.writeFile(`${f}.lock`, JSON.stringify({ pid: deadPid, host: os.hostname(), time: Date.now() }));
	await recordReads(d, [read([...images.keys()][0], 'Ann', 'COVID')]);
	assert.equal((await readReads(d)).reads.length, 1);
	await assert.rejects(fs.stat(`${f}.lock`), /ENOENT/);
	// A live owner (this process, from another holder): the second writer waits, and gives up with a clear error.
	let release!: () => void;
	const held = withFileLock(f, () => new Promise<void>((r) => (release = r)));
	await assert.rejects(
		withFileLock(f, async () => undefined, { timeoutMs: 200 }),
		(e: unknown) => e instanceof FileLockTimeoutError && new RegExp(`by pid ${process.pid} `).test(e.message),
	);
	release();
	await held;
	assert.equal(await withFileLock(f, async () => 'after'), 'after');
});

test('import: path,reader,label[,confidence] against the dataset; every bad line is named and nothing is returned', async () => {
	const [p1, p2, p3] = [...images.keys()];
	const ok = await parseImport(`path,label,confidence\n${p1},covid,4\n./${p2},NORMAL,\n`, 'in.csv', root, images, { reader: 'Ann', time: '2026-12-08T04:00:00Z' });
	assert.deepEqual(
		ok.map((r) => [r.path, r.reader, r.label, r.confidence, r.blinded]),
		[
			[p1, 'Ann', 'COVID', 4, false],
			[p2, 'Ann', 'NORMAL', null, false],
		],
	);
	assert.match(ok[0].sha256, /^[0-9a-f]{64}$/);
	const bad = `path,reader,label,confidence\n${p1},Bob,COVID,\nNOPE/x.png,Bob,COVID,\n${p2},Bob,FLU,\n${p3},Bob,NORMAL,9\n${p1},Bob,NORMAL,\n../etc/passwd,Bob,COVID,\n`;
	await assert.rejects(parseImport(bad, 'bad.csv', root, images), (e: unknown) => {
		assert.ok(e instanceof ReadsImportError);
		assert.deepEqual(
			e.problems.map((x) => x.line),
			[3, 4, 5, 6, 7],
		);
		assert.match(e.message, /bad\.csv:3: 'NOPE\/x\.png' is not an image of the dataset/);
		assert.match(e.message, /bad\.csv:4: label 'FLU' is not a class/);
		assert.match(e.message, /bad\.csv:5: confidence '9' must be 1–5/);
		assert.match(e.message, /bad\.csv:6: duplicate read of .* by 'Bob' \(first on line 2\)/);
		return true;
	});
	await assert.rejects(parseImport(`path,label\n${p1},COVID\n`, 'nr.csv', root, images), /missing column\(s\): reader/);
});
