// The frozen base as a feature function. tfjs implements it everywhere; ONNX Runtime (model/onnx.ts) when it loads.
/** Runs the frozen base on preprocessed NHWC float batches and returns its output, flattened per image. */
export interface FeatureExtractor {
	/** e.g. 'onnxruntime-node (CPU, 2 threads)' or the tfjs backend label. */
	runtime: string;
	/** [h, w, c] of one image's output. */
	outputShape: [number, number, number];
	/** batch: n × size × size × 3 floats (already normalised); returns n × h × w × c floats. */
	extract(batch: Float32Array, n: number): Promise<Float32Array>;
	dispose(): void | Promise<void>;
	/** Why the base runs somewhere other than asked (CUDA requested, the CPU serves): logged as a warning. */
	deviceNote?: string;
	/** Set when an int8 base was asked for: what calibration found, and whether int8 is in use. */
	int8?: import('./int8').Int8Report;
	/** The ranges of an accepted int8 base (a run stores them, so classification rebuilds the same graph). */
	int8Ranges?: Record<string, [number, number]>;
}
