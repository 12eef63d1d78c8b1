// The built CLI (node bin/radreview.js, as users run it) on tiny copies of real radiographs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLASS_NAMES } from '../../src/engine/types';

const ROOT = path.resolve(__dirname, '../..');
const DEV = path.resolve(ROOT, '../shared/cxr/dev');
let tmp: string;
let data: string;

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
	const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/radreview.js'), ...args], { cwd: tmp, encoding: 'utf8', timeout: 300_000 });
	return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
	// `npm test` builds first; a lone run of this file builds if needed.
	if (!existsSync(path.join(ROOT, 'dist/cli.js'))) {
		const b = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
		assert.equal(b.status, 0, b.stderr);
	}
	tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-cli-'));
	data = path.join(tmp, 'data');
	for (const c of CLASS_NAMES) {
		await fs.mkdir(path.join(data, c), { recursive: true });
		for (const f of (await fs.readdir(path.join(DEV, c))).sort().slice(0, 4)) await fs.copyFile(path.join(DEV, c, f), path.join(data, c, f));
	}
});

after(async () => {
	if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

test('--help lists the commands; each command has its own help', () => {
	const r = cli('--help');
	assert.equal(r.code, 0);
	for (const c of ['train', 'demo', 'evaluate', 'classify', 'preprocess', 'split', 'runs', 'bench']) assert.match(r.stdout, new RegExp(`\\b${c}\\b`));
	const t = cli('train', '--help');
	assert.equal(t.code, 0);
	assert.match(t.stdout, /--backbone vgg16\|resnet50v2\|xception\|resnet50/);
	assert.match(t.stdout, /--base-runtime auto\|onnx\|tfjs/);
	const bad = cli('train', '--epochs', 'many', '--backbone', 'vgg16', '--data', data);
	assert.equal(bad.code, 1);
	assert.match(bad.stderr, /--epochs must be an integer/);
});

test('split prints per-class counts of a seeded patient split', () => {
	const r = cli('split', '--data', data, '--seed', '3');
	assert.equal(r.code, 0, r.stderr);
	assert.match(r.stdout, /12 images/);
	const rows = Object.fromEntries(
		r.stdout
			.split('\n')
			.filter((l) => /^(train|val|test)\s/.test(l))
			.map((l) => {
				const [name, total] = l.trim().split(/\s+/);
				return [name, Number(total)];
			}),
	);
	assert.equal(rows.train + rows.val + rows.test, 12);
	assert.ok(rows.test >= 3);
	assert.equal(cli('split', '--data', data, '--seed', '3').stdout, r.stdout, 'same seed, same split');
});

test('a bad file is named with its reason and does not stop the batch; a bad run folder is named', async () => {
	const bad = path.join(data, 'NORMAL', 'broken.jpeg');
	await fs.writeFile(bad, Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 4]));
	try {
		const r = cli('preprocess', '--data', data, '--image-size', '64', '--workdir', path.join(tmp, 'wd'));
		assert.equal(r.code, 0, r.stderr);
		assert.match(r.stdout, /12 images ready/);
		assert.ok(r.stdout.includes(bad) || r.stderr.includes(bad), `names ${bad}:\n${r.stdout}\n${r.stderr}`);
	} finally {
		await fs.rm(bad);
	}
	const notRun = path.join(tmp, 'not-a-run');
	await fs.mkdir(notRun);
	const e = cli('evaluate', '--run', notRun);
	assert.equal(e.code, 1);
	assert.ok(e.stderr.includes(notRun), e.stderr);
	const w = cli('train', '--backbone', 'vgg16', '--data', data, '--weights', path.join(tmp, 'missing.h5'), '--workdir', path.join(tmp, 'wd'));
	assert.equal(w.code, 1);
	assert.ok(w.stderr.includes('missing.h5'), w.stderr);
});

test('train refuses an image size too small for the backbone before any work, with the minimum', () => {
	const r = cli('train', '--backbone', 'vgg16', '--weights', 'none', '--image-size', '32', '--data', data, '--workdir', path.join(tmp, 'wd-small'), '--epochs', '1');
	assert.notEqual(r.code, 0);
	assert.match(r.stderr, /too small for VGG16.*64 or more/);
	assert.doesNotMatch(r.stdout + r.stderr, /memory access out of bounds|\[decode\]/);
});

test('train → runs → classify end to end (small input, random weights, reported as not pretrained)', () => {
	const wd = path.join(tmp, 'wd');
	const t = cli('train', '--backbone', 'vgg16', '--data', data, '--weights', 'none', '--epochs', '2', '--image-size', '64', '--base-runtime', 'tfjs', '--workdir', wd);
	assert.equal(t.code, 0, t.stderr);
	assert.match(t.stdout, /weights\s+random \(not pretrained\)/);
	assert.match(t.stdout, /backend\s+\S/);
	assert.match(t.stdout, /test accuracy/);
	assert.match(t.stdout, /confusion matrix/);
	assert.match(t.stderr, /epoch 2\/2/);
	const runDir = /run\s+(\S+)/.exec(t.stdout)![1];
	const l = cli('runs', '--workdir', wd);
	assert.equal(l.code, 0);
	assert.ok(l.stdout.includes(path.basename(runDir)));
	const out = path.join(tmp, 'pred.csv');
	const c = cli('classify', '--run', runDir, path.join(data, 'COVID'), '--out', out, '--workdir', wd);
	assert.equal(c.code, 0, c.stderr);
	assert.match(c.stdout, /classified 4 images/);
	assert.ok(existsSync(out));
});
