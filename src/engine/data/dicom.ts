// DICOM → the first frame's stored values, decoded from any supported transfer syntax, with the tags that matter
// (patient, age, view, modality) and the display pipeline's parameters (rescale, windows, VOI function, MONOCHROME1).
// Compressed frames go through maintained WebAssembly codecs (OpenJPEG, CharLS, OpenJPH, and dcmjs-codecs' build of
// dcmtk's IJG for 12-bit JPEG), jpeg-lossless-decoder-js, libjpeg (via sharp) for baseline JPEG, and a small RLE
// decoder here. Every failure is an Error whose message is
// the reason; the caller names the file.
import * as dicomParser from 'dicom-parser';
import sharp from 'sharp';
import { slowDecodeForTest } from '../testHooks';
import { decodeInWorker } from './decodePool';
import { MAX_INPUT_PIXELS } from './limits';
import { messageOf, type CodecJob, type CodecOutput, type CodecResult } from './pixelCodecs';
import { displayLut, spanWindow, storedPercentiles, type VoiFunction, type VoiWindow, type WindowChoice, VOI_FUNCTIONS } from './voi';

const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const EXPLICIT_BE = '1.2.840.10008.1.2.2';
const DEFLATED = '1.2.840.10008.1.2.1.99';

type Codec = 'native' | 'jpeg8' | 'jpeg12' | 'jpeg-lossless' | 'jpeg-ls' | 'j2k' | 'htj2k' | 'rle';

/** Every transfer syntax we know by name, and how (or whether) its pixels are decoded. */
export const TRANSFER_SYNTAXES: Record<string, { name: string; codec: Codec | null; lossy: boolean; why?: string }> = {
	[IMPLICIT_LE]: { name: 'Implicit VR Little Endian', codec: 'native', lossy: false },
	[EXPLICIT_LE]: { name: 'Explicit VR Little Endian', codec: 'native', lossy: false },
	[EXPLICIT_BE]: { name: 'Explicit VR Big Endian (retired)', codec: 'native', lossy: false },
	[DEFLATED]: { name: 'Deflated Explicit VR Little Endian', codec: 'native', lossy: false },
	'1.2.840.10008.1.2.4.50': { name: 'JPEG Baseline (Process 1)', codec: 'jpeg8', lossy: true },
	'1.2.840.10008.1.2.4.51': { name: 'JPEG Extended (Process 2 & 4, 12-bit)', codec: 'jpeg12', lossy: true },
	'1.2.840.10008.1.2.4.57': { name: 'JPEG Lossless (Process 14)', codec: 'jpeg-lossless', lossy: false },
	'1.2.840.10008.1.2.4.70': { name: 'JPEG Lossless SV1 (Process 14, Selection Value 1)', codec: 'jpeg-lossless', lossy: false },
	'1.2.840.10008.1.2.4.80': { name: 'JPEG-LS Lossless', codec: 'jpeg-ls', lossy: false },
	'1.2.840.10008.1.2.4.81': { name: 'JPEG-LS Near-Lossless', codec: 'jpeg-ls', lossy: true },
	'1.2.840.10008.1.2.4.90': { name: 'JPEG 2000 Lossless', codec: 'j2k', lossy: false },
	'1.2.840.10008.1.2.4.91': { name: 'JPEG 2000', codec: 'j2k', lossy: true },
	'1.2.840.10008.1.2.4.201': { name: 'HTJ2K Lossless', codec: 'htj2k', lossy: false },
	'1.2.840.10008.1.2.4.202': { name: 'HTJ2K Lossless RPCL', codec: 'htj2k', lossy: false },
	'1.2.840.10008.1.2.4.203': { name: 'HTJ2K', codec: 'htj2k', lossy: true },
	'1.2.840.10008.1.2.5': { name: 'RLE Lossless', codec: 'rle', lossy: false },
	'1.2.840.10008.1.2.4.100': { name: 'MPEG2 video', codec: null, lossy: true, why: 'video, not a radiograph' },
	'1.2.840.10008.1.2.4.102': { name: 'MPEG-4 AVC/H.264 video', codec: null, lossy: true, why: 'video, not a radiograph' },
	'1.2.840.10008.1.2.4.110': { name: 'JPEG XL Lossless', codec: null, lossy: false, why: 'no maintained WebAssembly decoder for DICOM JPEG XL yet' },
	'1.2.840.10008.1.2.4.112': { name: 'JPEG XL', codec: null, lossy: true, why: 'no maintained WebAssembly decoder for DICOM JPEG XL yet' },
};

