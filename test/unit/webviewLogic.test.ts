// Pure webview logic: grid filter/sort, confusion-cell filtering, the virtual window, chart series, ETA,
// export layout. No DOM: these modules are what the panels call on every update.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { EpochLog } from '../../src/engine/types';
import { arrayBufferToBase64 } from '../../webview/shared/bytes';
import {
	DEFAULT_FILTER,
	DEFAULT_SORT,
	bestIndex,
	buildSeries,
	cellFilter,
	columnsFor,
	confidence,
	confusionOf,
	crossingPatients,
	describeFilter,
	etaSeconds,
	filterAndSort,
	formatDuration,
	isCellActive,
	isCorrect,
	itemLoss,
	latestPer,
	moveIndex,
	mergeEpoch,
	mergeEpochs,
	thin,
	pages,
	patientsPerSplit,
	predictionText,
	rowNormalised,
	seriesLabels,
	sheetLayout,
	sourceRows,
	virtualWindow,
	type GridItem,
} from '../../webview/shared/logic';

const item = (relPath: string, label: GridItem['label'], predicted: GridItem['predicted'], probs: number[]): GridItem => ({ relPath, label, predicted, probs });

const ITEMS: GridItem[] = [
	item('COVID/a.png', 'COVID', 'COVID', [0.9, 0.05, 0.05]),
	item('COVID/b.png', 'COVID', 'PNEUMONIA', [0.3, 0.1, 0.6]),
	item('NORMAL/c.png', 'NORMAL', 'NORMAL', [0.1, 0.55, 0.35]),
	item('NORMAL/d.png', 'NORMAL', 'COVID', [0.7, 0.2, 0.1]),
	item('PNEUMONIA/e.png', 'PNEUMONIA', 'PNEUMONIA', [0.02, 0.03, 0.95]),
	item('x/f.png', null, 'NORMAL', [0.2, 0.5, 0.3]),
];

