// Bytes → base64 for the export messages (the host decodes and writes them).

/** btoa over chunks: String.fromCharCode with one huge spread would overflow the stack. */
export function arrayBufferToBase64(buf: ArrayBuffer): string {
	const bytes = new Uint8Array(buf);
	let bin = '';
	for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
	return btoa(bin);
}
