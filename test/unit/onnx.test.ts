// ONNX export: the graph we write from a tfjs base must give the tfjs base's own features on real radiographs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { initBackend, shutdownBackend, tf, type LayersModel } from '../../src/engine/model/tf';
import { availableBackbones, buildBackbone, getBackbone } from '../../src/engine/model/backbones/index';
import { createOnnxExtractor, onnxAvailable, onnxCachePath } from '../../src/engine/runtime/onnx';
import { exportOnnx, tfPads } from '../../src/engine/runtime/onnxGraph';
import { ProtoWriter } from '../../src/engine/runtime/onnxProto';
import { createTfjsExtractor } from '../../src/engine/runtime/tfjsExtractor';
import { missingPrereq } from './prereq';
import type { Preprocessing } from '../../src/engine/types';

const DEV = path.resolve(__dirname, '../../../shared/cxr/dev');
const SIZE = 237;
const IMAGES = ['COVID', 'NORMAL', 'PNEUMONIA'];

/** One real radiograph per class, decoded and resized with sharp. */
async function loadRgb(): Promise<Uint8Array[]> {
	const out: Uint8Array[] = [];
	for (const cls of IMAGES) {
		const files = (await fs.readdir(path.join(DEV, cls))).sort();
		const buf = await sharp(path.join(DEV, cls, files[0]))
			.removeAlpha()
			.toColourspace('srgb')
			.resize(SIZE, SIZE, { fit: 'fill' })
			.raw()
			.toBuffer();
		assert.equal(buf.length, SIZE * SIZE * 3);
		out.push(new Uint8Array(buf));
	}
	return out;
}

/** keras.applications preprocess_input. */
function normalise(images: Uint8Array[], mode: Preprocessing): Float32Array {
	const out = new Float32Array(images.length * SIZE * SIZE * 3);
	const mean = [103.939, 116.779, 123.68];
	let k = 0;
	for (const rgb of images) {
		for (let p = 0; p < rgb.length; p += 3) {
			if (mode === 'caffe') {
				out[k++] = rgb[p + 2] - mean[0];
				out[k++] = rgb[p + 1] - mean[1];
				out[k++] = rgb[p] - mean[2];
			} else if (mode === 'tf') {
				for (let c = 0; c < 3; c++) out[k++] = rgb[p + c] / 127.5 - 1;
			} else for (let c = 0; c < 3; c++) out[k++] = rgb[p + c] / 255;
		}
	}
	return out;
}

/** A tiny deterministic PRNG, so the "random" statistics are the same every run. */
function rng(seed: number): () => number {
	let s = seed >>> 0;
	return () => {
		s = (s * 1664525 + 1013904223) >>> 0;
		return s / 2 ** 32;
	};
}

/** Non-trivial BatchNorm statistics (fresh layers have μ=0, σ²=1, γ=1, β=0, which would hide folding bugs). */
function randomiseBatchNorm(model: LayersModel, seed: number): number {
	const r = rng(seed);
	let n = 0;
	for (const layer of model.layers) {
		if (layer.getClassName() !== 'BatchNormalization') continue;
		const ws = layer.getWeights();
		const next = ws.map((w, i) => {
			const name = layer.weights[i].originalName;
			const size = w.size;
			const v = new Float32Array(size);
			for (let i = 0; i < size; i++) {
				const u = r();
				if (/moving_variance|variance/.test(name)) v[i] = 0.3 + 1.5 * u;
				else if (/gamma/.test(name)) v[i] = 0.5 + u;
				else v[i] = 0.4 * (u - 0.5);
			}
			return tf.tensor(v, w.shape);
		});
		// Order is [gamma, beta, moving_mean, moving_variance] for the layers we build; names decide anyway.
		layer.setWeights(next);
		next.forEach((t) => t.dispose());
		n++;
	}
	return n;
}

