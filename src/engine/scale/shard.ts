// Feature extraction split over machines. The feature cache is content-addressed (one file per image and key,
// written atomically), so shards of one dataset can write into one shared cache at the same time, or into their
// own caches that are merged afterwards. A scheduler (a Slurm job array, a Kubernetes Indexed Job) only has to
// hand each task its K of N: nothing here coordinates.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../util/atomic';
import { unseal } from '../util/sealed';

/** Shard K of N, 1-based as schedulers count array tasks from 1 (Slurm can start at 0: pass K+1). */
export interface Shard {
	index: number;
	count: number;
}

/** Parses "K/N" (1 ≤ K ≤ N). */
export function parseShard(text: string): Shard {
	const m = /^(\d+)\/(\d+)$/.exec(text.trim());
	if (!m) throw new Error(`--shard must look like K/N (e.g. 3/8), got '${text}'`);
	const index = Number(m[1]);
	const count = Number(m[2]);
	if (count < 1 || index < 1 || index > count) throw new Error(`--shard ${text}: K must be between 1 and N`);
	return { index, count };
}

/**
 * The records of one shard: every N-th of the dataset sorted by relative path, starting at K. Depends only on the
 * file list, so every task computes the same partition without talking to the others, and shards stay balanced
 * within one image.
 */
export function shardRecords<T extends { relPath: string }>(records: readonly T[], shard: Shard): T[] {
	const sorted = [...records].sort((a, b) => (a.relPath < b.relPath ? -1 : a.relPath > b.relPath ? 1 : 0));
	return sorted.filter((_, i) => i % shard.count === shard.index - 1);
}

export interface MergeReport {
	/** Entries copied into the destination. */
	copied: number;
	/** Entries the destination already had, byte for byte. */
	present: number;
	/** Same image and key, different bytes: the destination's entry is kept and the source's named here. */
	conflicts: string[];
	/** Entries that fail their digest or their key's length: skipped (a torn write, a bad disk). */
	invalid: string[];
	/** Feature keys (backbone, weights, normalisation, size) seen. */
	keys: string[];
}

/** Merges the feature caches of `sources` (work folders, or their `cache/features` folders) into `intoWorkDir`. */
export async function mergeFeatureCaches(sources: string[], intoWorkDir: string): Promise<MergeReport> {
	const dest = path.join(intoWorkDir, 'cache', 'features');
	const report: MergeReport = { copied: 0, present: 0, conflicts: [], invalid: [], keys: [] };
	const keys = new Set<string>();
	for (const src of sources) {
		const root = await featuresRoot(src);
		if (path.resolve(root) === path.resolve(dest)) continue;
		for (const key of (await fs.readdir(root, { withFileTypes: true }))
			.filter((d) => d.isDirectory())
			.map((d) => d.name)
			.sort()) {
			keys.add(key);
			const from = path.join(root, key);
			const to = path.join(dest, key);
			await fs.mkdir(to, { recursive: true });
			const size = await entrySize(from, to);
			for (const name of (await fs.readdir(from)).filter((n) => /^[0-9a-f]{64}\.f32s$/.test(n)).sort()) {
				const bytes = await fs.readFile(path.join(from, name));
				// The entry's own digest (util/sealed.ts) and its key's length: a torn or flipped entry is not copied.
				if ((size !== undefined && bytes.byteLength !== size) || !unseal(bytes, bytes.byteLength - 8)) {
					report.invalid.push(path.join(from, name));
					continue;
				}
				const existing = await fs.readFile(path.join(to, name)).catch(() => undefined);
				if (existing) {
					if (existing.equals(bytes)) report.present++;
					else report.conflicts.push(path.join(from, name));
					continue;
				}
				await writeFileAtomic(path.join(to, name), bytes);
				report.copied++;
			}
		}
	}
	report.keys = [...keys].sort();
	return report;
}

async function featuresRoot(src: string): Promise<string> {
	for (const candidate of [path.join(src, 'cache', 'features'), src]) {
		const st = await fs.stat(candidate).catch(() => undefined);
		if (st?.isDirectory() && (candidate === src ? path.basename(src) === 'features' : true)) return candidate;
	}
	throw new Error(`${src}: no feature cache here (expected a work folder with cache/features, or a cache/features folder)`);
}

/** The entry length of a key: the most common length among the entries on either side (all are equal when sound). */
async function entrySize(...dirs: string[]): Promise<number | undefined> {
	const counts = new Map<number, number>();
	for (const dir of dirs) {
		const names = (await fs.readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.f32s')).slice(0, 64);
		for (const n of names) {
			const st = await fs.stat(path.join(dir, n)).catch(() => undefined);
			if (st) counts.set(st.size, (counts.get(st.size) ?? 0) + 1);
		}
	}
	let best: number | undefined;
	for (const [size, n] of counts) if (best === undefined || n > (counts.get(best) ?? 0)) best = size;
	return best;
}
