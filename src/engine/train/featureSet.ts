/** Cached base features of a split, row-major [n, dim], with class indices: what the head trains on. */
export interface FeatureSet {
	feats: Float32Array;
	labels: number[];
	n: number;
	dim: number;
}