test('protobuf writer: varints, negative int64 and nested messages', () => {
	const w = new ProtoWriter();
	w.int(1, 300)
		.int(2, -1)
		.string(3, 'ab')
		.message(4, (m) => m.int(1, 1));
	assert.deepEqual([...w.finish()], [0x08, 0xac, 0x02, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x1a, 0x02, 0x61, 0x62, 0x22, 0x02, 0x08, 0x01]);
});

test("TF 'same' padding puts the odd pixel at the end", () => {
	assert.deepEqual(tfPads('same', [237, 237], [3, 3], [2, 2], [1, 1]), [1, 1, 1, 1]);
	assert.deepEqual(tfPads('same', [118, 118], [3, 3], [2, 2], [1, 1]), [0, 0, 1, 1]);
	assert.deepEqual(tfPads('same', [118, 118], [1, 1], [2, 2], [1, 1]), [0, 0, 0, 0]);
	assert.deepEqual(tfPads('valid', [118, 118], [7, 7], [2, 2], [1, 1]), [0, 0, 0, 0]);
});

test('ONNX export matches the tfjs base on real radiographs', { timeout: 15 * 60_000 }, async (t) => {
	if (!(await onnxAvailable())) {
		return missingPrereq(t, 'onnxruntime-node (optional dependency) is not installed');
	}
	await initBackend();
	const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-onnx-'));
	const rgb = await loadRgb();
	try {
		for (const id of availableBackbones()) {
			await t.test(id, async () => {
				const spec = getBackbone(id);
				const model = buildBackbone(id, SIZE, { seed: 7 });
				const bns = spec.hasBatchNorm ? randomiseBatchNorm(model, 11) : 0;
				const exported = exportOnnx(model);
				assert.equal(exported.stats.weightsRead, model.countParams(), 'every weight of the base reaches the graph');
				if (spec.hasBatchNorm) {
					assert.ok(bns > 0);
					assert.equal(exported.stats.foldedBatchNorms + exported.stats.batchNormOps, bns);
					assert.ok(exported.stats.foldedBatchNorms > 0, 'some BatchNorms fold into their conv');
				}
				const batch = normalise(rgb, spec.preprocessing);
				const n = rgb.length;
				const onnx = await createOnnxExtractor(model, spec, { cacheDir: tmp, weightsSha: 'test-seed-7' });
				const tfjs = createTfjsExtractor(model, SIZE);
				try {
					assert.deepEqual(onnx.outputShape, spec.outputShape(SIZE));
					const got = await onnx.extract(batch, n);
					const want = await tfjs.extract(batch, n);
					assert.equal(got.length, want.length);
					let lo = Infinity;
					let hi = -Infinity;
					let maxDiff = 0;
					for (let i = 0; i < want.length; i++) {
						lo = Math.min(lo, want[i]);
						hi = Math.max(hi, want[i]);
						maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
					}
					const range = hi - lo;
					console.log(
						`# ${id}: range ${range.toPrecision(4)}, max |onnx − tfjs| ${maxDiff.toExponential(2)} (${(maxDiff / range).toExponential(2)} of range), ${exported.stats.foldedBatchNorms} BN folded, ${exported.stats.batchNormOps} BN ops`,
					);
					assert.ok(range > 0, 'features are not constant');
					assert.ok(maxDiff < 1e-3 * range, `max diff ${maxDiff} ≥ 1e-3 × range ${range}`);
					// Per image, too: a batch-order bug would swap whole images.
					const per = want.length / n;
					const img1 = await onnx.extract(batch.subarray(per === 0 ? 0 : (batch.length / n) * 1), 1);
					for (let i = 0; i < per; i += 97) assert.ok(Math.abs(img1[i] - want[per + i]) < 1e-3 * range);
					// The second extractor comes from the cached file.
					await fs.access(onnxCachePath(spec, SIZE, { cacheDir: tmp, weightsSha: 'test-seed-7' }));
				} finally {
					await onnx.dispose();
					await tfjs.dispose();
					model.dispose();
				}
			});
		}
	} finally {
		await fs.rm(tmp, { recursive: true, force: true });
		shutdownBackend();
	}
});
