// The reviewer's view in a real VS Code (code-server): the source confound where decisions are made (class ×
// source table and warning in the Dataset panel, per-source results in the Predictions panel of a training run
// and in Compare), source and patient on tiles, the source filter, filters that belong to one prediction set,
// one Predictions panel per set, the full-resolution large view with zoom and window/level, unclipped file
// names, split Compare times, and save dialogs that start in the workspace folder. Real dev radiographs with
// their manifest rows (two sources), and a labelled NIH folder classified from the explorer.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseCsvRecords } from '../../src/engine/data/csv';
import { contextMenuAction, intoView, launch, panelFrame, predictionPanels, runCommand, shot, until, writeJson, type Harness } from './harness';
import type { FrameLocator } from './pw';

const SHARED = path.resolve(__dirname, '../../../shared/cxr');
const DEV = path.join(SHARED, 'dev');
const NIH = path.join(SHARED, 'extra-nih');
const SETTINGS = {
	'radiographReview.datasetFolder': 'data',
	'radiographReview.epochs': 3,
	'radiographReview.batchSize': 8,
	'radiographReview.imageSize': 64,
	'radiographReview.weights.vgg16': 'none',
	'radiographReview.backend': 'auto',
};
/** Images per class and source: COVID has only ieee8023 in dev; NORMAL and PNEUMONIA have kermany too. */
const PER_SOURCE = 6;
const NIH_PER_CLASS = 3;

type Row = Record<string, string>;
const readManifest = (dir: string): Row[] => parseCsvRecords(fs.readFileSync(path.join(dir, 'manifest.csv'), 'utf8'));
const manifestLines = (dir: string): string[] => fs.readFileSync(path.join(dir, 'manifest.csv'), 'utf8').split(/\r?\n/);

/** Copies the picked rows' images and writes their manifest.csv (never into the repo). */
function copyWithManifest(from: string, to: string, pick: (rows: Row[]) => Row[]): Row[] {
	const rows = readManifest(from);
	const lines = manifestLines(from);
	const picked = pick(rows);
	for (const r of picked) {
		fs.mkdirSync(path.dirname(path.join(to, r.path)), { recursive: true });
		fs.copyFileSync(path.join(from, r.path), path.join(to, r.path));
	}
	fs.writeFileSync(path.join(to, 'manifest.csv'), [lines[0], ...picked.map((r) => lines[rows.indexOf(r) + 1])].join('\n') + '\n');
	return picked;
}

function perClassAndSource(rows: Row[], n: number): Row[] {
	const seen = new Map<string, number>();
	return rows.filter((r) => {
		const k = `${r.label}|${r.source_dataset}`;
		seen.set(k, (seen.get(k) ?? 0) + 1);
		return (seen.get(k) ?? 0) <= n;
	});
}

let h: Harness;
let devRows: Row[] = [];
let nihRows: Row[] = [];
const byPath = new Map<string, Row>();
const cspViolations: string[] = [];

/** Sets a vscode-single-select (or any element with a value) and fires its change event, as a user pick does. */
async function choose(frame: FrameLocator, selector: string, value: string): Promise<void> {
	await frame
		.locator(selector)
		.first()
		.evaluate((el, v) => {
			(el as HTMLElement & { value: string }).value = v;
			el.dispatchEvent(new Event('change', { bubbles: true }));
		}, value);
}

const gridCount = async (f: FrameLocator): Promise<number> => Number(await f.locator('[data-testid="grid-count"]').first().textContent({ timeout: 2000 }));

