// keras.applications.vgg16.VGG16(include_top=False) with Keras' layer names, so notop .h5 weights load by name.
import { tf } from '../tf';
import type { LayersModel } from '../tf';
import { checkInputSize, KerasInit, type BuildOptions, type SymbolicTensor } from './common';

export const VGG16_MIN_SIZE = 32;

/** [filters, convs] per block, as in Keras. */
const BLOCKS: [number, number][] = [
	[64, 2],
	[128, 2],
	[256, 3],
	[512, 3],
	[512, 3],
];

export function buildVgg16(inputSize = 237, opts: BuildOptions = {}): LayersModel {
	checkInputSize('VGG16', inputSize, VGG16_MIN_SIZE);
	const init = new KerasInit(opts.seed);
	const input = tf.input({ shape: [inputSize, inputSize, 3], name: 'input_1' });
	let x: SymbolicTensor = input;
	BLOCKS.forEach(([filters, convs], b) => {
		for (let c = 1; c <= convs; c++) {
			x = tf.layers
				.conv2d({
					filters,
					kernelSize: 3,
					activation: 'relu',
					padding: 'same',
					kernelInitializer: init.kernel(),
					biasInitializer: init.zeros(),
					name: `block${b + 1}_conv${c}`,
				})
				.apply(x) as SymbolicTensor;
		}
		x = tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `block${b + 1}_pool` }).apply(x) as SymbolicTensor;
	});
	return tf.model({ inputs: input, outputs: x, name: 'vgg16' });
}

/** Five 2×2 valid max-pools: floor halving. */
export function vgg16OutputShape(inputSize: number): [number, number, number] {
	let s = inputSize;
	for (let i = 0; i < 5; i++) s = Math.floor(s / 2);
	return [s, s, 512];
}
