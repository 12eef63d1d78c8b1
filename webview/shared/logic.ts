// Pure view logic shared by the panels: no DOM, no vscode. Unit-tested in test/unit/webviewLogic.test.ts.
import { CLASS_NAMES, type ClassName, type EpochLog, type SourceMetrics, type SplitName } from '../../src/engine/types';

// ───────────────────────────── formatting ─────────────────────────────

/** 0.9134 → '91.3%'. */
export function pct(v: number, digits = 1): string {
	return Number.isFinite(v) ? `${(v * 100).toFixed(digits)}%` : '–';
}

/** One row of a "By source" table, as text: recall per class in CLASS_NAMES order, '–' where the source has none of that class. */
export interface SourceRow {
	source: string;
	n: string;
	accuracy: string;
	recall: string[];
	/** Tooltip per recall cell: how many images of that class the source has. */
	recallTitle: string[];
}

/** Array.isArray without widening a readonly array to any[]. */
const isArray = (v: unknown): v is readonly unknown[] => Array.isArray(v);

/** Metrics' optional bySource as table rows, largest source first; [] when absent or malformed (older runs). */
export function sourceRows(bySource: readonly SourceMetrics[] | undefined): SourceRow[] {
	if (!isArray(bySource)) return [];
	return bySource
		.filter((s) => s && typeof s.source === 'string' && Number.isFinite(s.n))
		.slice()
		.sort((a, b) => b.n - a.n || a.source.localeCompare(b.source))
		.map((s) => ({
			source: s.source,
			n: String(s.n),
			accuracy: pct(s.accuracy),
			recall: CLASS_NAMES.map((_, i) => {
				const r = Array.isArray(s.recall) ? s.recall[i] : null;
				return typeof r === 'number' && Number.isFinite(r) ? r.toFixed(2) : '–';
			}),
			recallTitle: CLASS_NAMES.map((c, i) => {
				const n = Array.isArray(s.support) ? (s.support[i] ?? 0) : 0;
				return `${n} ${c} image${n === 1 ? '' : 's'} from ${s.source}`;
			}),
		}));
}

