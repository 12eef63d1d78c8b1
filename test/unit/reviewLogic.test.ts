// Review view logic (webview/shared/logic.ts): filters per prediction set, the active-filter line, the source
// filter, and the large view's window / level and zoom. Pure functions; the e2e test shows them in VS Code.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
	DEFAULT_FILTER,
	MAX_ZOOM,
	activeFilterText,
	describeFilter,
	DEFAULT_SORT,
	filterAndSort,
	fitTransform,
	isDefaultFilter,
	itemSource,
	panBy,
	rememberView,
	sourceCounts,
	viewForSet,
	windowLevelLut,
	zoomAt,
	type GridItem,
} from '../../webview/shared/logic';

const item = (relPath: string, label: GridItem['label'], predicted: GridItem['predicted'], source?: string): GridItem => ({
	relPath,
	label,
	predicted,
	probs: ['COVID', 'NORMAL', 'PNEUMONIA'].map((c) => (c === predicted ? 0.8 : 0.1)),
	...(source ? { source } : {}),
});

test('a filter belongs to its prediction set: another set opens unfiltered, the first keeps its filter', () => {
	const runSet = 'run:/w/.radreview/runs/a';
	const folderSet = 'folder:/w/.radreview/runs/a|/data/external';
	let store = rememberView({}, runSet, { filter: { ...DEFAULT_FILTER, outcome: 'right' }, sort: DEFAULT_SORT });
	assert.deepEqual(viewForSet(store, folderSet), { filter: DEFAULT_FILTER, sort: DEFAULT_SORT });
	store = rememberView(store, folderSet, viewForSet(store, folderSet));
	assert.equal(viewForSet(store, runSet).filter.outcome, 'right');
	// Saved state of an older version (no source field) is completed with the defaults.
	const old = { [runSet]: { filter: { trueClass: 'COVID', predicted: 'all', outcome: 'all', minConf: 0, maxConf: 1 }, sort: DEFAULT_SORT } } as never;
	assert.equal(viewForSet(old, runSet).filter.source, 'all');
	assert.equal(viewForSet(old, runSet).filter.trueClass, 'COVID');
	// Bounded: the oldest sets are forgotten first.
	let many = {};
	for (let i = 0; i < 25; i++) many = rememberView(many, `s${i}`, viewForSet(many, `s${i}`), 20);
	assert.deepEqual(
		Object.keys(many),
		Array.from({ length: 20 }, (_, i) => `s${i + 5}`),
	);
});

test('a non-default filter is stated in words with the counts; the default says nothing', () => {
	assert.equal(isDefaultFilter(DEFAULT_FILTER), true);
	assert.equal(activeFilterText(DEFAULT_FILTER, 30, 30), null);
	const f = { ...DEFAULT_FILTER, outcome: 'right' as const };
	assert.equal(isDefaultFilter(f), false);
	assert.equal(activeFilterText(f, 19, 30), '19 of 30 images shown: right only');
	assert.equal(activeFilterText({ ...DEFAULT_FILTER, source: 'ieee8023', trueClass: 'NORMAL' }, 4, 30), '4 of 30 images shown: correct = NORMAL, source = ieee8023');
	// A filter that happens to hide nothing is still a filter: it would hide the next image.
	assert.equal(activeFilterText({ ...DEFAULT_FILTER, minConf: 0.1 }, 30, 30), '30 of 30 images shown: confidence 0.10–1.00');
});

test('the grid filters by source; images with no recorded source are "unknown"', () => {
	const items = [item('a.png', 'COVID', 'COVID', 'ieee8023'), item('b.png', 'NORMAL', 'NORMAL', 'kermany'), item('c.png', 'NORMAL', 'COVID', 'kermany'), item('d.png', 'NORMAL', 'NORMAL')];
	assert.equal(itemSource(items[3]), 'unknown');
	assert.deepEqual(sourceCounts(items), [
		{ source: 'kermany', count: 2 },
		{ source: 'ieee8023', count: 1 },
		{ source: 'unknown', count: 1 },
	]);
	const kermany = filterAndSort(items, { ...DEFAULT_FILTER, source: 'kermany' }, { key: 'name', dir: 'asc' });
	assert.deepEqual(
		kermany.map((i) => i.relPath),
		['b.png', 'c.png'],
	);
	assert.deepEqual(
		filterAndSort(items, { ...DEFAULT_FILTER, source: 'unknown' }, DEFAULT_SORT).map((i) => i.relPath),
		['d.png'],
	);
	assert.match(describeFilter({ ...DEFAULT_FILTER, source: 'kermany' }, DEFAULT_SORT), /^source = kermany; sorted by/);
});

