// Keras 2 HDF5 weights: a file laid out by hand as Keras writes it loads by name; save → load is exact for all
// three backbones; mismatches and missing layers name the layer.
import { after, before, describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf, initBackend, shutdownBackend, type LayersModel } from '../../src/engine/model/tf';
import { buildBackbone } from '../../src/engine/model/backbones';
import { loadH5wasm, loadKerasWeights, readH5Tree, saveKerasWeights, WeightsMismatchError } from '../../src/engine/weights/h5';
import { sha256, sha256File } from '../../src/engine/util/hash';
import { missingPrereq } from './prereq';
import { spawnSync } from 'node:child_process';

type HandWeight = { name: string; shape: number[]; data: Float32Array };
type HandLayer = { name: string; weights: HandWeight[] };

let dir: string;

/** Snapshot a model's weights as Keras would save them: layer by layer, `<layer>/<weight>:0`. */
async function snapshot(model: LayersModel): Promise<HandLayer[]> {
	const out: HandLayer[] = [];
	for (const layer of model.layers) {
		const weights: HandWeight[] = [];
		for (const v of layer.weights) {
			const short = v.originalName.slice(v.originalName.lastIndexOf('/') + 1);
			weights.push({ name: `${layer.name}/${short}:0`, shape: v.shape as number[], data: Float32Array.from(await v.read().data()) });
		}
		out.push({ name: layer.name, weights });
	}
	return out;
}

/**
 * Write Keras 2's HDF5 layout with h5wasm directly (not through saveKerasWeights): what h5py does in
 * keras.saving.legacy.hdf5_format.save_weights_to_hdf5_group, with numpy 'S' (fixed-length ASCII) string arrays.
 * `modelWeights` puts everything under `model_weights`, as model.save() does.
 */
async function writeKerasLayout(file: string, layers: HandLayer[], modelWeights = false): Promise<void> {
	const h5 = await loadH5wasm();
	const f = new h5.File(file, 'w');
	const fixed = (xs: string[]) => `A${Math.max(1, ...xs.map((x) => x.length))}`;
	let root: InstanceType<typeof h5.Group> = f;
	if (modelWeights) {
		f.create_attribute('model_config', '{"class_name": "Functional"}', null, fixed(['{"class_name": "Functional"}']));
		root = f.create_group('model_weights');
	}
	const names = layers.map((l) => l.name);
	root.create_attribute('layer_names', names, [names.length], fixed(names));
	root.create_attribute('backend', 'tensorflow', null, 'A10');
	root.create_attribute('keras_version', '2.13.1', null, 'A6');
	for (const l of layers) {
		const g = root.create_group(l.name);
		const wn = l.weights.map((w) => w.name);
		g.create_attribute('weight_names', wn, [wn.length], fixed(wn));
		for (const w of l.weights) {
			// h5py's g.create_dataset('block1_conv1/kernel:0') makes the intermediate group.
			const [sub, leaf] = w.name.includes('/') ? w.name.split('/') : ['', w.name];
			const sg = sub ? ((g.get(sub) as InstanceType<typeof h5.Group> | null) ?? g.create_group(sub)) : g;
			sg.create_dataset({ name: leaf, data: w.data, shape: w.shape, dtype: '<f' });
		}
	}
	f.close();
}

/** Every weight of the model equals the snapshot, bit for bit. */
async function assertWeightsEqual(model: LayersModel, expected: HandLayer[], rename: Record<string, string> = {}) {
	const byName = new Map(expected.map((l) => [l.name, l]));
	let compared = 0;
	for (const layer of model.layers) {
		if (layer.weights.length === 0) continue;
		const src = byName.get(rename[layer.name] ?? layer.name);
		assert.ok(src, `no expected weights for ${layer.name}`);
		assert.equal(src.weights.length, layer.weights.length, layer.name);
		for (let i = 0; i < layer.weights.length; i++) {
			const got = (await layer.weights[i].read().data()) as Float32Array;
			const want: Float32Array = src.weights[i].data;
			assert.equal(got.length, want.length, `${layer.name} weight ${i} length`);
			assert.ok(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(want.buffer, want.byteOffset, want.byteLength)), `${layer.name} weight ${i} differs`);
			compared++;
		}
	}
	assert.ok(compared > 0);
}

/** BatchNormalization starts at ones/zeros: give every BN weight distinct values so a round trip means something. */
function scrambleBatchNorm(model: LayersModel, seed: number): void {
	let s = seed;
	for (const layer of model.layers) {
		if (layer.getClassName() !== 'BatchNormalization') continue;
		const vals = layer.weights.map((v) => tf.randomUniform(v.shape as number[], 0.5, 1.5, 'float32', s++));
		layer.setWeights(vals);
		vals.forEach((t) => t.dispose());
	}
}

