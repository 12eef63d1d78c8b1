// Cache entries carry their own check: the payload, then the first 8 bytes of its sha256. A torn or bit-flipped
// entry (a crash mid-write, a bad disk) fails the length or the digest and is recomputed, never used.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { writeFileAtomic } from './atomic';

const DIGEST_BYTES = 8;

function digest(data: Uint8Array): Buffer {
	return createHash('sha256').update(data).digest().subarray(0, DIGEST_BYTES);
}

/** payload + digest. */
export function seal(data: Uint8Array): Uint8Array {
	const out = new Uint8Array(data.byteLength + DIGEST_BYTES);
	out.set(data);
	out.set(digest(data), data.byteLength);
	return out;
}

/** The payload when `buf` is a sealed entry of `payloadBytes` bytes, else undefined. */
export function unseal(buf: Uint8Array, payloadBytes: number): Uint8Array | undefined {
	if (buf.byteLength !== payloadBytes + DIGEST_BYTES) return undefined;
	// A plain Uint8Array view (not a Buffer): callers compare and copy it like freshly decoded bytes.
	const data = new Uint8Array(buf.buffer, buf.byteOffset, payloadBytes);
	return Buffer.compare(digest(data), buf.subarray(payloadBytes)) === 0 ? data : undefined;
}

/** Reads a sealed entry; missing, torn or corrupt → undefined. */
export async function readSealed(file: string, payloadBytes: number): Promise<Uint8Array | undefined> {
	try {
		return unseal(await fs.readFile(file), payloadBytes);
	} catch {
		return undefined;
	}
}

/** Writes a sealed entry atomically (no fsync: a lost cache entry is only recomputed). */
export function writeSealed(file: string, data: Uint8Array): Promise<void> {
	return writeFileAtomic(file, seal(data), { fsync: false });
}