test('window / level: full range is the identity, a narrow window stretches contrast and clips', () => {
	const id = windowLevelLut(255, 128);
	for (let v = 0; v < 256; v++) assert.equal(id[v], v);
	const lut = windowLevelLut(50, 100);
	assert.equal(lut[75], 0);
	assert.equal(lut[0], 0);
	assert.equal(lut[125], 255);
	assert.equal(lut[255], 255);
	assert.equal(lut[100], 128);
	for (let v = 1; v < 256; v++) assert.ok(lut[v] >= lut[v - 1], 'monotonic');
	assert.equal(windowLevelLut(0, 128)[128], 128, 'window is at least 1');
});

test('zoom keeps the pixel under the cursor fixed, is clamped, and fit centres without enlarging', () => {
	const t = fitTransform(2048, 1684, 800, 600);
	assert.ok(Math.abs(t.scale - 600 / 1684) < 1e-12);
	assert.ok(Math.abs(t.x - (800 - 2048 * t.scale) / 2) < 1e-9 && t.y === 0);
	assert.deepEqual(fitTransform(400, 300, 800, 600), { scale: 1, x: 200, y: 150 });
	const px = 300;
	const py = 200;
	const before = [(px - t.x) / t.scale, (py - t.y) / t.scale];
	const z = zoomAt(t, 2.5, px, py);
	assert.ok(Math.abs(z.scale - t.scale * 2.5) < 1e-12);
	const after = [(px - z.x) / z.scale, (py - z.y) / z.scale];
	assert.ok(Math.abs(before[0] - after[0]) < 1e-9 && Math.abs(before[1] - after[1]) < 1e-9);
	assert.equal(zoomAt(z, 1e6, 0, 0).scale, MAX_ZOOM);
	assert.deepEqual(panBy({ scale: 2, x: 1, y: 2 }, 10, -5), { scale: 2, x: 11, y: -3 });
});

test('sorting: by confidence, loss (unlabelled last either way) and name, with ties broken by path', () => {
	const withProbs = (relPath: string, label: GridItem['label'], probs: number[]): GridItem => ({ relPath, label, predicted: 'COVID', probs });
	const items = [
		withProbs('d.png', 'NORMAL', [0.5, 0.3, 0.2]),
		withProbs('a.png', 'COVID', [0.9, 0.05, 0.05]),
		withProbs('c.png', null, [0.5, 0.25, 0.25]),
		withProbs('b.png', 'COVID', [0.5, 0.4, 0.1]),
		withProbs('e.png', 'PNEUMONIA', [0.6, 0.1, 0.3]),
	];
	const order = (key: 'confidence' | 'loss' | 'name', dir: 'asc' | 'desc') =>
		filterAndSort(items, DEFAULT_FILTER, { key, dir })
			.map((i) => i.relPath[0])
			.join('');
	// Confidence of the predicted class (COVID): 0.5 ties broken by path in both directions.
	assert.equal(order('confidence', 'asc'), 'bcdea');
	assert.equal(order('confidence', 'desc'), 'aebcd');
	// Loss −log p(label): a 0.105, b 0.693, d 1.204, e 1.204 → d before e by path; c has no label: last.
	assert.equal(order('loss', 'asc'), 'abdec');
	assert.equal(order('loss', 'desc'), 'debac');
	assert.equal(order('name', 'desc'), 'edcba');
	assert.deepEqual(items.map((i) => i.relPath[0]).join(''), 'dacbe', 'the input is not reordered');
});
