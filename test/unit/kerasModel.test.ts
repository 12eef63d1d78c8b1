// Keras interoperability: a whole-model HDF5 file written here by hand in Keras 2's `model.save()` layout (root
// attribute model_config, group model_weights), imported and used to classify real radiographs; and the
// export → tf.loadLayersModel round trip.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { tf, initBackend, shutdownBackend } from '../../src/engine/model/tf';
import { loadH5wasm } from '../../src/engine/weights/h5';
import { exportTfjsModel, guessBackbone, importKerasModel, loadTfjsModel, normaliseConfig } from '../../src/engine/weights/kerasModel';
import { fileLoader } from '../../src/engine/weights/tfjsIo';

const tmp = path.join(os.tmpdir(), `radreview-kerasmodel-${process.pid}`);
const DEV = path.resolve(__dirname, '../../../shared/cxr/dev');
const SIZE = 32;

// The reference's shape of model, shrunk: a VGG-named base, then AveragePooling2D → Flatten → Dense(20) →
// Dropout → Dense(3), as Keras 2.15 writes it in model_config.
const init = (cls: string) => ({ module: 'keras.initializers', class_name: cls, config: cls === 'Zeros' ? {} : { seed: null }, registered_name: null });
const node = (name: string) => [[[name, 0, 0, {}]]];
const KERAS2_CONFIG = {
	class_name: 'Functional',
	config: {
		name: 'model',
		trainable: true,
		layers: [
			{ class_name: 'InputLayer', config: { batch_input_shape: [null, SIZE, SIZE, 3], dtype: 'float32', sparse: false, ragged: false, name: 'input_1' }, name: 'input_1', inbound_nodes: [] },
			{
				class_name: 'Conv2D',
				config: {
					name: 'block1_conv1',
					trainable: false,
					dtype: 'float32',
					filters: 4,
					kernel_size: [3, 3],
					strides: [1, 1],
					padding: 'same',
					data_format: 'channels_last',
					dilation_rate: [1, 1],
					groups: 1,
					activation: 'relu',
					use_bias: true,
					kernel_initializer: init('GlorotUniform'),
					bias_initializer: init('Zeros'),
					kernel_regularizer: null,
					bias_regularizer: null,
					activity_regularizer: null,
					kernel_constraint: null,
					bias_constraint: null,
				},
				name: 'block1_conv1',
				inbound_nodes: node('input_1'),
			},
			{
				class_name: 'MaxPooling2D',
				config: { name: 'block1_pool', trainable: false, dtype: 'float32', pool_size: [2, 2], padding: 'valid', strides: [2, 2], data_format: 'channels_last' },
				name: 'block1_pool',
				inbound_nodes: node('block1_conv1'),
			},
			{
				class_name: 'AveragePooling2D',
				config: { name: 'average_pooling2d', trainable: true, dtype: 'float32', pool_size: [4, 4], padding: 'valid', strides: [4, 4], data_format: 'channels_last' },
				name: 'average_pooling2d',
				inbound_nodes: node('block1_pool'),
			},
			{ class_name: 'Flatten', config: { name: 'flatten', trainable: true, dtype: 'float32', data_format: 'channels_last' }, name: 'flatten', inbound_nodes: node('average_pooling2d') },
			{
				class_name: 'Dense',
				config: {
					name: 'dense',
					trainable: true,
					dtype: 'float32',
					units: 20,
					activation: 'relu',
					use_bias: true,
					kernel_initializer: init('GlorotUniform'),
					bias_initializer: init('Zeros'),
					kernel_regularizer: null,
					bias_regularizer: null,
					activity_regularizer: null,
					kernel_constraint: null,
					bias_constraint: null,
				},
				name: 'dense',
				inbound_nodes: node('flatten'),
			},
			{ class_name: 'Dropout', config: { name: 'dropout', trainable: true, dtype: 'float32', rate: 0.2, noise_shape: null, seed: null }, name: 'dropout', inbound_nodes: node('dense') },
			{
				class_name: 'Dense',
				config: {
					name: 'dense_1',
					trainable: true,
					dtype: 'float32',
					units: 3,
					activation: 'softmax',
					use_bias: true,
					kernel_initializer: init('GlorotUniform'),
					bias_initializer: init('Zeros'),
					kernel_regularizer: null,
					bias_regularizer: null,
					activity_regularizer: null,
					kernel_constraint: null,
					bias_constraint: null,
				},
				name: 'dense_1',
				inbound_nodes: node('dropout'),
			},
		],
		input_layers: [['input_1', 0, 0]],
		output_layers: [['dense_1', 0, 0]],
	},
};

/** Deterministic pseudo-random weights (no Math.random: the test must be repeatable). */
function values(n: number, seed: number, scale: number): Float32Array {
	const out = new Float32Array(n);
	let s = seed >>> 0;
	for (let i = 0; i < n; i++) {
		s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
		out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
	}
	return out;
}

