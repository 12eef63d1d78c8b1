// The three keras.applications ports: Keras' parameter counts, output shapes and layer names; Keras'
// initialisers; seeded reproducibility; one forward pass each on a real radiograph.
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import sharp from 'sharp';
import { tf, initBackend, shutdownBackend, type LayersModel } from '../../src/engine/model/tf';
import { BACKBONES, buildBackbone, countGmacs, getBackbone } from '../../src/engine/model/backbones';
import type { BackboneId } from '../../src/engine/types';

const DEV = path.resolve(__dirname, '../../../shared/cxr/dev');
const RADIOGRAPH = path.join(DEV, 'PNEUMONIA');

/** Keras' own numbers (model.count_params(), output shape at 237×237, include_top=False). */
const KERAS: Record<'vgg16' | 'resnet50v2' | 'xception', { params: number; out: [number, number, number]; layers: string[] }> = {
	vgg16: {
		params: 14_714_688,
		out: [7, 7, 512],
		layers: ['input_1', 'block1_conv1', 'block1_conv2', 'block1_pool', 'block3_conv3', 'block5_conv3', 'block5_pool'],
	},
	resnet50v2: {
		params: 23_564_800,
		out: [8, 8, 2048],
		layers: [
			'conv1_pad',
			'conv1_conv',
			'pool1_pad',
			'pool1_pool',
			'conv2_block1_preact_bn',
			'conv2_block1_preact_relu',
			'conv2_block1_1_conv',
			'conv2_block1_2_pad',
			'conv2_block1_0_conv',
			'conv2_block1_out',
			'conv2_block3_out',
			'conv4_block6_out',
			'conv5_block3_3_conv',
			'post_bn',
			'post_relu',
		],
	},
	xception: {
		params: 20_861_480,
		out: [8, 8, 2048],
		layers: [
			'block1_conv1',
			'block1_conv1_bn',
			'block1_conv1_act',
			'block2_sepconv1',
			'block2_sepconv1_bn',
			'block2_pool',
			'conv2d',
			'conv2d_3',
			'batch_normalization',
			'batch_normalization_3',
			'add',
			'add_11',
			'block12_sepconv3_bn',
			'block13_pool',
			'block14_sepconv2',
			'block14_sepconv2_act',
		],
	},
};

const IDS = Object.keys(KERAS) as (keyof typeof KERAS)[];