/** Seconds → '42s', '3m 05s', '1h 02m'. */
export function formatDuration(seconds: number): string {
	if (!Number.isFinite(seconds) || seconds < 0) return '–';
	const s = Math.round(seconds);
	if (s < 60) return `${s}s`;
	const m = Math.floor(s / 60);
	if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
	return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

/** The base name of a relPath, for captions. */
export function baseName(relPath: string): string {
	const i = relPath.lastIndexOf('/');
	return i < 0 ? relPath : relPath.slice(i + 1);
}

// ───────────────────────────── predictions ─────────────────────────────

/** One image of the prediction grid, as the webview sees it. */
export interface GridItem {
	relPath: string;
	label: ClassName | null;
	/** null: no prediction (an audit review queue of images a check flagged; `note` says why). */
	predicted: ClassName | null;
	/** In CLASS_NAMES order; empty when there is no prediction. */
	probs: number[];
	/** What listed the image when it has no prediction, e.g. its audit score. */
	note?: string;
	/** Listed because its prediction disagrees with its label (a label-issues queue): the label is under question. */
	disputed?: boolean;
	/** Webview URI of the small thumbnail (made once by the host). */
	thumbUri?: string;
	split?: SplitName;
	/** Source dataset and patient, when the dataset records them. */
	source?: string;
	patientId?: string;
	/** Not like a frontal chest X-ray of the training split: a badge on the tile. */
	outOfDistribution?: boolean;
	oodReasons?: string[];
}

export type Outcome = 'all' | 'right' | 'wrong';
export type SortKey = 'confidence' | 'loss' | 'name';
export type SortDir = 'asc' | 'desc';

export interface GridFilter {
	/** 'all' or a class; also set by a confusion-matrix cell. */
	trueClass: ClassName | 'all';
	predicted: ClassName | 'all';
	outcome: Outcome;
	/** Confidence (the predicted class's probability) range, inclusive, in [0, 1]. */
	minConf: number;
	maxConf: number;
	/** 'all' or one source dataset ('unknown' for images with none recorded). */
	source: string;
}

export interface GridSort {
	key: SortKey;
	dir: SortDir;
}

export const DEFAULT_FILTER: GridFilter = { trueClass: 'all', predicted: 'all', outcome: 'all', minConf: 0, maxConf: 1, source: 'all' };
export const DEFAULT_SORT: GridSort = { key: 'confidence', dir: 'asc' };

export function classIndex(c: ClassName): number {
	return CLASS_NAMES.indexOf(c);
}

/** The probability the model gave its own answer; NaN when there is no prediction. */
export function confidence(item: GridItem): number {
	return item.predicted === null ? Number.NaN : (item.probs[classIndex(item.predicted)] ?? 0);
}

/** "COVID (0.93)", or "no prediction" (with its note) for an image a check listed without predicting it. */
export function predictionText(item: GridItem, digits: number): string {
	if (item.predicted === null) return item.note ? `no prediction; ${item.note}` : 'no prediction';
	return `${item.predicted} (${confidence(item).toFixed(digits)})`;
}

/** Cross-entropy of one image: −log p(true). NaN for unlabelled images (no truth to score) and unpredicted ones. */
export function itemLoss(item: GridItem): number {
	if (item.label === null || item.predicted === null) return Number.NaN;
	// Clamp as Keras does (epsilon 1e-7) so a confident miss is large but finite.
	const p = Math.min(1, Math.max(1e-7, item.probs[classIndex(item.label)] ?? 0));
	return -Math.log(p);
}

/** null when the image has no label or no prediction. */
export function isCorrect(item: GridItem): boolean | null {
	// A disputed image was chosen for its disagreement: scoring it would only count the selection.
	return item.label === null || item.predicted === null || item.disputed ? null : item.label === item.predicted;
}

/** What the label line calls an image's label: the truth, or the label given that a label-issues queue questions. */
export function labelCaption(item: GridItem): string {
	return item.disputed ? 'Given label' : 'Correct';
}

export function matchesFilter(item: GridItem, f: GridFilter): boolean {
	if (f.trueClass !== 'all' && item.label !== f.trueClass) return false;
	if (f.predicted !== 'all' && item.predicted !== f.predicted) return false;
	if (f.outcome !== 'all') {
		const ok = isCorrect(item);
		if (ok === null || ok !== (f.outcome === 'right')) return false;
	}
	if (f.source !== 'all' && itemSource(item) !== f.source) return false;
	const c = confidence(item);
	// No prediction, no confidence: such an image drops out only when the range is narrowed.
	if (Number.isNaN(c)) return f.minConf <= 0 && f.maxConf >= 1;
	return c >= f.minConf && c <= f.maxConf;
}

/** The source an item shows and filters by: 'unknown' when the dataset records none. */
export function itemSource(item: { source?: string }): string {
	return item.source?.trim() || 'unknown';
}

/** Distinct sources of a prediction set with their image counts, largest first ('unknown' last). */
export function sourceCounts(items: readonly GridItem[]): Array<{ source: string; count: number }> {
	const m = new Map<string, number>();
	for (const it of items) m.set(itemSource(it), (m.get(itemSource(it)) ?? 0) + 1);
	return [...m].map(([source, count]) => ({ source, count })).sort((a, b) => Number(a.source === 'unknown') - Number(b.source === 'unknown') || b.count - a.count || a.source.localeCompare(b.source));
}

/** True when the filter hides nothing by itself (the state a one-click reset returns to). */
export function isDefaultFilter(f: GridFilter): boolean {
	return (Object.keys(DEFAULT_FILTER) as Array<keyof GridFilter>).every((k) => f[k] === DEFAULT_FILTER[k]);
}

/** The line shown while a filter is active, e.g. '19 of 30 images shown: right only'; null for the default filter. */
export function activeFilterText(f: GridFilter, shown: number, total: number): string | null {
	if (isDefaultFilter(f)) return null;
	return `${shown} of ${total} images shown: ${filterParts(f).join(', ')}`;
}

/** Filter and sort of one prediction set (a run's test split, a classified folder). */
export interface SetView {
	filter: GridFilter;
	sort: GridSort;
}

/** Filters kept per prediction set, so a filter set on one never applies to another. Keyed by the set's id. */
export type FilterStore = Record<string, SetView>;

/** Sets remembered per panel; older ones are forgotten first. */
export const MAX_REMEMBERED_SETS = 20;

/** The filter and sort of set `key`: what was last used on it, else the defaults. Saved state from older versions is completed. */
export function viewForSet(store: FilterStore | undefined, key: string): SetView {
	const saved = store && Object.prototype.hasOwnProperty.call(store, key) ? store[key] : undefined;
	return { filter: { ...DEFAULT_FILTER, ...(saved?.filter ?? {}) }, sort: { ...DEFAULT_SORT, ...(saved?.sort ?? {}) } };
}

/** A new store with set `key` at `view` (most recent last), capped at `max` sets. */
export function rememberView(store: FilterStore | undefined, key: string, view: SetView, max = MAX_REMEMBERED_SETS): FilterStore {
	const entries = Object.entries(store ?? {}).filter(([k]) => k !== key);
	entries.push([key, { filter: { ...view.filter }, sort: { ...view.sort } }]);
	return Object.fromEntries(entries.slice(-max));
}

/** Filters then sorts; never mutates `items`. Ties break on relPath so the order is stable across updates. */
export function filterAndSort(items: readonly GridItem[], f: GridFilter, s: GridSort): GridItem[] {
	const out = items.filter((it) => matchesFilter(it, f));
	const sign = s.dir === 'asc' ? 1 : -1;
	// Each key computed once, not twice per comparison (5,000 images: ~120,000 comparisons).
	const keyed = out.map((it) => ({ it, k: s.key === 'confidence' ? confidence(it) : s.key === 'loss' ? itemLoss(it) : 0 }));
	keyed.sort((a, b) => {
		if (s.key !== 'name') {
			// Unlabelled images have no loss, unpredicted ones no confidence: keep them last whatever the direction.
			const na = Number.isNaN(a.k);
			const nb = Number.isNaN(b.k);
			if (na !== nb) return na ? 1 : -1;
			if (!na && a.k !== b.k) return (a.k - b.k) * sign;
		}
		const byName = a.it.relPath < b.it.relPath ? -1 : a.it.relPath > b.it.relPath ? 1 : 0;
		return s.key === 'name' ? byName * sign : byName;
	});
	return keyed.map((x) => x.it);
}

/** confusion[true][predicted] over labelled items, in CLASS_NAMES order. */
export function confusionOf(items: readonly GridItem[]): number[][] {
	const m = CLASS_NAMES.map(() => CLASS_NAMES.map(() => 0));
	for (const it of items) {
		if (it.label === null || it.predicted === null || isCorrect(it) === null) continue;
		m[classIndex(it.label)][classIndex(it.predicted)]++;
	}
	return m;
}

/**
 * The filter a confusion-matrix cell applies: that (true, predicted) pair, everything else reset.
 * Clicking the cell that is already active clears it (toggle).
 */
export function cellFilter(current: GridFilter, trueClass: ClassName, predicted: ClassName): GridFilter {
	if (isCellActive(current, trueClass, predicted)) return { ...DEFAULT_FILTER };
	return { ...DEFAULT_FILTER, trueClass, predicted };
}

export function isCellActive(f: GridFilter, trueClass: ClassName, predicted: ClassName): boolean {
	return f.trueClass === trueClass && f.predicted === predicted;
}

// ───────────────────────────── virtual grid ─────────────────────────────

export interface GridGeometry {
	/** Usable width of the scroll container. */
	width: number;
	/** Smallest cell width; cells grow to fill the row. */
	minCellWidth: number;
	gap: number;
}

/** How many cells fit in a row (at least one). */
export function columnsFor(g: GridGeometry): number {
	if (g.width <= 0) return 1;
	return Math.max(1, Math.floor((g.width + g.gap) / (g.minCellWidth + g.gap)));
}

export interface WindowInput {
	itemCount: number;
	columns: number;
	/** Fixed row height, including the gap below the row. */
	rowHeight: number;
	scrollTop: number;
	viewportHeight: number;
	/** Extra rows kept above and below the viewport so fast scrolling does not flash blanks. */
	overscan: number;
}

export interface WindowResult {
	rowCount: number;
	/** First and one-past-last rendered row. */
	firstRow: number;
	endRow: number;
	/** First and one-past-last rendered item index. */
	start: number;
	end: number;
	/** Height of the full (virtual) content, for the scroll spacer. */
	totalHeight: number;
	/** Where the first rendered row sits from the top of the content. */
	offsetY: number;
}

/** The rows that must be in the DOM for a fixed-row-height grid scrolled to `scrollTop`. */
export function virtualWindow(w: WindowInput): WindowResult {
	const columns = Math.max(1, Math.floor(w.columns));
	const rowCount = Math.ceil(Math.max(0, w.itemCount) / columns);
	const totalHeight = rowCount * w.rowHeight;
	if (rowCount === 0 || w.rowHeight <= 0) {
		return { rowCount, firstRow: 0, endRow: 0, start: 0, end: 0, totalHeight, offsetY: 0 };
	}
	// A stale scrollTop (list just shrank) must not put the window past the end.
	const maxScroll = Math.max(0, totalHeight - w.viewportHeight);
	const top = Math.min(Math.max(0, w.scrollTop), maxScroll);
	const firstVisible = Math.floor(top / w.rowHeight);
	const lastVisible = Math.ceil((top + Math.max(0, w.viewportHeight)) / w.rowHeight);
	const firstRow = Math.max(0, firstVisible - w.overscan);
	const endRow = Math.min(rowCount, Math.max(lastVisible, firstVisible + 1) + w.overscan);
	return {
		rowCount,
		firstRow,
		endRow,
		start: firstRow * columns,
		end: Math.min(w.itemCount, endRow * columns),
		totalHeight,
		offsetY: firstRow * w.rowHeight,
	};
}

// ───────────────────────────── training ─────────────────────────────

/** Seconds left, from the mean of the last `window` epochs' wall time. undefined until one epoch is done. */
export function etaSeconds(history: readonly EpochLog[], totalEpochs: number, window = 5): number | undefined {
	if (history.length === 0) return undefined;
	// No spread: a long run's history can exceed the engine's argument limit.
	const done = history.reduce((m, e) => Math.max(m, e.epoch), -Infinity);
	const remaining = Math.max(0, totalEpochs - done);
	const recent = history.slice(-window);
	const mean = recent.reduce((s, e) => s + e.seconds, 0) / recent.length;
	return remaining * mean;
}

export type CurveMetric = 'acc' | 'loss';

/** One run's history to draw. */
export interface CurveRun {
	/** Shown in the legend, e.g. 'resnet50v2' or 'resnet50v2 (not pretrained)'. */
	label: string;
	/** Chooses the colour: runs of the same backbone share it. */
	colorKey: string;
	history: readonly EpochLog[];
}

export interface SeriesPoint {
	x: number;
	y: number;
}

/** A chart.js-shaped line dataset, without chart.js types (keeps this module pure). */
export interface LineSeries {
	label: string;
	data: SeriesPoint[];
	borderColor: string;
	backgroundColor: string;
	borderDash: number[];
	split: 'train' | 'val';
}

/** A palette that stays distinct on dark, light and high-contrast themes. */
export const SERIES_COLORS = ['#3794ff', '#f14c4c', '#89d185', '#cca700', '#b180d7', '#4ec9b0'];

/** Stable colour per key in order of first appearance. */
export function colorFor(keys: readonly string[], key: string, palette: readonly string[] = SERIES_COLORS): string {
	const i = keys.indexOf(key);
	return palette[(i < 0 ? 0 : i) % palette.length];
}

/** Points drawn per curve: a canvas line with hundreds of thousands of points stalls the window (fast heads run that many epochs). */
export const MAX_CURVE_POINTS = 1000;

/** Evenly spaced items, first and last always kept; the array itself when it is short enough. */
export function thin<T>(items: readonly T[], max: number): T[] {
	if (items.length <= max || max < 2) return items.slice();
	const out: T[] = [];
	for (let i = 0; i < max; i++) out.push(items[Math.round((i * (items.length - 1)) / (max - 1))]);
	return out;
}

/**
 * Two series per run (train solid, validation dashed), one colour per backbone. Epochs are
 * 1-based as the engine sends them; duplicate epochs (a replay after a live event) keep the last.
 */
export function buildSeries(runs: readonly CurveRun[], metric: CurveMetric, palette: readonly string[] = SERIES_COLORS, maxPoints = MAX_CURVE_POINTS): LineSeries[] {
	const keys: string[] = [];
	for (const r of runs) if (!keys.includes(r.colorKey)) keys.push(r.colorKey);
	const out: LineSeries[] = [];
	for (const r of runs) {
		const byEpoch = new Map<number, EpochLog>();
		for (const e of r.history) byEpoch.set(e.epoch, e);
		const epochs = thin(
			[...byEpoch.values()].sort((a, b) => a.epoch - b.epoch),
			maxPoints,
		);
		const color = colorFor(keys, r.colorKey, palette);
		const trainKey = metric === 'acc' ? 'acc' : 'loss';
		const valKey = metric === 'acc' ? 'val_acc' : 'val_loss';
		out.push({
			label: `${r.label} train`,
			data: epochs.map((e) => ({ x: e.epoch, y: e[trainKey] })),
			borderColor: color,
			backgroundColor: color,
			borderDash: [],
			split: 'train',
		});
		out.push({
			label: `${r.label} validation`,
			data: epochs.map((e) => ({ x: e.epoch, y: e[valKey] })),
			borderColor: color,
			backgroundColor: color,
			borderDash: [6, 4],
			split: 'val',
		});
	}
	return out;
}

// ───────────────────────────── dataset / compare ─────────────────────────────

/** Index of the best finite value (highest or lowest), or -1; used to bold the winner in a comparison. */
export function bestIndex(values: readonly number[], higherIsBetter: boolean): number {
	let best = -1;
	for (let i = 0; i < values.length; i++) {
		const v = values[i];
		if (!Number.isFinite(v)) continue;
		if (best < 0 || (higherIsBetter ? v > values[best] : v < values[best])) best = i;
	}
	return best;
}

/** Row-normalised confusion (each true class sums to 1), for cell shading; zero rows stay zero. */
export function rowNormalised(confusion: readonly (readonly number[])[]): number[][] {
	return confusion.map((row) => {
		const sum = row.reduce((s, v) => s + v, 0);
		return row.map((v) => (sum > 0 ? v / sum : 0));
	});
}

// ───────────────────────────── exports ─────────────────────────────

export interface SheetLayout {
	columns: number;
	rows: number;
	/** How many items the sheet holds (≤ the requested count when capped). */
	count: number;
	width: number;
	height: number;
	capped: boolean;
}

/**
 * Layout of the PNG contact sheet: `columns` cells per row under a header, capped so the canvas stays
 * within `maxHeight` pixels (browsers refuse to draw on taller canvases).
 */
export function sheetLayout(itemCount: number, columns: number, cellW: number, cellH: number, headerH: number, maxHeight = 16000): SheetLayout {
	const cols = Math.max(1, Math.min(columns, Math.max(1, itemCount)));
	const maxRows = Math.max(1, Math.floor((maxHeight - headerH) / cellH));
	const wantRows = Math.ceil(itemCount / cols);
	const rows = Math.min(wantRows, maxRows);
	const count = Math.min(itemCount, rows * cols);
	return { columns: cols, rows, count, width: cols * cellW, height: headerH + rows * cellH, capped: count < itemCount };
}

/** Splits `count` items into pages of `perPage`: [start, end) per page. */
export function pages(count: number, perPage: number): Array<[number, number]> {
	const out: Array<[number, number]> = [];
	for (let s = 0; s < count; s += perPage) out.push([s, Math.min(count, s + perPage)]);
	return out;
}

/** Human description of a filter, printed on exports so a sheet says what it shows. */
export function describeFilter(f: GridFilter, s: GridSort): string {
	const parts = filterParts(f);
	const sort = s.key === 'name' ? 'name' : s.key === 'loss' ? 'loss (−log p(true))' : 'confidence';
	return `${parts.length ? parts.join(', ') : 'all images'}; sorted by ${sort} ${s.dir === 'asc' ? '↑' : '↓'}`;
}

function filterParts(f: GridFilter): string[] {
	const parts: string[] = [];
	if (f.trueClass !== 'all') parts.push(`correct = ${f.trueClass}`);
	if (f.predicted !== 'all') parts.push(`predicted = ${f.predicted}`);
	if (f.outcome !== 'all') parts.push(f.outcome === 'right' ? 'right only' : 'wrong only');
	if (f.minConf > 0 || f.maxConf < 1) parts.push(`confidence ${f.minConf.toFixed(2)}–${f.maxConf.toFixed(2)}`);
	if (f.source !== 'all') parts.push(`source = ${f.source}`);
	return parts;
}

/** Legend labels for series: a "(not pretrained)" suffix, and "#2", "#3"… when a name repeats. */
export function seriesLabels(series: ReadonlyArray<{ displayName: string; pretrained: boolean | null }>): string[] {
	const seen = new Map<string, number>();
	return series.map((s) => {
		const base = s.pretrained === false ? `${s.displayName} (not pretrained)` : s.displayName;
		const n = (seen.get(base) ?? 0) + 1;
		seen.set(base, n);
		return n === 1 ? base : `${base} #${n}`;
	});
}

/** Appends or replaces (same epoch number) one epoch log; returns a new array sorted by epoch. */
export function mergeEpoch(history: readonly EpochLog[], log: EpochLog): EpochLog[] {
	const out = history.filter((e) => e.epoch !== log.epoch);
	out.push(log);
	return out.sort((a, b) => a.epoch - b.epoch);
}

/** mergeEpoch for a batch (oldest first); the usual case, epochs after the last one, is a plain append. */
export function mergeEpochs(history: readonly EpochLog[], logs: readonly EpochLog[]): EpochLog[] {
	const last = history.length ? history[history.length - 1].epoch : -Infinity;
	if (logs.every((l, i) => l.epoch > (i ? logs[i - 1].epoch : last))) return [...history, ...logs];
	let out = history.slice();
	for (const l of logs) out = mergeEpoch(out, l);
	return out;
}

/** Distinct patients per split (and of images with no split yet), from the images the host listed. */
export function patientsPerSplit(images: ReadonlyArray<{ patientId: string; split?: SplitName }>): Record<SplitName | 'none', number> {
	const sets: Record<SplitName | 'none', Set<string>> = { train: new Set(), val: new Set(), test: new Set(), none: new Set() };
	for (const im of images) sets[im.split ?? 'none'].add(im.patientId);
	return { train: sets.train.size, val: sets.val.size, test: sets.test.size, none: sets.none.size };
}

/** Patients whose images fall in more than one split, sorted; a check of the host's own list. */
export function crossingPatients(images: ReadonlyArray<{ patientId: string; split?: SplitName }>): string[] {
	const where = new Map<string, Set<SplitName>>();
	for (const im of images) {
		if (!im.split) continue;
		let s = where.get(im.patientId);
		if (!s) where.set(im.patientId, (s = new Set()));
		s.add(im.split);
	}
	return [...where]
		.filter(([, s]) => s.size > 1)
		.map(([p]) => p)
		.sort();
}

/** The newest item per key (by ISO `createdAt`), in newest-first order. */
export function latestPer<T extends { createdAt: string }>(items: readonly T[], key: (t: T) => string): T[] {
	const best = new Map<string, T>();
	for (const it of items) {
		const k = key(it);
		const cur = best.get(k);
		if (!cur || it.createdAt > cur.createdAt) best.set(k, it);
	}
	return [...best.values()].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
}

/** Arrow-key movement in a grid of `columns`; the index stays in [0, count). undefined for other keys. */
export function moveIndex(index: number, key: string, columns: number, count: number): number | undefined {
	if (count <= 0) return undefined;
	const step: Record<string, number> = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -columns, ArrowDown: columns, Home: -Infinity, End: Infinity };
	const d = step[key];
	if (d === undefined) return undefined;
	if (d === -Infinity) return 0;
	if (d === Infinity) return count - 1;
	return Math.min(count - 1, Math.max(0, index + d));
}

