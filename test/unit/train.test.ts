// Training core on real radiographs (8 per class from ../shared/cxr/dev), VGG16 with seeded random weights.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLASS_NAMES, DEFAULT_TRAIN_CONFIG, type ProgressEvent, type TrainConfig } from '../../src/engine/types';
import { initBackend, shutdownBackend, tf } from '../../src/engine/model/tf';
import { buildBackbone, getBackbone } from '../../src/engine/model/backbones';
import { buildHead, createOptimizer, headParamCount, predictPooled } from '../../src/engine/model/head';
import { createTfjsExtractor } from '../../src/engine/model/tfjsExtractor';
import { scanDataset } from '../../src/engine/data/scan';
import { loadImages } from '../../src/engine/data/cache';
import { computeFeatures } from '../../src/engine/train/features';
import { trainHead } from '../../src/engine/train/train';
import { ReduceLrOnPlateau } from '../../src/engine/train/reduceLr';
import { classifyFolder, listRuns, loadRun, trainRun } from '../../src/engine/api';
import { CancelledError, isCancelled } from '../../src/engine/util/cancel';

const DEV = path.resolve(__dirname, '../../../shared/cxr/dev');
const PER_CLASS = 8;
let tmp: string;
let data: string;

before(async () => {
	await initBackend();
	tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-train-'));
	data = path.join(tmp, 'data');
	// A small real subset: the first files of each class folder (copied: the dataset is read-only).
	for (const c of CLASS_NAMES) {
		await fs.mkdir(path.join(data, c), { recursive: true });
		const files = (await fs.readdir(path.join(DEV, c))).sort().slice(0, PER_CLASS);
		for (const f of files) await fs.copyFile(path.join(DEV, c, f), path.join(data, c, f));
	}
});

