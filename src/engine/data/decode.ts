// Any supported file → size×size×3 RGB bytes (HWC), the way every model input is born.
import { promises as fs } from 'node:fs';
import sharp from 'sharp';
import type { Equalize, ResizeMode } from '../types';
import { sha256 } from '../util/hash';
import { readDicom } from './dicom';
import type { WindowChoice } from './voi';
import { EMPTY_FILE, sniffFormat } from './sniff';
import { MAX_INPUT_PIXELS } from './limits';

/** Bump when decoding changes its output: cached pixels of older versions are then ignored. */
export const DECODER_VERSION = 2;
/**
 * Resampling kernel for every resize. Lanczos-3 antialiases the 4–18× downscales of radiographs to 237 px,
 * where the reference's cv2.resize (bilinear, no antialias) aliases; it is also sharp's default.
 */
export const RESIZE_KERNEL = 'lanczos3' as const;
/** Largest accepted input: 15 MP radiographs pass, decompression bombs (> 100 MP) do not. */
export { MAX_INPUT_PIXELS } from './limits';

// Parallelism comes from decoding several files at once (see cache.ts), so one libvips thread per image;
// sharp's operation cache only holds memory here because every file is decoded once.
sharp.concurrency(1);
sharp.cache(false);

export interface DecodedImage {
	/** size*size*3 bytes, HWC, RGB. */
	rgb: Uint8Array;
	size: number;
	/** sha256 of the file bytes. */
	sha256: string;
	/** 'jpeg' | 'png' | 'webp' | 'tiff' | 'dicom' (uncompressed) | 'dicom-<codec>' ('dicom-jpeg', 'dicom-j2k', …). */
	format: string;
	/** Things worth telling the user about this file (DICOM: multi-frame, lossy, lateral view, …). */
	notes?: string[];
	/** Original dimensions, after EXIF orientation. */
	width: number;
	height: number;
}

export interface DecodeOptions {
	size: number;
	resize: ResizeMode;
	/** Which DICOM window feeds the model; the file's first by default. */
	dicomWindow?: WindowChoice;
	equalize?: Equalize;
}

/** CLAHE tiles: an 8×8 grid over the output square, slope limit 3 (the usual OpenCV clipLimit range for X-rays). */
const CLAHE_GRID = 8;
const CLAHE_SLOPE = 3;

/** A file that cannot be turned into pixels; the message is "<path>: <reason>". */
export class DecodeError extends Error {
	constructor(
		readonly path: string,
		readonly reason: string,
	) {
		super(`${path}: ${reason}`);
		this.name = 'DecodeError';
	}
}

/** Read, hash and decode one file. */
export async function decodeToRgb(file: string, opts: DecodeOptions): Promise<DecodedImage> {
	let bytes: Uint8Array;
	try {
		bytes = await fs.readFile(file);
	} catch (e) {
		throw new DecodeError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
	}
	return decodeBytes(bytes, file, opts, sha256(bytes));
}

interface OpenedImage {
	img: ReturnType<typeof sharp>;
	format: string;
	/** Upright dimensions; left out when not probed (the header is then parsed once, by the decode itself). */
	width?: number;
	height?: number;
	notes?: string[];
}

