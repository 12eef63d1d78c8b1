// The DICOM grayscale display pipeline as pure arithmetic (no Node, no DOM), shared by the engine's decoder and the
// Radiograph Viewer's webview, so a window chosen in the viewer draws exactly what the model would be fed.
// PS3.3 C.11.1 (Modality LUT), C.11.2.1.2 / C.11.2.1.3 (VOI LINEAR, LINEAR_EXACT, SIGMOID), C.7.6.3.1.2 (MONOCHROME1).

/** VOI LUT Function (0028,1056); LINEAR when absent. */
export type VoiFunction = 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';

/** A window in modality units (after RescaleSlope / RescaleIntercept). */
export interface VoiWindow {
	center: number;
	width: number;
	fn: VoiFunction;
}

/** Which window turns modality values into display values. */
export type WindowChoice =
	/** The n-th WindowCenter/WindowWidth pair of the file (0 = the first); min–max when the file has fewer. */
	| { kind: 'file'; index: number }
	/** Low/high percentiles of the image's modality values (robust to burnt-in labels and collimator edges). */
	| { kind: 'percentile'; low: number; high: number }
	/** The full range of the image's modality values. */
	| { kind: 'minmax' };

export const VOI_FUNCTIONS: readonly VoiFunction[] = ['LINEAR', 'LINEAR_EXACT', 'SIGMOID'];

/** The names users pick a model-input window by (setting `radiographReview.dicomWindow`, CLI `--dicom-window`). */
export const DICOM_WINDOWS = {
	first: { kind: 'file', index: 0 },
	second: { kind: 'file', index: 1 },
	percentile: { kind: 'percentile', low: 1, high: 99 },
	minmax: { kind: 'minmax' },
} as const satisfies Record<string, WindowChoice>;
export type DicomWindowName = keyof typeof DICOM_WINDOWS;

/** Map one modality value to [0, 1] (0 = black before any MONOCHROME1 inversion). */
export function voi(x: number, w: VoiWindow): number {
	const { center: c, width } = w;
	if (w.fn === 'SIGMOID') return 1 / (1 + Math.exp((-4 * (x - c)) / width));
	if (w.fn === 'LINEAR_EXACT') {
		if (x <= c - width / 2) return 0;
		if (x > c + width / 2) return 1;
		return (x - c) / width + 0.5;
	}
	// LINEAR: the standard's half-pixel offsets; width must be ≥ 1.
	const ww = Math.max(width, 1);
	if (x <= c - 0.5 - (ww - 1) / 2) return 0;
	if (x > c - 0.5 + (ww - 1) / 2) return 1;
	return (x - (c - 0.5)) / Math.max(ww - 1, 1) + 0.5;
}

/**
 * A lookup table from every stored value in [minStored, minStored + table.length) to a display byte: modality LUT,
 * VOI, then MONOCHROME1 inversion. 16-bit data needs at most 65 536 entries, so a window drag redraws in one pass.
 */
export function displayLut(minStored: number, count: number, slope: number, intercept: number, w: VoiWindow, invert: boolean, out?: Uint8Array): Uint8Array {
	const lut = out && out.length === count ? out : new Uint8Array(count);
	for (let i = 0; i < count; i++) {
		const b = Math.round(voi((minStored + i) * slope + intercept, w) * 255);
		lut[i] = invert ? 255 - b : b;
	}
	return lut;
}

/** Lowest and highest of a typed array. */
export function extent(values: ArrayLike<number>): [number, number] {
	let lo = Infinity;
	let hi = -Infinity;
	for (let i = 0; i < values.length; i++) {
		const v = values[i];
		if (v < lo) lo = v;
		if (v > hi) hi = v;
	}
	return lo <= hi ? [lo, hi] : [0, 0];
}

/**
 * Stored values at the given percentiles (0–100), from a histogram: integer stored data only. Large images are
 * sampled on a regular stride (at most ~4 M values), which moves a percentile by far less than one grey level.
 */
export function storedPercentiles(values: ArrayLike<number>, lo: number, hi: number, percentiles: number[]): number[] {
	const hist = new Uint32Array(hi - lo + 1);
	const stride = Math.max(1, Math.ceil(values.length / 4_000_000));
	let n = 0;
	for (let i = 0; i < values.length; i += stride, n++) hist[values[i] - lo]++;
	return percentiles.map((p) => {
		const target = Math.min(n - 1, Math.max(0, Math.floor((p / 100) * n)));
		let seen = 0;
		for (let i = 0; i < hist.length; i++) {
			seen += hist[i];
			if (seen > target) return lo + i;
		}
		return hi;
	});
}

/** A window spanning modality values a..b (LINEAR_EXACT, so a maps to 0 and b to 1 exactly). */
export function spanWindow(a: number, b: number): VoiWindow {
	const lo = Math.min(a, b);
	const hi = Math.max(a, b);
	return { center: (lo + hi) / 2, width: Math.max(hi - lo, 1e-6), fn: 'LINEAR_EXACT' };
}
