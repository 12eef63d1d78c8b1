// The frozen base on TensorFlow.js. predict() runs in inference mode, so BatchNorm uses its moving statistics as
// Keras does for a frozen base (tfjs' fit would use batch statistics even with trainable=false).
import type { FeatureExtractor } from './extractor';
import { backendReport, tf, type LayersModel } from '../model/tf';

export function createTfjsExtractor(base: LayersModel, inputSize: number): FeatureExtractor {
	const shape = base.outputs[0].shape.slice(1) as [number, number, number];
	if (shape.length !== 3 || shape.some((d) => d == null)) throw new Error(`The base's output ${JSON.stringify(shape)} is not [h, w, c]`);
	const report = backendReport();
	return {
		runtime: `tfjs ${report ? report.label : tf.getBackend()}`,
		outputShape: shape,
		async extract(batch: Float32Array, n: number): Promise<Float32Array> {
			const expected = n * inputSize * inputSize * 3;
			if (batch.length < expected) throw new Error(`Batch holds ${batch.length} floats, expected ${expected}`);
			const out = tf.tidy(() => {
				const x = tf.tensor4d(batch.subarray(0, expected), [n, inputSize, inputSize, 3]);
				return base.predict(x, { batchSize: n }) as tf.Tensor;
			});
			try {
				return (await out.data()) as Float32Array;
			} finally {
				out.dispose();
			}
		},
		dispose() {
			// The base belongs to the caller (it may be reused, e.g. for export).
		},
	};
}