/** The tags the product reads and uses; absent tags are undefined. */
export interface DicomTags {
	patientId?: string;
	/** Age in years, from PatientAge (nnnY/M/W/D) or PatientBirthDate and StudyDate. */
	patientAge?: number;
	patientSex?: string;
	studyDate?: string;
	/** ViewPosition: PA, AP, LL, RL, … */
	viewPosition?: string;
	/** Modality: CR, DX (radiographs) or CT, MR, … */
	modality?: string;
	bodyPart?: string;
	studyDescription?: string;
	seriesDescription?: string;
	manufacturer?: string;
}

/** Why an image should stay out of training: not a radiograph, or not a frontal view. */
export function dicomFlag(tags: DicomTags): string | undefined {
	const modality = tags.modality?.toUpperCase();
	if (modality && !['CR', 'DX', 'DR', 'RG', 'OT', 'PX'].includes(modality)) return `not a radiograph (Modality ${modality})`;
	const view = tags.viewPosition?.toUpperCase();
	if (view && /^(LL|RL|LAT|LATERAL|RLD|LLD|LLO|RLO|OBL)/.test(view)) return `lateral or oblique view (ViewPosition ${view})`;
	const body = tags.bodyPart?.toUpperCase();
	if (body && !/CHEST|THORAX|LUNG|TORSO|^$/.test(body)) return `not a chest image (BodyPartExamined ${body})`;
	return undefined;
}

/** The first frame of a DICOM image as stored values, with everything needed to display or classify it. */
export interface DicomFrame {
	width: number;
	height: number;
	/** 1 (grayscale) or 3 (RGB, interleaved; YBR is converted). */
	samples: 1 | 3;
	/** Stored values, sign-extended to BitsStored; RGB bytes when samples = 3. */
	pixels: Uint8Array | Uint16Array | Int16Array | Int32Array;
	bitsStored: number;
	signed: boolean;
	/** Lowest and highest stored value of the frame. */
	minStored: number;
	maxStored: number;
	slope: number;
	intercept: number;
	/** WindowCenter/WindowWidth pairs of the file, in modality units, in file order. */
	windows: Array<VoiWindow & { explanation?: string }>;
	/** MONOCHROME1: high values are dark; inverted after windowing. */
	monochrome1: boolean;
	photometric: string;
	transferSyntax: string;
	transferSyntaxName: string;
	/** How the pixel data was decoded: 'native' or the codec's name. */
	codec: string;
	frames: number;
	tags: DicomTags;
	/** Things the user should know (multi-frame: first frame shown; lossy compression; flags). */
	notes: string[];
	/** Tag table for the viewer: [keyword, value] in file order, long and binary values left out. */
	table: Array<[string, string]>;
}

/** dicom-parser throws Errors, strings, or { exception } objects. */
export { decodeRle, padBeforeEoi } from './pixelCodecs';

const isUpper = (b: number) => b >= 0x41 && b <= 0x5a;

function parse(bytes: Uint8Array, untilTag?: string): dicomParser.DataSet {
	const hasPreamble = bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
	if (!hasPreamble && bytes.length >= 8 && bytes[0] === 0x02 && bytes[1] === 0x00 && isUpper(bytes[4]) && isUpper(bytes[5])) {
		// A meta header without the 128-byte preamble and 'DICM': give the parser the preamble it expects.
		const withPreamble = new Uint8Array(bytes.length + 132);
		withPreamble.set([0x44, 0x49, 0x43, 0x4d], 128);
		withPreamble.set(bytes, 132);
		bytes = withPreamble;
	}
	try {
		return dicomParser.parseDicom(bytes, untilTag ? { untilTag } : undefined);
	} catch (e) {
		// A bare data set (no meta header): explicit VR when a VR follows the first tag, else Implicit VR Little Endian, the default.
		const explicit = bytes.length >= 6 && isUpper(bytes[4]) && isUpper(bytes[5]);
		try {
			return dicomParser.parseDicom(bytes, { TransferSyntaxUID: explicit ? EXPLICIT_LE : IMPLICIT_LE, ...(untilTag ? { untilTag } : {}) });
		} catch {
			throw new Error(`invalid DICOM (${messageOf(e)})`);
		}
	}
}

