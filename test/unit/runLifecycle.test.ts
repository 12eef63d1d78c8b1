// Issue 8 (host and training defects), engine side, on real radiographs (4 per class from ../shared/cxr/dev),
// VGG16 with seeded random weights at 64 px: weights known before the scan, stop-and-keep, restoring the
// best-validation-loss weights, interrupted runs from stale `.partial` folders, the cheap weights check and
// the backend probe.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLASS_NAMES, DEFAULT_TRAIN_CONFIG, type ProgressEvent, type TrainConfig } from '../../src/engine/types';
import { initBackend, probeBackends, shutdownBackend } from '../../src/engine/model/tf';
import { buildBackbone, getBackbone } from '../../src/engine/model/backbones';
import { buildHead, predictPooled } from '../../src/engine/model/head';
import { createTfjsExtractor } from '../../src/engine/runtime/tfjsExtractor';
import { scanDataset } from '../../src/engine/data/scan';
import { loadImages } from '../../src/engine/data/cache';
import { computeFeatures } from '../../src/engine/train/features';
import { trainHead } from '../../src/engine/train/train';
import { lossAndAccuracy } from '../../src/engine/infer/metrics';
import { trainRun } from '../../src/engine/api';
import { beginRun, listInterruptedRuns, listRuns, recoverPartialRuns, RUN_FILES } from '../../src/engine/run/runDir';
import { weightsStatus } from '../../src/engine/weights/status';
import { NPM_RESNET50 } from '../../src/engine/weights/npmWeights';

const DEV = path.resolve(__dirname, '../../../shared/cxr/dev');
const PER_CLASS = 4;
let tmp: string;
let data: string;