before(async () => {
	await initBackend();
	dir = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-h5-'));
});

after(async () => {
	await fs.rm(dir, { recursive: true, force: true });
	shutdownBackend();
});

describe('VGG16 and a hand-written Keras-layout file', () => {
	let source: LayersModel;
	let layers: HandLayer[];
	let file: string;

	before(async () => {
		source = buildBackbone('vgg16', 237, { seed: 1 });
		layers = await snapshot(source);
		file = path.join(dir, 'vgg16_keras_layout.h5');
		// A top-included file has more layers than the notop model: extra layers must be ignored.
		const extra: HandLayer = {
			name: 'predictions',
			weights: [{ name: 'predictions/kernel:0', shape: [4, 3], data: new Float32Array(12).fill(0.5) }],
		};
		await writeKerasLayout(file, [...layers, extra]);
	});

	after(() => source.dispose());

	test('loads by name into a differently seeded VGG16, every array exact', async () => {
		const target = buildBackbone('vgg16', 237, { seed: 2 });
		try {
			const res = await loadKerasWeights(target, file);
			assert.equal(res.layersLoaded, 13);
			assert.equal(res.weightsGroup, 'root');
			assert.deepEqual(res.missing, []);
			assert.equal(res.sha256, await sha256File(file));
			await assertWeightsEqual(target, layers);
		} finally {
			target.dispose();
		}
	});

	test('a model.save() file (weights under model_weights) loads too', async () => {
		const saved = path.join(dir, 'vgg16_model_save.h5');
		await writeKerasLayout(saved, layers, true);
		const target = buildBackbone('vgg16', 237, { seed: 3 });
		try {
			const res = await loadKerasWeights(target, saved);
			assert.equal(res.weightsGroup, 'model_weights');
			await assertWeightsEqual(target, layers);
		} finally {
			target.dispose();
			await fs.rm(saved, { force: true });
		}
	});

	test('saveKerasWeights writes Keras layout: layer_names with weightless layers, weight_names, nested datasets', async () => {
		const out = path.join(dir, 'vgg16_saved.h5');
		await saveKerasWeights(source, out);
		const h5 = await loadH5wasm();
		const f = new h5.File(out, 'r');
		try {
			const names = f.attrs.layer_names.value as string[];
			assert.deepEqual(
				names,
				source.layers.map((l) => l.name),
			);
			assert.ok(names.includes('input_1') && names.includes('block1_pool') && names.includes('block5_pool'));
			assert.equal(f.attrs.backend.value, 'tensorflow');
			assert.match(String(f.attrs.keras_version.value), /^2\./);
			const g = f.get('block1_conv1') as InstanceType<typeof h5.Group>;
			assert.deepEqual(g.attrs.weight_names.value, ['block1_conv1/kernel:0', 'block1_conv1/bias:0']);
			const k = f.get('block1_conv1/block1_conv1/kernel:0') as InstanceType<typeof h5.Dataset>;
			assert.deepEqual(k.shape, [3, 3, 3, 64]);
			assert.equal(k.dtype, '<f');
			const pool = f.get('block1_pool') as InstanceType<typeof h5.Group>;
			assert.deepEqual(pool.attrs.weight_names.value, []);
		} finally {
			f.close();
		}
		// And it is what the hand-written file holds, value for value.
		const tree = await readH5Tree(out);
		assert.equal(tree.layers.length, source.layers.length);
		assert.deepEqual(
			tree.layers.find((l) => l.name === 'block5_conv3')?.weights.map((w) => w.shape),
			[[3, 3, 512, 512], [512]],
		);
		const target = buildBackbone('vgg16', 237, { seed: 4 });
		try {
			await loadKerasWeights(target, out);
			await assertWeightsEqual(target, layers);
		} finally {
			target.dispose();
		}
		const leftovers = (await fs.readdir(dir)).filter((n) => n.endsWith('.tmp'));
		assert.deepEqual(leftovers, [], 'no temp file left behind');
	});

	test('a shape mismatch names file, layer, weight and both shapes, and leaves the model untouched', async () => {
		const bad = path.join(dir, 'vgg16_bad_shape.h5');
		const tampered = layers.map((l) =>
			l.name === 'block5_conv3' ? { ...l, weights: [{ ...l.weights[0], shape: [3, 3, 512, 256], data: l.weights[0].data.subarray(0, 3 * 3 * 512 * 256) }, l.weights[1]] } : l,
		);
		await writeKerasLayout(bad, tampered);
		const target = buildBackbone('vgg16', 237, { seed: 5 });
		try {
			const before = Float32Array.from(await target.getLayer('block1_conv1').weights[0].read().data());
			await assert.rejects(loadKerasWeights(target, bad), (e: unknown) => {
				assert.ok(e instanceof WeightsMismatchError);
				assert.equal(e.layer, 'block5_conv3');
				assert.deepEqual(e.expected, [3, 3, 512, 512]);
				assert.deepEqual(e.found, [3, 3, 512, 256]);
				assert.match(e.message, /vgg16_bad_shape\.h5/);
				assert.match(e.message, /block5_conv3/);
				assert.match(e.message, /kernel/);
				assert.match(e.message, /\[3, 3, 512, 512\].*\[3, 3, 512, 256\]/);
				return true;
			});
			const afterLoad = (await target.getLayer('block1_conv1').weights[0].read().data()) as Float32Array;
			assert.deepEqual(Array.from(afterLoad.subarray(0, 50)), Array.from(before.subarray(0, 50)));
		} finally {
			target.dispose();
			await fs.rm(bad, { force: true });
		}
	});

	test('a missing layer is an error naming it; allowMissing reports it instead', async () => {
		const holey = path.join(dir, 'vgg16_missing.h5');
		await writeKerasLayout(
			holey,
			layers.filter((l) => l.name !== 'block3_conv2'),
		);
		const target = buildBackbone('vgg16', 237, { seed: 6 });
		try {
			await assert.rejects(loadKerasWeights(target, holey), (e: unknown) => {
				assert.ok(e instanceof WeightsMismatchError);
				assert.equal(e.layer, 'block3_conv2');
				assert.match(e.message, /vgg16_missing\.h5.*block3_conv2/);
				return true;
			});
			const res = await loadKerasWeights(target, holey, { allowMissing: true });
			assert.deepEqual(res.missing, ['block3_conv2']);
			assert.equal(res.layersLoaded, 12);
		} finally {
			target.dispose();
			await fs.rm(holey, { force: true });
		}
	});

	test('a file that is not HDF5, or not there, is an error naming it', async () => {
		const notH5 = path.join(dir, 'not-weights.h5');
		await fs.writeFile(notH5, 'this is not an HDF5 file\n');
		const target = buildBackbone('vgg16', 64, { seed: 7 });
		try {
			await assert.rejects(loadKerasWeights(target, notH5), /not-weights\.h5.*not a readable HDF5 file/);
			await assert.rejects(loadKerasWeights(target, path.join(dir, 'nope.h5')), /nope\.h5.*not found/);
		} finally {
			target.dispose();
		}
	});
});

