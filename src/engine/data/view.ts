// An image at full resolution for the Radiograph Viewer: stored values (not display bytes), the modality LUT,
// and window presets, so the viewer windows on the real data. DICOM goes through dicom.ts; PNG / JPEG /
// WebP / TIFF through sharp (16-bit PNG keeps its 16 bits).
import { promises as fs } from 'node:fs';
import sharp from 'sharp';
import type { ViewData } from '../../protocol/engine';
import { MAX_INPUT_PIXELS } from './decode';
import { readDicomFrame } from './dicom';
import { sniffFormat } from './sniff';
import { spanWindow, storedPercentiles, type VoiWindow } from './voi';

/** Decode `file` for viewing; throws an Error "<file>: <reason>". */
export async function viewImage(file: string): Promise<ViewData> {
	let bytes: Uint8Array;
	try {
		bytes = await fs.readFile(file);
	} catch (e) {
		throw new Error(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
	}
	const kind = sniffFormat(bytes.subarray(0, 132), file);
	if (!kind) throw new Error(`${file}: ${bytes.length === 0 ? 'empty file' : 'not an image (unrecognised content)'}`);
	try {
		return kind === 'dicom' ? await viewDicom(bytes, file) : await viewRaster(bytes, kind);
	} catch (e) {
		throw new Error(`${file}: ${e instanceof Error ? e.message : String(e)}`);
	}
}

async function viewDicom(bytes: Uint8Array, file: string): Promise<ViewData> {
	const f = await readDicomFrame(bytes, file);
	if (f.width * f.height > MAX_INPUT_PIXELS) throw new Error(`image too large (${f.width}×${f.height})`);
	const presets: ViewData['presets'] = f.windows.map((w, i) => ({ ...w, name: `File ${i + 1}${w.explanation ? `: ${w.explanation}` : ''}` }));
	presets.push(...computedPresets(f.pixels, f.samples, f.minStored, f.maxStored, f.slope, f.intercept));
	return {
		width: f.width,
		height: f.height,
		samples: f.samples,
		pixels: f.pixels,
		minStored: f.minStored,
		maxStored: f.maxStored,
		slope: f.slope,
		intercept: f.intercept,
		monochrome1: f.monochrome1,
		presets,
		format: f.codec === 'native' ? 'dicom' : `dicom (${f.transferSyntaxName})`,
		notes: f.notes,
		tags: [['TransferSyntax', `${f.transferSyntaxName} (${f.transferSyntax})`], ...f.table.filter(([k]) => k !== 'TransferSyntaxUID')],
	};
}

async function viewRaster(bytes: Uint8Array, kind: string): Promise<ViewData> {
	const img = sharp(bytes, { failOn: 'error', limitInputPixels: MAX_INPUT_PIXELS }).autoOrient();
	const meta = await img.metadata();
	const gray = (meta.channels ?? 3) <= 2;
	const sixteen = meta.depth === 'ushort';
	const { data, info } = gray
		? // Stay in a grey colourspace: libvips' default sRGB conversion would squeeze 16-bit values into 0–255.
			await img
				.toColourspace(sixteen ? 'grey16' : 'b-w')
				.extractChannel(0)
				.raw({ depth: sixteen ? 'ushort' : 'uchar' })
				.toBuffer({ resolveWithObject: true })
		: await img.removeAlpha().toColourspace('srgb').raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
	const pixels = gray && sixteen ? new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.length)) : new Uint8Array(data.buffer, data.byteOffset, data.length);
	let lo = Infinity;
	let hi = -Infinity;
	for (let i = 0; i < pixels.length; i++) {
		const v = pixels[i];
		if (v < lo) lo = v;
		if (v > hi) hi = v;
	}
	const samples = gray ? 1 : 3;
	const full = sixteen && gray ? 65535 : 255;
	const presets: ViewData['presets'] = [{ ...spanWindow(0, full), name: 'As stored' }, ...computedPresets(pixels, samples, lo, hi, 1, 0)];
	return {
		width: info.width,
		height: info.height,
		samples,
		pixels,
		minStored: lo,
		maxStored: hi,
		slope: 1,
		intercept: 0,
		monochrome1: false,
		presets,
		format: kind,
		notes: [],
		tags: [
			['Format', `${kind.toUpperCase()} ${meta.width}×${meta.height}`],
			['Channels', String(meta.channels ?? '?')],
			['Bit depth', sixteen ? '16' : '8'],
			...(meta.orientation && meta.orientation > 1 ? [['EXIF orientation', String(meta.orientation)] as [string, string]] : []),
		],
	};
}

/** Full range and robust (1–99 %, 5–95 %) windows of the image's own values. */
function computedPresets(pixels: ArrayLike<number>, samples: number, lo: number, hi: number, slope: number, intercept: number): Array<VoiWindow & { name: string }> {
	const m = (v: number) => v * slope + intercept;
	const out: Array<VoiWindow & { name: string }> = [{ ...spanWindow(m(lo), m(hi)), name: 'Full range' }];
	if (samples === 1 && hi > lo) {
		const [p1, p99, p5, p95] = storedPercentiles(pixels, lo, hi, [1, 99, 5, 95]);
		out.push({ ...spanWindow(m(p1), m(p99)), name: 'Percentile 1–99 %' }, { ...spanWindow(m(p5), m(p95)), name: 'Percentile 5–95 % (soft tissue)' });
	}
	return out;
}
