// Pixel normalisation exactly as keras.applications.*.preprocess_input, HWC float32.
import type { Preprocessing } from '../types';

/** ImageNet channel means in BGR order, as Keras' 'caffe' mode subtracts them. */
export const CAFFE_MEAN_BGR = [103.939, 116.779, 123.68] as const;

/**
 * Normalise RGB bytes (HWC) into `out` at `offset` (a batch buffer) or a new array:
 * caffe = RGB→BGR minus CAFFE_MEAN_BGR, tf = x/127.5 − 1, unit = x/255.
 */
export function normalise(rgb: Uint8Array, mode: Preprocessing, out?: Float32Array, offset = 0): Float32Array {
	const n = rgb.length;
	if (n % 3 !== 0) throw new RangeError(`RGB length ${n} is not a multiple of 3`);
	const dst = out ?? new Float32Array(n);
	if (offset < 0 || offset + n > dst.length) throw new RangeError(`normalise: ${n} values do not fit at offset ${offset} of ${dst.length}`);
	switch (mode) {
		case 'caffe': {
			const [mb, mg, mr] = CAFFE_MEAN_BGR;
			for (let i = 0; i < n; i += 3) {
				dst[offset + i] = rgb[i + 2] - mb;
				dst[offset + i + 1] = rgb[i + 1] - mg;
				dst[offset + i + 2] = rgb[i] - mr;
			}
			break;
		}
		case 'tf':
			for (let i = 0; i < n; i++) dst[offset + i] = rgb[i] / 127.5 - 1;
			break;
		case 'unit':
			for (let i = 0; i < n; i++) dst[offset + i] = rgb[i] / 255;
			break;
		default:
			throw new Error(`unknown preprocessing ${String(mode satisfies never)}`);
	}
	return dst;
}
