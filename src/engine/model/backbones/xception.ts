// keras.applications.Xception(include_top=False) with Keras' layer names (keras/src/applications/xception.py).
// The four residual 1×1 convs and their BatchNormalizations are unnamed in Keras; we give them tf.keras' auto
// names (conv2d … conv2d_3, batch_normalization … batch_normalization_3). Files written by standalone Keras 2.0
// call them conv2d_1 … conv2d_4: h5.ts matches such auto-named layers by order, as Keras' load_weights does.
import { tf } from '../tf';
import type { LayersModel } from '../tf';
import { checkInputSize, halve, KerasInit, type BuildOptions, type SymbolicTensor } from './common';

export const XCEPTION_MIN_SIZE = 71;

/** The residual layers' names in files saved by standalone Keras 2.0–2.2 (counting from 1). */
export const XCEPTION_KERAS2_ALIASES: Record<string, string> = {
	conv2d: 'conv2d_1',
	conv2d_1: 'conv2d_2',
	conv2d_2: 'conv2d_3',
	conv2d_3: 'conv2d_4',
	batch_normalization: 'batch_normalization_1',
	batch_normalization_1: 'batch_normalization_2',
	batch_normalization_2: 'batch_normalization_3',
	batch_normalization_3: 'batch_normalization_4',
};

export function buildXception(inputSize = 237, opts: BuildOptions = {}): LayersModel {
	checkInputSize('Xception', inputSize, XCEPTION_MIN_SIZE);
	const init = new KerasInit(opts.seed);
	const auto = { conv: 0, bn: 0, add: 0 };
	const autoName = (base: string, n: number) => (n === 0 ? base : `${base}_${n}`);

	const conv = (x: SymbolicTensor, filters: number, kernelSize: number, strides: number, padding: 'valid' | 'same', name: string) =>
		tf.layers.conv2d({ filters, kernelSize, strides, padding, useBias: false, kernelInitializer: init.kernel(), name }).apply(x) as SymbolicTensor;
	const sep = (x: SymbolicTensor, filters: number, name: string) =>
		tf.layers
			.separableConv2d({
				filters,
				kernelSize: 3,
				padding: 'same',
				useBias: false,
				depthwiseInitializer: init.kernel(),
				pointwiseInitializer: init.kernel(),
				name,
			})
			.apply(x) as SymbolicTensor;
	const bn = (x: SymbolicTensor, name: string) => tf.layers.batchNormalization({ axis: 3, name }).apply(x) as SymbolicTensor;
	const relu = (x: SymbolicTensor, name: string) => tf.layers.activation({ activation: 'relu', name }).apply(x) as SymbolicTensor;
	const pool = (x: SymbolicTensor, name: string) => tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name }).apply(x) as SymbolicTensor;
	const add = (a: SymbolicTensor, b: SymbolicTensor) => tf.layers.add({ name: autoName('add', auto.add++) }).apply([a, b]) as SymbolicTensor;
	const residual = (x: SymbolicTensor, filters: number) => {
		const r = conv(x, filters, 1, 2, 'same', autoName('conv2d', auto.conv++));
		return bn(r, autoName('batch_normalization', auto.bn++));
	};

	const input = tf.input({ shape: [inputSize, inputSize, 3], name: 'input_1' });
	let x = conv(input, 32, 3, 2, 'valid', 'block1_conv1');
	x = bn(x, 'block1_conv1_bn');
	x = relu(x, 'block1_conv1_act');
	x = conv(x, 64, 3, 1, 'valid', 'block1_conv2');
	x = bn(x, 'block1_conv2_bn');
	x = relu(x, 'block1_conv2_act');

	// Blocks 2–4: two separable convs, a pool, plus a strided 1×1 residual. Block 2 starts without a ReLU.
	for (const [b, filters] of [
		[2, 128],
		[3, 256],
		[4, 728],
	] as const) {
		const r = residual(x, filters);
		if (b > 2) x = relu(x, `block${b}_sepconv1_act`);
		x = sep(x, filters, `block${b}_sepconv1`);
		x = bn(x, `block${b}_sepconv1_bn`);
		x = relu(x, `block${b}_sepconv2_act`);
		x = sep(x, filters, `block${b}_sepconv2`);
		x = bn(x, `block${b}_sepconv2_bn`);
		x = pool(x, `block${b}_pool`);
		x = add(x, r);
	}

	// Middle flow: blocks 5–12, identity residuals.
	for (let b = 5; b <= 12; b++) {
		const r = x;
		for (let s = 1; s <= 3; s++) {
			x = relu(x, `block${b}_sepconv${s}_act`);
			x = sep(x, 728, `block${b}_sepconv${s}`);
			x = bn(x, `block${b}_sepconv${s}_bn`);
		}
		x = add(x, r);
	}

	const r = residual(x, 1024);
	x = relu(x, 'block13_sepconv1_act');
	x = sep(x, 728, 'block13_sepconv1');
	x = bn(x, 'block13_sepconv1_bn');
	x = relu(x, 'block13_sepconv2_act');
	x = sep(x, 1024, 'block13_sepconv2');
	x = bn(x, 'block13_sepconv2_bn');
	x = pool(x, 'block13_pool');
	x = add(x, r);

	x = sep(x, 1536, 'block14_sepconv1');
	x = bn(x, 'block14_sepconv1_bn');
	x = relu(x, 'block14_sepconv1_act');
	x = sep(x, 2048, 'block14_sepconv2');
	x = bn(x, 'block14_sepconv2_bn');
	x = relu(x, 'block14_sepconv2_act');
	return tf.model({ inputs: input, outputs: x, name: 'xception' });
}

/** 3×3/2 valid conv, 3×3 valid conv, then four 'same' stride-2 pools. */
export function xceptionOutputShape(inputSize: number): [number, number, number] {
	let s = Math.floor((inputSize - 3) / 2) + 1;
	s -= 2;
	for (let i = 0; i < 4; i++) s = halve(s);
	return [s, s, 2048];
}