// ───────────────────────────── large view ─────────────────────────────

/**
 * Window / level as a lookup table over 8-bit grey values: values below level − window/2 go black, above
 * level + window/2 white, linear in between (the radiology "contrast" control). window ≥ 1.
 */
export function windowLevelLut(window: number, level: number): Uint8Array {
	const w = Math.max(1, window);
	const lo = level - w / 2;
	const lut = new Uint8Array(256);
	for (let v = 0; v < 256; v++) lut[v] = Math.round(Math.min(255, Math.max(0, ((v - lo) / w) * 255)));
	return lut;
}

/** Zoom and pan of the large view: screen = offset + scale × image. */
export interface ViewTransform {
	scale: number;
	x: number;
	y: number;
}

export const MIN_ZOOM = 0.05;
export const MAX_ZOOM = 16;

/** The transform that fits an image in a box, centred (never above 1:1 for small images). */
export function fitTransform(imgW: number, imgH: number, boxW: number, boxH: number): ViewTransform {
	if (imgW <= 0 || imgH <= 0 || boxW <= 0 || boxH <= 0) return { scale: 1, x: 0, y: 0 };
	const scale = Math.min(1, boxW / imgW, boxH / imgH);
	return { scale, x: (boxW - imgW * scale) / 2, y: (boxH - imgH * scale) / 2 };
}

/** Zooms by `factor` about the screen point (px, py), which stays over the same image pixel; the scale is clamped. */
export function zoomAt(t: ViewTransform, factor: number, px: number, py: number): ViewTransform {
	const scale = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, t.scale * factor));
	const k = scale / t.scale;
	return { scale, x: px - (px - t.x) * k, y: py - (py - t.y) * k };
}

/** Moves the image by a screen-space drag. */
export function panBy(t: ViewTransform, dx: number, dy: number): ViewTransform {
	return { scale: t.scale, x: t.x + dx, y: t.y + dy };
}

/** Training curves: one colour per run (not per backbone), legend "name · label (not pretrained)". */
export function trainingCurveRuns(series: ReadonlyArray<{ id: string; displayName: string; label?: string; weights: { pretrained: boolean } | null; history: readonly EpochLog[] }>): CurveRun[] {
	const labels = seriesLabels(series.map((s) => ({ displayName: s.label ? `${s.displayName} “${s.label}”` : s.displayName, pretrained: s.weights ? s.weights.pretrained : null })));
	return series.map((s, i) => ({ label: labels[i], colorKey: s.id, history: s.history }));
}
