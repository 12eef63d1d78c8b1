// Shared pieces of the keras.applications ports: Keras' initialisers (seedable), size checks, cost counting.
import { tf } from '../tf';
import type { LayersModel } from '../tf';

type Initializer = ReturnType<typeof tf.initializers.zeros>;
type SymbolicTensor = ReturnType<typeof tf.input>;
export type { SymbolicTensor };

/** Options every builder accepts. */
export interface BuildOptions {
	/** Seed for the random (not pretrained) initial weights; each layer derives its own from it. */
	seed?: number;
}

/**
 * Keras' defaults: glorot_uniform kernels, zero biases (tfjs defaults to glorotNormal, so say it).
 * With a seed, layer i gets seed + i so that kernels of equal shape still differ.
 */
export class KerasInit {
	private next: number;
	constructor(private readonly seed?: number) {
		this.next = seed ?? 0;
	}

	kernel(): Initializer {
		if (this.seed === undefined) return tf.initializers.glorotUniform({});
		return tf.initializers.glorotUniform({ seed: this.next++ });
	}

	zeros(): Initializer {
		return tf.initializers.zeros();
	}
}

/** keras.applications' obtain_input_shape check, with the same minimums. */
export function checkInputSize(name: string, inputSize: number, minSize: number): void {
	if (!Number.isInteger(inputSize) || inputSize < minSize) {
		throw new Error(`${name}: input size must be an integer ≥ ${minSize} (Keras' minimum), got ${inputSize}`);
	}
}

/** Keras' `same`-padding stride-2 output size (also that of pad-then-valid stride-2 layers). */
export function halve(size: number): number {
	return Math.ceil(size / 2);
}

/** Parameters, counted as Keras' model.count_params() does (trainable and not). */
export function countParams(model: LayersModel): number {
	return model.countParams();
}

/**
 * Multiply-accumulates per image of every Conv2D, SeparableConv2D, DepthwiseConv2D and Dense layer, in
 * GMACs: the number the benchmark turns into GFLOP/s (= 2 × MAC/s).
 */
export function countGmacs(model: LayersModel): number {
	let macs = 0;
	for (const layer of model.layers) {
		const out = layer.outputShape as (number | null)[];
		const cls = layer.getClassName();
		const cfg = layer.getConfig() as Record<string, unknown>;
		const spatial = out.length === 4 ? (out[1] ?? 0) * (out[2] ?? 0) : 1;
		const cout = out[out.length - 1] ?? 0;
		if (!['Conv2D', 'SeparableConv2D', 'DepthwiseConv2D', 'Dense'].includes(cls)) continue;
		const inShape = (layer.input as SymbolicTensor).shape;
		const cin = inShape[inShape.length - 1] ?? 0;
		const k = (cfg.kernelSize as number[] | undefined) ?? [1, 1];
		const kk = k[0] * k[1];
		switch (cls) {
			case 'Conv2D':
				macs += spatial * kk * cin * cout;
				break;
			case 'SeparableConv2D': {
				const dm = (cfg.depthMultiplier as number | undefined) ?? 1;
				macs += spatial * kk * cin * dm + spatial * cin * dm * cout;
				break;
			}
			case 'DepthwiseConv2D':
				macs += spatial * kk * cout;
				break;
			case 'Dense':
				macs += cin * cout;
				break;
		}
	}
	return macs / 1e9;
}

/** Every layer name of a model, in order (for existence checks and aliases). */
export function layerNames(model: LayersModel): string[] {
	return model.layers.map((l) => l.name);
}
