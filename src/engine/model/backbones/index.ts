// The backbone table: one spec per keras.applications model, as data (see spec.ts).
import type { BackboneId } from '../../types';
import type { LayersModel } from '../tf';
import type { BuildOptions } from './common';
import type { BackboneEntry, BackboneSpec } from './spec';

export type { BackboneEntry } from './spec';
import { RESNET50 } from './resnet50';
import { buildResNet50V2, resnet50v2OutputShape } from './resnet50v2';
import { buildVgg16, vgg16OutputShape } from './vgg16';
import { buildXception, xceptionOutputShape } from './xception';

export type { BackboneSpec, KerasWeightsFile } from './spec';
export type { BuildOptions } from './common';
export { countGmacs, countParams } from './common';
export { XCEPTION_KERAS2_ALIASES } from './xception';

const KERAS_BASE = 'https://storage.googleapis.com/tensorflow/keras-applications';

const vgg16: BackboneEntry = {
	id: 'vgg16',
	displayName: 'VGG16',
	preprocessing: 'caffe',
	defaultInputSize: 237,
	minInputSize: 32,
	paramCount: 14_714_688,
	outputShape: vgg16OutputShape,
	gmacs: 16.73,
	// File names, URLs and md5 hashes from keras/src/applications/vgg16.py.
	keras: {
		fileName: 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5',
		url: `${KERAS_BASE}/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`,
		fileHash: '6d6bbae143d832006294945121d1f1fc',
	},
	hasBatchNorm: false,
	build: (inputSize) => buildVgg16(inputSize),
	buildSeeded: buildVgg16,
};

const resnet50v2: BackboneEntry = {
	id: 'resnet50v2',
	displayName: 'ResNet50V2',
	preprocessing: 'tf',
	defaultInputSize: 237,
	minInputSize: 32,
	paramCount: 23_564_800,
	outputShape: resnet50v2OutputShape,
	gmacs: 4.12,
	// keras/src/applications/resnet.py: WEIGHTS_HASHES['resnet50v2'][1] is the notop file's md5.
	keras: {
		fileName: 'resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5',
		url: `${KERAS_BASE}/resnet/resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5`,
		fileHash: 'fac2f116257151a9d068a22e544a4917',
	},
	hasBatchNorm: true,
	build: (inputSize) => buildResNet50V2(inputSize),
	buildSeeded: buildResNet50V2,
};

const xception: BackboneEntry = {
	id: 'xception',
	displayName: 'Xception',
	preprocessing: 'tf',
	defaultInputSize: 237,
	minInputSize: 71,
	paramCount: 20_861_480,
	outputShape: xceptionOutputShape,
	gmacs: 5.2,
	// keras/src/applications/xception.py.
	keras: {
		fileName: 'xception_weights_tf_dim_ordering_tf_kernels_notop.h5',
		url: `${KERAS_BASE}/xception/xception_weights_tf_dim_ordering_tf_kernels_notop.h5`,
		fileHash: 'b0042744bf5b25fce3cb969f33bebb97',
	},
	hasBatchNorm: true,
	build: (inputSize) => buildXception(inputSize),
	buildSeeded: buildXception,
};

/** Every backbone we can build, by id. ResNet50 (v1) is added by its own module (resnet50.ts). */
export const BACKBONES: Partial<Record<BackboneId, BackboneSpec>> = {
	vgg16,
	resnet50v2,
	xception,
	resnet50: RESNET50,
};

/** The spec for an id; throws naming the ids that exist. */
export function getBackbone(id: string): BackboneSpec {
	const spec = (BACKBONES as Record<string, BackboneSpec | undefined>)[id];
	if (!spec) {
		throw new Error(`Unknown backbone '${id}'. Available: ${Object.keys(BACKBONES).join(', ')}`);
	}
	return spec;
}

/**
 * Build a fresh base for an id, seeded when the spec supports it (ours all do; a spec without buildSeeded
 * falls back to its unseeded build).
 */
export function buildBackbone(id: string, inputSize?: number, opts: BuildOptions = {}): LayersModel {
	const spec = getBackbone(id);
	const size = inputSize ?? spec.defaultInputSize;
	const seeded = (spec as Partial<BackboneEntry>).buildSeeded;
	return seeded ? seeded(size, opts) : spec.build(size);
}

/** Ids that have a spec, in table order. */
export function availableBackbones(): BackboneId[] {
	return Object.keys(BACKBONES) as BackboneId[];
}