describe('a file written by h5py exactly as Keras 2 save_weights does (test/fixtures/h5/make_keras2_tiny.py)', () => {
	const fixture = path.resolve(__dirname, '../fixtures/h5/keras2_tiny.h5');
	/** The generator's value(layer_index, weight_index, i), rounded to float32 as numpy does. */
	const value = (k: number, j: number, i: number) => Math.fround(Math.sin(1.0 + 0.37 * i + 1.7 * j + 2.3 * k));
	/** Index of each layer in the file's layer_names. */
	const FILE_INDEX: Record<string, number> = { conv_a: 1, bn_a: 2, sep_b: 4, conv2d: 5, predictions: 8 };

	function tinyModel(): LayersModel {
		const input = tf.input({ shape: [6, 6, 3], name: 'input_1' });
		let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, name: 'conv_a' }).apply(input) as tf.SymbolicTensor;
		x = tf.layers.batchNormalization({ name: 'bn_a' }).apply(x) as tf.SymbolicTensor;
		x = tf.layers.activation({ activation: 'relu', name: 'relu_a' }).apply(x) as tf.SymbolicTensor;
		x = tf.layers.separableConv2d({ filters: 6, kernelSize: 3, padding: 'same', useBias: false, name: 'sep_b' }).apply(x) as tf.SymbolicTensor;
		x = tf.layers.conv2d({ filters: 5, kernelSize: 1, name: 'conv2d' }).apply(x) as tf.SymbolicTensor;
		x = tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' }).apply(x) as tf.SymbolicTensor;
		x = tf.layers.flatten({ name: 'flatten' }).apply(x) as tf.SymbolicTensor;
		const y = tf.layers.dense({ units: 3, name: 'predictions' }).apply(x) as tf.SymbolicTensor;
		return tf.model({ inputs: input, outputs: y });
	}

	test('h5py layout (vlen name lists, empty float64 weight_names, name-sorted groups) loads, values exact', async () => {
		const model = tinyModel();
		try {
			const res = await loadKerasWeights(model, fixture);
			assert.equal(res.layersLoaded, 5);
			assert.deepEqual(res.renamed, { conv2d: 'conv2d_1' });
			for (const layer of model.layers) {
				for (let j = 0; j < layer.weights.length; j++) {
					const got = (await layer.weights[j].read().data()) as Float32Array;
					const k = FILE_INDEX[layer.name];
					assert.ok(k !== undefined, layer.name);
					for (let i = 0; i < got.length; i++) {
						assert.equal(got[i], value(k, j, i), `${layer.name} weight ${j} element ${i}`);
					}
				}
			}
			const tree = await readH5Tree(fixture);
			assert.equal(tree.kerasVersion, '2.13.1');
			assert.equal(tree.backend, 'tensorflow');
			assert.deepEqual(tree.layers.find((l) => l.name === 'relu_a')?.weights, []);
		} finally {
			model.dispose();
		}
	});

	test('what saveKerasWeights writes reads back through Keras 2 own loading logic in h5py (when h5py is installed)', async (t) => {
		const python = '/usr/bin/python3';
		const probe = spawnSync(python, ['-c', 'import h5py, numpy'], { encoding: 'utf8' });
		if (probe.status !== 0) {
			return missingPrereq(t, 'python3 with h5py is not installed (Debian: apt-get install python3-h5py); Keras-side check skipped');
		}
		const model = tinyModel();
		const out = path.join(dir, 'tiny_saved.h5');
		try {
			await loadKerasWeights(model, fixture);
			await saveKerasWeights(model, out);
			// keras/saving/legacy/hdf5_format.py: load_attributes_from_hdf5_group, then g[weight_name] per layer.
			const script = [
				'import h5py, json, sys, hashlib, numpy as np',
				'def attrs(group, name):',
				'    if name in group.attrs:',
				"        return [n.decode('utf8') if hasattr(n, 'decode') else n for n in group.attrs[name]]",
				'    data, i = [], 0',
				"    while '%s%d' % (name, i) in group.attrs:",
				"        data.extend([n.decode('utf8') if hasattr(n, 'decode') else n for n in group.attrs['%s%d' % (name, i)]]); i += 1",
				'    return data',
				"f = h5py.File(sys.argv[1], 'r')",
				"dec = lambda v: v.decode('utf8') if hasattr(v, 'decode') else str(v)",
				"out = {'backend': dec(f.attrs['backend']), 'keras_version': dec(f.attrs['keras_version']), 'layers': {}}",
				"for name in attrs(f, 'layer_names'):",
				'    g = f[name]',
				"    out['layers'][name] = [[w, list(g[w].shape), hashlib.sha256(np.ascontiguousarray(g[w][()], dtype='<f4').tobytes()).hexdigest()] for w in attrs(g, 'weight_names')]",
				'print(json.dumps(out))',
			].join('\n');
			const run = spawnSync(python, ['-c', script, out], { encoding: 'utf8' });
			assert.equal(run.status, 0, run.stderr);
			const seen = JSON.parse(run.stdout) as { backend: string; keras_version: string; layers: Record<string, [string, number[], string][]> };
			assert.equal(seen.backend, 'tensorflow');
			assert.match(seen.keras_version, /^2\./);
			assert.deepEqual(
				Object.keys(seen.layers),
				model.layers.map((l) => l.name),
			);
			for (const layer of model.layers) {
				const want = [];
				for (const v of layer.weights) {
					const data = (await v.read().data()) as Float32Array;
					want.push([`${v.originalName}:0`, v.shape, sha256(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))]);
				}
				assert.deepEqual(seen.layers[layer.name], want, layer.name);
			}
		} finally {
			model.dispose();
			await fs.rm(out, { force: true });
		}
	});

	test('Keras 1-era weight names (conv_a_W:0, bn_a_running_std:0) load by order within each layer', async () => {
		const source = tinyModel();
		const target = tinyModel();
		const file = path.join(dir, 'keras1_names.h5');
		try {
			await loadKerasWeights(source, fixture);
			const layers = (await snapshot(source)).map((l) => ({
				name: l.name,
				weights: l.weights.map((w, j) => ({ ...w, name: `${l.name}_${['W', 'b', 'running_mean', 'running_std'][j]}:0` })),
			}));
			await writeKerasLayout(file, layers);
			const res = await loadKerasWeights(target, file);
			assert.equal(res.layersLoaded, 5);
			await assertWeightsEqual(target, layers);
		} finally {
			source.dispose();
			target.dispose();
			await fs.rm(file, { force: true });
		}
	});

	test('layer_names split into layer_names0, layer_names1 (Keras does this past 64 KB) is read as one list', async () => {
		const h5 = await loadH5wasm();
		const split = path.join(dir, 'chunked.h5');
		await fs.copyFile(fixture, split);
		const f = new h5.File(split, 'a');
		const names = f.attrs.layer_names.value as string[];
		f.delete_attribute('layer_names');
		f.create_attribute('layer_names0', names.slice(0, 4), [4], 'A12');
		f.create_attribute('layer_names1', names.slice(4), [names.length - 4], 'A12');
		f.close();
		const model = tinyModel();
		try {
			const res = await loadKerasWeights(model, split);
			assert.equal(res.layersLoaded, 5);
			assert.equal((await model.getLayer('predictions').weights[1].read().data())[2], value(8, 1, 2));
		} finally {
			model.dispose();
		}
	});
});

