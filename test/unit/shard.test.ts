// Feature extraction sharded over processes (as a job array runs it): the shards' caches, shared or merged, equal
// one process's, and a killed shard resumes. Real radiographs; the built CLI as a scheduler would call it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLASS_NAMES } from '../../src/engine/types';
import { parseShard, shardRecords } from '../../src/engine/scale/shard';

const ROOT = path.resolve(__dirname, '../..');
const DEV = path.resolve(ROOT, '../shared/cxr/dev');
// Random seeded ResNet50 at 64 px: the same code path as pretrained weights, at a fraction of the cost.
const BASE_ARGS = ['--backbone', 'resnet50', '--weights', 'none', '--image-size', '64', '--seed', '7'];
let tmp: string;
let data: string;

function cliArgs(...args: string[]): string[] {
	return [path.join(ROOT, 'bin/radreview.js'), ...args];
}

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
	const r = spawnSync(process.execPath, cliArgs(...args), { cwd: tmp, encoding: 'utf8', timeout: 600_000 });
	return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function cliAsync(...args: string[]): Promise<{ code: number | null; stderr: string }> {
	return new Promise((resolve) => {
		const child = spawn(process.execPath, cliArgs(...args), { cwd: tmp, stdio: ['ignore', 'ignore', 'pipe'] });
		let stderr = '';
		child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
		child.on('close', (code) => resolve({ code, stderr }));
	});
}

/** Every entry of a work folder's feature cache: key/sha → bytes. */
async function cacheContents(workDir: string): Promise<Map<string, Buffer>> {
	const out = new Map<string, Buffer>();
	const root = path.join(workDir, 'cache', 'features');
	for (const key of await fs.readdir(root)) {
		for (const f of (await fs.readdir(path.join(root, key))).filter((n) => n.endsWith('.f32s'))) out.set(`${key}/${f}`, await fs.readFile(path.join(root, key, f)));
	}
	return out;
}

function assertSameCache(a: Map<string, Buffer>, b: Map<string, Buffer>, what: string): void {
	assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort(), `${what}: same entries`);
	for (const [k, v] of a) assert.ok(v.equals(b.get(k)!), `${what}: ${k} byte-identical`);
}

before(async () => {
	if (!existsSync(path.join(ROOT, 'dist/cli.js'))) {
		const b = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
		assert.equal(b.status, 0, b.stderr);
	}
	tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-shard-'));
	data = path.join(tmp, 'data');
	for (const c of CLASS_NAMES) {
		await fs.mkdir(path.join(data, c), { recursive: true });
		for (const f of (await fs.readdir(path.join(DEV, c))).sort().slice(10, 17)) await fs.copyFile(path.join(DEV, c, f), path.join(data, c, f));
	}
});

