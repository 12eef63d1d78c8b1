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
import { createTfjsExtractor } from '../../src/engine/runtime/tfjsExtractor';
import { scanDataset } from '../../src/engine/data/scan';
import { loadImages } from '../../src/engine/data/cache';
import { computeFeatures } from '../../src/engine/train/features';
import { createStepper, dropoutMask, trainHead } from '../../src/engine/train/train';
import { Prng } from '../../src/engine/train/prng';
import { assembleHeadKernels, createHeadKernels } from '../../src/engine/train/headKernels';
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
	const { history, engine } = await trainHead(fast, { feats: feats.feats, labels, n: labels.length, dim: feats.dim }, undefined, {
		epochs,
		batchSize,
		learningRate: 1e-3,
		seed: 1,
		shuffle: false,
	});
	assert.equal(tf.memory().numTensors, tensorsBefore, 'the training loop leaks no tensors');
	assert.equal(engine, 'wasm', 'the fused WASM trainer ran');

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

/** Pooled VGG16 features (random seeded base, 64 px) of the real test images, with their labels. */
async function realFeatures(): Promise<{ feats: Float32Array; dim: number; labels: number[] }> {
	const size = 64;
	const scan = await scanDataset(data);
	const loaded = await loadImages(scan.images, { workDir: path.join(tmp, 'eq'), size, resize: 'stretch' });
	const labels = loaded.images.map((i) => CLASS_NAMES.indexOf(i.record.label!));
	const baseShape = getBackbone('vgg16').outputShape(size);
	let base: tf.LayersModel | undefined;
	const f = await computeFeatures(loaded.images, {
		workDir: path.join(tmp, 'eq'),
		key: { backbone: 'vgg16', weightsSha: 'random-7', preprocessing: 'caffe', resize: 'stretch', size },
		baseShape,
		extractor: async () => createTfjsExtractor((base = buildBackbone('vgg16', size, { seed: 7 })), size),
	});
	base?.dispose();
	return { feats: f.feats, dim: f.dim, labels };
}

test('the fused WASM trainer matches the plain tfjs loop step by step (real features, dropout, partial batch)', async () => {
	const { feats, dim, labels } = await realFeatures();
	// 18 training rows in batches of 5 (the last one 3), 6 validation rows.
	const nTrain = 18;
	const train = { feats: feats.subarray(0, nTrain * dim), labels: labels.slice(0, nTrain), n: nTrain, dim };
	const val = { feats: feats.subarray(nTrain * dim), labels: labels.slice(nTrain), n: labels.length - nTrain, dim };
	const baseShape = getBackbone('vgg16').outputShape(64);
	const heads = [buildHead({ baseShape, dropout: 0.2, seed: 5 }), buildHead({ baseShape, dropout: 0.2, seed: 5 })];
	const fast = createStepper(heads[0], train, val, 1e-3);
	const ref = createStepper(heads[1], train, val, 1e-3, 'tfjs');
	assert.equal(fast.engine, 'wasm');
	assert.equal(ref.engine, 'tfjs');
	const rng = new Prng(3);
	const order = Array.from({ length: nTrain }, (_, i) => i);
	let steps = 0;
	for (let epoch = 0; epoch < 3; epoch++) {
		rng.shuffle(order);
		// A lower rate in the last epoch, as ReduceLROnPlateau would set it.
		for (const s of [fast, ref]) s.setLearningRate(Math.fround(epoch === 2 ? 2e-4 : 1e-3));
		const batches = [order.slice(0, 5), order.slice(5, 10), order.slice(10, 15), order.slice(15)];
		for (let b = 0; b < batches.length; b++) {
			const rows = batches[b];
			const mask = dropoutMask(rng, rows.length * 20, 0.2);
			const next = b + 1 < batches.length ? batches[b + 1] : 'val';
			const y = rows.map((r) => labels[r]);
			const a = fast.step(rows, y, mask, next);
			const r = ref.step(rows, y, mask, next);
			steps++;
			assert.ok(Math.abs(a.loss - r.loss) < 1e-5 * Math.max(1, r.loss), `step ${steps}: loss ${a.loss} vs ${r.loss}`);
			a.probs.forEach((p, i) => assert.ok(Math.abs(p - r.probs[i]) < 1e-5, `step ${steps} prob ${i}: ${p} vs ${r.probs[i]}`));
		}
		const vf = fast.predictVal();
		const vr = ref.predictVal();
		vf.forEach((p, i) => assert.ok(Math.abs(p - vr[i]) < 1e-5, `epoch ${epoch + 1} val prob ${i}: ${p} vs ${vr[i]}`));
	}
	fast.finish();
	ref.finish();
	const wf = heads[0].model.getWeights().map((w) => w.dataSync());
	const wr = heads[1].model.getWeights().map((w) => w.dataSync());
	const w0 = buildHead({ baseShape, dropout: 0.2, seed: 5 });
	const init = w0.model.getWeights().map((w) => w.dataSync());
	for (let w = 0; w < wf.length; w++) {
		let diff = 0;
		let moved = 0;
		for (let j = 0; j < wf[w].length; j++) {
			diff = Math.max(diff, Math.abs(wf[w][j] - wr[w][j]));
			moved = Math.max(moved, Math.abs(wr[w][j] - init[w][j]));
		}
		assert.ok(moved > 1e-3, `weight ${w} moved (${moved})`);
		assert.ok(diff < 1e-5, `weight ${w}: max |Δ| ${diff} after ${steps} steps`);
	}
	// The saved full head classifies with the trained values.
	const probs = predictPooled(heads[0], val.feats, val.n);
	const vr = ref.predictVal();
	probs.forEach((p, i) => assert.ok(Math.abs(p - vr[i]) < 1e-5));
	for (const h of [...heads, w0]) h.model.dispose();
});

