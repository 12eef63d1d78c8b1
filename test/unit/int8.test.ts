// The int8 base on real radiographs with the real ImageNet ResNet50 (npm weights): its pooled features stay close
// to fp32, ONNX Runtime really runs integer kernels on it, a run records and reuses its calibration, and the
// statistics it reports are right. Correctness only: speed is the bench's job.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { initBackend, shutdownBackend, type LayersModel } from '../../src/engine/model/tf';
import { getBackbone } from '../../src/engine/model/backbones/index';
import { prepareBase } from '../../src/engine/train/base';
import { buildOnnxModel } from '../../src/engine/runtime/onnxGraph';
import { encodeModel } from '../../src/engine/runtime/onnxProto';
import { buildInt8, int8FromRanges, type CalibrationImage } from '../../src/engine/runtime/int8';
import { loadOrt } from '../../src/engine/runtime/onnx';
import { normalise } from '../../src/engine/data/preprocess';
import { poolFeatures } from '../../src/engine/model/head';
import { int8Fidelity, planCalibration } from '../../src/engine/train/int8Base';
import { classifyFolder, trainRun } from '../../src/engine/api';
import { DEFAULT_TRAIN_CONFIG } from '../../src/engine/types';

const DEV = path.resolve(__dirname, '../../../shared/cxr/dev');
const SIZE = 237;
const spec = getBackbone('resnet50');
let tmp: string;
let model: LayersModel;
let images: CalibrationImage[];

async function devFiles(perClass: number, offset: number): Promise<string[]> {
	const out: string[] = [];
	for (const c of ['COVID', 'NORMAL', 'PNEUMONIA']) for (const f of (await fs.readdir(path.join(DEV, c))).sort().slice(offset, offset + perClass)) out.push(path.join(DEV, c, f));
	return out;
}

before(async () => {
	await initBackend();
	tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-int8-'));
	const base = await prepareBase(spec, 'auto', SIZE, 1, { workDir: path.join(tmp, 'work') });
	assert.ok(base.info.pretrained, 'the ImageNet ResNet50 from the npm registry');
	model = await base.build();
	images = [];
	for (const f of await devFiles(6, 30)) {
		const rgb = new Uint8Array(await sharp(f).removeAlpha().toColourspace('srgb').resize(SIZE, SIZE, { fit: 'fill' }).raw().toBuffer());
		images.push({ sha256: path.basename(f), x: normalise(rgb, spec.preprocessing) });
	}
});

