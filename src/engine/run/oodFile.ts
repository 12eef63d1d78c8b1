// A run's out-of-distribution reference (audit/ood.ts): the calibration as JSON, the training images' unit
// vectors as raw little-endian float32 beside it. Read back with checks: a run folder may come from anyone.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { OodReference } from '../audit/ood';
import { writeFileAtomic } from '../util/atomic';
import { isInteger, isNumber, isRecord } from '../../protocol/guards';
import { RUN_FILES } from './files';
import { writeRunJson } from './runDir';

export async function writeOodReference(dir: string, ref: OodReference): Promise<void> {
	const { vectors, ...meta } = ref;
	await writeFileAtomic(path.join(dir, RUN_FILES.oodVectors), new Uint8Array(vectors.buffer, vectors.byteOffset, vectors.byteLength));
	await writeRunJson(dir, RUN_FILES.ood, meta);
}

/** The run's reference, undefined when the run has none (trained before it existed); throws when it is damaged. */
export async function readOodReference(runDir: string): Promise<OodReference | undefined> {
	const file = path.join(runDir, RUN_FILES.ood);
	let text: string;
	try {
		text = await fs.readFile(file, 'utf8');
	} catch {
		return undefined;
	}
	const v: unknown = JSON.parse(text);
	const pos = (x: unknown): x is number => isInteger(x) && x > 0;
	if (!(isRecord(v) && v.method === 'knn-cosine' && pos(v.k) && pos(v.n) && pos(v.channels) && isNumber(v.threshold))) throw new Error(`${file}: not an out-of-distribution reference`);
	const bin = path.join(runDir, RUN_FILES.oodVectors);
	const bytes = await fs.readFile(bin);
	if (bytes.length !== v.n * v.channels * 4) throw new Error(`${bin}: ${bytes.length} bytes, expected ${v.n} × ${v.channels} float32`);
	const vectors = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
	if (!vectors.every(Number.isFinite)) throw new Error(`${bin}: holds a value that is not a finite number`);
	return { method: 'knn-cosine', k: v.k, n: v.n, channels: v.channels, threshold: v.threshold, vectors };
}
