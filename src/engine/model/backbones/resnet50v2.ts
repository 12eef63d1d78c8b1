// keras.applications.ResNet50V2(include_top=False) with Keras' layer names (keras/src/applications/resnet.py,
// residual_block_v2 / stack_residual_blocks_v2): pre-activation blocks, the stride in the *last* block of each
// stack, BatchNormalization epsilon 1.001e-5.
import { tf } from '../tf';
import type { LayersModel } from '../tf';
import { checkInputSize, halve, KerasInit, type BuildOptions, type SymbolicTensor } from './common';

export const RESNET50V2_MIN_SIZE = 32;
const BN_EPSILON = 1.001e-5;

export function buildResNet50V2(inputSize = 237, opts: BuildOptions = {}): LayersModel {
	checkInputSize('ResNet50V2', inputSize, RESNET50V2_MIN_SIZE);
	const init = new KerasInit(opts.seed);
	// Keras leaves the shortcut max-pools unnamed; tf.keras names them max_pooling2d, max_pooling2d_1, …
	let poolCount = 0;

	const conv = (x: SymbolicTensor, filters: number, kernelSize: number, strides: number, useBias: boolean, name: string) =>
		tf.layers
			.conv2d({
				filters,
				kernelSize,
				strides,
				useBias,
				kernelInitializer: init.kernel(),
				biasInitializer: init.zeros(),
				name,
			})
			.apply(x) as SymbolicTensor;
	const bn = (x: SymbolicTensor, name: string) => tf.layers.batchNormalization({ axis: 3, epsilon: BN_EPSILON, name }).apply(x) as SymbolicTensor;
	const relu = (x: SymbolicTensor, name: string) => tf.layers.activation({ activation: 'relu', name }).apply(x) as SymbolicTensor;
	const pad1 = (x: SymbolicTensor, name: string) =>
		tf.layers
			.zeroPadding2d({
				padding: [
					[1, 1],
					[1, 1],
				],
				name,
			})
			.apply(x) as SymbolicTensor;

	const block = (x: SymbolicTensor, filters: number, stride: number, convShortcut: boolean, name: string): SymbolicTensor => {
		let preact = bn(x, `${name}_preact_bn`);
		preact = relu(preact, `${name}_preact_relu`);
		let shortcut: SymbolicTensor;
		if (convShortcut) {
			shortcut = conv(preact, 4 * filters, 1, stride, true, `${name}_0_conv`);
		} else if (stride > 1) {
			const poolName = poolCount === 0 ? 'max_pooling2d' : `max_pooling2d_${poolCount}`;
			poolCount++;
			shortcut = tf.layers.maxPooling2d({ poolSize: 1, strides: stride, name: poolName }).apply(x) as SymbolicTensor;
		} else {
			shortcut = x;
		}
		let y = conv(preact, filters, 1, 1, false, `${name}_1_conv`);
		y = bn(y, `${name}_1_bn`);
		y = relu(y, `${name}_1_relu`);
		y = pad1(y, `${name}_2_pad`);
		y = conv(y, filters, 3, stride, false, `${name}_2_conv`);
		y = bn(y, `${name}_2_bn`);
		y = relu(y, `${name}_2_relu`);
		y = conv(y, 4 * filters, 1, 1, true, `${name}_3_conv`);
		return tf.layers.add({ name: `${name}_out` }).apply([shortcut, y]) as SymbolicTensor;
	};

	const stack = (x: SymbolicTensor, filters: number, blocks: number, stride1: number, name: string): SymbolicTensor => {
		x = block(x, filters, 1, true, `${name}_block1`);
		for (let i = 2; i < blocks; i++) x = block(x, filters, 1, false, `${name}_block${i}`);
		return block(x, filters, stride1, false, `${name}_block${blocks}`);
	};

	const input = tf.input({ shape: [inputSize, inputSize, 3], name: 'input_1' });
	let x = tf.layers
		.zeroPadding2d({
			padding: [
				[3, 3],
				[3, 3],
			],
			name: 'conv1_pad',
		})
		.apply(input) as SymbolicTensor;
	x = conv(x, 64, 7, 2, true, 'conv1_conv');
	x = pad1(x, 'pool1_pad');
	x = tf.layers.maxPooling2d({ poolSize: 3, strides: 2, name: 'pool1_pool' }).apply(x) as SymbolicTensor;
	x = stack(x, 64, 3, 2, 'conv2');
	x = stack(x, 128, 4, 2, 'conv3');
	x = stack(x, 256, 6, 2, 'conv4');
	x = stack(x, 512, 3, 1, 'conv5');
	x = bn(x, 'post_bn');
	x = relu(x, 'post_relu');
	return tf.model({ inputs: input, outputs: x, name: 'resnet50v2' });
}

/** conv1, pool1 and the last blocks of conv2–conv4 each halve (pad-then-valid, stride 2 = ceil). */
export function resnet50v2OutputShape(inputSize: number): [number, number, number] {
	let s = inputSize;
	for (let i = 0; i < 5; i++) s = halve(s);
	return [s, s, 2048];
}