after(async () => {
	model?.dispose();
	shutdownBackend();
	if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

test('int8 ResNet50 keeps its pooled features on real radiographs, and ONNX Runtime runs it on integer kernels', async () => {
	const ort = loadOrt();
	const def = buildOnnxModel(model).def;
	// Calibrate on 4 images of each class, check on the other 2 of each (calibration sets mix classes in use too).
	const calib = images.filter((_, i) => i % 6 < 4);
	const check = images.filter((_, i) => i % 6 >= 4);
	const built = await buildInt8(ort, def, calib, check, { size: SIZE, threads: 2, pool: (raw) => poolFeatures(raw, 1, spec.outputShape(SIZE)) });
	const r = built.report;
	console.log(
		`int8 ResNet50 on ${r.checkImages} held-out radiographs: cosine min ${r.cosineMin.toFixed(4)}, p1 ${r.cosineP1.toFixed(4)}, median ${r.cosineMedian.toFixed(4)}; ${r.stats.convs} int8 convs`,
	);
	assert.equal(r.checkImages, check.length);
	assert.equal(r.stats.convs, 53, 'every convolution of ResNet50 has int8 weights');
	// Floors below what was measured (min 0.985–0.989 over such images), far above what a broken quantizer gives
	// (a wrong scale or zero point drops the cosine below 0.9): the product's own acceptance floor is 0.99.
	assert.ok(r.cosineMedian >= 0.985, `median cosine ${r.cosineMedian}`);
	assert.ok(r.cosineMin >= 0.97, `min cosine ${r.cosineMin}`);
	assert.equal(r.accepted, r.cosineP1 >= 0.99);
	if (!r.accepted) assert.match(r.reason ?? '', /stray from fp32/);

	// The ranges alone rebuild the same graph (what classification with an int8 run does).
	const bytes = int8FromRanges(def, built.ranges);
	if (built.bytes) assert.deepEqual(bytes, built.bytes);

	// ONNX Runtime fuses the QDQ pairs into integer convolutions (not float convs with (de)quantization around).
	const optimized = path.join(tmp, 'optimized.onnx');
	const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', optimizedModelFilePath: optimized, intraOpNumThreads: 2 });
	await session.release();
	const text = (await fs.readFile(optimized)).toString('latin1');
	const qconv = text.split('QLinearConv').length - 1;
	assert.ok(qconv >= 40, `QLinearConv nodes in the optimized graph: ${qconv}`);

	// And fp32 stays fp32: the untouched graph has none.
	const fp32Opt = path.join(tmp, 'fp32.onnx');
	const s32 = await ort.InferenceSession.create(encodeModel(def), { graphOptimizationLevel: 'all', optimizedModelFilePath: fp32Opt, intraOpNumThreads: 2 });
	await s32.release();
	assert.equal((await fs.readFile(fp32Opt)).toString('latin1').split('QLinearConv').length - 1, 0);
});

test('calibration images come from the candidates by content hash, disjoint from the check images', () => {
	const mk = (n: number) => Array.from({ length: n }, (_, i) => ({ sha256: (i * 7919).toString(16).padStart(64, '0'), rgb: new Uint8Array(0) }));
	const a = planCalibration(mk(300));
	assert.equal(a.calibration.length, 200);
	assert.equal(a.check.length, 32);
	const cal = new Set(a.calibration.map((c) => c.sha256));
	assert.ok(a.check.every((c) => !cal.has(c.sha256)));
	assert.deepEqual(planCalibration([...mk(300)].reverse()).calibrationSet, a.calibrationSet, 'order does not matter');
	const small = planCalibration(mk(20));
	assert.equal(small.check.length, 5);
	assert.equal(small.calibration.length, 15);
});

test("int8 fidelity: the paired McNemar test is the report's exact one on right/wrong per image", () => {
	// b int8-only right, c fp32-only right: the run's metrics.json carries exactly these counts and p.
	const paired = (b: number, c: number, both = 2) => {
		const label = 'COVID';
		const hit = { predicted: label, label };
		const miss = { predicted: 'NORMAL', label };
		const int8 = [...Array<typeof hit>(b).fill(hit), ...Array<typeof hit>(c).fill(miss), ...Array<typeof hit>(both).fill(hit)];
		const fp32 = [...Array<typeof hit>(b).fill(miss), ...Array<typeof hit>(c).fill(hit), ...Array<typeof hit>(both).fill(hit)];
		const f = new Float32Array(int8.length * 2).fill(1);
		return int8Fidelity({} as never, int8, fp32, f, f, 2).mcnemar!;
	};
	assert.equal(paired(0, 0).p, 1);
	assert.equal(paired(3, 3).p, 1);
	assert.ok(Math.abs(paired(0, 5).p - 0.0625) < 1e-12);
	// scipy.stats.binomtest(1, 10, 0.5).pvalue = 0.021484375
	assert.ok(Math.abs(paired(1, 9).p - 0.021484375) < 1e-12);
	assert.ok(Math.abs(paired(9, 1).p - 0.021484375) < 1e-12);
	assert.deepEqual([paired(9, 1).int8Only, paired(9, 1).fp32Only], [9, 1]);
});

test('train --precision int8 records calibration and paired fidelity; classify reuses the stored ranges', async () => {
	const data = path.join(tmp, 'data');
	for (const f of await devFiles(10, 60)) {
		const to = path.join(data, path.basename(path.dirname(f)), path.basename(f));
		await fs.mkdir(path.dirname(to), { recursive: true });
		await fs.copyFile(f, to);
	}
	const workDir = path.join(tmp, 'work');
	const summary = await trainRun({ ...DEFAULT_TRAIN_CONFIG, backbone: 'resnet50', dataDir: data, workDir, epochs: 3, precision: 'int8' });
	const metrics = JSON.parse(await fs.readFile(path.join(summary.runDir, 'metrics.json'), 'utf8')) as {
		baseRuntime: string;
		int8: { calibrationImages: number; checkImages: number; method: string; testAgreement: number; mcnemar: { p: number }; reason: string };
	};
	const q = JSON.parse(await fs.readFile(path.join(summary.runDir, 'quantization.json'), 'utf8')) as { report: { calibrationImages: number; accepted: boolean }; ranges?: Record<string, unknown> };
	assert.ok(metrics.int8, 'metrics.json has the int8 report');
	assert.equal(metrics.int8.calibrationImages, q.report.calibrationImages);
	assert.ok(metrics.int8.calibrationImages > 0 && metrics.int8.checkImages > 0);
	assert.match(metrics.int8.method, /min\/max/);
	if (q.report.accepted) {
		assert.ok(q.ranges && Object.keys(q.ranges).length > 50);
		assert.ok(metrics.int8.testAgreement >= 0 && metrics.int8.testAgreement <= 1);
		assert.ok(metrics.int8.mcnemar.p > 0 && metrics.int8.mcnemar.p <= 1);
		assert.match(metrics.baseRuntime, /int8|cache/);
		const dirs = await fs.readdir(path.join(workDir, 'cache', 'features'));
		assert.ok(
			dirs.some((d) => /-int8-[0-9a-f]{12}$/.test(d)),
			`int8 features keyed apart from fp32: ${dirs.join(',')}`,
		);
	} else {
		assert.match(metrics.int8.reason, /stray from fp32/);
	}
	// Classification with the run rebuilds the same base (or stays fp32 like the run did) and succeeds.
	const r = await classifyFolder(summary.runDir, path.join(data, 'COVID'), { workDir });
	assert.equal(r.predictions.length, 10);
});