const str = (ds: dicomParser.DataSet, tag: string) => ds.string(tag)?.trim() || undefined;

/** DICOM AS (e.g. '045Y', '018M') → years. */
function ageFromAs(s: string | undefined): number | undefined {
	const m = s && /^(\d{1,3})\s*([DWMY])?$/i.exec(s.trim());
	if (!m) return undefined;
	const n = Number(m[1]);
	const per = { D: 365.25, W: 52.18, M: 12, Y: 1 }[(m[2] ?? 'Y').toUpperCase() as 'D' | 'W' | 'M' | 'Y'];
	return Math.round((n / per) * 10) / 10;
}

function ageFromDates(birth: string | undefined, study: string | undefined): number | undefined {
	const b = birth && /^(\d{4})(\d{2})(\d{2})/.exec(birth);
	const s = study && /^(\d{4})(\d{2})(\d{2})/.exec(study);
	if (!b || !s) return undefined;
	const ms = Date.UTC(+s[1], +s[2] - 1, +s[3]) - Date.UTC(+b[1], +b[2] - 1, +b[3]);
	return ms >= 0 ? Math.floor((ms / (365.25 * 86400000)) * 10) / 10 : undefined;
}

function readTags(ds: dicomParser.DataSet): DicomTags {
	const studyDate = str(ds, 'x00080020');
	const tags: DicomTags = {
		patientId: str(ds, 'x00100020'),
		patientAge: ageFromAs(str(ds, 'x00101010')) ?? ageFromDates(str(ds, 'x00100030'), studyDate ?? str(ds, 'x00080022')),
		patientSex: str(ds, 'x00100040'),
		studyDate,
		viewPosition: str(ds, 'x00185101')?.toUpperCase(),
		modality: str(ds, 'x00080060')?.toUpperCase(),
		bodyPart: str(ds, 'x00180015')?.toUpperCase(),
		studyDescription: str(ds, 'x00081030'),
		seriesDescription: str(ds, 'x0008103e'),
		manufacturer: str(ds, 'x00080070'),
	};
	for (const k of Object.keys(tags) as Array<keyof DicomTags>) if (tags[k] === undefined) delete tags[k];
	return tags;
}

/** Names of the tags the viewer's table shows; others appear as (gggg,eeee). */
const TAG_NAMES: Record<string, string> = {
	x00020010: 'TransferSyntaxUID',
	x00080008: 'ImageType',
	x00080016: 'SOPClassUID',
	x00080018: 'SOPInstanceUID',
	x00080020: 'StudyDate',
	x00080021: 'SeriesDate',
	x00080022: 'AcquisitionDate',
	x00080030: 'StudyTime',
	x00080060: 'Modality',
	x00080070: 'Manufacturer',
	x00080080: 'InstitutionName',
	x00081030: 'StudyDescription',
	x0008103e: 'SeriesDescription',
	x00081090: 'ManufacturerModelName',
	x00100010: 'PatientName',
	x00100020: 'PatientID',
	x00100030: 'PatientBirthDate',
	x00100040: 'PatientSex',
	x00101010: 'PatientAge',
	x00180015: 'BodyPartExamined',
	x00181164: 'ImagerPixelSpacing',
	x00185101: 'ViewPosition',
	x0020000d: 'StudyInstanceUID',
	x0020000e: 'SeriesInstanceUID',
	x00200010: 'StudyID',
	x00200011: 'SeriesNumber',
	x00200013: 'InstanceNumber',
	x00200020: 'PatientOrientation',
	x00200062: 'ImageLaterality',
	x00204000: 'ImageComments',
	x00280002: 'SamplesPerPixel',
	x00280004: 'PhotometricInterpretation',
	x00280006: 'PlanarConfiguration',
	x00280008: 'NumberOfFrames',
	x00280010: 'Rows',
	x00280011: 'Columns',
	x00280030: 'PixelSpacing',
	x00280100: 'BitsAllocated',
	x00280101: 'BitsStored',
	x00280102: 'HighBit',
	x00280103: 'PixelRepresentation',
	x00281050: 'WindowCenter',
	x00281051: 'WindowWidth',
	x00281052: 'RescaleIntercept',
	x00281053: 'RescaleSlope',
	x00281054: 'RescaleType',
	x00281055: 'WindowCenterWidthExplanation',
	x00281056: 'VOILUTFunction',
	x00282110: 'LossyImageCompression',
	x00282112: 'LossyImageCompressionRatio',
};