describe('prediction grid filter and sort', () => {
	test('an audit queue image without a prediction is neither right nor wrong, has no confidence, and says what flagged it', () => {
		const flagged: GridItem = { relPath: 'NORMAL/photo.png', label: 'NORMAL', predicted: null, probs: [], note: 'audit score 0.62 (threshold 0.31)' };
		assert.equal(isCorrect(flagged), null);
		assert.ok(Number.isNaN(confidence(flagged)));
		assert.ok(Number.isNaN(itemLoss(flagged)));
		assert.equal(predictionText(flagged, 2), 'no prediction; audit score 0.62 (threshold 0.31)');
		assert.equal(predictionText(ITEMS[1], 2), 'PNEUMONIA (0.60)');
		const all = [...ITEMS, flagged];
		assert.deepEqual(confusionOf(all), confusionOf(ITEMS), 'not counted in the confusion matrix');
		// Shown by default (last in a confidence sort), left out by right/wrong and a narrowed confidence range.
		assert.equal(filterAndSort(all, DEFAULT_FILTER, DEFAULT_SORT).at(-1)?.relPath, 'NORMAL/photo.png');
		assert.ok(!filterAndSort(all, { ...DEFAULT_FILTER, outcome: 'right' }, DEFAULT_SORT).includes(flagged));
		assert.ok(!filterAndSort(all, { ...DEFAULT_FILTER, minConf: 0.5 }, DEFAULT_SORT).includes(flagged));
	});

	test('confidence is the predicted class probability; loss is −log p(true)', () => {
		assert.equal(confidence(ITEMS[1]), 0.6);
		assert.ok(Math.abs(itemLoss(ITEMS[1]) - -Math.log(0.3)) < 1e-12);
		assert.ok(Number.isNaN(itemLoss(ITEMS[5])));
		// A zero probability for the truth stays finite (clamped like Keras' epsilon).
		assert.ok(Number.isFinite(itemLoss(item('z', 'COVID', 'NORMAL', [0, 1, 0]))));
	});

	test('filters by true class, predicted class, right/wrong and confidence range', () => {
		assert.deepEqual(
			filterAndSort(ITEMS, { ...DEFAULT_FILTER, trueClass: 'COVID' }, DEFAULT_SORT).map((i) => i.relPath),
			['COVID/b.png', 'COVID/a.png'],
		);
		assert.deepEqual(
			filterAndSort(ITEMS, { ...DEFAULT_FILTER, outcome: 'wrong' }, { key: 'name', dir: 'asc' }).map((i) => i.relPath),
			['COVID/b.png', 'NORMAL/d.png'],
		);
		// Unlabelled images are neither right nor wrong.
		assert.equal(filterAndSort(ITEMS, { ...DEFAULT_FILTER, outcome: 'right' }, DEFAULT_SORT).length, 3);
		assert.deepEqual(
			filterAndSort(ITEMS, { ...DEFAULT_FILTER, minConf: 0.6, maxConf: 0.9 }, DEFAULT_SORT).map((i) => i.relPath),
			['COVID/b.png', 'NORMAL/d.png', 'COVID/a.png'],
		);
		assert.deepEqual(
			filterAndSort(ITEMS, { ...DEFAULT_FILTER, predicted: 'NORMAL' }, DEFAULT_SORT).map((i) => i.relPath),
			['x/f.png', 'NORMAL/c.png'],
		);
	});

	test('sorts by loss with unlabelled images last in both directions, without mutating input', () => {
		const before = ITEMS.map((i) => i.relPath);
		const desc = filterAndSort(ITEMS, DEFAULT_FILTER, { key: 'loss', dir: 'desc' }).map((i) => i.relPath);
		assert.deepEqual(desc, ['NORMAL/d.png', 'COVID/b.png', 'NORMAL/c.png', 'COVID/a.png', 'PNEUMONIA/e.png', 'x/f.png']);
		const asc = filterAndSort(ITEMS, DEFAULT_FILTER, { key: 'loss', dir: 'asc' }).map((i) => i.relPath);
		assert.equal(asc.at(-1), 'x/f.png');
		assert.equal(asc[0], 'PNEUMONIA/e.png');
		assert.deepEqual(
			ITEMS.map((i) => i.relPath),
			before,
		);
	});

	test('ties break on relPath so order is stable', () => {
		const same = [item('b', 'COVID', 'COVID', [0.5, 0.25, 0.25]), item('a', 'COVID', 'COVID', [0.5, 0.25, 0.25])];
		assert.deepEqual(
			filterAndSort(same, DEFAULT_FILTER, { key: 'confidence', dir: 'desc' }).map((i) => i.relPath),
			['a', 'b'],
		);
	});
});

describe('confusion matrix cells', () => {
	test('counts confusion[true][predicted] over labelled items', () => {
		assert.deepEqual(confusionOf(ITEMS), [
			[1, 0, 1],
			[1, 1, 0],
			[0, 0, 1],
		]);
	});

	test('a cell filters the grid to its pair; clicking it again clears', () => {
		const f = cellFilter({ ...DEFAULT_FILTER, outcome: 'right', minConf: 0.5 }, 'NORMAL', 'COVID');
		assert.deepEqual(f, { ...DEFAULT_FILTER, trueClass: 'NORMAL', predicted: 'COVID' });
		assert.ok(isCellActive(f, 'NORMAL', 'COVID'));
		assert.deepEqual(
			filterAndSort(ITEMS, f, DEFAULT_SORT).map((i) => i.relPath),
			['NORMAL/d.png'],
		);
		// The filtered count equals the cell's count, for every cell.
		const m = confusionOf(ITEMS);
		for (const [t, tc] of (['COVID', 'NORMAL', 'PNEUMONIA'] as const).entries()) {
			for (const [p, pc] of (['COVID', 'NORMAL', 'PNEUMONIA'] as const).entries()) {
				assert.equal(filterAndSort(ITEMS, cellFilter(DEFAULT_FILTER, tc, pc), DEFAULT_SORT).length, m[t][p]);
			}
		}
		assert.deepEqual(cellFilter(f, 'NORMAL', 'COVID'), DEFAULT_FILTER);
	});

	test('row normalisation keeps empty rows at zero', () => {
		assert.deepEqual(
			rowNormalised([
				[1, 3],
				[0, 0],
			]),
			[
				[0.25, 0.75],
				[0, 0],
			],
		);
	});
});