before(async () => {
	await initBackend();
	tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-lifecycle-'));
	data = path.join(tmp, 'data');
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

function config(over: Partial<TrainConfig> = {}): TrainConfig {
	return { ...DEFAULT_TRAIN_CONFIG, backbone: 'vgg16', dataDir: data, workDir: path.join(tmp, 'wd'), weights: 'none', epochs: 3, imageSize: 64, batchSize: 4, baseRuntime: 'tfjs', ...over };
}

test('item 5: the weights are reported (a weights event) before the dataset is scanned', async () => {
	const events: ProgressEvent[] = [];
	const run = await trainRun(config(), { onProgress: (e) => events.push(e) });
	const w = events.findIndex((e) => e.kind === 'weights');
	const scan = events.findIndex((e) => e.kind === 'stage' && e.stage === 'scan');
	assert.ok(w >= 0, 'a weights event');
	assert.ok(scan < 0 || w < scan, `weights event (#${w}) before the scan (#${scan})`);
	const ev = events[w] as Extract<ProgressEvent, { kind: 'weights' }>;
	assert.deepEqual(ev.weights, run.weights);
	assert.equal(ev.weights.pretrained, false);
});

test('item 10: stop and keep ends after the current epoch, then evaluates and saves the run', async () => {
	const stop = new AbortController();
	const r = await trainRun(config({ epochs: 200 }), {
		stopSignal: stop.signal,
		onProgress: (e) => {
			if (e.kind === 'epoch' && e.log.epoch === 2) stop.abort();
		},
	});
	const history = JSON.parse(await fs.readFile(path.join(r.runDir, RUN_FILES.history), 'utf8')) as unknown[];
	assert.equal(history.length, 2);
	const metrics = JSON.parse(await fs.readFile(path.join(r.runDir, RUN_FILES.metrics), 'utf8')) as { stoppedAt?: number; accuracy: number };
	assert.equal(metrics.stoppedAt, 2);
	assert.ok(metrics.accuracy >= 0 && metrics.accuracy <= 1);
	for (const f of [RUN_FILES.model, RUN_FILES.predictions]) await fs.access(path.join(r.runDir, f));
});

test('item 10: restoreBestWeights leaves the head with the lowest-val_loss epoch (Keras restore_best_weights) and is recorded', async () => {
	const size = 64;
	const scan = await scanDataset(data);
	const loaded = await loadImages(scan.images, { workDir: path.join(tmp, 'wd'), size, resize: 'stretch' });
	const labels = loaded.images.map((i) => CLASS_NAMES.indexOf(i.record.label!));
	const f = await computeFeatures(loaded.images, {
		workDir: path.join(tmp, 'wd'),
		key: { backbone: 'vgg16', weightsSha: 'random-9', preprocessing: 'caffe', resize: 'stretch', size },
		baseShape: getBackbone('vgg16').outputShape(size),
		extractor: async () => createTfjsExtractor(buildBackbone('vgg16', size, { seed: 9 }), size),
	});
	// Every other image validates: a tiny set with a large rate overfits, so the best val_loss is not the last.
	const rows = (odd: number) => labels.map((_, i) => i).filter((i) => i % 2 === odd);
	const set = (r: number[]) => {
		const feats = new Float32Array(r.length * f.dim);
		r.forEach((row, j) => feats.set(f.feats.subarray(row * f.dim, (row + 1) * f.dim), j * f.dim));
		return { feats, labels: r.map((i) => labels[i]), n: r.length, dim: f.dim };
	};
	const train = set(rows(0));
	const val = set(rows(1));
	for (const restore of [false, true]) {
		const head = buildHead({ baseShape: getBackbone('vgg16').outputShape(size), dropout: 0.2, seed: 3 });
		try {
			const r = await trainHead(head, train, val, { epochs: 40, batchSize: 4, learningRate: 0.05, seed: 3, restoreBestWeights: restore });
			const losses = r.history.map((h) => h.val_loss);
			const bestEpoch = losses.indexOf(Math.min(...losses)) + 1;
			assert.notEqual(bestEpoch, r.history.length, 'premise: the last epoch is not the best');
			const now = lossAndAccuracy(predictPooled(head, val.feats, val.n), val.labels).loss;
			if (restore) {
				assert.equal(r.restoredEpoch, bestEpoch);
				assert.ok(Math.abs(now - losses[bestEpoch - 1]) < 1e-4, `val loss now ${now}, best ${losses[bestEpoch - 1]}`);
			} else {
				assert.equal(r.restoredEpoch, undefined);
				assert.ok(Math.abs(now - losses[losses.length - 1]) < 1e-4, `val loss now ${now}, last ${losses.at(-1)}`);
			}
		} finally {
			head.model.dispose();
		}
	}
	const run = await trainRun(config({ epochs: 4, restoreBestWeights: true }));
	const cfg = JSON.parse(await fs.readFile(path.join(run.runDir, RUN_FILES.config), 'utf8')) as TrainConfig;
	assert.equal(cfg.restoreBestWeights, true);
});

/** A pid that surely belongs to no process any more. */
function deadPid(): number {
	const r = spawnSync(process.execPath, ['-e', '0']);
	return r.pid!;
}

test('item 6: a stale .partial with epochs becomes an interrupted run, an empty one is removed, a live one stays', async () => {
	const wd = path.join(tmp, 'recover');
	const history = [1, 2, 3].map((epoch) => ({ epoch, loss: 1 / epoch, acc: 0.3, val_loss: 1.1, val_acc: 0.3, lr: 0.001, seconds: 0.1 }));
	const make = async (backbone: 'vgg16' | 'resnet50', pid: number, epochs: number, when: Date): Promise<string> => {
		const run = await beginRun(wd, backbone, when);
		await fs.writeFile(path.join(run.partialDir, RUN_FILES.owner), JSON.stringify({ pid, hostname: os.hostname(), startedAt: when.toISOString() }));
		await fs.writeFile(path.join(run.partialDir, RUN_FILES.config), JSON.stringify(config({ backbone, epochs: 80, workDir: wd })));
		if (epochs) await fs.writeFile(path.join(run.partialDir, RUN_FILES.history), JSON.stringify(history.slice(0, epochs)));
		return run.partialDir;
	};
	// Another window training into the same workspace: a live process that is not us.
	const other = spawn('sleep', ['60']);
	try {
		const stale = await make('vgg16', deadPid(), 3, new Date('2026-01-01T10:00:00Z'));
		const empty = await make('vgg16', deadPid(), 0, new Date('2026-01-01T11:00:00Z'));
		const ours = await make('resnet50', process.pid, 2, new Date('2026-01-01T12:00:00Z'));
		const theirs = await make('resnet50', other.pid!, 2, new Date('2026-01-01T13:00:00Z'));
		const r = await recoverPartialRuns(wd);
		assert.deepEqual(r.removed, [empty]);
		assert.deepEqual(r.live.sort(), [ours, theirs].sort());
		assert.equal(r.interrupted.length, 1);
		assert.equal(path.basename(r.interrupted[0]), '20260101-100000-vgg16');
		await assert.rejects(fs.access(stale));
		await fs.access(ours);
		await fs.access(theirs);
		const listed = await listInterruptedRuns(wd);
		assert.equal(listed.length, 1);
		assert.equal(listed[0].backbone, 'vgg16');
		assert.equal(listed[0].history.length, 3);
		assert.equal(listed[0].plannedEpochs, 80);
		// Not a complete run: the runs list (and everything reading models) ignores it.
		assert.deepEqual(await listRuns(wd), []);
		// A second pass changes nothing.
		const again = await recoverPartialRuns(wd);
		assert.deepEqual([again.interrupted, again.removed], [[], []]);
	} finally {
		other.kill();
	}
});

test('item 6: a running training checkpoints its history into the partial folder, owned by this process', async () => {
	const cancel = new AbortController();
	let partial: string | undefined;
	const wd = path.join(tmp, 'wd');
	// Within the epochs limit (1000): 10 ms per epoch keeps the run going long enough to read its checkpoint.
	const pause = new Int32Array(new SharedArrayBuffer(4));
	const p = trainRun(config({ epochs: 1000 }), {
		signal: cancel.signal,
		onProgress: (e) => {
			if (e.kind === 'epoch') Atomics.wait(pause, 0, 0, 10);
			if (e.kind === 'epoch' && e.log.epoch === 1) void fs.readdir(path.join(wd, 'runs')).then((n) => (partial = n.find((x) => x.endsWith('.partial'))));
		},
	});
	const deadline = Date.now() + 60_000;
	let saved: unknown[] = [];
	while (Date.now() < deadline) {
		await new Promise((r) => setTimeout(r, 200));
		if (!partial) continue;
		try {
			saved = JSON.parse(await fs.readFile(path.join(wd, 'runs', partial, RUN_FILES.history), 'utf8')) as unknown[];
		} catch {
			continue;
		}
		if (saved.length > 0) break;
	}
	const owner = partial ? (JSON.parse(await fs.readFile(path.join(wd, 'runs', partial, RUN_FILES.owner), 'utf8')) as { pid: number }) : undefined;
	cancel.abort();
	await assert.rejects(p);
	assert.ok(saved.length > 0, 'history.json checkpoint in the partial folder');
	assert.equal(owner?.pid, process.pid);
});

test('items 1–2: the weights check finds what resolves without a download, and says why and how to fix the rest', async () => {
	const keras = path.join(tmp, 'keras-home');
	const home = path.join(tmp, 'weights-home');
	const npmModel = path.join(home, `${NPM_RESNET50.name}-${NPM_RESNET50.version}`, NPM_RESNET50.modelDir);
	await fs.mkdir(npmModel, { recursive: true });
	await fs.writeFile(path.join(npmModel, 'model.json'), '{}');
	const missing = path.join(tmp, 'nope.h5');
	const st = await weightsStatus({ vgg16: 'auto', resnet50v2: 'none', xception: missing, resnet50: 'auto' }, { kerasHome: keras, weightsHome: home });
	const by = Object.fromEntries(st.map((s) => [s.backbone, s]));
	assert.equal(by.vgg16.available, false);
	assert.equal(by.vgg16.downloadable, true);
	assert.match(by.vgg16.reason ?? '', /no ImageNet weights for VGG16/);
	assert.match(by.vgg16.fix ?? '', /\.h5/);
	assert.equal(by.vgg16.kerasPath, path.join(keras, 'models', getBackbone('vgg16').keras!.fileName));
	assert.equal(by.resnet50v2.available, true);
	assert.equal(by.resnet50v2.pretrained, false);
	assert.equal(by.xception.available, false);
	assert.equal(by.xception.downloadable, false);
	assert.match(by.xception.reason ?? '', /nope\.h5/);
	assert.equal(by.resnet50.available, true);
	assert.equal(by.resnet50.pretrained, true);
});

test('item 15: the backend probe says which native packages are missing and why, without starting them', () => {
	const none = (id: string): string => {
		throw new Error(`Cannot find module '${id}'`);
	};
	const r = probeBackends(none);
	assert.deepEqual(
		r.map((b) => [b.name, b.installed]),
		[
			['tensorflow-gpu', false],
			['tensorflow', false],
			['wasm', false],
			['cpu', true],
		],
	);
	assert.match(r[0].reason ?? '', /@tensorflow\/tfjs-node-gpu is not installed/);
	assert.match(r[1].reason ?? '', /@tensorflow\/tfjs-node is not installed/);
	const real = probeBackends();
	assert.equal(real.find((b) => b.name === 'wasm')?.installed, true, 'the WASM backend is a dependency');
	for (const b of real) assert.ok(b.installed || (b.reason && b.reason.length > 10), `${b.name}: a reason when not installed`);
});

test('item 10: the CLI flag --restore-best-weights is recorded in the run config.json', async () => {
	const wd = path.join(tmp, 'cli-wd');
	const r = spawnSync(
		process.execPath,
		[
			path.join(__dirname, '../../bin/radreview.js'),
			'train',
			'--backbone',
			'vgg16',
			'--data',
			data,
			'--weights',
			'none',
			'--epochs',
			'3',
			'--image-size',
			'64',
			'--base-runtime',
			'tfjs',
			'--workdir',
			wd,
			'--restore-best-weights',
		],
		{ encoding: 'utf8', timeout: 300_000 },
	);
	assert.equal(r.status, 0, r.stderr);
	const runs = (await fs.readdir(path.join(wd, 'runs'))).filter((n) => !n.startsWith('.'));
	assert.equal(runs.length, 1);
	const cfg = JSON.parse(await fs.readFile(path.join(wd, 'runs', runs[0], RUN_FILES.config), 'utf8')) as TrainConfig;
	assert.equal(cfg.restoreBestWeights, true);
});
