// Grad-CAM (Selvaraju et al. 2017) at the base's last convolutional feature map, written out analytically: the head
// (AveragePooling 2×2 → Flatten → Dense relu → Dropout → Dense softmax) is small enough that the gradient of a class
// score with respect to the feature map is a few matrix-vector products. No tfjs here: plain arrays in, maps out.

/** The head's two Dense layers as plain arrays (kernels row-major [in, out], as Keras stores them). */
export interface HeadWeights {
	/** [pooledH × pooledW × c, hidden] */
	k1: Float32Array;
	b1: Float32Array;
	/** [hidden, classes] */
	k2: Float32Array;
	b2: Float32Array;
	hidden: number;
	classes: number;
}

/** One image's base output [h, w, c], row-major (NHWC without the batch). */
export interface FeatureMap {
	data: Float32Array;
	h: number;
	w: number;
	c: number;
}

/** AveragePooling2D(2, stride 2, 'valid') then Flatten, as the head does it (an odd last row/column is dropped). */
export function poolFlat(a: FeatureMap): Float64Array {
	const ph = a.h >> 1;
	const pw = a.w >> 1;
	const C = a.c;
	const d = a.data;
	const out = new Float64Array(ph * pw * C);
	for (let i = 0; i < ph; i++)
		for (let j = 0; j < pw; j++) {
			const o00 = (2 * i * a.w + 2 * j) * C;
			const o10 = o00 + a.w * C;
			const base = (i * pw + j) * C;
			for (let k = 0; k < C; k++) out[base + k] = (d[o00 + k] + d[o00 + C + k] + d[o10 + k] + d[o10 + C + k]) / 4;
		}
	return out;
}

/** Hidden pre-activations and class logits of the head for a pooled vector (inference: dropout is the identity). */
export function headLogits(p: ArrayLike<number>, wts: HeadWeights): { z1: Float64Array; logits: Float64Array } {
	const { hidden, classes } = wts;
	const d = p.length;
	if (d * hidden !== wts.k1.length) throw new Error(`Feature map gives ${d} pooled values, the head expects ${wts.k1.length / hidden}`);
	const z1 = Float64Array.from(wts.b1);
	for (let i = 0; i < d; i++) {
		const v = p[i];
		if (v === 0) continue;
		const row = i * hidden;
		for (let u = 0; u < hidden; u++) z1[u] += v * wts.k1[row + u];
	}
	const logits = Float64Array.from(wts.b2);
	for (let u = 0; u < hidden; u++) {
		const hu = z1[u] > 0 ? z1[u] : 0;
		for (let c = 0; c < classes; c++) logits[c] += hu * wts.k2[u * classes + c];
	}
	return { z1, logits };
}

export function softmax(z: ArrayLike<number>): number[] {
	const m = Math.max(...Array.from(z));
	const e = Array.from(z, (v) => Math.exp(v - m));
	const s = e.reduce((a, b) => a + b, 0);
	return e.map((v) => v / s);
}

/**
 * ∂(logit of `cls`) / ∂A for every cell of the feature map: through the relu's active units, the Dense kernels and
 * the pooling (each cell of a 2×2 window gets a quarter; cells the pooling drops get zero).
 */
export function logitGradient(a: FeatureMap, wts: HeadWeights, cls: number, z1 = headLogits(poolFlat(a), wts).z1): Float64Array {
	const { hidden, classes } = wts;
	const v = new Float64Array(hidden);
	for (let u = 0; u < hidden; u++) v[u] = z1[u] > 0 ? wts.k2[u * classes + cls] : 0;
	const ph = a.h >> 1;
	const pw = a.w >> 1;
	const C = a.c;
	const grad = new Float64Array(a.h * a.w * C);
	const k1 = wts.k1;
	for (let i = 0; i < ph; i++)
		for (let j = 0; j < pw; j++) {
			// The four cells of this pooling window, as offsets of their channel vectors.
			const o00 = (2 * i * a.w + 2 * j) * C;
			const o01 = o00 + C;
			const o10 = o00 + a.w * C;
			const o11 = o10 + C;
			const base = (i * pw + j) * C;
			for (let k = 0; k < C; k++) {
				const row = (base + k) * hidden;
				let g = 0;
				for (let u = 0; u < hidden; u++) g += k1[row + u] * v[u];
				g *= 0.25;
				grad[o00 + k] = g;
				grad[o01 + k] = g;
				grad[o10 + k] = g;
				grad[o11 + k] = g;
			}
		}
	return grad;
}

export interface GradCam {
	/** Class the map explains (index into the head's outputs). */
	cls: number;
	/** relu(Σ_k α_k A_k) on the feature grid [h × w], not normalised. */
	map: Float64Array;
	h: number;
	w: number;
	/** The head's probabilities for this feature map. */
	probs: number[];
}