/** A sharp pipeline on the file's pixels (DICOM unpacked and windowed first), with its format and upright dimensions when `probe`. */
async function openImage(bytes: Uint8Array, file: string, dicomWindow: WindowChoice | undefined, probe: boolean): Promise<OpenedImage> {
	const kind = sniffFormat(bytes.subarray(0, 132), file);
	if (!kind) throw new DecodeError(file, bytes.length === 0 ? EMPTY_FILE : 'not an image (unrecognised content)');
	let format: string = kind;
	try {
		if (kind === 'dicom') {
			const px = await readDicom(bytes, dicomWindow, file);
			const { width, height } = px;
			if (width * height > MAX_INPUT_PIXELS) throw new Error(`image too large (${width}×${height})`);
			format = px.codec === 'native' ? 'dicom' : `dicom-${px.codec === 'jpeg8' || px.codec === 'jpeg12' ? 'jpeg' : px.codec}`;
			const img = sharp(px.data, { raw: { width, height, channels: px.channels } });
			return { img, format, width, height, ...(px.notes.length ? { notes: px.notes } : {}) };
		}
		// The header's own claim first: libvips names absurd sizes only vaguely ("corrupt header").
		const claimed = headerDimensions(bytes, kind);
		if (claimed && (claimed.width === 0 || claimed.height === 0)) throw new Error(`invalid dimensions in the header (${claimed.width}×${claimed.height})`);
		if (claimed && claimed.width * claimed.height > MAX_INPUT_PIXELS) throw new Error(`image too large (${claimed.width}×${claimed.height} in the header)`);
		const img = sharp(bytes, { failOn: 'error', limitInputPixels: MAX_INPUT_PIXELS }).autoOrient();
		if (!probe) return { img, format };
		const meta = await img.metadata();
		if (!meta.width || !meta.height) throw new Error('no dimensions');
		// EXIF orientations 5–8 swap width and height.
		const [width, height] = (meta.orientation ?? 1) >= 5 ? [meta.height, meta.width] : [meta.width, meta.height];
		return { img, format, width, height };
	} catch (e) {
		throw e instanceof DecodeError ? e : new DecodeError(file, reasonOf(e, format));
	}
}

/** Decode bytes already in memory (`file` names them in errors; `hash` is their sha256 if known). */
export async function decodeBytes(bytes: Uint8Array, file: string, opts: DecodeOptions, hash = sha256(bytes)): Promise<DecodedImage> {
	const opened = await openImage(bytes, file, opts.dicomWindow, true);
	const { rgb, format, notes } = await render(opened, file, opts);
	return { rgb, size: opts.size, sha256: hash, format, width: opened.width!, height: opened.height!, ...(notes ? { notes } : {}) };
}

/**
 * The model's pixels only, as decodeBytes makes them but without probing the dimensions first: the batch loader
 * needs none, and the probe is a second header parse (≈ 5 % of a 1024 px radiograph's decode).
 */
export async function decodePixels(bytes: Uint8Array, file: string, opts: DecodeOptions): Promise<Pick<DecodedImage, 'rgb' | 'format' | 'notes'>> {
	return render(await openImage(bytes, file, opts.dicomWindow, false), file, opts);
}

async function render({ img, format, notes }: OpenedImage, file: string, opts: DecodeOptions): Promise<Pick<DecodedImage, 'rgb' | 'format' | 'notes'>> {
	try {
		let pipeline = img
			.flatten({ background: '#000000' })
			.toColourspace('srgb')
			// JPEG shrink-on-load (libjpeg's DCT scaling by 2, 4 or 8, always leaving lanczos3 a reduction > 1) halves
			// the decode of a 1024 px radiograph; it is sharp's default, stated here because the speed rests on it.
			.resize(opts.size, opts.size, { fit: opts.resize === 'letterbox' ? 'contain' : 'fill', kernel: RESIZE_KERNEL, background: '#000000', fastShrinkOnLoad: true });
		if (opts.equalize === 'clahe') {
			// Equalise the resized square (tiles in output pixels), then back through raw so sharp applies it after the resize.
			const tile = Math.max(3, Math.floor(opts.size / CLAHE_GRID));
			const raw = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
			pipeline = sharp(raw.data, { raw: { width: raw.info.width, height: raw.info.height, channels: raw.info.channels } })
				.clahe({ width: tile, height: tile, maxSlope: CLAHE_SLOPE })
				.toColourspace('srgb');
		}
		const { data, info } = await pipeline.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
		if (info.channels !== 3 || data.length !== opts.size * opts.size * 3) throw new Error(`unexpected output ${info.width}×${info.height}×${info.channels}`);
		return { rgb: new Uint8Array(data.buffer, data.byteOffset, data.length), format, ...(notes ? { notes } : {}) };
	} catch (e) {
		throw new DecodeError(file, reasonOf(e, format));
	}
}

