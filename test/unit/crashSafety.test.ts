// Crash safety on real radiographs: torn or corrupted cache entries (pixels, features, the ONNX graph) are detected
// and recomputed, and `kill -9` of the CLI during each stage of `train` never leaves a run folder that looks complete
// but is not; the next run succeeds.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { loadRun } from '../../src/engine/api';
import { loadImages, pixelCacheDir } from '../../src/engine/data/cache';
import { getBackbone } from '../../src/engine/model/backbones';
import { initBackend } from '../../src/engine/model/tf';
import { readVerifiedGraph } from '../../src/engine/runtime/onnx';
import { createExtractor, prepareBase } from '../../src/engine/train/base';
import { computeFeatures, featureCacheDir, featureFile } from '../../src/engine/train/features';
import { CLASS_NAMES, type ImageRecord } from '../../src/engine/types';
import { seal, unseal } from '../../src/engine/util/sealed';

const ROOT = path.resolve(__dirname, '../..');
const DEV = path.resolve(ROOT, '../shared/cxr/dev');
const tmp = mkdtempSync(path.join(tmpdir(), 'radreview-crash-'));
const data = path.join(tmp, 'data');

before(() => {
	if (!existsSync(path.join(ROOT, 'dist/cli.js'))) {
		const b = spawnSync('npm', ['run', 'build'], { cwd: ROOT, encoding: 'utf8' });
		assert.equal(b.status, 0, b.stderr);
	}
	for (const c of CLASS_NAMES) {
		mkdirSync(path.join(data, c), { recursive: true });
		for (const f of readdirSync(path.join(DEV, c)).sort().slice(0, 4)) copyFileSync(path.join(DEV, c, f), path.join(data, c, f));
	}
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const records = (): ImageRecord[] =>
	CLASS_NAMES.flatMap((c) =>
		readdirSync(path.join(data, c))
			.sort()
			.slice(0, 2)
			.map((f) => ({ path: path.join(data, c, f), relPath: `${c}/${f}`, label: c, patientId: f })),
	);

/** Every file below `dir` (recursively) whose name ends with `ext`. */
function filesBelow(dir: string, ext: string): string[] {
	return readdirSync(dir, { withFileTypes: true, recursive: true })
		.filter((e) => e.isFile() && e.name.endsWith(ext))
		.map((e) => path.join(e.parentPath, e.name))
		.sort();
}

function flipByte(file: string, at: number): void {
	const b = readFileSync(file);
	b[at] ^= 0x5a;
	writeFileSync(file, b);
}

test('sealed entries: a flipped bit or a short file is refused', () => {
	const payload = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]);
	const sealed = seal(payload);
	assert.deepEqual(unseal(sealed, payload.length), payload);
	const flipped = sealed.slice();
	flipped[3] ^= 1;
	assert.equal(unseal(flipped, payload.length), undefined);
	assert.equal(unseal(sealed.subarray(0, sealed.length - 1), payload.length), undefined);
	assert.equal(unseal(sealed, payload.length + 1), undefined);
});

test('pixel cache: a truncated and a bit-flipped entry are decoded again, with the same bytes as before', async () => {
	const workDir = path.join(tmp, 'px');
	const recs = records();
	const cold = await loadImages(recs, { workDir, size: 48, resize: 'stretch' });
	assert.equal(cold.decoded, recs.length);
	const entries = filesBelow(pixelCacheDir(workDir), '.rgbs');
	assert.equal(entries.length, recs.length);
	truncateSync(entries[0], 100);
	flipByte(entries[1], 500);
	const warm = await loadImages(recs, { workDir, size: 48, resize: 'stretch' });
	assert.equal(warm.decoded, 2, 'the two damaged entries were decoded again');
	assert.equal(warm.cached, recs.length - 2);
	warm.images.forEach((im, i) => assert.deepEqual(im.rgb, cold.images[i].rgb, im.record.relPath));
	const again = await loadImages(recs, { workDir, size: 48, resize: 'stretch' });
	assert.equal(again.decoded, 0, 'and written back whole');
});

