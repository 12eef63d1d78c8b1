import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export function sha256(data: Uint8Array | string): string {
	return createHash('sha256').update(data).digest('hex');
}

/** Streams a file through sha256 (weights files are hundreds of MB). */
export function sha256File(file: string): Promise<string> {
	return new Promise((resolve, reject) => {
		const h = createHash('sha256');
		createReadStream(file)
			.on('data', (c) => h.update(c))
			.on('error', reject)
			.on('end', () => resolve(h.digest('hex')));
	});
}
