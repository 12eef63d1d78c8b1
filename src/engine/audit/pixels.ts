// Cheap per-image checks on the cached pixels and the file header: colour, shape, size, DICOM tags; and a
// 64-bit perceptual hash (DCT of a 32×32 grayscale) that confirms near-duplicates found in feature space.
import { promises as fs } from 'node:fs';
import sharp from 'sharp';
import * as dicomParser from 'dicom-parser';
import { sniffFormat } from '../data/sniff';

/** Mean chroma (mean of |R−G|, |G−B|, |B−R| over pixels) above this is a colour image, not a radiograph. */
export const COLOUR_CHROMA = 12;
/** Long side / short side above this is no chest film (those are ~0.8–1.25; 14×17 in is 1.21). */
export const MAX_ASPECT = 2;
/** Short side below this many pixels cannot show a chest's findings. */
export const MIN_SIDE = 128;
/** DICOM modalities of projection radiography. */
const XRAY_MODALITIES = new Set(['CR', 'DX', 'DR', 'RG']);
const FRONTAL_VIEWS = new Set(['PA', 'AP', 'APS', 'PAS', '']);

export interface ImageHeader {
	width: number;
	height: number;
	modality?: string;
	viewPosition?: string;
}

/** Dimensions (and DICOM Modality / ViewPosition) from the file header, without decoding pixels. */
export async function readHeader(file: string): Promise<ImageHeader> {
	const fh = await fs.open(file, 'r');
	let head: Uint8Array;
	try {
		const buf = Buffer.alloc(132);
		await fh.read(buf, 0, 132, 0);
		head = buf;
	} finally {
		await fh.close();
	}
	if (sniffFormat(head, file) === 'dicom') {
		const ds = dicomParser.parseDicom(await fs.readFile(file), { untilTag: 'x7fe00010' });
		return {
			width: ds.uint16('x00280011') ?? 0,
			height: ds.uint16('x00280010') ?? 0,
			modality: ds.string('x00080060')?.trim() || undefined,
			viewPosition: ds.string('x00185101')?.trim() || undefined,
		};
	}
	const m = await sharp(file).metadata();
	const swap = (m.orientation ?? 1) >= 5;
	return { width: (swap ? m.height : m.width) ?? 0, height: (swap ? m.width : m.height) ?? 0 };
}

/** Mean chroma of HWC RGB bytes. */
export function meanChroma(rgb: Uint8Array): number {
	let s = 0;
	for (let i = 0; i < rgb.length; i += 3) {
		const r = rgb[i];
		const g = rgb[i + 1];
		const b = rgb[i + 2];
		s += Math.abs(r - g) + Math.abs(g - b) + Math.abs(b - r);
	}
	return s / (rgb.length / 3) / 3;
}

export interface PixelFlag {
	reason: 'colour' | 'aspect-ratio' | 'tiny' | 'dicom-modality' | 'dicom-view';
	detail: string;
}

/** The cheap checks for one image. */
export function pixelFlags(rgb: Uint8Array, header: ImageHeader | undefined): PixelFlag[] {
	const out: PixelFlag[] = [];
	const chroma = meanChroma(rgb);
	if (chroma > COLOUR_CHROMA) out.push({ reason: 'colour', detail: `colour image (mean chroma ${chroma.toFixed(0)}; radiographs are gray)` });
	if (header && header.width > 0 && header.height > 0) {
		const { width: w, height: h } = header;
		const ratio = Math.max(w, h) / Math.min(w, h);
		if (ratio > MAX_ASPECT) out.push({ reason: 'aspect-ratio', detail: `extreme aspect ratio ${w}×${h}` });
		if (Math.min(w, h) < MIN_SIDE) out.push({ reason: 'tiny', detail: `tiny image ${w}×${h}` });
		if (header.modality && !XRAY_MODALITIES.has(header.modality.toUpperCase())) out.push({ reason: 'dicom-modality', detail: `DICOM Modality ${header.modality} (not CR/DX)` });
		if (header.viewPosition !== undefined && !FRONTAL_VIEWS.has(header.viewPosition.toUpperCase())) out.push({ reason: 'dicom-view', detail: `DICOM ViewPosition ${header.viewPosition} (not PA/AP)` });
	}
	return out;
}

const DCT_N = 32;
const COS = (() => {
	const t = new Float64Array(DCT_N * DCT_N);
	for (let u = 0; u < DCT_N; u++) for (let x = 0; x < DCT_N; x++) t[u * DCT_N + x] = Math.cos(((2 * x + 1) * u * Math.PI) / (2 * DCT_N));
	return t;
})();

/** pHash: 32×32 gray (box-averaged from the cached square), 2-D DCT, the 8×8 lowest frequencies vs. their median. */
export function perceptualHash(rgb: Uint8Array, size: number): bigint {
	const g = new Float64Array(DCT_N * DCT_N);
	const cnt = new Float64Array(DCT_N * DCT_N);
	const cell = new Int32Array(size);
	for (let x = 0; x < size; x++) cell[x] = Math.min(DCT_N - 1, Math.floor((x * DCT_N) / size));
	for (let y = 0, i = 0; y < size; y++) {
		const row = cell[y] * DCT_N;
		for (let x = 0; x < size; x++, i += 3) {
			const k = row + cell[x];
			g[k] += 0.299 * rgb[i] + 0.587 * rgb[i + 1] + 0.114 * rgb[i + 2];
			cnt[k]++;
		}
	}
	for (let i = 0; i < g.length; i++) g[i] /= cnt[i] || 1;
	// Separable: the 8 lowest row frequencies first (8×32 sums over y), then the 8 column ones; 6× fewer products.
	const rows = new Float64Array(8 * DCT_N);
	for (let u = 0; u < 8; u++) for (let y = 0; y < DCT_N; y++) for (let x = 0; x < DCT_N; x++) rows[u * DCT_N + x] += COS[u * DCT_N + y] * g[y * DCT_N + x];
	const coef: number[] = [];
	for (let u = 0; u < 8; u++) {
		for (let v = 0; v < 8; v++) {
			let s = 0;
			for (let x = 0; x < DCT_N; x++) s += rows[u * DCT_N + x] * COS[v * DCT_N + x];
			coef.push(s);
		}
	}
	// Leave out the DC term from the median, as pHash does: it only carries brightness.
	const median = [...coef.slice(1)].sort((a, b) => a - b)[31];
	let h = 0n;
	for (let i = 0; i < 64; i++) if (coef[i] > median) h |= 1n << BigInt(i);
	return h;
}

export function hamming(a: bigint, b: bigint): number {
	let x = a ^ b;
	let n = 0;
	while (x) {
		x &= x - 1n;
		n++;
	}
	return n;
}