/** A screen-resolution rendition of one image, for the large view. */
export interface PreviewImage {
	/** JPEG bytes, upright, long side ≤ the requested maximum (never enlarged); grey stays one channel. */
	jpeg: Uint8Array;
	width: number;
	height: number;
	/** The file's own dimensions. */
	originalWidth: number;
	originalHeight: number;
	format: string;
}

/** Decodes a file at full resolution (DICOM too) and scales it to fit `maxSide`, keeping the aspect ratio. */
export async function decodePreview(file: string, maxSide: number): Promise<PreviewImage> {
	let bytes: Uint8Array;
	try {
		bytes = await fs.readFile(file);
	} catch (e) {
		throw new DecodeError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
	}
	const { img, format, width, height } = await openImage(bytes, file, undefined, true);
	try {
		const meta = await img.metadata();
		// One-channel sources (most radiographs) stay grey: smaller, and window/level acts on the true values.
		const grey = meta.channels === 1 || (meta.channels === 2 && meta.hasAlpha) || format === 'dicom';
		let out = img.flatten({ background: '#000000' }).resize(maxSide, maxSide, { fit: 'inside', withoutEnlargement: true, kernel: RESIZE_KERNEL });
		out = grey ? out.toColourspace('b-w') : out.toColourspace('srgb');
		const { data, info } = await out.jpeg({ quality: 92, chromaSubsampling: '4:4:4' }).toBuffer({ resolveWithObject: true });
		return { jpeg: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, originalWidth: width!, originalHeight: height!, format };
	} catch (e) {
		throw new DecodeError(file, reasonOf(e, format));
	}
}

/** Width and height as a PNG (IHDR) or JPEG (first SOFn) header states them; undefined when not found. */
export function headerDimensions(b: Uint8Array, kind: string): { width: number; height: number } | undefined {
	const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
	if (kind === 'png') return b.length >= 24 ? { width: dv.getUint32(16), height: dv.getUint32(20) } : undefined;
	if (kind !== 'jpeg') return undefined;
	// Walk the marker segments up to the first start-of-frame (C0–CF except C4 DHT, C8 JPG, CC DAC).
	for (let i = 2; i + 9 <= b.length;) {
		if (b[i] !== 0xff) return undefined;
		const m = b[i + 1];
		if (m === 0xff) {
			i++;
			continue;
		}
		if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) return { height: dv.getUint16(i + 5), width: dv.getUint16(i + 7) };
		if (m === 0xda || m === 0xd9) return undefined;
		i += 2 + dv.getUint16(i + 2);
	}
	return undefined;
}

function reasonOf(e: unknown, format: string): string {
	const raw = e instanceof Error ? e.message : String(e);
	// libvips repeats itself across lines; keep each distinct line once.
	const msg = [
		...new Set(
			raw
				.split('\n')
				.map((l) => l.replace(/\s+/g, ' ').trim())
				.filter(Boolean),
		),
	].join('; ');
	if (/^(truncated|unsupported|invalid|image too large|DICOM|JPEG|compressed|cannot decode|RLE|lossless)/.test(msg)) return msg; // already a reason
	if (/maximum supported image dimension|image too (wide|tall)|exceeds.*limit/i.test(msg)) return `image too large (${msg})`;
	if (/premature end|truncated|unexpected end|not enough data|end of (file|stream)/i.test(msg)) return `truncated ${format.toUpperCase()} (${msg})`;
	if (/read error|corrupt|invalid|bad huffman|not a (jpeg|png)/i.test(msg)) return `corrupt or truncated ${format.toUpperCase()} (${msg})`;
	if (/pixel limit/i.test(msg)) return `image too large (over ${MAX_INPUT_PIXELS / 1e6} MP)`;
	return msg;
}
