// Duplicate images that training must keep on one side of the split: the same file content, or a resized /
// recompressed copy. Runs on the cached pixels before the split, so no base features are needed (training
// computes those after the split: int8 calibrates on the training images).
import type { ImageRecord } from '../types';
import { perceptualHash } from '../audit/pixels';

/** pHash pre-filter, the audit's confirmation distance: copies measure 0–2 bits, but so do unrelated chest films at 4–8. */
export const LINK_HAMMING = 10;
/**
 * Then the 32×32 gray thumbnails must correlate at least this much. On the 600 dev radiographs the closest
 * unrelated pair reaches 0.962; resized (60–90 %) and JPEG-recompressed (q 55–85) copies reach 0.9999.
 */
export const LINK_CORRELATION = 0.985;

export interface DuplicateLinks {
	/** Groups of relPaths (two or more, sorted) to keep in one split. */
	groups: string[][];
	/** Linked pairs by kind. */
	exactPairs: number;
	nearPairs: number;
}

const T = 32;

/** Box-averaged 32×32 gray, centred and scaled to unit length (so a dot product is the Pearson correlation). */
function thumbnail(rgb: Uint8Array, size: number): Float64Array {
	const g = new Float64Array(T * T);
	const cnt = new Float64Array(T * T);
	for (let y = 0; y < size; y++) {
		const row = Math.min(T - 1, Math.floor((y * T) / size)) * T;
		for (let x = 0; x < size; x++) {
			const k = row + Math.min(T - 1, Math.floor((x * T) / size));
			const i = (y * size + x) * 3;
			g[k] += 0.299 * rgb[i] + 0.587 * rgb[i + 1] + 0.114 * rgb[i + 2];
			cnt[k]++;
		}
	}
	let mean = 0;
	for (let i = 0; i < g.length; i++) mean += (g[i] /= cnt[i] || 1) / g.length;
	let ss = 0;
	for (let i = 0; i < g.length; i++) ss += (g[i] -= mean) ** 2;
	const s = Math.sqrt(ss) || 1;
	for (let i = 0; i < g.length; i++) g[i] /= s;
	return g;
}

function popcount32(x: number): number {
	x -= (x >>> 1) & 0x55555555;
	x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
	return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Exact (same sha256) and near duplicates (pHash close and thumbnails correlated), grouped transitively. */
export function linkDuplicates(images: readonly { record: ImageRecord; sha256: string; rgb: Uint8Array }[], size: number): DuplicateLinks {
	const n = images.length;
	const parent = images.map((_, i) => i);
	const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
	let exactPairs = 0;
	let nearPairs = 0;
	const bySha = new Map<string, number>();
	images.forEach((im, i) => {
		const first = bySha.get(im.sha256);
		if (first === undefined) return void bySha.set(im.sha256, i);
		parent[find(i)] = find(first);
		exactPairs++;
	});
	// The hash as two 32-bit halves: pairwise popcounts on numbers, not bigints (n² of them).
	const lo = new Uint32Array(n);
	const hi = new Uint32Array(n);
	images.forEach((im, i) => {
		const h = perceptualHash(im.rgb, size);
		lo[i] = Number(h & 0xffffffffn);
		hi[i] = Number(h >> 32n);
	});
	const thumbs = new Map<number, Float64Array>();
	const thumb = (i: number) => thumbs.get(i) ?? thumbs.set(i, thumbnail(images[i].rgb, size)).get(i)!;
	for (let i = 0; i < n; i++) {
		for (let j = i + 1; j < n; j++) {
			if (popcount32(lo[i] ^ lo[j]) + popcount32(hi[i] ^ hi[j]) > LINK_HAMMING) continue;
			if (images[i].sha256 === images[j].sha256) continue;
			const a = thumb(i);
			const b = thumb(j);
			let c = 0;
			for (let k = 0; k < a.length; k++) c += a[k] * b[k];
			if (c < LINK_CORRELATION) continue;
			parent[find(i)] = find(j);
			nearPairs++;
		}
	}
	const members = new Map<number, string[]>();
	images.forEach((im, i) => members.set(find(i), [...(members.get(find(i)) ?? []), im.record.relPath]));
	const groups = [...members.values()]
		.filter((g) => g.length > 1)
		.map((g) => g.sort())
		.sort((a, b) => (a[0] < b[0] ? -1 : 1));
	return { groups, exactPairs, nearPairs };
}