test('the WASM kernels compute the forward sums and apply Adam exactly as float32 arithmetic does', async () => {
	const { feats, dim } = await realFeatures();
	const U = 20;
	const m = 5; // odd: the two-rows-at-a-time loop plus the one-row tail
	assert.ok(WebAssembly.validate(assembleHeadKernels(U)));
	assert.throws(() => assembleHeadKernels(6), /multiple of 4/);
	const k = createHeadKernels(U, (feats.length + 4 * dim * U + 4096) * 4)!;
	const f = new Float32Array(k.memory.buffer);
	const i32 = new Int32Array(k.memory.buffer);
	const X = 0;
	const W = feats.length;
	const M1 = W + dim * U;
	const M2 = M1 + dim * U;
	const OUT = M2 + dim * U;
	const ROWS = OUT + m * U;
	const DH = ROWS + m;
	const SC = DH + m * U;
	f.set(feats, X);
	const prng = new Prng(9);
	for (let j = 0; j < dim * U; j++) {
		f[W + j] = prng.next() - 0.5;
		f[M1 + j] = (prng.next() - 0.5) * 1e-3;
		f[M2 + j] = prng.next() * 1e-6;
	}
	for (let j = 0; j < m * U; j++) f[DH + j] = prng.next() < 0.3 ? 0 : prng.next() - 0.5;
	const rows = [5, 0, 17, 9, 12];
	rows.forEach((r, i) => (i32[ROWS + i] = (X + r * dim) * 4));
	f.fill(0, OUT, OUT + m * U);
	// Odd block lengths: the kernel-row pairs plus a single tail row.
	k.fwd(ROWS * 4, m, 0, 101, W * 4, OUT * 4);
	k.fwd(ROWS * 4, m, 101, dim, W * 4, OUT * 4);
	for (let i = 0; i < m; i++) {
		for (let u = 0; u < U; u++) {
			let s = 0;
			let scale = 0;
			for (let q = 0; q < dim; q++) {
				s += feats[rows[i] * dim + q] * f[W + q * U + u];
				scale += Math.abs(feats[rows[i] * dim + q] * f[W + q * U + u]);
			}
			assert.ok(Math.abs(s - f[OUT + i * U + u]) <= 1e-6 * scale, `fwd ${i},${u}: ${f[OUT + i * U + u]} vs ${s}`);
		}
	}
	const fr = Math.fround;
	const sc = [0.9, 1 - 0.9, 0.999, 1 - 0.999, 1 - 0.9 ** 4, 1 - 0.999 ** 4, 1e-7, -1e-3].map(fr);
	f.set(sc, SC);
	const w0 = f.slice(W, W + dim * U);
	const m10 = f.slice(M1, M1 + dim * U);
	const m20 = f.slice(M2, M2 + dim * U);
	k.gradAdam(ROWS * 4, m, 0, 101, DH * 4, W * 4, M1 * 4, M2 * 4, SC * 4);
	k.gradAdam(ROWS * 4, m, 101, dim, DH * 4, W * 4, M1 * 4, M2 * 4, SC * 4);
	let changed = 0;
	for (let q = 0; q < dim; q++) {
		for (let u = 0; u < U; u++) {
			let g = 0;
			for (let i = 0; i < m; i++) g = fr(g + fr(feats[rows[i] * dim + q] * f[DH + i * U + u]));
			const j = q * U + u;
			const mn = fr(fr(m10[j] * sc[0]) + fr(g * sc[1]));
			const vn = fr(fr(m20[j] * sc[2]) + fr(fr(g * g) * sc[3]));
			const wn = fr(fr(fr(fr(mn / sc[4]) / fr(fr(Math.sqrt(fr(vn / sc[5]))) + sc[6])) * sc[7]) + w0[j]);
			assert.equal(f[M1 + j], mn, `m at ${j}`);
			assert.equal(f[M2 + j], vn, `v at ${j}`);
			assert.equal(f[W + j], wn, `w at ${j}`);
			if (wn !== w0[j]) changed++;
		}
	}
	assert.ok(changed > dim, 'the update changed the kernel');
});