describe('Reviewing radiographs: sources, filters, the large view', { timeout: 15 * 60_000 }, () => {
	before(async () => {
		h = await launch((ws) => {
			devRows = copyWithManifest(DEV, path.join(ws, 'data'), (rows) => perClassAndSource(rows, PER_SOURCE));
			nihRows = copyWithManifest(NIH, path.join(ws, 'external'), (rows) => perClassAndSource(rows, NIH_PER_CLASS));
			writeJson(path.join(ws, '.vscode', 'settings.json'), SETTINGS);
		});
		for (const r of devRows) byPath.set(r.path, r);
		h.page.on('console', (m) => {
			if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
		});
	});

	after(async () => {
		if (h) {
			await shot(h.page, 'review-99-end');
			await h.stop();
		}
	});

	test('Dataset panel: class × source table and the plain confound warning', async () => {
		const { page } = h;
		await runCommand(page, 'Radiograph: Show Dataset Splits');
		const view = await panelFrame(page, 'dataset');
		const table = view.locator('[data-testid="class-source-table"]');
		await table.waitFor({ state: 'visible', timeout: 90_000 });
		const heads = await table.locator('th[data-source]').evaluateAll((ths) => ths.map((t) => (t as HTMLElement).dataset.source));
		assert.deepEqual(new Set(heads), new Set(devRows.map((r) => r.source_dataset)));
		const warnings = view.locator('[data-testid="confound-warning"]');
		assert.equal(await warnings.count(), 1);
		assert.equal(await warnings.first().getAttribute('data-class'), 'COVID');
		const covidSource = devRows.find((r) => r.label === 'COVID')!.source_dataset;
		assert.equal((await warnings.first().textContent())?.trim(), `every COVID image (${PER_SOURCE}) comes from ${covidSource}: a model can score by recognising the source`);
		// The panel redraws as thumbnails arrive: the scroll is retried on the fresh element.
		await intoView(warnings.first());
		await shot(page, 'review-01-dataset-class-source-warning');
	});

	test('Training run: per-source table, source and patient on every tile, unclipped names, source filter', async () => {
		const { page } = h;
		await runCommand(page, 'Radiograph: Train VGG16');
		const view = await panelFrame(page, 'predictions', 300_000);
		await until('grid items', async () => ((await view.locator('[data-testid="grid-item"]').count()) > 0 ? true : undefined), 120_000);
		const runs = fs.readdirSync(path.join(h.workspace, '.radreview', 'runs')).filter((n) => !n.startsWith('.'));
		assert.equal(runs.length, 1);
		const metrics = JSON.parse(fs.readFileSync(path.join(h.workspace, '.radreview', 'runs', runs[0], 'metrics.json'), 'utf8')) as { bySource?: Array<{ source: string; n: number }> };
		assert.ok(metrics.bySource && metrics.bySource.length >= 2, 'the test split holds both sources');
		const rows = view.locator('[data-testid="by-source-table"] [data-testid="by-source-row"]');
		await rows.first().waitFor({ state: 'visible' });
		const shownSources = await rows.evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.source));
		assert.deepEqual(new Set(shownSources), new Set(metrics.bySource.map((s) => s.source)));

		// Every tile names its image's source and patient, as manifest.csv has them.
		const tiles = await view.locator('[data-testid="grid-item"]').evaluateAll((els) =>
			els.map((el) => {
				const name = el.querySelector('.cell-name') as HTMLElement;
				const box = el.getBoundingClientRect();
				const nameBox = name.getBoundingClientRect();
				// Where the underscore's ink ends inside the caption's line box (scrollHeight ignores ink).
				const cs = getComputedStyle(name);
				const m = document.createElement('canvas').getContext('2d')!;
				m.font = cs.font;
				const t = m.measureText('_');
				const lineHeight = cs.lineHeight === 'normal' ? t.fontBoundingBoxAscent + t.fontBoundingBoxDescent : parseFloat(cs.lineHeight);
				const underscoreBottom = (lineHeight - t.fontBoundingBoxAscent - t.fontBoundingBoxDescent) / 2 + t.fontBoundingBoxAscent + t.actualBoundingBoxDescent;
				return {
					relPath: (el as HTMLElement).dataset.relPath ?? '',
					source: el.querySelector('[data-testid="grid-source"]')?.textContent ?? '',
					patient: el.querySelector('[data-testid="grid-patient"]')?.textContent ?? '',
					name: name.textContent ?? '',
					// A clipped caption: its box is shorter than its text, or it sticks out of the tile.
					clipped: name.scrollHeight > name.clientHeight || underscoreBottom > name.clientHeight + 0.5 || nameBox.bottom > box.bottom - 1,
				};
			}),
		);
		assert.ok(tiles.length > 0);
		for (const t of tiles) {
			const r = byPath.get(t.relPath);
			assert.ok(r, t.relPath);
			assert.equal(t.source, r.source_dataset, t.relPath);
			assert.equal(t.patient, r.patient_id, t.relPath);
			assert.equal(t.clipped, false, `name of ${t.relPath} is clipped`);
		}
		assert.ok(
			tiles.some((t) => t.name.includes('_')),
			`a tile name with underscores among ${tiles.map((t) => t.name).join(', ')}`,
		);
		await shot(page, 'review-02-predictions-by-source');

		// Filter by source: only that source's tiles, and the filter is stated with a one-click reset.
		const total = await gridCount(view);
		const source = metrics.bySource[0].source;
		await choose(view, '[data-testid="source-filter"]', source);
		const want = tiles.filter((t) => t.source === source).length;
		await until('source filter applied', async () => ((await gridCount(view)) === want ? true : undefined), 10_000, 200);
		const sources = await view.locator('[data-testid="grid-item"] [data-testid="grid-source"]').allTextContents();
		assert.ok(
			sources.every((s) => s === source),
			sources.join(', '),
		);
		const active = view.locator('[data-testid="active-filter"]');
		assert.ok(await active.isVisible());
		assert.equal((await active.textContent())?.trim().replace(/\s+Show all$/, ''), `${want} of ${total} images shown: source = ${source}`);
		await shot(page, 'review-03-source-filter');
		await view.locator('[data-testid="reset-filter"]').first().click();
		await until('reset', async () => ((await gridCount(view)) === total ? true : undefined), 10_000, 200);
		assert.equal(await active.isVisible(), false);
		// Leave a filter on this set for the next test.
		await choose(view, '[data-testid="source-filter"]', source);
		await until('filter set again', async () => ((await gridCount(view)) === want ? true : undefined), 10_000, 200);
	});

	test('Large view: the full-resolution image decoded by the engine, zoom and window/level', async () => {
		const { page } = h;
		const view = await panelFrame(page, 'predictions');
		const first = view.locator('[data-testid="grid-item"]').first();
		const relPath = (await first.getAttribute('data-rel-path')) ?? '';
		const row = byPath.get(relPath)!;
		await first.click();
		const canvas = view.locator('[data-testid="detail-image"]');
		await until('full-resolution image', async () => ((await canvas.getAttribute('data-full-res', { timeout: 1000 })) === 'true' ? true : undefined), 60_000, 200);
		const [w, hgt] = [Number(row.width), Number(row.height)];
		const scale = Math.min(1, 2048 / Math.max(w, hgt));
		// As sharp's fit 'inside' rounds: within a pixel of the exact scaled size; far above the 160 px thumbnail.
		assert.ok(Math.abs(Number(await canvas.getAttribute('data-width')) - w * scale) <= 1, `width of ${relPath} (${w}×${hgt})`);
		assert.ok(Math.abs(Number(await canvas.getAttribute('data-height')) - hgt * scale) <= 1, `height of ${relPath} (${w}×${hgt})`);
		assert.equal((await view.locator('[data-testid="detail-source"]').textContent())?.trim(), row.source_dataset);
		assert.equal((await view.locator('[data-testid="detail-patient"]').textContent())?.trim(), row.patient_id);
		await shot(page, 'review-04-large-view-full-resolution');

		// Zoom: the wheel over the picture and the + button both magnify.
		const zoom = view.locator('[data-testid="detail-zoom"]');
		const pctOf = async (): Promise<number> => Number(((await zoom.textContent()) ?? '').replace('%', ''));
		const fitted = await pctOf();
		await view.locator('.detail-picture').evaluate((el) => {
			const r = el.getBoundingClientRect();
			el.dispatchEvent(new WheelEvent('wheel', { deltaY: -400, clientX: r.left + r.width / 2, clientY: r.top + r.height / 2, bubbles: true, cancelable: true }));
		});
		const wheeled = await pctOf();
		assert.ok(wheeled > fitted, `wheel zoom ${fitted}% → ${wheeled}%`);
		await view.locator('[aria-label="Zoom in"]').first().click();
		assert.ok((await pctOf()) > wheeled);

		// Window / level: a narrow window clips more pixels to black and white (the canvas pixels really change).
		const clipped = (): Promise<number> =>
			canvas.evaluate((c) => {
				const cv = c as HTMLCanvasElement;
				const d = cv.getContext('2d')!.getImageData(0, 0, cv.width, cv.height).data;
				let n = 0;
				for (let i = 0; i < d.length; i += 4) if (d[i] === 0 || d[i] === 255) n++;
				return n / (d.length / 4);
			});
		const before = await clipped();
		await view.locator('[data-testid="detail-window"]').evaluate((el) => {
			(el as HTMLInputElement).value = '60';
			el.dispatchEvent(new Event('input', { bubbles: true }));
		});
		// The canvas is redrawn on the next frame: wait for the new window to show, however long a frame takes.
		const after = await until('the narrower window drawn', async () => {
			const v = await clipped();
			return v > before + 0.1 ? v : undefined;
		});
		assert.ok(after > before + 0.1, `clipped share ${before.toFixed(3)} → ${after.toFixed(3)}`);
		await shot(page, 'review-04b-large-view-zoom-window');
		await page.keyboard.press('Escape');
	});

	test('Compare: per-source table; feature extraction and head training timed apart', async () => {
		const { page } = h;
		await runCommand(page, 'Radiograph: Compare Backbones');
		const view = await panelFrame(page, 'compare');
		const row = view.locator('[data-testid="compare-row"]').first();
		await row.waitFor({ state: 'visible', timeout: 60_000 });
		const featureTime = (await row.locator('[data-testid="compare-feature-time"]').textContent())?.trim() ?? '';
		const headTime = (await row.locator('[data-testid="compare-head-time"]').textContent())?.trim() ?? '';
		assert.match(featureTime, /^\d+(s|m \d\ds)$/);
		assert.match(headTime, /^\d+(s|m \d\ds)$/);
		assert.ok((await view.locator('[data-testid="by-source-table"] [data-testid="by-source-row"]').count()) >= 2);
		await intoView(view.locator('[data-testid="by-source-table"]').first());
		await shot(page, 'review-05-compare');
	});

	test('A classified folder opens its own panel beside the run, unfiltered; the run keeps its panel and filter', async () => {
		const { page } = h;
		await runCommand(page, 'Radiograph: Open Predictions');
		await panelFrame(page, 'predictions');
		await contextMenuAction(page, 'external', 'Classify Radiographs', async () => (await predictionPanels(page)).length === 2);
		const findFolder = async () => (await predictionPanels(page)).find((p) => p.title.includes('external'));
		const folder = await until(
			'classified folder panel',
			async () => {
				const p = await findFolder();
				return p && (await p.frame.locator('[data-testid="grid-item"]').count()) === nihRows.length ? p : undefined;
			},
			240_000,
		);
		assert.equal(await folder.frame.locator('[data-testid="active-filter"]').isVisible(), false, 'no filter leaked into the new set');
		assert.equal(await gridCount(folder.frame), nihRows.length);
		// One NIH source: a one-row table naming it.
		const srcRows = await folder.frame.locator('[data-testid="by-source-row"]').evaluateAll((trs) => trs.map((tr) => (tr as HTMLElement).dataset.source));
		assert.deepEqual(srcRows, [nihRows[0].source_dataset]);
		const run = (await predictionPanels(page)).find((p) => !p.title.includes('external'));
		assert.ok(run, 'the run panel is still open beside it');
		assert.ok(await run.frame.locator('[data-testid="active-filter"]').isVisible(), 'the run set keeps its own filter');
		await shot(page, 'review-06-two-prediction-sets');

		// Opening the run again reuses its panel: still two.
		await runCommand(page, 'Radiograph: Open Predictions');
		await page.waitForTimeout(2000);
		assert.equal((await predictionPanels(page)).length, 2);
	});

	test('Export PNG: the save dialog starts in the workspace folder, not .radreview', async () => {
		const { page } = h;
		const run = (await predictionPanels(page)).find((p) => !p.title.includes('external'));
		assert.ok(run);
		await run.frame.locator('[data-testid="export-png"]').first().click();
		const input = page.locator('.quick-input-widget input.input');
		await input.waitFor({ state: 'visible', timeout: 60_000 });
		const value = await until(
			'save dialog default path',
			async () => {
				const v = await input.inputValue();
				return v.endsWith('.png') ? v : undefined;
			},
			60_000,
			200,
		);
		await shot(page, 'review-07-save-dialog');
		assert.equal(path.dirname(value), h.workspace, value);
		await page.keyboard.press('Escape');
		// Closing the dialog is not a failure: the panel says nothing about it.
		await page.waitForTimeout(1500);
		assert.doesNotMatch((await run.frame.locator('[data-testid="notice"]').allTextContents()).join(' '), /failed/i);
		// For the eye: the same two sets, the active filter and the tiles in the high-contrast theme.
		writeJson(path.join(h.workspace, '.vscode', 'settings.json'), { ...SETTINGS, 'workbench.colorTheme': 'Default High Contrast' });
		await until('high-contrast theme', async () => ((await page.locator('.monaco-workbench.hc-black').count()) > 0 ? true : undefined), 30_000, 250);
		await page.waitForTimeout(1000);
		await shot(page, 'review-08-high-contrast');
	});

	test('no webview broke its Content Security Policy', () => {
		assert.deepEqual(cspViolations, []);
	});
});
