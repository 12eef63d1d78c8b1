// DICOM → 8-bit grayscale pixels (uncompressed) or the embedded JPEG stream (JPEG Baseline), first frame only.
import * as dicomParser from 'dicom-parser';

const IMPLICIT_LE = '1.2.840.10008.1.2';
const UNCOMPRESSED = new Set([IMPLICIT_LE, '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2']);
const JPEG_BASELINE = new Set(['1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51']);
const TS_NAMES: Record<string, string> = {
	'1.2.840.10008.1.2.1.99': 'Deflated Explicit VR Little Endian',
	'1.2.840.10008.1.2.4.57': 'JPEG Lossless',
	'1.2.840.10008.1.2.4.70': 'JPEG Lossless SV1',
	'1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless',
	'1.2.840.10008.1.2.4.81': 'JPEG-LS Near-Lossless',
	'1.2.840.10008.1.2.4.90': 'JPEG 2000 Lossless',
	'1.2.840.10008.1.2.4.91': 'JPEG 2000',
	'1.2.840.10008.1.2.4.201': 'HTJ2K Lossless',
	'1.2.840.10008.1.2.4.203': 'HTJ2K',
	'1.2.840.10008.1.2.5': 'RLE Lossless',
};

/** What a DICOM file holds, ready for sharp: raw 8-bit gray, or a JPEG stream (to invert if MONOCHROME1). */
export type DicomPixels =
	| { kind: 'gray'; data: Uint8Array; width: number; height: number; transferSyntax: string }
	| { kind: 'jpeg'; data: Uint8Array; invert: boolean; width: number; height: number; transferSyntax: string };

/** dicom-parser throws Errors, strings, or { exception } objects. */
function messageOf(e: unknown): string {
	if (e instanceof Error) return e.message;
	if (e && typeof e === 'object' && 'exception' in e) return String((e as { exception: unknown }).exception);
	return String(e);
}

function parse(bytes: Uint8Array): dicomParser.DataSet {
	try {
		return dicomParser.parseDicom(bytes);
	} catch (e) {
		// Preamble-less files have no meta header: assume Implicit VR Little Endian, the DICOM default.
		try {
			return dicomParser.parseDicom(bytes, { TransferSyntaxUID: IMPLICIT_LE });
		} catch {
			throw new Error(`invalid DICOM (${messageOf(e)})`);
		}
	}
}

/** Extract the first frame of a DICOM file; throws an Error whose message is the reason. */
export function readDicom(bytes: Uint8Array): DicomPixels {
	const ds = parse(bytes);
	const ts = ds.string('x00020010')?.trim() || IMPLICIT_LE;
	const height = ds.uint16('x00280010') ?? 0;
	const width = ds.uint16('x00280011') ?? 0;
	const photometric = (ds.string('x00280004') ?? 'MONOCHROME2').trim().toUpperCase();
	const pixel = ds.elements.x7fe00010;
	if (!pixel) throw new Error('DICOM has no pixel data');
	if (!width || !height) throw new Error('DICOM has no Rows/Columns');
	const monochrome = photometric === 'MONOCHROME1' || photometric === 'MONOCHROME2';

	if (JPEG_BASELINE.has(ts)) {
		if (!pixel.encapsulatedPixelData || !pixel.fragments?.length) throw new Error('JPEG DICOM without encapsulated fragments');
		const frames = ds.intString('x00280008') ?? 1;
		const data =
			frames > 1
				? dicomParser.readEncapsulatedImageFrame(ds, pixel, 0, pixel.basicOffsetTable?.length ? pixel.basicOffsetTable : dicomParser.createJPEGBasicOffsetTable(ds, pixel))
				: dicomParser.readEncapsulatedPixelDataFromFragments(ds, pixel, 0, pixel.fragments.length);
		return { kind: 'jpeg', data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), invert: photometric === 'MONOCHROME1', width, height, transferSyntax: ts };
	}
	if (!UNCOMPRESSED.has(ts)) throw new Error(`unsupported DICOM transfer syntax ${TS_NAMES[ts] ?? 'unknown'} (${ts})`);
	if (!monochrome) throw new Error(`unsupported DICOM PhotometricInterpretation ${photometric}`);
	if ((ds.uint16('x00280002') ?? 1) !== 1) throw new Error('unsupported DICOM SamplesPerPixel > 1');

	const allocated = ds.uint16('x00280100') ?? 16;
	const stored = ds.uint16('x00280101') ?? allocated;
	const signed = ds.uint16('x00280103') === 1;
	if (allocated !== 8 && allocated !== 16) throw new Error(`unsupported DICOM BitsAllocated ${allocated}`);
	const n = width * height;
	const bytesPer = allocated / 8;
	if (pixel.dataOffset + n * bytesPer > bytes.length) throw new Error('truncated DICOM pixel data');

	// Stored values → modality values (rescale) → 8-bit display (window, else min–max; 8-bit data kept as is).
	const view = new DataView(bytes.buffer, bytes.byteOffset + pixel.dataOffset, n * bytesPer);
	const little = ts !== '1.2.840.10008.1.2.2';
	const mask = stored >= 32 ? 0xffffffff : (1 << stored) - 1;
	const slope = ds.floatString('x00281053') ?? 1;
	const intercept = ds.floatString('x00281052') ?? 0;
	const values = new Float32Array(n);
	let lo = Infinity;
	let hi = -Infinity;
	for (let i = 0; i < n; i++) {
		let v = (allocated === 8 ? view.getUint8(i) : view.getUint16(i * 2, little)) & mask;
		if (signed && v & (1 << (stored - 1))) v -= 1 << stored;
		const m = v * slope + intercept;
		values[i] = m;
		if (m < lo) lo = m;
		if (m > hi) hi = m;
	}
	const center = ds.floatString('x00281050');
	const widthW = ds.floatString('x00281051');
	let toByte: (v: number) => number;
	if (center !== undefined && widthW !== undefined && widthW >= 1) {
		// DICOM PS3.3 C.11.2.1.2 linear window.
		toByte = (v) => ((v - (center - 0.5)) / Math.max(widthW - 1, 1) + 0.5) * 255;
	} else if (stored <= 8 && slope === 1 && intercept === 0 && !signed) {
		toByte = (v) => v;
	} else {
		const span = hi > lo ? hi - lo : 1;
		toByte = (v) => ((v - lo) / span) * 255;
	}
	const out = new Uint8Array(n);
	const invert = photometric === 'MONOCHROME1';
	for (let i = 0; i < n; i++) {
		const b = Math.min(255, Math.max(0, Math.round(toByte(values[i]))));
		out[i] = invert ? 255 - b : b;
	}
	return { kind: 'gray', data: out, width, height, transferSyntax: ts };
}