after(async () => {
	shutdownBackend();
	if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

test('head parameter counts match Keras at 237', () => {
	assert.equal(headParamCount(getBackbone('vgg16').outputShape(237)), 92_243);
	assert.equal(headParamCount(getBackbone('resnet50v2').outputShape(237)), 655_443);
	assert.equal(headParamCount(getBackbone('xception').outputShape(237)), 655_443);
	const head = buildHead({ baseShape: [7, 7, 512], dropout: 0.2, seed: 1 });
	assert.equal(head.model.countParams(), 92_243);
	head.model.dispose();
});

test('training on cached pooled features equals fitting the frozen base + head end to end', async () => {
	const size = 64;
	const scan = await scanDataset(data);
	const loaded = await loadImages(scan.images, { workDir: path.join(tmp, 'eq'), size, resize: 'stretch' });
	assert.equal(loaded.images.length, 3 * PER_CLASS);
	const labels = loaded.images.map((i) => CLASS_NAMES.indexOf(i.record.label!));
	const base = buildBackbone('vgg16', size, { seed: 7 });
	const baseShape = getBackbone('vgg16').outputShape(size);
	const feats = await computeFeatures(loaded.images, {
		workDir: path.join(tmp, 'eq'),
		key: { backbone: 'vgg16', weightsSha: 'random-7', preprocessing: 'caffe', resize: 'stretch', size },
		baseShape,
		extractor: async () => createTfjsExtractor(base, size),
	});
	assert.equal(feats.computed, loaded.images.length);
	const epochs = 3;
	const batchSize = 6;

	// Fast path: dropout off, fixed order.
	const fast = buildHead({ baseShape, dropout: 0, seed: 11 });
	const tensorsBefore = tf.memory().numTensors;
	const { history } = await trainHead(fast, { feats: feats.feats, labels, n: labels.length, dim: feats.dim }, undefined, {
		epochs,
		batchSize,
		learningRate: 1e-3,
		seed: 1,
		shuffle: false,
	});
	assert.equal(tf.memory().numTensors, tensorsBefore, 'the training loop leaks no tensors');

	// Reference: one tf.model, base frozen, same initial head weights, fit without shuffling.
	const ref = buildHead({ baseShape, dropout: 0, seed: 11 });
	base.trainable = false;
	const full = tf.model({ inputs: base.inputs, outputs: ref.model.apply(base.outputs[0]) as tf.SymbolicTensor });
	full.compile({ optimizer: createOptimizer(1e-3), loss: 'categoricalCrossentropy', metrics: ['acc'] });
	const { normalise } = await import('../../src/engine/data/preprocess');
	const px = size * size * 3;
	const xs = new Float32Array(labels.length * px);
	loaded.images.forEach((im, i) => normalise(im.rgb, 'caffe', xs, i * px));
	const x = tf.tensor4d(xs, [labels.length, size, size, 3]);
	const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 3);
	const fit = await full.fit(x, y, { epochs, batchSize, shuffle: false, verbose: 0 });
	// The saved form (full head on the unpooled base output) predicts what the fast path predicts.
	const viaFull = tf.tidy(() => (fast.model.predict(base.predict(x.slice(0, 4)) as tf.Tensor) as tf.Tensor).dataSync());
	const viaFast = predictPooled(fast, feats.feats.subarray(0, 4 * feats.dim), 4);
	viaFull.forEach((v, i) => assert.ok(Math.abs(v - viaFast[i]) < 1e-6, `prob ${i}: ${v} vs ${viaFast[i]}`));
	x.dispose();
	y.dispose();

	const refLoss = fit.history.loss as number[];
	const refAcc = fit.history.acc as number[];
	for (let e = 0; e < epochs; e++) {
		assert.ok(Math.abs(history[e].loss - refLoss[e]) < 1e-4 * Math.max(1, refLoss[e]), `epoch ${e + 1} loss ${history[e].loss} vs ${refLoss[e]}`);
		assert.ok(Math.abs(history[e].acc - refAcc[e]) < 1e-6, `epoch ${e + 1} acc ${history[e].acc} vs ${refAcc[e]}`);
	}
	// The weights moved, and moved the same way.
	const a = fast.model.getWeights().map((w) => w.dataSync());
	const b = ref.model.getWeights().map((w) => w.dataSync());
	const init = buildHead({ baseShape, dropout: 0, seed: 11 });
	const i0 = init.model.getWeights()[0].dataSync();
	let moved = 0;
	for (let j = 0; j < i0.length; j++) moved = Math.max(moved, Math.abs(a[0][j] - i0[j]));
	assert.ok(moved > 1e-5, 'training changed the first kernel');
	for (let w = 0; w < a.length; w++) {
		let maxDiff = 0;
		for (let j = 0; j < a[w].length; j++) maxDiff = Math.max(maxDiff, Math.abs(a[w][j] - b[w][j]));
		assert.ok(maxDiff < 1e-4, `weight ${w}: max |Δ| ${maxDiff}`);
	}
	for (const m of [fast.model, full, init.model]) m.dispose();
});

test("ReduceLROnPlateau follows Keras: min_delta, patience, cooldown counter, min_lr floor", () => {
	const cb = new ReduceLrOnPlateau({ factor: 0.5, patience: 2, cooldown: 1, minLr: 0.1 });
	// Worked through keras.callbacks.ReduceLROnPlateau.on_epoch_end by hand; 0.89995 is within min_delta of 0.9.
	const losses = [1.0, 0.9, 0.9, 0.9, 0.9, 0.9, 0.89995, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6];
	const expected = [1, 1, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.125, 0.125, 0.1, 0.1, 0.1].map(Math.fround);
	let lr = 1;
	const used: number[] = [];
	for (const l of losses) {
		used.push(lr);
		lr = cb.onEpochEnd(l, lr);
	}
	assert.deepEqual(used, expected);
});

function config(workDir: string, over: Partial<TrainConfig> = {}): TrainConfig {
	return { ...DEFAULT_TRAIN_CONFIG, backbone: 'vgg16', dataDir: data, workDir, weights: 'none', epochs: 4, baseRuntime: 'tfjs', ...over };
}

test('same seed → identical history and metrics; the second run reuses the feature cache', async () => {
	const workDir = path.join(tmp, 'det');
	const events: ProgressEvent[] = [];
	const a = await trainRun(config(workDir));
	const b = await trainRun(config(workDir), { onProgress: (e) => events.push(e) });
	assert.notEqual(a.runDir, b.runDir);
	assert.equal(a.weights.pretrained, false);
	assert.match(a.weights.name, /not pretrained/);
	const ra = await loadRun(a.runDir);
	const rb = await loadRun(b.runDir);
	const strip = (h: typeof ra.history) => h.map(({ seconds: _s, ...rest }) => rest);
	assert.deepEqual(strip(rb.history), strip(ra.history));
	assert.deepEqual(b.metrics, a.metrics);
	assert.deepEqual(rb.predictions.map((p) => p.probs), ra.predictions.map((p) => p.probs));
	assert.equal(rb.extra.metrics.baseRuntime, 'feature cache');
	assert.ok(events.some((e) => e.kind === 'stage' && e.stage === 'features' && e.message === 'all cached'));
	assert.equal(ra.history.length, 4);
	const files = (await fs.readdir(a.runDir)).sort();
	assert.deepEqual(files, ['config.json', 'history.json', 'metrics.json', 'model.json', 'predictions.csv', 'splits.json', 'weights.bin', 'weights.json']);
	assert.equal(ra.extra.weights.sha256, 'random-40');
	assert.match(ra.extra.metrics.backend, /\S/);
	assert.equal((await listRuns(workDir)).length, 2);
	// A different seed gives a different split / initialisation, hence different numbers.
	const c = await trainRun(config(workDir, { seed: 41 }));
	assert.notDeepEqual((await loadRun(c.runDir)).history.map((h) => h.loss), ra.history.map((h) => h.loss));
});

test('cancelling after the first epoch rejects with CancelledError and leaves no run folder', async () => {
	const workDir = path.join(tmp, 'det'); // warm caches: gets to training quickly
	const before = new Set(await fs.readdir(path.join(workDir, 'runs')));
	const controller = new AbortController();
	await assert.rejects(
		trainRun(config(workDir, { epochs: 20 }), {
			signal: controller.signal,
			onProgress: (e) => {
				if (e.kind === 'epoch') controller.abort();
			},
		}),
		(e) => isCancelled(e) && e instanceof CancelledError,
	);
	const afterNames = await fs.readdir(path.join(workDir, 'runs'));
	const added = afterNames.filter((n) => !before.has(n));
	assert.deepEqual(added, [], `left behind: ${added.join(', ')}`);
	for (const n of afterNames) {
		const runs = await fs.readdir(path.join(workDir, 'runs', n));
		assert.ok(runs.includes('metrics.json'), `${n} looks incomplete`);
	}
});

test('a saved run classifies its own test images to the stored predictions (fresh caches)', async () => {
	const run = await trainRun(config(path.join(tmp, 'det'), { epochs: 3 })); // warm caches for training
	const view = await loadRun(run.runDir);
	const testPreds = view.predictions.filter((p) => p.split === 'test');
	assert.ok(testPreds.length >= 3);
	// The test images, in class folders, classified with a new work folder: pixels and features are recomputed
	// (the random base is rebuilt from its seed), the head is loaded from model.json + weights.bin.
	const folder = path.join(tmp, 'rt-test');
	for (const p of testPreds) {
		await fs.mkdir(path.join(folder, p.label!), { recursive: true });
		await fs.copyFile(p.path, path.join(folder, p.label!, path.basename(p.path)));
	}
	const out = path.join(tmp, 'rt-out', 'pred.csv');
	const r = await classifyFolder(run.runDir, folder, { workDir: path.join(tmp, 'rt-fresh'), outCsv: out });
	assert.equal(r.csvPath, out);
	assert.equal(r.predictions.length, testPreds.length);
	const byName = new Map(testPreds.map((p) => [path.basename(p.path), p]));
	for (const p of r.predictions) {
		const stored = byName.get(path.basename(p.path))!;
		assert.equal(p.predicted, stored.predicted, p.relPath);
		p.probs.forEach((v, i) => assert.ok(Math.abs(v - stored.probs[i]) < 1e-5, `${p.relPath} p${i}: ${v} vs ${stored.probs[i]}`));
	}
	assert.ok(r.metrics);
	assert.deepEqual(r.metrics!.confusion, run.metrics.confusion);
	assert.ok(Math.abs(r.metrics!.loss - run.metrics.loss) < 1e-5);
	const csv = await fs.readFile(out, 'utf8');
	assert.match(csv.split('\n')[0], /^relPath,path,label,predicted,p_COVID,p_NORMAL,p_PNEUMONIA,correct,split$/);
});