describe('virtual window', () => {
	test('columns fit the width with gaps, at least one', () => {
		assert.equal(columnsFor({ width: 1000, minCellWidth: 150, gap: 8 }), 6);
		assert.equal(columnsFor({ width: 100, minCellWidth: 150, gap: 8 }), 1);
		assert.equal(columnsFor({ width: 0, minCellWidth: 150, gap: 8 }), 1);
	});

	test('renders only the visible rows plus overscan for thousands of items', () => {
		const w = virtualWindow({ itemCount: 5000, columns: 6, rowHeight: 222, scrollTop: 22200, viewportHeight: 666, overscan: 2 });
		assert.equal(w.rowCount, 834);
		assert.equal(w.totalHeight, 834 * 222);
		// Visible rows 100..102, plus 2 rows each side.
		assert.equal(w.firstRow, 98);
		assert.equal(w.endRow, 105);
		assert.equal(w.start, 98 * 6);
		assert.equal(w.end, 105 * 6);
		assert.equal(w.offsetY, 98 * 222);
		assert.ok(w.end - w.start <= 7 * 6);
	});

	test('arrow keys move by one cell or one row, clamped to the list', () => {
		assert.equal(moveIndex(5, 'ArrowRight', 4, 10), 6);
		assert.equal(moveIndex(5, 'ArrowDown', 4, 10), 9);
		assert.equal(moveIndex(8, 'ArrowDown', 4, 10), 9);
		assert.equal(moveIndex(2, 'ArrowUp', 4, 10), 0);
		assert.equal(moveIndex(5, 'End', 4, 10), 9);
		assert.equal(moveIndex(5, 'Home', 4, 10), 0);
		assert.equal(moveIndex(5, 'a', 4, 10), undefined);
		assert.equal(moveIndex(0, 'ArrowRight', 4, 0), undefined);
	});

	test('clamps at both ends and when the list shrinks under a stale scrollTop', () => {
		const top = virtualWindow({ itemCount: 20, columns: 4, rowHeight: 100, scrollTop: 0, viewportHeight: 250, overscan: 1 });
		assert.deepEqual([top.firstRow, top.endRow, top.start, top.end], [0, 4, 0, 16]);
		const stale = virtualWindow({ itemCount: 10, columns: 4, rowHeight: 100, scrollTop: 99999, viewportHeight: 250, overscan: 1 });
		assert.equal(stale.end, 10);
		assert.ok(stale.start < 10);
		const none = virtualWindow({ itemCount: 0, columns: 4, rowHeight: 100, scrollTop: 50, viewportHeight: 250, overscan: 1 });
		assert.deepEqual([none.start, none.end, none.totalHeight], [0, 0, 0]);
	});
});

const log = (epoch: number, acc: number, valAcc: number, seconds = 10): EpochLog => ({ epoch, loss: 1 - acc, acc, val_loss: 1 - valAcc, val_acc: valAcc, lr: 1e-3, seconds });