const WEIGHTS: Record<string, { name: string; shape: number[]; data: Float32Array }[]> = {
	block1_conv1: [
		{ name: 'block1_conv1/kernel:0', shape: [3, 3, 3, 4], data: values(108, 1, 0.5) },
		{ name: 'block1_conv1/bias:0', shape: [4], data: values(4, 2, 0.1) },
	],
	dense: [
		{ name: 'dense/kernel:0', shape: [64, 20], data: values(64 * 20, 3, 0.4) },
		{ name: 'dense/bias:0', shape: [20], data: values(20, 4, 0.1) },
	],
	dense_1: [
		{ name: 'dense_1/kernel:0', shape: [20, 3], data: values(60, 5, 0.8) },
		{ name: 'dense_1/bias:0', shape: [3], data: values(3, 6, 0.1) },
	],
};

/** Write `model.save('x.h5')`'s layout with h5wasm: model_config at the root, weights under model_weights. */
async function writeWholeModelH5(file: string, config: object): Promise<void> {
	const h5 = await loadH5wasm();
	const f = new h5.File(file, 'w');
	try {
		const ascii = (s: string[]) => `S${Math.max(1, ...s.map((x) => Buffer.byteLength(x)))}`;
		f.create_attribute('model_config', JSON.stringify(config));
		f.create_attribute('keras_version', '2.15.0');
		f.create_attribute('backend', 'tensorflow');
		const mw = f.create_group('model_weights');
		const layerNames = KERAS2_CONFIG.config.layers.map((l) => l.name);
		mw.create_attribute('layer_names', layerNames, [layerNames.length], ascii(layerNames));
		mw.create_attribute('keras_version', '2.15.0');
		mw.create_attribute('backend', 'tensorflow');
		for (const name of layerNames) {
			const g = mw.create_group(name);
			const ws = WEIGHTS[name] ?? [];
			const wn = ws.map((w) => w.name);
			g.create_attribute('weight_names', wn, [wn.length], ascii(wn.length ? wn : ['']));
			if (ws.length) {
				const sub = g.create_group(name);
				for (const w of ws) sub.create_dataset({ name: w.name.split('/')[1], data: w.data, shape: w.shape, dtype: '<f' });
			}
		}
		f.flush();
	} finally {
		f.close();
	}
}

/** The same network built directly with tf.layers, weights set by hand: the import must match it. */
function referenceModel(): tf.LayersModel {
	const input = tf.input({ shape: [SIZE, SIZE, 3] });
	let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as tf.SymbolicTensor;
	x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }).apply(x) as tf.SymbolicTensor;
	x = tf.layers.averagePooling2d({ poolSize: 4, strides: 4 }).apply(x) as tf.SymbolicTensor;
	x = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
	const d1 = tf.layers.dense({ units: 20, activation: 'relu' });
	x = d1.apply(x) as tf.SymbolicTensor;
	const d2 = tf.layers.dense({ units: 3, activation: 'softmax' });
	const out = d2.apply(x) as tf.SymbolicTensor;
	const m = tf.model({ inputs: input, outputs: out });
	const set = (layer: tf.layers.Layer, key: string) => layer.setWeights(WEIGHTS[key].map((w) => tf.tensor(w.data, w.shape)));
	set(m.layers[1], 'block1_conv1');
	set(d1, 'dense');
	set(d2, 'dense_1');
	return m;
}

/** A few real radiographs, x/255 at SIZE×SIZE (what the guess says for a 3-class model). */
async function radiographs(): Promise<{ names: string[]; batch: tf.Tensor4D }> {
	const names: string[] = [];
	for (const cls of ['COVID', 'NORMAL', 'PNEUMONIA']) {
		const files = (await fs.readdir(path.join(DEV, cls))).sort().slice(0, 2);
		names.push(...files.map((f) => path.join(DEV, cls, f)));
	}
	const data = new Float32Array(names.length * SIZE * SIZE * 3);
	for (let i = 0; i < names.length; i++) {
		const raw = await sharp(names[i]).removeAlpha().toColourspace('srgb').resize(SIZE, SIZE, { fit: 'fill' }).raw().toBuffer();
		for (let j = 0; j < SIZE * SIZE * 3; j++) data[i * SIZE * SIZE * 3 + j] = raw[j] / 255;
	}
	return { names, batch: tf.tensor4d(data, [names.length, SIZE, SIZE, 3]) };
}

before(async () => {
	await initBackend();
	await fs.mkdir(tmp, { recursive: true });
});
after(async () => {
	shutdownBackend(); // WASM pthread workers keep the process alive otherwise
	await fs.rm(tmp, { recursive: true, force: true });
});

