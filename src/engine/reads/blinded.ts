// What a blinded read shows, and in which order: a seeded sample stratified by class and source, shuffled so that
// neither class nor folder comes in blocks, and the reader's remaining images (resume across sessions).
import type { ImageRecord, SplitResult } from '../types';
import { Prng } from '../train/prng';
import type { Read } from './format';

/**
 * n images (all when n ≥ the count) drawn per (class, source) cell in proportion to the cell's size (largest
 * remainders), every non-empty cell getting at least one while n allows; then shuffled. Same seed, same sample.
 */
export function stratifiedSample(images: readonly Pick<ImageRecord, 'relPath' | 'label' | 'source'>[], n: number, seed: number): string[] {
	const rng = new Prng(seed);
	const cells = new Map<string, string[]>();
	for (const r of [...images].sort((a, b) => (a.relPath < b.relPath ? -1 : 1))) {
		const key = `${r.label ?? ''}\u0000${r.source ?? ''}`;
		cells.set(key, [...(cells.get(key) ?? []), r.relPath]);
	}
	const total = images.length;
	const want = Math.max(0, Math.min(Math.floor(n), total));
	const keys = [...cells.keys()].sort();
	const quota = new Map(keys.map((k) => [k, Math.floor((cells.get(k)!.length * want) / (total || 1))]));
	let left = want - [...quota.values()].reduce((a, b) => a + b, 0);
	// Empty cells first, then the largest remainders.
	const order = [...keys].sort(
		(a, b) => Number(quota.get(a)! > 0) - Number(quota.get(b)! > 0) || ((cells.get(b)!.length * want) % (total || 1)) - ((cells.get(a)!.length * want) % (total || 1)) || (a < b ? -1 : 1),
	);
	for (const k of order) {
		if (left <= 0) break;
		if (quota.get(k)! < cells.get(k)!.length) {
			quota.set(k, quota.get(k)! + 1);
			left--;
		}
	}
	const picked = keys.flatMap((k) => rng.shuffle([...cells.get(k)!]).slice(0, quota.get(k)));
	return rng.shuffle(picked);
}

/** The images of `set` this reader has not read yet, in the set's order (where a session resumes). */
export function remaining(set: readonly string[], reads: readonly Read[], reader: string): string[] {
	const done = new Set(reads.filter((r) => r.reader === reader).map((r) => r.path));
	return set.filter((p) => !done.has(p));
}

/**
 * One split of a run as a reading set: its images that are still in the dataset (in the run's dataset only), shuffled
 * with the seed so that the class folders the split lists in order do not come in blocks.
 */
export function splitSet(splits: Pick<SplitResult, 'train' | 'val' | 'test'>, split: 'train' | 'val' | 'test', inDataset: ReadonlySet<string>, seed: number): string[] {
	return new Prng(seed).shuffle(splits[split].filter((p) => inDataset.has(p)));
}
