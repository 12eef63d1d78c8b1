// Types for the WebAssembly image codecs, which ship none. They share one Emscripten shape: a factory that
// resolves to a module with a decoder class; copy the codestream in, decode, read the frame info and pixels.

/** One decoder instance of a cornerstone codec (OpenJPEG, CharLS, OpenJPH). */
interface CodecDecoder {
	getEncodedBuffer(length: number): Uint8Array;
	decode(): void;
	getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number; isSigned: boolean };
	getDecodedBuffer(): Uint8Array;
	delete(): void;
}
type CodecFactory<K extends string> = (options?: object) => Promise<{ [key in K]: new () => CodecDecoder }>;

declare module '@cornerstonejs/codec-openjpeg/decodewasmjs' {
	const factory: CodecFactory<'J2KDecoder'>;
	export default factory;
}
declare module '@cornerstonejs/codec-charls/decodewasmjs' {
	const factory: CodecFactory<'JpegLSDecoder'>;
	export default factory;
}
declare module '@cornerstonejs/codec-openjph' {
	const factory: CodecFactory<'HTJ2KDecoder'>;
	export default factory;
}
declare module 'jpeg-lossless-decoder-js' {
	export class Decoder {
		/** numBytes: bytes per output sample (1 or 2). */
		decode(buffer: ArrayBufferLike, offset?: number, length?: number, numBytes?: number): Uint8Array | Uint16Array;
	}
}
