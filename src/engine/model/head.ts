// The reference classification head, and the fast path that trains it on cached, pooled features.
// AveragePooling2D(2×2) → Flatten → Dense(20, relu) → Dropout → Dense(3, softmax), Keras' layer names and initialisers.
import { CLASS_NAMES } from '../types';
import { tf, type LayersModel } from './tf';
import type { HeadWeights } from '../explain/gradcam';
import type { BackboneSpec } from './backbones/spec';

export const HEAD_UNITS = 20;

/** Output of AveragePooling2D(pool 2, stride 2, 'valid') on a base output [h, w, c]. */
export function pooledShape(baseShape: [number, number, number]): [number, number, number] {
	const [h, w, c] = baseShape;
	return [Math.floor(h / 2), Math.floor(w / 2), c];
}

/**
 * Smallest square input whose base output the head's 2×2 average pooling can take (≥ 2×2): below it the pooled
 * features are empty (VGG16 at 32 px gives 1×1, pooled to 0×0) and the backend fails deep inside with no reason.
 */
export function minHeadImageSize(spec: Pick<BackboneSpec, 'outputShape'> & { minInputSize?: number }): number {
	for (let n = Math.max(1, spec.minInputSize ?? 1); ; n++) {
		const [h, w] = spec.outputShape(n);
		if (h >= 2 && w >= 2) return n;
	}
}

/** Floats per image after pooling and flattening: what the feature cache stores. */
export function featureDim(baseShape: [number, number, number]): number {
	const [h, w, c] = pooledShape(baseShape);
	return h * w * c;
}

/** Head parameter count (Dense 20 + Dense 3), e.g. 92,243 for VGG16 at 237. */
export function headParamCount(baseShape: [number, number, number]): number {
	const d = featureDim(baseShape);
	return d * HEAD_UNITS + HEAD_UNITS + HEAD_UNITS * CLASS_NAMES.length + CLASS_NAMES.length;
}

export interface HeadOptions {
	/** Output [h, w, c] of the frozen base. */
	baseShape: [number, number, number];
	dropout: number;
	/** Seeds the kernels (glorot_uniform); biases start at zero as in Keras. */
	seed: number;
}

/**
 * The head as one full model (input = the base output, for saving and export), plus direct handles on its
 * two Dense layers, whose variables the fast training loop updates in place.
 */
export interface Head {
	model: LayersModel;
	dense: ReturnType<typeof tf.layers.dense>;
	output: ReturnType<typeof tf.layers.dense>;
	dropout: number;
	baseShape: [number, number, number];
	featureDim: number;
}

/** A fresh head with Keras' initialisers (tfjs defaults to glorotNormal; Keras' Dense uses glorot_uniform). */
export function buildHead(opts: HeadOptions): Head {
	const [h, w, c] = opts.baseShape;
	if (h < 2 || w < 2) throw new Error(`Base output ${h}×${w} is too small for 2×2 average pooling`);
	const input = tf.input({ shape: [h, w, c], name: 'head_input' });
	const pooled = tf.layers.averagePooling2d({ poolSize: 2, name: 'average_pooling2d' }).apply(input) as tf.SymbolicTensor;
	const flat = tf.layers.flatten({ name: 'flatten' }).apply(pooled) as tf.SymbolicTensor;
	const dense = tf.layers.dense({
		units: HEAD_UNITS,
		activation: 'relu',
		kernelInitializer: tf.initializers.glorotUniform({ seed: opts.seed }),
		biasInitializer: 'zeros',
		name: 'dense',
	});
	// Not seeded: a seeded tfjs Dropout draws the same mask every step. The fast loop draws its own masks.
	const drop = tf.layers.dropout({ rate: opts.dropout, name: 'dropout' });
	const output = tf.layers.dense({
		units: CLASS_NAMES.length,
		activation: 'softmax',
		kernelInitializer: tf.initializers.glorotUniform({ seed: opts.seed + 1 }),
		biasInitializer: 'zeros',
		name: 'dense_1',
	});
	const out = output.apply(drop.apply(dense.apply(flat))) as tf.SymbolicTensor;
	const model = tf.model({ inputs: input, outputs: out, name: 'head' });
	return wrapHead(model, opts.baseShape);
}