after(async () => {
	if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

test('shards partition the sorted file list: disjoint, complete, balanced within one image', () => {
	const records = Array.from({ length: 23 }, (_, i) => ({ relPath: `C/${String((i * 7) % 23).padStart(3, '0')}.png` }));
	const parts = [1, 2, 3, 4].map((k) => shardRecords(records, { index: k, count: 4 }));
	const all = parts.flat().map((r) => r.relPath);
	assert.equal(new Set(all).size, records.length);
	assert.deepEqual([...all].sort(), records.map((r) => r.relPath).sort());
	const sizes = parts.map((p) => p.length);
	assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `balanced: ${sizes.join(',')}`);
	// The partition depends only on the file list, not on its order.
	assert.deepEqual(shardRecords([...records].reverse(), { index: 2, count: 4 }), parts[1]);
	assert.deepEqual(parseShard('3/8'), { index: 3, count: 8 });
	for (const bad of ['0/4', '5/4', '2', 'a/b', '1/0']) assert.throws(() => parseShard(bad), /--shard/);
});

test('three concurrent shards into one cache, and three caches merged, equal one process', async () => {
	const single = path.join(tmp, 'single');
	const one = cli('features', '--data', data, '--workdir', single, ...BASE_ARGS);
	assert.equal(one.code, 0, one.stderr);
	assert.match(one.stdout, /21 images \(21 computed, 0 from cache\)/);
	const reference = await cacheContents(single);
	assert.equal(reference.size, 21);

	// One shared cache (a shared file system), three processes at once.
	const shared = path.join(tmp, 'shared');
	const runs = await Promise.all([1, 2, 3].map((k) => cliAsync('features', '--data', data, '--workdir', shared, '--shard', `${k}/3`, ...BASE_ARGS)));
	for (const r of runs) assert.equal(r.code, 0, r.stderr);
	assertSameCache(await cacheContents(shared), reference, 'shared cache');

	// Separate caches (no shared file system), merged afterwards.
	const parts = [1, 2, 3].map((k) => path.join(tmp, `part${k}`));
	for (const [i, dir] of parts.entries()) {
		const r = cli('features', '--data', data, '--workdir', dir, '--shard', `${i + 1}/3`, ...BASE_ARGS);
		assert.equal(r.code, 0, r.stderr);
		assert.match(r.stdout, new RegExp(`shard ${i + 1}/3: 7 images`));
	}
	const merged = path.join(tmp, 'merged');
	const m = cli('cache', 'merge', '--into', merged, ...parts);
	assert.equal(m.code, 0, m.stderr);
	assert.match(m.stdout, /21 entries copied, 0 already present, 0 conflicts/);
	assertSameCache(await cacheContents(merged), reference, 'merged cache');

	// Merging again copies nothing; a differing entry is a conflict, and the destination keeps its own.
	const again = cli('cache', 'merge', '--into', merged, ...parts);
	assert.match(again.stdout, /0 entries copied, 21 already present/);
	const [someKey] = [...reference.keys()];
	const victim = path.join(parts[0], 'cache', 'features', someKey);
	if (existsSync(victim)) {
		const bytes = await fs.readFile(victim);
		bytes[0] ^= 0xff;
		await fs.writeFile(victim, bytes);
		const c = cli('cache', 'merge', '--into', merged, parts[0]);
		assert.equal(c.code, 1);
		assert.match(c.stderr, /conflict \(kept the destination's\)/);
		assertSameCache(await cacheContents(merged), reference, 'merged cache after a conflict');
	}
});

test('a shard killed while computing resumes: the rerun computes only what is missing', async () => {
	const work = path.join(tmp, 'killed');
	const child = spawn(process.execPath, cliArgs('features', '--data', data, '--workdir', work, ...BASE_ARGS), { cwd: tmp, stdio: 'ignore' });
	const dirOf = async () => {
		const root = path.join(work, 'cache', 'features');
		const keys = await fs.readdir(root).catch(() => [] as string[]);
		return keys.length ? path.join(root, keys[0]) : undefined;
	};
	// Kill -9 as soon as the first batch has landed (or at the end, if the machine is fast).
	const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
	let partial = 0;
	for (let i = 0; i < 6000; i++) {
		const dir = await dirOf();
		partial = dir ? (await fs.readdir(dir)).filter((n) => n.endsWith('.f32s')).length : 0;
		if (partial > 0 || child.exitCode !== null) break;
		await new Promise((r) => setTimeout(r, 50));
	}
	child.kill('SIGKILL');
	await exited;
	const r = cli('features', '--data', data, '--workdir', work, ...BASE_ARGS);
	assert.equal(r.code, 0, r.stderr);
	const m = /21 images \((\d+) computed, (\d+) from cache\)/.exec(r.stdout);
	assert.ok(m, r.stdout);
	assert.equal(Number(m[1]) + Number(m[2]), 21);
	assert.ok(Number(m[2]) >= partial, `the rerun reused the ${partial} entries the killed shard wrote`);
	assertSameCache(await cacheContents(work), await cacheContents(path.join(tmp, 'single')), 'resumed cache');
});
