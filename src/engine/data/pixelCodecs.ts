// The synchronous pixel codecs of dicom.ts: RLE, lossless JPEG (jpeg-lossless-decoder-js), JPEG 2000 / JPEG-LS /
// HTJ2K (the cornerstone WebAssembly codecs) and 12-bit JPEG (dcmjs-codecs). They run in the decode worker
// (decodeWorker.ts) so that a slow or pathological frame can be stopped; each WebAssembly module is instantiated
// once per thread, on first use.
import openjpegFactory from '@cornerstonejs/codec-openjpeg/decodewasmjs';
import charlsFactory from '@cornerstonejs/codec-charls/decodewasmjs';
import openjphFactory from '@cornerstonejs/codec-openjph';
import { Decoder as LosslessJpegDecoder } from 'jpeg-lossless-decoder-js';

export function messageOf(e: unknown): string {
	if (e instanceof Error) return e.message;
	if (e && typeof e === 'object' && 'exception' in e) return String(e.exception);
	return String(e);
}

const wasm = new Map<string, Promise<unknown>>();
/**
 * OpenJPEG logs every header it reads to stdout; the worker's stdout is not a log. A fresh object per module:
 * Emscripten adopts the object passed in as the module itself, so sharing one would merge two codecs' bindings.
 */
const quiet = () => ({ print: () => undefined, printErr: () => undefined });
function loadOnce<T>(name: string, load: () => Promise<T>): Promise<T> {
	let p = wasm.get(name) as Promise<T> | undefined;
	if (!p) {
		p = load();
		wasm.set(name, p);
		p.catch(() => wasm.delete(name));
	}
	return p;
}

export interface CodecOutput {
	pixels: Uint8Array | Uint16Array | Int16Array;
	width: number;
	height: number;
	samples: number;
}

async function decodeWithCodec(codec: 'j2k' | 'jpeg-ls' | 'htj2k', data: Uint8Array, signed: boolean): Promise<CodecOutput> {
	const mod =
		codec === 'j2k'
			? await loadOnce('openjpeg', () => openjpegFactory(quiet()).then((m) => m.J2KDecoder))
			: codec === 'jpeg-ls'
				? await loadOnce('charls', () => charlsFactory(quiet()).then((m) => m.JpegLSDecoder))
				: await loadOnce('openjph', () => openjphFactory(quiet()).then((m) => m.HTJ2KDecoder));
	const dec = new mod();
	try {
		dec.getEncodedBuffer(data.length).set(data);
		dec.decode();
		const info = dec.getFrameInfo();
		const raw = dec.getDecodedBuffer();
		// Copy out of the WebAssembly heap before the decoder is freed.
		const bytes = new Uint8Array(raw.length);
		bytes.set(raw);
		const pixels = info.bitsPerSample > 8 ? (signed || info.isSigned ? new Int16Array(bytes.buffer) : new Uint16Array(bytes.buffer)) : bytes;
		return { pixels, width: info.width, height: info.height, samples: info.componentCount };
	} catch (e) {
		throw new Error(typeof e === 'number' ? `codec error ${e}` : messageOf(e));
	} finally {
		dec.delete();
	}
}

/**
 * jpeg-lossless-decoder-js reads its bit buffer ahead; when the last sample's Huffman code ends within a few bits
 * of the EOI marker it takes the marker for the end of the data and leaves that sample 0 (WG04 CT2_JPLL: the last
 * pixel, −2048, came out 0). Two stuffed 0xFF bytes before EOI (1-bits, what JPEG pads with anyway) keep the marker
 * out of reach until every sample is decoded; the decoder stops at the last sample, so the padding is never used.
 * Fill bytes (0xFF before the marker, which dcmtk writes) would read as a marker of their own: they become the pad.
 */
export function padBeforeEoi(data: Uint8Array): Uint8Array {
	let eoi = data.length;
	for (let i = data.length - 2; i >= 0 && data.length - i <= 16; i--) {
		if (data[i] === 0xff && data[i + 1] === 0xd9) {
			eoi = i;
			break;
		}
	}
	while (eoi > 0 && data[eoi - 1] === 0xff) eoi--;
	const out = new Uint8Array(eoi + 6);
	out.set(data.subarray(0, eoi));
	out.set([0xff, 0x00, 0xff, 0x00, 0xff, 0xd9], eoi);
	return out;
}

function decodeLosslessJpeg(data: Uint8Array, bitsAllocated: number): Uint8Array | Uint16Array {
	const padded = padBeforeEoi(data);
	return new LosslessJpegDecoder().decode(padded.buffer, 0, padded.length, bitsAllocated > 8 ? 2 : 1);
}

/**
 * 12-bit JPEG (Process 4) through dcmjs-codecs, whose WebAssembly holds dcmtk's IJG libjpeg built for 12-bit samples:
 * libjpeg-turbo in sharp and the cornerstone codec are 8-bit builds. Output: one little-endian 16-bit sample per pixel.
 */