test('ReduceLROnPlateau follows Keras: min_delta, patience, cooldown counter, min_lr floor', () => {
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

// 64 px: these runs test determinism, caching, cancel and reload, not the image size (the default 237 cost 13× the work).
function config(workDir: string, over: Partial<TrainConfig> = {}): TrainConfig {
	return { ...DEFAULT_TRAIN_CONFIG, backbone: 'vgg16', dataDir: data, workDir, weights: 'none', epochs: 4, imageSize: 64, baseRuntime: 'tfjs', ...over };
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
	// Which head trainer ran is recorded and shown; on this machine it must be the fused one (no silent fallback).
	assert.equal(ra.extra.metrics.headTrainer, 'fused WASM', 'the fused WASM head trainer ran (metrics.json)');
	assert.match(a.backend, /head on fused WASM/);
	assert.ok(!events.some((e) => e.kind === 'log' && /Head trainer: the tfjs loop/.test(e.message)), 'no fallback warning');
	const strip = (h: typeof ra.history) => h.map(({ seconds: _s, ...rest }) => rest);
	assert.deepEqual(strip(rb.history), strip(ra.history));
	assert.deepEqual(b.metrics, a.metrics);
	assert.deepEqual(
		rb.predictions.map((p) => p.probs),
		ra.predictions.map((p) => p.probs),
	);
	assert.equal(rb.extra.metrics.baseRuntime, 'feature cache');
	assert.ok(events.some((e) => e.kind === 'stage' && e.stage === 'features' && e.message === 'all cached'));
	assert.equal(ra.history.length, 4);
	const files = (await fs.readdir(a.runDir)).sort();
	assert.deepEqual(files, ['config.json', 'history.json', 'metrics.json', 'model.json', 'ood.bin', 'ood.json', 'predictions.csv', 'splits.json', 'weights.bin', 'weights.json']);
	assert.equal(ra.extra.weights.sha256, 'random-40');
	assert.match(ra.extra.metrics.backend, /\S/);
	assert.equal((await listRuns(workDir)).length, 2);
	// A different seed gives a different split / initialisation, hence different numbers.
	const c = await trainRun(config(workDir, { seed: 41 }));
	assert.notDeepEqual(
		(await loadRun(c.runDir)).history.map((h) => h.loss),
		ra.history.map((h) => h.loss),
	);
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
	assert.match(csv.split('\n')[0], /^relPath,path,label,predicted,p_COVID,p_NORMAL,p_PNEUMONIA,correct,split,source,patient_id,outOfDistribution,ood_score,ood_reasons$/);
});