function tagTable(ds: dicomParser.DataSet): Array<[string, string]> {
	const out: Array<[string, string]> = [];
	for (const [tag, el] of Object.entries(ds.elements).sort(([a], [b]) => (a < b ? -1 : 1))) {
		if (tag.startsWith('x0002') && tag !== 'x00020010') continue;
		if (tag === 'x7fe00010' || el.items || el.length > 256) continue;
		const name = TAG_NAMES[tag] ?? `(${tag.slice(1, 5)},${tag.slice(5)})`;
		const vr = el.vr;
		let value: string | undefined;
		if (vr === 'US') value = String(ds.uint16(tag));
		else if (vr === 'SS') value = String(ds.int16(tag));
		else if (vr === 'UL') value = String(ds.uint32(tag));
		else if (vr === 'FL') value = String(ds.float(tag));
		else if (vr === 'FD') value = String(ds.double(tag));
		else if (vr === undefined && el.length <= 2 && tag.startsWith('x0028')) value = String(ds.uint16(tag));
		else if (vr === undefined || !['OB', 'OW', 'OF', 'OD', 'UN', 'SQ', 'AT'].includes(vr)) {
			const s = ds.string(tag);
			if (s !== undefined && /^[\x20-\x7e\u00a0-\uffff\\]*$/.test(s)) value = s.trim();
		}
		if (value !== undefined && value !== '') out.push([name, value]);
	}
	return out;
}

// ---- codecs: the synchronous ones run in the decode worker (decodePool.ts); sharp's libjpeg is async already.

async function decodeJpeg8(data: Uint8Array, samples: number): Promise<CodecOutput> {
	// Some monochrome DICOM files embed a three-component JPEG: keep its luminance.
	const img = sharp(data, { failOn: 'error', limitInputPixels: MAX_INPUT_PIXELS });
	const { data: px, info } = await (samples === 1 ? img.grayscale() : img).raw().toBuffer({ resolveWithObject: true });
	return { pixels: new Uint8Array(px.buffer, px.byteOffset, px.length), width: info.width, height: info.height, samples: info.channels };
}

/** The encapsulated bytes of frame `index`. */
function encapsulatedFrame(ds: dicomParser.DataSet, pixel: dicomParser.Element, index: number, frames: number, jpeg: boolean): Uint8Array {
	if (!pixel.encapsulatedPixelData || !pixel.fragments?.length) throw new Error('compressed DICOM without encapsulated pixel data');
	let data: Uint8Array;
	if (frames <= 1) data = dicomParser.readEncapsulatedPixelDataFromFragments(ds, pixel, 0, pixel.fragments.length);
	else if (pixel.basicOffsetTable?.length) data = dicomParser.readEncapsulatedImageFrame(ds, pixel, index, pixel.basicOffsetTable);
	else if (pixel.fragments.length === frames) data = dicomParser.readEncapsulatedPixelDataFromFragments(ds, pixel, index, 1);
	else if (jpeg) data = dicomParser.readEncapsulatedImageFrame(ds, pixel, index, dicomParser.createJPEGBasicOffsetTable(ds, pixel));
	else throw new Error(`cannot find frame ${index + 1} of ${frames}: no offset table and ${pixel.fragments.length} fragments`);
	return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Frames a header may claim (only the first is decoded; the offset tables of more are not worth reading). */
const MAX_FRAMES = 10_000;

/** Width and height from a compressed stream's own header (JPEG / JPEG-LS SOF, JPEG 2000 / HTJ2K SIZ), if found. */
function streamSize(codec: string, d: Uint8Array): { width: number; height: number } | undefined {
	const u16 = (i: number) => (d[i] << 8) | d[i + 1];
	const u32 = (i: number) => ((d[i] << 24) >>> 0) + (d[i + 1] << 16) + (d[i + 2] << 8) + d[i + 3];
	if (codec === 'j2k' || codec === 'htj2k') {
		// A raw codestream starts SOC (FF4F) then SIZ (FF51): Lsiz, Rsiz, Xsiz, Ysiz, XOsiz, YOsiz.
		if (d.length < 26 || u16(0) !== 0xff4f || u16(2) !== 0xff51) return undefined;
		return { width: u32(8) - u32(16), height: u32(12) - u32(20) };
	}
	for (let i = 2; i + 8 < d.length;) {
		if (d[i] !== 0xff) return undefined;
		const marker = d[i + 1];
		if ((marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) || marker === 0xf7) return { width: u16(i + 7), height: u16(i + 5) };
		i += 2 + u16(i + 2);
	}
	return undefined;
}

/** Sample precision from a JPEG stream's start-of-frame marker (0 when none is found). */
function jpegPrecision(data: Uint8Array): number {
	for (let i = 2; i + 4 < data.length;) {
		if (data[i] !== 0xff) return 0;
		const marker = data[i + 1];
		if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) return data[i + 4];
		i += 2 + ((data[i + 2] << 8) | data[i + 3]);
	}
	return 0;
}