test('feature cache: torn and corrupted vectors are recomputed (real VGG16 base, random weights, small input)', async () => {
	await initBackend('auto');
	const workDir = path.join(tmp, 'feat');
	const size = 64;
	const spec = getBackbone('vgg16');
	const loaded = await loadImages(records(), { workDir, size, resize: 'stretch' });
	const base = await prepareBase(spec, 'none', size, 7, { workDir });
	const key = { backbone: spec.id, weightsSha: base.info.sha256, preprocessing: spec.preprocessing, resize: 'stretch' as const, size };
	const run = () =>
		computeFeatures(loaded.images, {
			workDir,
			key,
			baseShape: spec.outputShape(size),
			extractor: async () => createExtractor(await base.build(), spec, size, 'tfjs', { cacheDir: path.join(workDir, 'cache', 'onnx'), weightsSha: base.info.sha256 }),
		});
	const first = await run();
	assert.equal(first.computed, loaded.images.length);
	const dir = featureCacheDir(workDir, key);
	const a = featureFile(dir, loaded.images[0].sha256);
	const b = featureFile(dir, loaded.images[1].sha256);
	truncateSync(a, 10);
	flipByte(b, 4);
	const second = await run();
	assert.equal(second.computed, 2, 'the two damaged vectors were computed again');
	assert.equal(second.cached, loaded.images.length - 2);
	for (let i = 0; i < first.feats.length; i++) assert.ok(Math.abs(first.feats[i] - second.feats[i]) <= 1e-5 * Math.max(1, Math.abs(first.feats[i])), `feature ${i}`);
});

test('ONNX graph cache: a graph is used only when its sha256 file matches it', () => {
	const file = path.join(tmp, 'graph.onnx');
	const bytes = new Uint8Array(4096).map((_, i) => (i * 31) % 251);
	writeFileSync(file, bytes);
	return (async () => {
		assert.equal(await readVerifiedGraph(file), undefined, 'no digest file: not trusted');
		const { createHash } = await import('node:crypto');
		writeFileSync(`${file}.sha256`, createHash('sha256').update(bytes).digest('hex') + '\n');
		assert.deepEqual(new Uint8Array((await readVerifiedGraph(file))!), bytes);
		truncateSync(file, 2048);
		assert.equal(await readVerifiedGraph(file), undefined, 'torn graph');
		writeFileSync(file, bytes);
		flipByte(file, 100);
		assert.equal(await readVerifiedGraph(file), undefined, 'altered graph');
	})();
});

/** Runs `radreview train` and kills it with SIGKILL on the first stderr line matching `at`. */
function trainAndKill(workDir: string, at: RegExp | null, epochs: number): Promise<{ killed: boolean; code: number | null; stderr: string }> {
	return new Promise((resolve) => {
		const args = ['train', '--backbone', 'vgg16', '--data', data, '--weights', 'none', '--epochs', String(epochs), '--image-size', '64', '--base-runtime', 'tfjs', '--workdir', workDir];
		const p = spawn(process.execPath, [path.join(ROOT, 'bin/radreview.js'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
		let stderr = '';
		let killed = false;
		p.stderr.on('data', (d: Buffer) => {
			stderr += d.toString();
			if (at && !killed && at.test(stderr)) {
				killed = true;
				p.kill('SIGKILL');
			}
		});
		const timer = setTimeout(() => p.kill('SIGKILL'), 240_000);
		p.on('close', (code) => {
			clearTimeout(timer);
			resolve({ killed, code, stderr });
		});
	});
}

/**
 * A folder in runs/ without the leading dot claims to be complete: then every file of it must load. Interrupted runs
 * (the next `train` recovers a killed one's folder, marked by interrupted.json) claim nothing more.
 */
async function assertNoHalfRun(workDir: string, stage: string): Promise<void> {
	const runs = path.join(workDir, 'runs');
	const visible = existsSync(runs) ? readdirSync(runs).filter((n) => !n.startsWith('.') && !existsSync(path.join(runs, n, 'interrupted.json'))) : [];
	for (const name of visible) {
		const r = await loadRun(path.join(runs, name)).catch((e: Error) => assert.fail(`after kill -9 in ${stage}: ${name} looks complete but is not: ${e.message}`));
		assert.ok(r.history.length > 0 && r.predictions.length > 0, `${stage}: ${name} is complete`);
	}
}

test('kill -9 of `radreview train` in each stage leaves no half-written run; the next run succeeds', { timeout: 20 * 60_000 }, async () => {
	const workDir = path.join(tmp, 'kill');
	const stages: [string, RegExp, number][] = [
		['decode', /\[decode\] \d+\/\d+/, 3],
		['features', /\[features\] \d+\/\d+/, 3],
		['head epochs', /epoch 1\/400\b/, 400],
		['writing the run', /\[write\] 0\/1/, 3],
	];
	for (const [stage, at, epochs] of stages) {
		const r = await trainAndKill(workDir, at, epochs);
		assert.ok(r.killed, `the CLI reached ${stage} (stderr: ${r.stderr.slice(-400)})`);
		assert.equal(r.code, null, `${stage}: killed by the signal`);
		await assertNoHalfRun(workDir, stage);
	}
	const ok = await trainAndKill(workDir, null, 2);
	assert.equal(ok.code, 0, ok.stderr.slice(-1000));
	await assertNoHalfRun(workDir, 'the run after the kills');
	const complete = readdirSync(path.join(workDir, 'runs')).filter((n) => !n.startsWith('.'));
	assert.ok(complete.length >= 1, 'the next run is complete');
});