describe('training curves', () => {
	test('two series per run, validation dashed, one colour per backbone, epochs 1-based', () => {
		const runs = [
			{ label: 'VGG16', colorKey: 'vgg16', history: [log(1, 0.5, 0.4), log(2, 0.7, 0.6)] },
			{ label: 'Xception', colorKey: 'xception', history: [log(1, 0.6, 0.5)] },
			{ label: 'VGG16 #2', colorKey: 'vgg16', history: [log(1, 0.4, 0.3)] },
		];
		const s = buildSeries(runs, 'acc', ['red', 'blue']);
		assert.equal(s.length, 6);
		assert.deepEqual(s[0].data, [
			{ x: 1, y: 0.5 },
			{ x: 2, y: 0.7 },
		]);
		assert.deepEqual(s[1].data, [
			{ x: 1, y: 0.4 },
			{ x: 2, y: 0.6 },
		]);
		assert.deepEqual([s[0].borderDash, s[1].borderDash.length > 0], [[], true]);
		assert.deepEqual(
			s.map((x) => x.borderColor),
			['red', 'red', 'blue', 'blue', 'red', 'red'],
		);
		const loss = buildSeries(runs.slice(0, 1), 'loss');
		assert.ok(Math.abs(loss[1].data[1].y - 0.4) < 1e-12);
	});

	test('a replayed epoch replaces, not duplicates, the live one', () => {
		const h = mergeEpoch([log(1, 0.5, 0.4), log(2, 0.6, 0.5)], log(2, 0.65, 0.55));
		assert.equal(h.length, 2);
		assert.equal(h[1].acc, 0.65);
		const series = buildSeries([{ label: 'a', colorKey: 'a', history: [log(2, 0.6, 0.5), log(1, 0.5, 0.4), log(2, 0.7, 0.6)] }], 'acc');
		assert.deepEqual(
			series[0].data.map((p) => p.y),
			[0.5, 0.7],
		);
	});

	test('legend labels mark random weights and repeated names', () => {
		assert.deepEqual(
			seriesLabels([
				{ displayName: 'VGG16', pretrained: true },
				{ displayName: 'VGG16', pretrained: false },
				{ displayName: 'VGG16', pretrained: true },
				{ displayName: 'Xception', pretrained: null },
			]),
			['VGG16', 'VGG16 (not pretrained)', 'VGG16 #2', 'Xception'],
		);
	});

	test('long runs: curves are thinned to evenly spaced points, first and last kept; ETA copes with a huge history', () => {
		assert.deepEqual(thin([1, 2, 3], 5), [1, 2, 3]);
		assert.deepEqual(thin([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 3), [0, 5, 10]);
		const history = Array.from({ length: 300_000 }, (_, i) => log(i + 1, 0.5, 0.5, 0.001));
		const [train] = buildSeries([{ label: 'VGG16', colorKey: 'vgg16', history }], 'acc', undefined, 1000);
		assert.equal(train.data.length, 1000);
		assert.equal(train.data[0].x, 1);
		assert.equal(train.data[999].x, 300_000);
		assert.equal(etaSeconds(history, 1_000_000), 700_000 * 0.001);
	});

	test('a batch of epochs appends in order; a replayed one inside it replaces, not duplicates', () => {
		const h = mergeEpochs([log(1, 0.5, 0.4)], [log(2, 0.6, 0.5), log(3, 0.7, 0.6)]);
		assert.deepEqual(
			h.map((e) => e.epoch),
			[1, 2, 3],
		);
		const r = mergeEpochs(h, [log(3, 0.75, 0.65), log(4, 0.8, 0.7)]);
		assert.deepEqual(
			r.map((e) => [e.epoch, e.acc]),
			[
				[1, 0.5],
				[2, 0.6],
				[3, 0.75],
				[4, 0.8],
			],
		);
		assert.deepEqual(mergeEpochs([], []), []);
	});

	test('ETA = remaining epochs × mean of the recent epoch times', () => {
		assert.equal(etaSeconds([], 10), undefined);
		assert.equal(etaSeconds([log(1, 0, 0, 30), log(2, 0, 0, 10)], 10), 8 * 20);
		// Only the last `window` epochs count (the first ones include warm-up).
		assert.equal(etaSeconds([log(1, 0, 0, 100), log(2, 0, 0, 10), log(3, 0, 0, 10)], 5, 2), 2 * 10);
		assert.equal(etaSeconds([log(1, 0, 0, 10), log(2, 0, 0, 10)], 2), 0);
		assert.equal(formatDuration(42), '42s');
		assert.equal(formatDuration(185), '3m 05s');
		assert.equal(formatDuration(3720), '1h 02m');
	});
});

describe('dataset and compare', () => {
	test('patients per split and patients crossing splits', () => {
		const images = [
			{ patientId: 'p1', split: 'train' as const },
			{ patientId: 'p1', split: 'train' as const },
			{ patientId: 'p2', split: 'train' as const },
			{ patientId: 'p2', split: 'test' as const },
			{ patientId: 'p3', split: 'val' as const },
			{ patientId: 'p4' },
		];
		assert.deepEqual(patientsPerSplit(images), { train: 2, val: 1, test: 1, none: 1 });
		assert.deepEqual(crossingPatients(images), ['p2']);
	});

	test('best value per column and latest run per backbone', () => {
		assert.equal(bestIndex([0.8, 0.9, Number.NaN, 0.85], true), 1);
		assert.equal(bestIndex([0.5, 0.3, 0.4], false), 1);
		assert.equal(bestIndex([Number.NaN], true), -1);
		const runs = [
			{ id: 'a', backbone: 'vgg16', createdAt: '2026-01-01T00:00:00Z' },
			{ id: 'b', backbone: 'vgg16', createdAt: '2026-02-01T00:00:00Z' },
			{ id: 'c', backbone: 'xception', createdAt: '2026-01-15T00:00:00Z' },
		];
		assert.deepEqual(
			latestPer(runs, (r) => r.backbone).map((r) => r.id),
			['b', 'c'],
		);
	});
});

describe('exports', () => {
	test('PNG sheet is capped to a drawable canvas height', () => {
		const small = sheetLayout(10, 8, 200, 246, 56);
		assert.deepEqual([small.columns, small.rows, small.count, small.capped, small.width], [8, 2, 10, false, 1600]);
		const big = sheetLayout(5000, 8, 200, 246, 56);
		assert.ok(big.capped);
		assert.ok(big.height <= 16000);
		assert.equal(big.count, big.rows * 8);
		assert.equal(sheetLayout(3, 8, 200, 246, 56).columns, 3);
	});

	test('PDF pages of 20 thumbnails', () => {
		assert.deepEqual(pages(45, 20), [
			[0, 20],
			[20, 40],
			[40, 45],
		]);
		assert.deepEqual(pages(0, 20), []);
	});

	test('export caption describes the filter', () => {
		assert.equal(describeFilter(DEFAULT_FILTER, DEFAULT_SORT), 'all images; sorted by confidence ↑');
		assert.equal(
			describeFilter({ ...DEFAULT_FILTER, trueClass: 'COVID', predicted: 'NORMAL', outcome: 'wrong' }, { key: 'loss', dir: 'desc' }),
			'correct = COVID, predicted = NORMAL, wrong only; sorted by loss (−log p(true)) ↓',
		);
	});

	test('base64 of bytes round-trips, also past one chunk', () => {
		const bytes = new Uint8Array(100_000).map((_, i) => (i * 31) % 256);
		const b64 = arrayBufferToBase64(bytes.buffer);
		assert.deepEqual(new Uint8Array(Buffer.from(b64, 'base64')), bytes);
		assert.match(b64, /^[A-Za-z0-9+/]*={0,2}$/);
	});
});

describe('by-source table rows', () => {
	test('one row per source, largest first; recall per class in CLASS_NAMES order with – where a source has none', () => {
		const rows = sourceRows([
			{ source: 'kermany', n: 4, accuracy: 0.75, recall: [null, 0.5, 1], support: [0, 2, 2] },
			{ source: 'ieee8023', n: 6, accuracy: 1 / 3, recall: [0.4, null, 0], support: [5, 0, 1] },
		]);
		assert.deepEqual(
			rows.map((r) => [r.source, r.n, r.accuracy, ...r.recall]),
			[
				['ieee8023', '6', '33.3%', '0.40', '–', '0.00'],
				['kermany', '4', '75.0%', '–', '0.50', '1.00'],
			],
		);
		assert.equal(rows[0].recallTitle[0], '5 COVID images from ieee8023');
		assert.equal(rows[0].recallTitle[2], '1 PNEUMONIA image from ieee8023');
	});

	test('absent or malformed bySource (older runs) gives no rows', () => {
		assert.deepEqual(sourceRows(undefined), []);
		assert.deepEqual(sourceRows('x' as never), []);
		const rows = sourceRows([{ source: 'a', n: 1, accuracy: NaN, recall: [] as number[], support: [] as number[] }]);
		assert.deepEqual(rows[0].recall, ['–', '–', '–']);
		assert.equal(rows[0].accuracy, '–');
	});
});