/** YBR_FULL (and 4:2:2 already expanded) → RGB, in place (PS3.3 C.7.6.3.1.2). */
function ybrToRgb(px: Uint8Array): void {
	for (let i = 0; i < px.length; i += 3) {
		const y = px[i];
		const cb = px[i + 1] - 128;
		const cr = px[i + 2] - 128;
		px[i] = Math.min(255, Math.max(0, Math.round(y + 1.402 * cr)));
		px[i + 1] = Math.min(255, Math.max(0, Math.round(y - 0.344136 * cb - 0.714136 * cr)));
		px[i + 2] = Math.min(255, Math.max(0, Math.round(y + 1.772 * cb)));
	}
}

function numbers(ds: dicomParser.DataSet, tag: string): number[] {
	const s = ds.string(tag);
	if (!s) return [];
	return s
		.split('\\')
		.map((v) => Number(v.trim()))
		.filter((v) => Number.isFinite(v));
}

/**
 * Parse a DICOM file and decode its first frame (the synchronous codecs in the decode worker, with a time limit).
 * `file` is for the test hooks only. Throws an Error whose message is the reason.
 */
export async function readDicomFrame(bytes: Uint8Array, file?: string): Promise<DicomFrame> {
	const ds = parse(bytes);
	const ts = str(ds, 'x00020010') ?? IMPLICIT_LE;
	const syntax = TRANSFER_SYNTAXES[ts];
	if (!syntax) throw new Error(`unsupported DICOM transfer syntax ${ts} (unknown)`);
	if (!syntax.codec) throw new Error(`unsupported DICOM transfer syntax ${syntax.name} (${ts}): ${syntax.why}`);
	const height = ds.uint16('x00280010') ?? 0;
	const width = ds.uint16('x00280011') ?? 0;
	const pixel = ds.elements.x7fe00010;
	if (!pixel) throw new Error('DICOM has no pixel data (not an image: a report, structured report or presentation state?)');
	if (!width || !height) throw new Error('DICOM has no Rows/Columns');
	let photometric = (str(ds, 'x00280004') ?? 'MONOCHROME2').toUpperCase();
	const samplesPerPixel = ds.uint16('x00280002') ?? 1;
	const allocated = ds.uint16('x00280100') ?? (samplesPerPixel === 1 ? 16 : 8);
	const stored = ds.uint16('x00280101') ?? allocated;
	let signed = ds.uint16('x00280103') === 1;
	const frames = Math.max(1, ds.intString('x00280008') ?? 1);
	const notes: string[] = [];
	if (frames > 1) notes.push(`multi-frame DICOM (${frames} frames): the first frame is used`);
	if (syntax.lossy) notes.push(`lossy compression (${syntax.name})`);
	const monochrome = photometric === 'MONOCHROME1' || photometric === 'MONOCHROME2';
	if (samplesPerPixel !== 1 && samplesPerPixel !== 3) throw new Error(`unsupported DICOM SamplesPerPixel ${samplesPerPixel}`);
	if (monochrome !== (samplesPerPixel === 1)) throw new Error(`DICOM PhotometricInterpretation ${photometric} with SamplesPerPixel ${samplesPerPixel}`);
	if (!monochrome && !['RGB', 'YBR_FULL', 'YBR_FULL_422', 'YBR_RCT', 'YBR_ICT', 'YBR_PARTIAL_420'].includes(photometric)) throw new Error(`unsupported DICOM PhotometricInterpretation ${photometric}`);
	if (allocated !== 8 && allocated !== 16 && allocated !== 32) throw new Error(`unsupported DICOM BitsAllocated ${allocated}`);
	if (!monochrome && allocated !== 8) throw new Error(`unsupported ${allocated}-bit colour DICOM`);
	if (stored < 1 || stored > allocated) throw new Error(`invalid DICOM BitsStored ${stored} (BitsAllocated ${allocated})`);
	// Before any pixel buffer: one frame (the only one decoded) of every sample must fit the cap.
	if (width * height * samplesPerPixel > MAX_INPUT_PIXELS)
		throw new Error(`image too large (${width}×${height}${samplesPerPixel > 1 ? `×${samplesPerPixel} samples` : ''} in the DICOM header; the limit is ${MAX_INPUT_PIXELS / 1e6} MP)`);
	if (frames > MAX_FRAMES) throw new Error(`too many frames (${frames} in the DICOM header; the limit is ${MAX_FRAMES})`);

	// 1. Raw samples of frame 1, as decoded by the transfer syntax's codec.
	let raw: Uint8Array | Uint16Array | Int16Array | Int32Array | Uint32Array;
	const n = width * height;
	const codec = syntax.codec;
	const compressedOut = (o: CodecOutput | CodecResult) => {
		if (!o.width || !o.height) throw new Error('the codec found no image in the frame');
		if (o.width !== width || o.height !== height) throw new Error(`compressed frame is ${o.width}×${o.height}, the header says ${width}×${height}`);
		if (o.samples !== samplesPerPixel) throw new Error(`compressed frame has ${o.samples} components, the header says ${samplesPerPixel}`);
		return o.pixels;
	};
	try {
		if (codec === 'native') {
			const planar = samplesPerPixel === 3 && ds.uint16('x00280006') === 1;
			const perFrame = photometric === 'YBR_FULL_422' ? n * 2 : n * samplesPerPixel;
			const bytesPer = allocated / 8;
			const offset = pixel.dataOffset;
			if (offset + perFrame * bytesPer > ds.byteArray.length) throw new Error('truncated DICOM pixel data');
			const src = ds.byteArray.subarray(offset, offset + perFrame * bytesPer);
			const little = ts !== EXPLICIT_BE;
			// A copy (never a view into the file's buffer, which may be unaligned or shared); little endian is the host's order.
			const copy = Uint8Array.prototype.slice.call(src) as Uint8Array;
			if (allocated === 8) raw = copy;
			else if (little) raw = allocated === 16 ? new Uint16Array(copy.buffer, 0, perFrame) : new Uint32Array(copy.buffer, 0, perFrame);
			else {
				const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
				raw = allocated === 16 ? new Uint16Array(perFrame) : new Uint32Array(perFrame);
				for (let i = 0; i < perFrame; i++) raw[i] = allocated === 16 ? view.getUint16(i * 2, little) : view.getUint32(i * 4, little);
			}
			if (photometric === 'YBR_FULL_422') {
				// Two Y samples share one Cb and Cr: Y1 Y2 Cb Cr.
				const full = new Uint8Array(n * 3);
				for (let i = 0, o = 0; i + 3 < raw.length; i += 4, o += 6) {
					full[o] = raw[i];
					full[o + 1] = raw[i + 2];
					full[o + 2] = raw[i + 3];
					full[o + 3] = raw[i + 1];
					full[o + 4] = raw[i + 2];
					full[o + 5] = raw[i + 3];
				}
				raw = full;
				photometric = 'YBR_FULL';
			} else if (planar) {
				const inter = new Uint8Array(n * 3);
				for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) inter[i * 3 + c] = raw[c * n + i];
				raw = inter;
			}
		} else {
			const data = encapsulatedFrame(ds, pixel, 0, frames, codec === 'jpeg8' || codec === 'jpeg12' || codec === 'jpeg-lossless');
			// The codecs allocate what the stream's own header says: it must agree with the DICOM header first.
			const claimed = streamSize(codec, data);
			if (claimed && claimed.width && claimed.height && (claimed.width !== width || claimed.height !== height))
				throw new Error(`compressed frame is ${claimed.width}×${claimed.height}, the header says ${width}×${height}`);
			if (codec === 'jpeg8') {
				if (allocated !== 8 || stored > 8) throw new Error(`JPEG Baseline with BitsStored ${stored} (needs 8)`);
				raw = compressedOut(await decodeJpeg8(data, samplesPerPixel));
				if (photometric.startsWith('YBR')) photometric = 'RGB'; // libjpeg converts YCbCr itself
			} else {
				const job = (c: CodecJob['codec'], bitsStored = stored): CodecJob => {
					const j = { codec: c, data, width, height, samples: samplesPerPixel, allocated, stored: bitsStored, signed, photometric };
					return slowDecodeForTest(file) ? { ...j, spin: true } : j;
				};
				if (codec === 'jpeg12') {
					// 8-bit Process 2 streams are baseline-compatible (libjpeg in sharp); 12-bit ones need a 12-bit DCT build.
					const precision = jpegPrecision(data);
					if (precision > 8 || (precision === 0 && stored > 8)) {
						if (samplesPerPixel !== 1 || allocated !== 16) throw new Error(`JPEG Extended 12-bit with SamplesPerPixel ${samplesPerPixel} and BitsAllocated ${allocated} (needs 1 and 16)`);
						raw = (await decodeInWorker(job('jpeg12', Math.min(precision || stored, 12)))).pixels;
					} else {
						raw = compressedOut(await decodeJpeg8(data, samplesPerPixel));
						if (photometric.startsWith('YBR')) photometric = 'RGB';
					}
				} else if (codec === 'jpeg-lossless') {
					raw = (await decodeInWorker(job(codec))).pixels;
					if (raw.length < n * samplesPerPixel) throw new Error(`lossless JPEG frame decoded to ${raw.length} samples, expected ${n * samplesPerPixel}`);
				} else if (codec === 'rle') {
					raw = (await decodeInWorker(job(codec))).pixels;
				} else {
					raw = compressedOut(await decodeInWorker(job(codec)));
					// OpenJPEG / OpenJPH undo the JPEG 2000 colour transform themselves.
					if (photometric === 'YBR_RCT' || photometric === 'YBR_ICT') photometric = 'RGB';
				}
			}
		}
	} catch (e) {
		const reason = messageOf(e);
		throw new Error(/^(unsupported|truncated|invalid|DICOM|compressed|cannot|RLE|JPEG|lossless)/.test(reason) ? reason : `cannot decode ${syntax.name} pixel data (${reason})`);
	}

	// 2. Colour: interleaved RGB bytes.
	if (samplesPerPixel === 3) {
		const rgb = raw instanceof Uint8Array ? raw : Uint8Array.from(raw as ArrayLike<number>);
		if (photometric === 'YBR_FULL' || photometric === 'YBR_FULL_422' || photometric === 'YBR_PARTIAL_420') ybrToRgb(rgb);
		return finish({ pixels: rgb.subarray(0, n * 3), samples: 3, bitsStored: 8, signed: false, minStored: 0, maxStored: 255 });
	}

	// 3. Grayscale: mask to BitsStored and sign-extend, into the narrowest typed array.
	const mask = stored >= 32 ? 0xffffffff : 2 ** stored - 1;
	const signBit = 2 ** (stored - 1);
	const pixels: Uint8Array | Uint16Array | Int16Array | Int32Array = stored <= 8 && !signed ? new Uint8Array(n) : stored <= 16 ? (signed ? new Int16Array(n) : new Uint16Array(n)) : new Int32Array(n);
	if (stored > 31 && !signed) signed = true; // 32-bit unsigned wraps: rare enough to treat as signed
	const [lo, hi] = signed ? storeSigned(raw, pixels, n, mask, signBit) : storeUnsigned(raw, pixels, n, mask);
	return finish({ pixels, samples: 1, bitsStored: stored, signed, minStored: lo, maxStored: hi });

	function finish(p: Pick<DicomFrame, 'pixels' | 'samples' | 'bitsStored' | 'signed' | 'minStored' | 'maxStored'>): DicomFrame {
		const centers = numbers(ds, 'x00281050');
		const widths = numbers(ds, 'x00281051');
		const explanations = (ds.string('x00281055') ?? '').split('\\').map((s) => s.trim());
		const fnTag = (str(ds, 'x00281056') ?? 'LINEAR').toUpperCase();
		const fn: VoiFunction = (VOI_FUNCTIONS as readonly string[]).includes(fnTag) ? (fnTag as VoiFunction) : 'LINEAR';
		const windows = centers
			.slice(0, widths.length)
			.map((center, i) => ({ center, width: widths[i], fn, ...(explanations[i] ? { explanation: explanations[i] } : {}) }))
			.filter((w) => w.width > 0);
		const tags = readTags(ds);
		const flag = dicomFlag(tags);
		if (flag) notes.push(flag);
		return {
			width,
			height,
			...p,
			slope: ds.floatString('x00281053') ?? 1,
			intercept: ds.floatString('x00281052') ?? 0,
			windows,
			monochrome1: photometric === 'MONOCHROME1',
			photometric,
			transferSyntax: ts,
			transferSyntaxName: syntax.name,
			codec,
			frames,
			tags,
			notes,
			table: tagTable(ds),
		};
	}
}