test('a Keras 2 model.save() .h5 imports and classifies real radiographs exactly like the same network in tfjs', async () => {
	const file = path.join(tmp, 'modeloc_small.hdf5');
	await writeWholeModelH5(file, KERAS2_CONFIG);
	const imported = await importKerasModel(file);
	const ref = referenceModel();
	const { names, batch } = await radiographs();
	try {
		assert.equal(imported.inputSize, SIZE);
		assert.equal(imported.outputUnits, 3);
		assert.equal(imported.kerasVersion, '2.15.0');
		assert.equal(imported.preprocessing, 'unit');
		assert.deepEqual(
			imported.model.layers.map((l) => l.name),
			KERAS2_CONFIG.config.layers.map((l) => l.name),
		);
		const got = imported.model.predict(batch) as tf.Tensor;
		const want = ref.predict(batch) as tf.Tensor;
		const g = got.arraySync() as number[][];
		const w = want.arraySync() as number[][];
		assert.equal(g.length, names.length);
		for (let i = 0; i < g.length; i++) {
			assert.ok(Math.abs(g[i].reduce((a, b) => a + b, 0) - 1) < 1e-5, 'softmax rows sum to 1');
			for (let k = 0; k < 3; k++) assert.ok(Math.abs(g[i][k] - w[i][k]) < 1e-6, `${names[i]} class ${k}: ${g[i][k]} vs ${w[i][k]}`);
		}
		// Different images give different outputs: the weights are really in use.
		assert.notDeepEqual(g[0], g[g.length - 1]);
		tf.dispose([got, want]);
	} finally {
		batch.dispose();
		ref.dispose();
		imported.model.dispose();
	}
});

test('Keras 3 config differences are normalised (batch_shape, dtype policy, new inbound_nodes)', () => {
	const k3 = {
		class_name: 'Functional',
		config: {
			layers: [
				{ class_name: 'InputLayer', name: 'input_layer', config: { batch_shape: [null, 8, 8, 3], dtype: 'float32', name: 'input_layer' }, inbound_nodes: [] },
				{
					class_name: 'Flatten',
					name: 'flatten',
					config: { name: 'flatten', dtype: { module: 'keras', class_name: 'DTypePolicy', config: { name: 'float32' } } },
					inbound_nodes: [{ args: [{ class_name: '__keras_tensor__', config: { shape: [null, 8, 8, 3], dtype: 'float32', keras_history: ['input_layer', 0, 0] } }], kwargs: {} }],
				},
			],
		},
	};
	const n = normaliseConfig(k3) as { class_name: string; config: { layers: { config: Record<string, unknown>; inbound_nodes: unknown }[] } };
	assert.equal(n.class_name, 'Model');
	assert.deepEqual(n.config.layers[0].config.batch_input_shape, [null, 8, 8, 3]);
	assert.equal(n.config.layers[1].config.dtype, 'float32');
	assert.deepEqual(n.config.layers[1].inbound_nodes, [[['input_layer', 0, 0, {}]]]);
});

test('a weights-only file is refused with a clear reason', async () => {
	const file = path.join(tmp, 'weights-only.h5');
	const h5 = await loadH5wasm();
	const f = new h5.File(file, 'w');
	f.create_attribute('layer_names', ['dense'], [1], 'S5');
	f.close();
	await assert.rejects(importKerasModel(file), /save_weights\(\) file, not a whole model/);
});

test('the backbone is recognised from layer names', () => {
	assert.equal(guessBackbone(['input_1', 'block1_conv1', 'block5_conv3', 'block5_pool']), 'vgg16');
	assert.equal(guessBackbone(['conv1_conv', 'conv2_block1_preact_bn', 'post_bn']), 'resnet50v2');
	assert.equal(guessBackbone(['conv1_conv', 'conv1_bn', 'conv5_block3_out']), 'resnet50');
	assert.equal(guessBackbone(['block1_conv1', 'block1_conv1_bn', 'block14_sepconv2']), 'xception');
	assert.equal(guessBackbone(['dense']), null);
});

test('export → tf.loadLayersModel round trip gives the same outputs (file IOHandler and fromMemory)', async () => {
	const ref = referenceModel();
	const dir = path.join(tmp, 'export');
	await exportTfjsModel(ref, dir, { classNames: ['COVID', 'NORMAL', 'PNEUMONIA'], preprocessing: 'unit' });
	const json = JSON.parse(await fs.readFile(path.join(dir, 'model.json'), 'utf8'));
	assert.equal(json.format, 'layers-model');
	assert.deepEqual(json.weightsManifest[0].paths, ['weights.bin']);
	const { batch } = await radiographs();
	const back = await loadTfjsModel(dir);
	// Through plain tf.io.fromMemory too, as a browser or tfjs-node user would after reading the two files.
	const artifacts = await fileLoader(dir).load!();
	const mem = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
	try {
		assert.deepEqual(back.getUserDefinedMetadata(), { classNames: ['COVID', 'NORMAL', 'PNEUMONIA'], preprocessing: 'unit' });
		const a = (ref.predict(batch) as tf.Tensor).dataSync();
		const b = (back.predict(batch) as tf.Tensor).dataSync();
		const c = (mem.predict(batch) as tf.Tensor).dataSync();
		assert.deepEqual(Array.from(b), Array.from(a));
		assert.deepEqual(Array.from(c), Array.from(a));
	} finally {
		batch.dispose();
		[ref, back, mem].forEach((m) => m.dispose());
	}
});