/** Grad-CAM for one class: α_k = mean over the grid of ∂logit/∂A_k, map = relu(Σ_k α_k A_k). */
export function gradCam(a: FeatureMap, wts: HeadWeights, cls?: number): GradCam {
	const { z1, logits } = headLogits(poolFlat(a), wts);
	const probs = softmax(logits);
	const c = cls ?? probs.indexOf(Math.max(...probs));
	const grad = logitGradient(a, wts, c, z1);
	const alpha = new Float64Array(a.c);
	const cells = a.h * a.w;
	for (let p = 0; p < cells; p++) for (let k = 0; k < a.c; k++) alpha[k] += grad[p * a.c + k];
	for (let k = 0; k < a.c; k++) alpha[k] /= cells;
	const map = new Float64Array(cells);
	for (let p = 0; p < cells; p++) {
		let s = 0;
		for (let k = 0; k < a.c; k++) s += alpha[k] * a.data[p * a.c + k];
		map[p] = s > 0 ? s : 0;
	}
	return { cls: c, map, h: a.h, w: a.w, probs };
}

/** Bilinear resampling of a grid map to width × height (align-corners off, as image resizers do). */
export function upsample(map: ArrayLike<number>, h: number, w: number, width: number, height: number): Float32Array {
	const out = new Float32Array(width * height);
	for (let y = 0; y < height; y++) {
		const sy = Math.min(Math.max(((y + 0.5) * h) / height - 0.5, 0), h - 1);
		const y0 = Math.floor(sy);
		const y1 = Math.min(y0 + 1, h - 1);
		const fy = sy - y0;
		for (let x = 0; x < width; x++) {
			const sx = Math.min(Math.max(((x + 0.5) * w) / width - 0.5, 0), w - 1);
			const x0 = Math.floor(sx);
			const x1 = Math.min(x0 + 1, w - 1);
			const fx = sx - x0;
			const top = map[y0 * w + x0] * (1 - fx) + map[y0 * w + x1] * fx;
			const bottom = map[y1 * w + x0] * (1 - fx) + map[y1 * w + x1] * fx;
			out[y * width + x] = top * (1 - fy) + bottom * fy;
		}
	}
	return out;
}

/** Where a map puts its mass: the border band (where burned-in labels and markers sit), its corners, the centre. */
export interface WhereItLooks {
	/** Share of mass in the outer band (1/7 of each side; corners included). A uniform map gives ≈ 0.49. */
	border: number;
	/** Share of mass in the four corner squares of the band (uniform ≈ 0.08). */
	corners: number;
	/** 1 − border. */
	centre: number;
	/** The map looks mostly outside the central field. */
	outside: boolean;
}

/** Width of the border band as a share of each side: about the margin that holds no lung on a frontal film. */
export const BORDER_BAND = 1 / 7;
/** The "looks outside the lungs" flag: most of the mass in the band, well above a uniform map's ≈ 0.49. */
export const OUTSIDE_THRESHOLD = 0.7;

/** Shares of a map's mass, measured on a 70 × 70 resampling so that every grid size is judged alike. */
export function whereItLooks(map: ArrayLike<number>, h: number, w: number): WhereItLooks {
	const S = 70;
	const up = upsample(map, h, w, S, S);
	const band = Math.round(S * BORDER_BAND);
	let total = 0;
	let border = 0;
	let corners = 0;
	for (let y = 0; y < S; y++)
		for (let x = 0; x < S; x++) {
			const v = up[y * S + x];
			total += v;
			const inY = y < band || y >= S - band;
			const inX = x < band || x >= S - band;
			if (inY || inX) border += v;
			if (inY && inX) corners += v;
		}
	if (total <= 0) return { border: NaN, corners: NaN, centre: NaN, outside: false };
	const b = border / total;
	return { border: b, corners: corners / total, centre: 1 - b, outside: b >= OUTSIDE_THRESHOLD };
}

/** Normalises a map to [0, 1] by its maximum (an all-zero map stays zero). */
export function normalise(map: ArrayLike<number>): Float32Array {
	let m = 0;
	for (let i = 0; i < map.length; i++) if (map[i] > m) m = map[i];
	return Float32Array.from(map, (v) => (m > 0 ? v / m : 0));
}

/** A perceptual colour ramp (dark blue → cyan → yellow → red) for a value in [0, 1]. */
export function heatColour(v: number): [number, number, number] {
	const stops: [number, number, number, number][] = [
		[0, 20, 20, 120],
		[0.35, 0, 170, 220],
		[0.65, 250, 230, 40],
		[1, 220, 30, 20],
	];
	const t = Math.min(Math.max(v, 0), 1);
	let i = 0;
	while (i < stops.length - 2 && t > stops[i + 1][0]) i++;
	const [t0, r0, g0, b0] = stops[i];
	const [t1, r1, g1, b1] = stops[i + 1];
	const f = (t - t0) / (t1 - t0);
	return [Math.round(r0 + (r1 - r0) * f), Math.round(g0 + (g1 - g0) * f), Math.round(b0 + (b1 - b0) * f)];
}

/** RGBA overlay (width × height) of a normalised map: colour from the ramp, alpha grows with the value. */
export function overlayRgba(map: ArrayLike<number>, h: number, w: number, width: number, height: number, maxAlpha = 0.6): Uint8Array {
	const up = upsample(normalise(map), h, w, width, height);
	const out = new Uint8Array(width * height * 4);
	for (let i = 0; i < up.length; i++) {
		const [r, g, b] = heatColour(up[i]);
		out[i * 4] = r;
		out[i * 4 + 1] = g;
		out[i * 4 + 2] = b;
		out[i * 4 + 3] = Math.round(255 * maxAlpha * Math.min(1, up[i] * 1.2));
	}
	return out;
}