async function decodeJpeg12(data: Uint8Array, width: number, height: number, stored: number, signed: boolean, photometric: string): Promise<Uint16Array> {
	// Loaded on first use: it brings dcmjs (1.4 MB of script) that nothing else needs.
	const { Context, NativeCodecs } = await loadOnce('dcmjs-codecs', async () => {
		// A CommonJS bundle: import() gives its exports as the default.
		const m = (await import('dcmjs-codecs')).default;
		if (!m.NativeCodecs.isInitialized()) await m.NativeCodecs.initializeAsync();
		return m;
	});
	const ctx = new Context({
		width,
		height,
		bitsAllocated: 16,
		bitsStored: stored,
		samplesPerPixel: 1,
		pixelRepresentation: signed ? 1 : 0,
		planarConfiguration: 0,
		photometricInterpretation: photometric,
		encodedBuffer: data,
	});
	const out = NativeCodecs.decodeJpeg(ctx, { convertColorspaceToRgb: false });
	const bytes = out.getDecodedBuffer();
	if (!bytes || bytes.length < width * height * 2) throw new Error(`12-bit JPEG frame decoded to ${bytes?.length ?? 0} bytes, expected ${width * height * 2}`);
	// Copy: the codec's buffer may be a view at an odd offset.
	return new Uint16Array(bytes.slice(0, width * height * 2).buffer);
}

/** DICOM RLE (PS3.5 Annex G): a header of segment offsets, then one PackBits segment per byte plane. */
export function decodeRle(data: Uint8Array, width: number, height: number, samples: number, bitsAllocated: number): Uint8Array {
	if (data.length < 64) throw new Error('RLE frame shorter than its header');
	const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
	const segments = view.getUint32(0, true);
	const bytesPer = bitsAllocated / 8;
	if (segments !== samples * bytesPer) throw new Error(`RLE frame has ${segments} segments, expected ${samples * bytesPer}`);
	const n = width * height;
	const out = new Uint8Array(n * samples * bytesPer);
	for (let s = 0; s < segments; s++) {
		const start = view.getUint32(4 + 4 * s, true);
		const end = s + 1 < segments ? view.getUint32(8 + 4 * s, true) : data.length;
		const sample = Math.floor(s / bytesPer);
		// Segments run from the most significant byte; output is little endian, samples interleaved.
		const byteInSample = bytesPer - 1 - (s % bytesPer);
		const stride = samples * bytesPer;
		let o = sample * bytesPer + byteInSample;
		let written = 0;
		let i = start;
		while (i < end && written < n) {
			const h = (data[i++] << 24) >> 24;
			if (h >= 0) {
				for (let k = 0; k <= h && written < n && i < end; k++, written++, o += stride) out[o] = data[i++];
			} else if (h !== -128) {
				const b = data[i++];
				for (let k = 0; k < 1 - h && written < n; k++, written++, o += stride) out[o] = b;
			}
		}
		if (written < n) throw new Error(`RLE segment ${s + 1} is truncated (${written} of ${n} bytes)`);
	}
	return out;
}

/** One frame for the decode worker. `data` is the encapsulated frame (its buffer is transferred, so a copy). */
export interface CodecJob {
	codec: 'rle' | 'jpeg-lossless' | 'j2k' | 'jpeg-ls' | 'htj2k' | 'jpeg12';
	data: Uint8Array;
	width: number;
	height: number;
	samples: number;
	allocated: number;
	stored: number;
	signed: boolean;
	photometric: string;
	/** Test-only (testHooks.slowDecodeForTest): spin without end, as a pathological frame would. */
	spin?: boolean;
}

/** The decoded samples; `width`/`height`/`samples` as the stream says (0 where the codec does not tell). */
export type CodecResult = { pixels: Uint8Array | Uint16Array | Int16Array | Uint32Array; width: number; height: number; samples: number };

/** Decode one frame with its codec, on this thread. */
export async function runCodecJob(j: CodecJob): Promise<CodecResult> {
	// eslint-disable-next-line no-empty
	if (j.spin) for (;;) {}
	const same = { width: j.width, height: j.height, samples: j.samples };
	switch (j.codec) {
		case 'rle': {
			const b = decodeRle(j.data, j.width, j.height, j.samples, j.allocated);
			return { pixels: j.allocated === 8 ? b : j.allocated === 16 ? new Uint16Array(b.buffer) : new Uint32Array(b.buffer), ...same };
		}
		case 'jpeg-lossless':
			return { pixels: decodeLosslessJpeg(j.data, j.allocated), ...same };
		case 'jpeg12':
			return { pixels: await decodeJpeg12(j.data, j.width, j.height, j.stored, j.signed, j.photometric), ...same };
		default:
			return decodeWithCodec(j.codec, j.data, j.signed);
	}
}