type Samples = Uint8Array | Uint16Array | Int16Array | Int32Array | Uint32Array;

/** Mask to BitsStored into `out`; returns [min, max]. Unsigned and signed are separate loops to keep each tight. */
function storeUnsigned(raw: Samples, out: Samples, n: number, mask: number): [number, number] {
	let lo = Infinity;
	let hi = -Infinity;
	for (let i = 0; i < n; i++) {
		const v = (raw[i] & mask) >>> 0;
		out[i] = v;
		if (v < lo) lo = v;
		if (v > hi) hi = v;
	}
	return [lo, hi];
}

/** Mask to BitsStored and sign-extend from its top bit. */
function storeSigned(raw: Samples, out: Samples, n: number, mask: number, signBit: number): [number, number] {
	let lo = Infinity;
	let hi = -Infinity;
	const wrap = 2 * signBit;
	for (let i = 0; i < n; i++) {
		let v = (raw[i] & mask) >>> 0;
		if (v >= signBit) v -= wrap;
		out[i] = v;
		if (v < lo) lo = v;
		if (v > hi) hi = v;
	}
	return [lo, hi];
}

/** Read only the tags (no pixel decoding; the bytes may stop anywhere after the header): for scanning folders. */
export function readDicomTags(bytes: Uint8Array): DicomTags {
	return readTags(parse(bytes, 'x7fe00010'));
}

