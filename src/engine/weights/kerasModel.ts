// Keras interoperability: import a whole model saved with Keras' `model.save('x.hdf5')` (root attribute
// model_config + a model_weights group), and export ours as a TF.js layers model that plain tf.loadLayersModel reads.
import { promises as fs } from 'node:fs';
import type { BackboneId, Preprocessing } from '../types';
import { loadH5wasm, loadKerasWeights } from './h5';
import { tf, type LayersModel } from '../model/tf';
import { fileLoader, fileSaver } from './tfjsIo';

export interface ImportedKerasModel {
	model: LayersModel;
	/** Square input side, from the model's input shape. */
	inputSize: number;
	/** The backbone its layer names look like, if any. */
	backbone: BackboneId | null;
	/** Best guess at the normalisation the model was trained with, and why (the file does not record it). */
	preprocessing: Preprocessing;
	preprocessingReason: string;
	/** Keras version that wrote the file, when recorded. */
	kerasVersion?: string;
	/** Output classes (units of the last layer). */
	outputUnits: number;
}

type Json = Record<string, unknown>;

/**
 * Rebuild a Keras `model.save()` HDF5 file in TF.js and load its weights by layer name. Handles Keras 2 configs
 * ('Functional'/'Model'/'Sequential') and the common Keras 3 differences (batch_shape, dtype policies, the new
 * inbound_nodes form).
 */
export async function importKerasModel(file: string): Promise<ImportedKerasModel> {
	await fs.access(file).catch(() => {
		throw new Error(`${file}: no such file`);
	});
	const h5 = await loadH5wasm();
	let configText: string | undefined;
	let kerasVersion: string | undefined;
	const f = new h5.File(file, 'r');
	try {
		if (f.file_id < 0n) throw new Error(`${file}: not a readable HDF5 file`);
		const attr = (name: string) => {
			const v = f.attrs[name]?.value;
			return v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v == null ? undefined : String(v);
		};
		configText = attr('model_config');
		kerasVersion = attr('keras_version');
		if (!configText) {
			throw new Error(
				f.get('model_weights') || attr('layer_names') !== undefined || f.attrs['layer_names']
					? `${file}: has weights but no model_config: a save_weights() file, not a whole model (use it as backbone weights instead)`
					: `${file}: not a Keras model file (no model_config attribute)`,
			);
		}
	} finally {
		f.close();
	}
	let config: Json;
	try {
		config = JSON.parse(configText) as Json;
	} catch (e) {
		throw new Error(`${file}: model_config is not JSON (${(e as Error).message})`);
	}
	const normalised = normaliseConfig(config);
	let model: LayersModel;
	try {
		model = await tf.models.modelFromJSON({ modelTopology: { model_config: normalised, keras_version: kerasVersion, backend: 'tensorflow' } } as never);
	} catch (e) {
		throw new Error(`${file}: TF.js cannot rebuild this model: ${(e as Error).message}`);
	}
	try {
		await loadKerasWeights(model, file);
	} catch (e) {
		model.dispose();
		throw e;
	}
	const inShape = model.inputs[0].shape;
	if (inShape.length !== 4 || inShape[3] !== 3) throw new Error(`${file}: expected an image model with input [h, w, 3], got [${inShape.join(', ')}]`);
	if (inShape[1] !== inShape[2] || !inShape[1]) throw new Error(`${file}: only square, fixed-size inputs are supported, got [${inShape.join(', ')}]`);
	const outShape = model.outputs[0].shape;
	const outputUnits = outShape[outShape.length - 1] ?? 0;
	const backbone = guessBackbone(model.layers.map((l) => l.name));
	const { preprocessing, reason } = guessPreprocessing(backbone, outputUnits);
	return { model, inputSize: inShape[1], backbone, preprocessing, preprocessingReason: reason, kerasVersion, outputUnits };
}

/** Which keras.applications backbone a list of layer names belongs to. */
export function guessBackbone(names: string[]): BackboneId | null {
	const has = (n: string) => names.includes(n);
	if (has('block14_sepconv2') || has('block1_conv1_bn')) return 'xception';
	if (has('post_bn') && has('conv2_block1_preact_bn')) return 'resnet50v2';
	if (has('conv1_bn') && has('conv5_block3_out')) return 'resnet50';
	if (has('bn_conv1') && has('res5c_branch2c')) return 'resnet50';
	if (has('block5_conv3') && has('block1_conv1')) return 'vgg16';
	return null;
}