/** One radiograph, decoded here with sharp (not the data module): 237×237 RGB, normalised as the spec says. */
async function radiographBatch(id: BackboneId, size: number): Promise<tf.Tensor4D> {
	const fs = await import('node:fs');
	const name = fs
		.readdirSync(RADIOGRAPH)
		.filter((n) => /\.(jpe?g|png)$/i.test(n))
		.sort()[0];
	const { data, info } = await sharp(path.join(RADIOGRAPH, name)).removeAlpha().toColourspace('srgb').resize(size, size, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
	assert.equal(info.channels, 3);
	const px = Float32Array.from(data);
	const spec = getBackbone(id);
	if (spec.preprocessing === 'tf') {
		for (let i = 0; i < px.length; i++) px[i] = px[i] / 127.5 - 1;
	} else if (spec.preprocessing === 'caffe') {
		// RGB → BGR minus the ImageNet means, as keras.applications.imagenet_utils mode='caffe'.
		const mean = [103.939, 116.779, 123.68];
		for (let i = 0; i < px.length; i += 3) {
			const [r, g, b] = [px[i], px[i + 1], px[i + 2]];
			px[i] = b - mean[0];
			px[i + 1] = g - mean[1];
			px[i + 2] = r - mean[2];
		}
	}
	return tf.tensor4d(px, [1, size, size, 3]);
}

before(async () => {
	await initBackend();
});

after(() => shutdownBackend());

describe('backbone specs', () => {
	test('the table holds the three Keras backbones with Keras weight files', () => {
		for (const id of IDS) {
			const spec = getBackbone(id);
			assert.equal(spec.id, id);
			assert.equal(spec.paramCount, KERAS[id].params);
			assert.deepEqual(spec.outputShape(237), KERAS[id].out);
			assert.equal(spec.defaultInputSize, 237);
			assert.ok(spec.keras, `${id} has a Keras weights file`);
			assert.match(spec.keras.fileName, /_notop\.h5$/);
			assert.ok(spec.keras.url.startsWith('https://storage.googleapis.com/tensorflow/keras-applications/'));
			assert.ok(spec.keras.url.endsWith(spec.keras.fileName));
			assert.match(spec.keras.fileHash, /^[0-9a-f]{32}$|^[0-9a-f]{64}$/);
		}
		assert.equal(getBackbone('vgg16').preprocessing, 'caffe');
		assert.equal(getBackbone('resnet50v2').preprocessing, 'tf');
		assert.equal(getBackbone('xception').preprocessing, 'tf');
		assert.equal(getBackbone('vgg16').hasBatchNorm, false);
		assert.equal(getBackbone('xception').hasBatchNorm, true);
	});

	test('an unknown id is an error listing the available ones', () => {
		assert.throws(
			() => getBackbone('resnet18'),
			(e: Error) => {
				assert.match(e.message, /resnet18/);
				for (const id of Object.keys(BACKBONES)) assert.ok(e.message.includes(id), `lists ${id}`);
				return true;
			},
		);
	});

	test('inputs below Keras minimum sizes are refused', () => {
		assert.throws(() => buildBackbone('vgg16', 31), /VGG16.*32/);
		assert.throws(() => buildBackbone('xception', 70), /Xception.*71/);
		assert.throws(() => buildBackbone('resnet50v2', 237.5), /ResNet50V2/);
	});
});

for (const id of IDS) {
	describe(id, () => {
		let model: LayersModel;
		before(() => {
			model = buildBackbone(id, 237, { seed: 3 });
		});
		after(() => model.dispose());

		test(`parameter count ${KERAS[id].params.toLocaleString('en')} and output ${KERAS[id].out.join('×')} at 237, as Keras`, () => {
			assert.equal(model.countParams(), KERAS[id].params);
			assert.deepEqual(model.outputs[0].shape, [null, ...KERAS[id].out]);
			assert.deepEqual(model.inputs[0].shape, [null, 237, 237, 3]);
		});

		test('Keras layer names', () => {
			const names = new Set(model.layers.map((l) => l.name));
			for (const n of KERAS[id].layers) assert.ok(names.has(n), `${id} has layer ${n}`);
			assert.equal(names.size, model.layers.length, 'layer names are unique');
		});

		test('multiply-accumulates agree with the spec (used for GFLOP/s)', () => {
			const spec = getBackbone(id);
			assert.ok(Math.abs(countGmacs(model) - spec.gmacs) / spec.gmacs < 0.005, `${countGmacs(model)} vs ${spec.gmacs}`);
		});

		test('Keras initialisers: glorot_uniform kernels, zero biases, BatchNormalization at ones/zeros', async () => {
			for (const layer of model.layers) {
				const cls = layer.getClassName();
				for (const v of layer.weights) {
					const short = v.originalName.split('/').pop()!;
					const vals = (await v.read().data()) as Float32Array;
					if (short === 'bias' || short === 'beta' || short === 'moving_mean') {
						assert.ok(
							vals.every((x) => x === 0),
							`${v.originalName} is zeros`,
						);
					} else if (short === 'gamma' || short === 'moving_variance') {
						assert.ok(
							vals.every((x) => x === 1),
							`${v.originalName} is ones`,
						);
					} else {
						// glorot_uniform: U(−l, l), l = sqrt(6 / (fan_in + fan_out)); fan_in = receptive field × in.
						const s = v.shape as number[];
						const rf = s.slice(0, -2).reduce((a, b) => a * b, 1);
						const limit = Math.sqrt(6 / (rf * s[s.length - 2] + rf * s[s.length - 1]));
						let maxAbs = 0;
						for (const x of vals) maxAbs = Math.max(maxAbs, Math.abs(x));
						assert.ok(maxAbs <= limit + 1e-6, `${cls} ${v.originalName}: max |w| ${maxAbs} ≤ ${limit}`);
						assert.ok(maxAbs > limit * 0.5, `${cls} ${v.originalName}: uniform fills its range (${maxAbs} vs ${limit})`);
					}
				}
			}
		});

		test('one forward pass on a real radiograph: finite, right shape, no leaked tensors', async () => {
			const x = await radiographBatch(id, 237);
			const before = tf.memory().numTensors;
			const y = model.predict(x) as tf.Tensor;
			try {
				assert.deepEqual(y.shape, [1, ...KERAS[id].out]);
				const v = (await y.data()) as Float32Array;
				assert.ok(v.every(Number.isFinite), 'all outputs finite');
				let min = Infinity;
				let max = -Infinity;
				for (const a of v) {
					min = Math.min(min, a);
					max = Math.max(max, a);
				}
				assert.ok(max > min, 'the output is not constant');
			} finally {
				y.dispose();
				x.dispose();
			}
			assert.equal(tf.memory().numTensors, before - 1, 'only the input was released');
		});
	});
}

describe('other sizes and seeds', () => {
	test('spec.outputShape matches the built model at sizes other than 237', () => {
		for (const [id, size] of [
			['vgg16', 100],
			['resnet50v2', 33],
			['xception', 71],
			['xception', 300],
		] as const) {
			const m = buildBackbone(id, size, { seed: 1 });
			try {
				assert.deepEqual(m.outputs[0].shape, [null, ...getBackbone(id).outputShape(size)], `${id} at ${size}`);
			} finally {
				m.dispose();
			}
		}
	});

	test('the same seed gives the same random weights; another seed does not', async () => {
		const first = async (seed: number) => {
			const m = buildBackbone('resnet50v2', 64, { seed });
			try {
				return Float32Array.from(await m.getLayer('conv4_block6_3_conv').weights[0].read().data());
			} finally {
				m.dispose();
			}
		};
		const a = await first(40);
		const b = await first(40);
		const c = await first(41);
		assert.deepEqual(a, b);
		assert.notDeepEqual(a, c);
	});
});
