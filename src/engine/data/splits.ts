// Train/val/test splits, seeded and reproducible. The reference took 20 % test (random_state 40), then 10 % of
// the rest for validation, image by image; the default here keeps each patient's images in one split.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { CLASS_NAMES, type ClassName, type ImageRecord, type SplitMode, type SplitName, type SplitResult } from '../types';
import { writeJsonAtomic } from '../util/atomic';

export interface SplitOptions {
	mode: SplitMode;
	seed: number;
	testFraction: number;
	valFraction: number;
	/**
	 * Groups of relPaths that must stay in one split (near-duplicates of the audit): each group joins the patients
	 * of its images into one unit, the way a patient keeps its images together.
	 */
	linked?: string[][];
	/** The label that places an image (its dataset label), where it differs from the one it trains with. */
	placeBy?: ReadonlyMap<string, ClassName | null>;
	/** Images that hold their place in the split but are left out of it (excluded by the annotations). */
	ghosts?: ImageRecord[];
	/** A frozen assignment (radreview-splits.csv): these images keep their split, new ones are dealt by the rule. */
	frozen?: ReadonlyMap<string, SplitName>;
}

/** mulberry32: a small, fast, well-mixed 32-bit PRNG in [0, 1). */
export function mulberry32(seed: number): () => number {
	let a = seed >>> 0;
	return () => {
		a = (a + 0x6d2b79f5) >>> 0;
		let t = a;
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

/**
 * Per-class counts summing to ceil(fraction × total) (sklearn's test-size rounding), shared out by largest
 * remainder so each class gets as close to `fraction` of its own images as possible.
 */
function allocate(counts: number[], fraction: number): number[] {
	const total = counts.reduce((a, b) => a + b, 0);
	const want = Math.min(total, Math.ceil(fraction * total - 1e-9));
	const exact = counts.map((c) => (total ? (c * want) / total : 0));
	const out = exact.map(Math.floor);
	const order = exact.map((e, k) => [e - Math.floor(e), k] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
	for (let r = want - out.reduce((a, b) => a + b, 0), i = 0; r > 0 && order.length; i++, r--) out[order[i % order.length][1]]++;
	return out;
}

interface Group {
	id: string;
	members: ImageRecord[];
	/** Images per class, in CLASS_NAMES order (by the label that places the group, see `placeBy`). */
	counts: number[];
}

const countsOf = (members: ImageRecord[]) => CLASS_NAMES.map((c) => members.filter((m) => m.label === c).length);

/**
 * A group's place in the seeded order: SHA-256 of seed and group id. Each group's position depends on nothing
 * but itself, so adding or removing a group leaves every other group's order unchanged (a shuffle of the whole
 * list would redraw every later group).
 */
export function groupKey(seed: number, id: string): string {
	return createHash('sha256')
		.update(`${seed >>> 0}\0${id}`)
		.digest('hex');
}

/**
 * Take groups until each class holds ~`fraction` of its images, `pre` (frozen groups) counted first. Groups are
 * visited in their hash order: first those that fit under every class's target, then any that still brings the
 * per-class counts closer (L1), so a big patient cannot overshoot early. Mixed-label patients count per image.
 */
function takeGroups(groups: Group[], fraction: number, preIn: Group[] = [], preOut: Group[] = []): { taken: Group[]; rest: Group[] } {
	const sum = (gs: Group[]) => CLASS_NAMES.map((_, k) => gs.reduce((n, g) => n + g.counts[k], 0));
	const targets = allocate(sum([...groups, ...preIn, ...preOut]), fraction);
	const count = sum(preIn);
	const dist = (add: number[]) => count.reduce((d, c, k) => d + Math.abs(c + add[k] - targets[k]), 0);
	const zero = count.map(() => 0);
	const chosen = new Set<Group>();
	const fits = (g: Group) => g.counts.every((n, k) => count[k] + n <= targets[k]);
	const closer = (g: Group) => dist(g.counts) < dist(zero);
	for (const accept of [fits, closer]) {
		for (const g of groups) {
			if (chosen.has(g) || !accept(g)) continue;
			chosen.add(g);
			g.counts.forEach((n, k) => (count[k] += n));
		}
	}
	return { taken: groups.filter((g) => chosen.has(g)), rest: groups.filter((g) => !chosen.has(g)) };
}

/**
 * Split labelled images (label null is excluded) into train/val/test: `testFraction` of all, then `valFraction`
 * of the rest, stratified by class. 'patient' keeps each patient's images together,
 * 'image' splits images independently and reports the patients that leak across splits.
 * The result depends only on the set of images and the options, not on their order.
 *
 * Stability (issue 19): groups are taken in the order of their own seeded hash, so the split of a set is
 * exact to the rounding of the fractions, and `placeBy`/`ghosts` let review edits stay local: a relabelled image
 * is placed by its dataset label (it stays where it was), an excluded one still holds its place (it leaves its
 * split and nothing takes it). Images added to the folder can move a few groups at the class boundaries unless
 * the split is frozen: `frozen` images keep their split, and only the new groups are dealt by the same rule.
 */
export function splitDataset(images: ImageRecord[], opts: SplitOptions): SplitResult {
	if (!(opts.testFraction >= 0 && opts.testFraction < 1 && opts.valFraction >= 0 && opts.valFraction < 1)) {
		throw new RangeError(`split fractions must be in [0, 1): test ${opts.testFraction}, val ${opts.valFraction}`);
	}
	const inSplit = new Set(images.filter((r) => r.label !== null).map((r) => r.relPath));
	const placed = [...images.filter((r) => r.label !== null), ...(opts.ghosts ?? []).filter((g) => !inSplit.has(g.relPath))]
		.map((r) => ({ ...r, label: opts.placeBy?.get(r.relPath) ?? r.label }))
		.filter((r) => r.label !== null)
		.sort((a, b) => (a.relPath < b.relPath ? -1 : a.relPath > b.relPath ? 1 : 0));
	let groups: Group[];
	if (opts.mode === 'patient') {
		const byPatient = new Map<string, ImageRecord[]>();
		for (const r of placed) byPatient.set(r.patientId, [...(byPatient.get(r.patientId) ?? []), r]);
		groups = [...byPatient.keys()].sort().map((id) => ({ id, members: byPatient.get(id)!, counts: countsOf(byPatient.get(id)!) }));
	} else {
		groups = placed.map((r) => ({ id: r.relPath, members: [r], counts: countsOf([r]) }));
	}
	if (opts.linked?.length) groups = linkGroups(groups, opts.linked);
	const { fresh, test: frozenTest, val: frozenVal, train: frozenTrain } = applyFrozen(groups, opts.frozen);
	const order = fresh.map((g) => [groupKey(opts.seed, g.id), g] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
	const { taken, rest } = takeGroups(
		order.map(([, g]) => g),
		opts.testFraction,
		frozenTest,
		[...frozenVal, ...frozenTrain],
	);
	const { taken: val, rest: train } = takeGroups(rest, opts.valFraction, frozenVal, frozenTrain);
	const test = [...taken, ...frozenTest];
	const byName = { train: [...train, ...frozenTrain], val: [...val, ...frozenVal], test };
	const paths = (gs: Group[]) =>
		gs
			.flatMap((g) => g.members.map((m) => m.relPath))
			.filter((p) => inSplit.has(p))
			.sort();

	const splitsOf = new Map<string, Set<SplitName>>();
	for (const name of ['train', 'val', 'test'] as const) {
		for (const g of byName[name]) for (const m of g.members) if (inSplit.has(m.relPath)) splitsOf.set(m.patientId, (splitsOf.get(m.patientId) ?? new Set()).add(name));
	}
	const leakedPatients = [...splitsOf]
		.filter(([, s]) => s.size > 1)
		.map(([p]) => p)
		.sort();
	return { mode: opts.mode, seed: opts.seed, testFraction: opts.testFraction, valFraction: opts.valFraction, train: paths(byName.train), val: paths(byName.val), test: paths(test), leakedPatients };
}

/**
 * Groups with a frozen image take that image's split (the first such image by path: a patient split across
 * splits by an image-level freeze joins one); the rest are dealt by the rule.
 */
function applyFrozen(groups: Group[], frozen: ReadonlyMap<string, SplitName> | undefined): Record<SplitName, Group[]> & { fresh: Group[] } {
	const out: Record<SplitName, Group[]> & { fresh: Group[] } = { fresh: [], train: [], val: [], test: [] };
	for (const g of groups) {
		const first = frozen && [...g.members].sort((a, b) => (a.relPath < b.relPath ? -1 : 1)).find((m) => frozen.has(m.relPath));
		const s = first ? frozen.get(first.relPath)! : undefined;
		if (s) out[s].push(g);
		else out.fresh.push(g);
	}
	return out;
}

/** Merges the groups that hold images of one linked set (union-find); the merged group takes the smallest id. */
function linkGroups(groups: Group[], linked: string[][]): Group[] {
	const groupOf = new Map<string, number>();
	groups.forEach((g, i) => g.members.forEach((m) => groupOf.set(m.relPath, i)));
	const parent = groups.map((_, i) => i);
	const find = (i: number): number => (parent[i] === i ? i : (parent[i] = find(parent[i])));
	for (const set of linked) {
		const idx = set.map((p) => groupOf.get(p)).filter((i): i is number => i !== undefined);
		for (const i of idx.slice(1)) parent[find(i)] = find(idx[0]);
	}
	const merged = new Map<number, Group[]>();
	groups.forEach((g, i) => merged.set(find(i), [...(merged.get(find(i)) ?? []), g]));
	return [...merged.values()]
		.map((gs) => {
			const members = gs.flatMap((g) => g.members);
			return { id: gs.map((g) => g.id).sort()[0], members, counts: countsOf(members) };
		})
		.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** relPath → split, for looking images up. */
export function splitIndex(result: SplitResult): Map<string, SplitName> {
	const m = new Map<string, SplitName>();
	for (const name of ['train', 'val', 'test'] as const) for (const p of result[name]) m.set(p, name);
	return m;
}

/** Save splits as JSON, atomically. */
export function saveSplits(file: string, result: SplitResult): Promise<void> {
	return writeJsonAtomic(file, result);
}

/** Load and check splits saved by saveSplits. */
export async function loadSplits(file: string): Promise<SplitResult> {
	const v = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<SplitResult>;
	const strings = (x: unknown) => Array.isArray(x) && x.every((s) => typeof s === 'string');
	if (!(v && (v.mode === 'patient' || v.mode === 'image') && typeof v.seed === 'number' && strings(v.train) && strings(v.val) && strings(v.test) && strings(v.leakedPatients))) {
		throw new Error(`${file}: not a splits file`);
	}
	return v as SplitResult;
}