describe('save → load round trips', () => {
	for (const id of ['resnet50v2', 'xception'] as const) {
		test(`${id}: every weight (BatchNormalization statistics included) survives exactly`, async () => {
			const source = buildBackbone(id, 237, { seed: 11 });
			scrambleBatchNorm(source, 100);
			const layers = await snapshot(source);
			const file = path.join(dir, `${id}.h5`);
			const target = buildBackbone(id, 237, { seed: 12 });
			try {
				await saveKerasWeights(source, file);
				const res = await loadKerasWeights(target, file);
				assert.equal(res.layersLoaded, source.layers.filter((l) => l.weights.length > 0).length);
				assert.deepEqual(res.renamed, {});
				await assertWeightsEqual(target, layers);
			} finally {
				source.dispose();
				target.dispose();
				await fs.rm(file, { force: true });
			}
		});
	}

	test('xception: a file with standalone-Keras residual names (conv2d_1…conv2d_4) loads by order', async () => {
		const source = buildBackbone('xception', 71, { seed: 21 });
		scrambleBatchNorm(source, 200);
		const layers = await snapshot(source);
		// Rename as Keras 2.0 did: counting from 1. conv2d_1 now exists in both but means different layers.
		const rename = (n: string) => {
			const m = /^(conv2d|batch_normalization)(?:_(\d+))?$/.exec(n);
			return m ? `${m[1]}_${Number(m[2] ?? 0) + 1}` : n;
		};
		const renamed = layers.map((l) => ({
			name: rename(l.name),
			weights: l.weights.map((w) => ({ ...w, name: `${rename(l.name)}/${w.name.split('/')[1]}` })),
		}));
		const file = path.join(dir, 'xception_keras20_names.h5');
		await writeKerasLayout(file, renamed);
		const target = buildBackbone('xception', 71, { seed: 22 });
		try {
			const res = await loadKerasWeights(target, file);
			assert.equal(res.renamed['conv2d'], 'conv2d_1');
			assert.equal(res.renamed['conv2d_3'], 'conv2d_4');
			assert.equal(res.renamed['batch_normalization_2'], 'batch_normalization_3');
			await assertWeightsEqual(target, layers);
		} finally {
			source.dispose();
			target.dispose();
			await fs.rm(file, { force: true });
		}
	});

	test('explicit aliases map a model layer to a differently named file layer', async () => {
		const source = buildBackbone('vgg16', 32, { seed: 31 });
		const layers = (await snapshot(source)).map((l) =>
			l.name === 'block1_conv1' ? { name: 'first_conv', weights: l.weights.map((w) => ({ ...w, name: w.name.replace('block1_conv1', 'first_conv') })) } : l,
		);
		const file = path.join(dir, 'aliased.h5');
		await writeKerasLayout(file, layers);
		const target = buildBackbone('vgg16', 32, { seed: 32 });
		try {
			await assert.rejects(loadKerasWeights(target, file), /block1_conv1/);
			const res = await loadKerasWeights(target, file, { aliases: { block1_conv1: 'first_conv' } });
			assert.deepEqual(res.renamed, { block1_conv1: 'first_conv' });
			await assertWeightsEqual(target, layers, { block1_conv1: 'first_conv' });
		} finally {
			source.dispose();
			target.dispose();
			await fs.rm(file, { force: true });
		}
	});
});