/** Wraps a loaded full head (from a run folder) so the fast path can use it. */
export function wrapHead(model: LayersModel, baseShape?: [number, number, number]): Head {
	const shape = baseShape ?? (model.inputs[0].shape.slice(1) as [number, number, number]);
	const dense = model.getLayer('dense') as ReturnType<typeof tf.layers.dense>;
	const output = model.getLayer('dense_1') as ReturnType<typeof tf.layers.dense>;
	const dropLayer = model.getLayer('dropout');
	const rate = (dropLayer.getConfig() as { rate?: number }).rate ?? 0;
	return { model, dense, output, dropout: rate, baseShape: shape, featureDim: featureDim(shape) };
}

/** The head's trainable variables: dense kernel, bias, dense_1 kernel, bias. */
export function headVariables(head: Head): tf.Variable[] {
	return [...head.dense.trainableWeights, ...head.output.trainableWeights].map((w) => (w as unknown as { val: tf.Variable }).val);
}

/**
 * Forward pass of Dense → Dropout → Dense on pooled features [n, d]. `dropMask` (n × 20, values 0 or 1/(1−rate))
 * applies dropout as training would; omit it for inference.
 */
export function headForward(head: Head, x: tf.Tensor2D, dropMask?: tf.Tensor2D): tf.Tensor2D {
	const [k1, b1, k2, b2] = headVariables(head);
	let hidden = tf.relu(tf.add(tf.matMul(x, k1), b1)) as tf.Tensor2D;
	if (dropMask) hidden = tf.mul(hidden, dropMask);
	return tf.softmax(tf.add(tf.matMul(hidden, k2), b2)) as tf.Tensor2D;
}

/** Probabilities [n × 3] for pooled features (row-major, n × featureDim). */
export function predictPooled(head: Head, feats: Float32Array, n: number, chunk = 256): Float32Array {
	const out = new Float32Array(n * CLASS_NAMES.length);
	for (let i = 0; i < n; i += chunk) {
		const m = Math.min(chunk, n - i);
		const probs = tf.tidy(() => {
			const x = tf.tensor2d(feats.subarray(i * head.featureDim, (i + m) * head.featureDim), [m, head.featureDim]);
			return headForward(head, x);
		});
		out.set(probs.dataSync(), i * CLASS_NAMES.length);
		probs.dispose();
	}
	return out;
}

/**
 * Categorical cross-entropy exactly as tfjs-layers / Keras (non-logits path): renormalise, clip to [ε, 1−ε], −Σ y log p.
 * Returns per-sample losses [n].
 */
export function crossEntropy(yTrue: tf.Tensor2D, probs: tf.Tensor2D): tf.Tensor1D {
	const eps = tf.backend().epsilon();
	const p = tf.clipByValue(tf.div(probs, tf.sum(probs, -1, true)), eps, 1 - eps);
	return tf.neg(tf.sum(tf.mul(yTrue, tf.log(p)), -1)) as tf.Tensor1D;
}

/** Adam as Keras configures it (β1 0.9, β2 0.999, ε 1e-7). */
export function createOptimizer(learningRate: number): tf.AdamOptimizer {
	return tf.train.adam(learningRate, 0.9, 0.999, 1e-7);
}

/** Mean-pools [n, h, w, c] base outputs 2×2 and flattens, with the same op as the head's AveragePooling2D. */
export function poolFeatures(raw: Float32Array, n: number, baseShape: [number, number, number]): Float32Array {
	return tf.tidy(() => {
		const x = tf.tensor4d(raw, [n, ...baseShape]);
		return tf.avgPool(x, 2, 2, 'valid').reshape([n, -1]).dataSync() as Float32Array;
	});
}

/** The trained Dense kernels and biases as plain arrays (for Grad-CAM, which needs no tensors). */
export function headWeightsOf(head: Head): HeadWeights {
	const [k1, b1, k2, b2] = headVariables(head).map((v) => v.dataSync() as Float32Array);
	return { k1: k1.slice(), b1: b1.slice(), k2: k2.slice(), b2: b2.slice(), hidden: HEAD_UNITS, classes: CLASS_NAMES.length };
}
