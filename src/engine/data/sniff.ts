// Which files are images is decided by their first bytes, never by their extension.
import { promises as fs } from 'node:fs';

export type ImageFormat = 'jpeg' | 'png' | 'dicom' | 'webp' | 'tiff';

/** The reason given for a zero-byte file, wherever it is met. */
export const EMPTY_FILE = 'empty file (0 bytes)';

/** Bytes needed by sniffFormat: the DICOM preamble (128) + 'DICM'. */
export const SNIFF_BYTES = 132;

/** Recognise an image from its first bytes; a `.dcm` name admits preamble-less DICOM. */
export function sniffFormat(head: Uint8Array, fileName = ''): ImageFormat | null {
	const at = (o: number, s: string) => [...s].every((ch, k) => head[o + k] === ch.charCodeAt(0));
	if (head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
	if (at(0, '\x89PNG\r\n\x1a\n')) return 'png';
	if (head.length >= SNIFF_BYTES && at(128, 'DICM')) return 'dicom';
	if (at(0, 'RIFF') && at(8, 'WEBP')) return 'webp';
	if (at(0, 'II*\0') || at(0, 'MM\0*')) return 'tiff';
	// Raw DICOM without preamble starts with a group 0x0002/0x0008 tag.
	if (/\.dcm$/i.test(fileName) && head.length >= 4 && (head[0] === 0x02 || head[0] === 0x08) && head[1] === 0) return 'dicom';
	return null;
}

/** Read the first bytes of a file and sniff them. */
export async function sniffFile(file: string): Promise<ImageFormat | null> {
	const fh = await fs.open(file, 'r');
	try {
		const buf = new Uint8Array(SNIFF_BYTES);
		const { bytesRead } = await fh.read(buf, 0, SNIFF_BYTES, 0);
		return sniffFormat(buf.subarray(0, bytesRead), file);
	} finally {
		await fh.close();
	}
}

/** Extensions that promise an image; such a file with unrecognised content is reported, not ignored. */
export const IMAGE_EXTENSIONS = /\.(jpe?g|png|dcm|dicom|webp|tiff?)$/i;