const BACKBONE_PREPROCESSING: Record<BackboneId, Preprocessing> = { vgg16: 'caffe', resnet50: 'caffe', resnet50v2: 'tf', xception: 'tf' };

/**
 * The file does not say how pixels were normalised. A 3-class model is most likely the reference notebook's
 * (COVID/NORMAL/PNEUMONIA), which fed x/255 ('unit'); otherwise Keras' own mode for the backbone.
 */
export function guessPreprocessing(backbone: BackboneId | null, outputUnits: number): { preprocessing: Preprocessing; reason: string } {
	if (outputUnits === 3) return { preprocessing: 'unit', reason: "3 outputs: the reference notebook's models were trained on x/255" };
	if (backbone) return { preprocessing: BACKBONE_PREPROCESSING[backbone], reason: `keras.applications' ${backbone} preprocess_input` };
	return { preprocessing: 'unit', reason: 'unknown architecture: x/255 assumed' };
}

/** Make a Keras 2/3 model_config digestible for TF.js' deserialiser. */
export function normaliseConfig(config: Json): Json {
	const out = JSON.parse(JSON.stringify(config)) as Json;
	// Keras ≥ 2.4 calls the functional class 'Functional'; TF.js knows it as 'Model'.
	if (out.class_name === 'Functional') out.class_name = 'Model';
	const inner = out.config as Json | undefined;
	const layers = (inner?.layers as Json[] | undefined) ?? [];
	for (const layer of layers) fixLayer(layer);
	return out;
}

function fixLayer(layer: Json): void {
	if (layer.class_name === 'Functional') layer.class_name = 'Model';
	const cfg = (layer.config ?? {}) as Json;
	// Keras 3: InputLayer has batch_shape; Keras 2 batch_input_shape.
	if (cfg.batch_shape && !cfg.batch_input_shape) {
		cfg.batch_input_shape = cfg.batch_shape;
		delete cfg.batch_shape;
	}
	// Keras 3: dtype is a DTypePolicy object.
	if (cfg.dtype && typeof cfg.dtype === 'object') {
		const d = cfg.dtype as Json;
		cfg.dtype = (d.config as Json | undefined)?.name ?? 'float32';
		if (cfg.dtype === 'mixed_float16' || cfg.dtype === 'mixed_bfloat16') cfg.dtype = 'float32';
	}
	// Keras 3: inbound_nodes are [{args: [KerasTensor…], kwargs}] instead of [[[name, node, tensor, kwargs]…]].
	if (Array.isArray(layer.inbound_nodes)) {
		layer.inbound_nodes = (layer.inbound_nodes as unknown[]).map((node) => {
			if (!node || Array.isArray(node) || typeof node !== 'object') return node;
			const refs: unknown[] = [];
			const collect = (v: unknown) => {
				if (Array.isArray(v)) return v.forEach(collect);
				if (v && typeof v === 'object') {
					const o = v as Json;
					if (o.class_name === '__keras_tensor__') {
						const h = (o.config as Json).keras_history as [string, number, number];
						refs.push([h[0], h[1], h[2], {}]);
					}
				}
			};
			collect((node as Json).args);
			return refs;
		});
	}
	// Nested functional models (a base used as a layer) carry their own layer lists.
	if (Array.isArray(cfg.layers)) for (const l of cfg.layers as Json[]) fixLayer(l);
}

/**
 * Save a model as a TF.js layers model folder (model.json + weights.bin), loadable by plain
 * `tf.loadLayersModel` (over http, or `fileLoader(dir)` here). Extra metadata rides in userDefinedMetadata.
 */
export async function exportTfjsModel(model: LayersModel, dir: string, metadata?: Record<string, unknown>): Promise<void> {
	if (metadata) model.setUserDefinedMetadata(metadata);
	await model.save(fileSaver(dir));
}

/** Load a folder written by exportTfjsModel (or any TF.js layers model on disk). */
export function loadTfjsModel(dir: string): Promise<LayersModel> {
	return tf.loadLayersModel(fileLoader(dir));
}