/** The window a choice selects for a grayscale frame, in modality units. */
export function chooseWindow(f: DicomFrame, choice: WindowChoice = { kind: 'file', index: 0 }): VoiWindow {
	if (choice.kind === 'file' && f.windows[choice.index]) return f.windows[choice.index];
	const toModality = (v: number) => v * f.slope + f.intercept;
	if (choice.kind === 'percentile') {
		const [a, b] = storedPercentiles(f.pixels, f.minStored, f.maxStored, [choice.low, choice.high]);
		return spanWindow(toModality(a), toModality(b));
	}
	// No window in the file: 8-bit data without rescale is shown as stored, anything else spans its range.
	if (f.bitsStored <= 8 && !f.signed && f.slope === 1 && f.intercept === 0) return spanWindow(0, 255);
	return spanWindow(toModality(f.minStored), toModality(f.maxStored));
}

/** Display bytes of a frame: gray (1 byte per pixel, windowed, MONOCHROME1 inverted) or RGB (3 bytes per pixel). */
export function toDisplayBytes(f: DicomFrame, choice?: WindowChoice): { data: Uint8Array; channels: 1 | 3 } {
	if (f.samples === 3) return { data: f.pixels as Uint8Array, channels: 3 };
	const lut = displayLut(f.minStored, f.maxStored - f.minStored + 1, f.slope, f.intercept, chooseWindow(f, choice), f.monochrome1);
	const out = new Uint8Array(f.pixels.length);
	const lo = f.minStored;
	const px = f.pixels;
	for (let i = 0; i < px.length; i++) out[i] = lut[px[i] - lo];
	return { data: out, channels: 1 };
}

/** What decode.ts hands to sharp: display bytes of the first frame. */
export interface DicomPixels {
	data: Uint8Array;
	channels: 1 | 3;
	width: number;
	height: number;
	transferSyntax: string;
	codec: string;
	notes: string[];
	tags: DicomTags;
}

/** Decode a DICOM file to display bytes for the model. Throws an Error whose message is the reason. */
export async function readDicom(bytes: Uint8Array, choice?: WindowChoice, file?: string): Promise<DicomPixels> {
	const f = await readDicomFrame(bytes, file);
	const { data, channels } = toDisplayBytes(f, choice);
	return { data, channels, width: f.width, height: f.height, transferSyntax: f.transferSyntax, codec: f.codec, notes: f.notes, tags: f.tags };
}
