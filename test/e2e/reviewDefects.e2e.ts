// Issue 19, reviewer defects in a real VS Code. Item 3: two Predictions panels side by side (a run's predictions,
// then a folder classified beside it) each keep a grid that shows whole tiles, not a 28 px strip behind the header.
// The run is trained in the editor (VGG16, random weights, 64 px: quick; the test checks the layout, not the model).
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { contextMenuAction, launch, makeDataset, makeUnlabelled, panelFrame, predictionPanels, runCommand, shot, until, writeJson, type Harness } from './harness';

let h: Harness;

describe('Reviewer defects (issue 19)', { timeout: 12 * 60_000 }, () => {
	before(async () => {
		h = await launch((ws) => {
			makeDataset(path.join(ws, 'data'), 8);
			makeUnlabelled(path.join(ws, 'incoming'), 2, 20);
			writeJson(path.join(ws, '.vscode', 'settings.json'), {
				'radiographReview.datasetFolder': 'data',
				'radiographReview.epochs': 1,
				'radiographReview.batchSize': 8,
				'radiographReview.imageSize': 64,
				'radiographReview.weights.vgg16': 'none',
			});
		});
	});

	after(async () => {
		if (h) await h.stop();
	});

	test('two Predictions panels side by side: both grids show tiles of normal size', async () => {
		const { page } = h;
		await runCommand(page, 'Radiograph: Train VGG16');
		await until('the run’s predictions panel', async () => ((await predictionPanels(page)).length === 1 ? true : undefined), 300_000, 500);
		await contextMenuAction(page, 'incoming', 'Classify Radiographs', async () => (await predictionPanels(page)).length === 2);
		const panels = await until(
			'both panels with their tiles',
			async () => {
				const ps = await predictionPanels(page);
				if (ps.length !== 2) return undefined;
				for (const p of ps) if ((await p.frame.locator('[data-testid="grid-item"]').count()) === 0) return undefined;
				return ps;
			},
			240_000,
		);
		await shot(page, 'review-defects-01-two-panels');
		for (const p of panels) {
			// The scroller is the grid's window: a whole tile must fit in it, and the first tile must lie inside it.
			const m = await p.frame.locator('.grid-scroller').evaluate((el) => {
				const s = el.getBoundingClientRect();
				const tile = el.querySelector('[data-testid="grid-item"]')!.getBoundingClientRect();
				const img = el.querySelector('.thumb-box')!.getBoundingClientRect();
				return { scroller: s.height, tileH: tile.height, tileW: tile.width, visible: Math.min(s.bottom, tile.bottom) - Math.max(s.top, tile.top), thumbW: img.width };
			});
			assert.ok(m.tileH >= 200 && m.tileW >= 140, `${p.title}: a tile of normal size (${JSON.stringify(m)})`);
			assert.ok(m.scroller >= m.tileH, `${p.title}: the grid shows at least one whole row of tiles (${JSON.stringify(m)})`);
			assert.ok(m.visible >= m.tileH - 1, `${p.title}: the first tile is in view, not behind the header (${JSON.stringify(m)})`);
		}
	});
});

// Item 4: a label-issues queue lists images because their out-of-fold prediction disagrees with their label, so an
// accuracy, a confusion matrix or "wrong" on them would only count the selection. Adult COVID films filed under
// NORMAL among pediatric NORMAL films are what the audit flags (ResNet50 offline weights).
const DEV = path.resolve(__dirname, '../../../shared/cxr/dev');
let a: Harness;

describe('Label-issues queue (issue 19 item 4)', { timeout: 20 * 60_000 }, () => {
	before(async () => {
		a = await launch((ws) => {
			const data = path.join(ws, 'data');
			makeDataset(data, 8);
			for (const f of fs.readdirSync(path.join(DEV, 'COVID')).sort().slice(30, 33)) fs.copyFileSync(path.join(DEV, 'COVID', f), path.join(data, 'NORMAL', `zz-${f}`));
			writeJson(path.join(ws, '.vscode', 'settings.json'), { 'radiographReview.datasetFolder': 'data' });
		});
	});

	after(async () => {
		if (a) await a.stop();
	});

	test('the queue shows no accuracy, no matrix, no right/wrong, and says "Given label"', async () => {
		const { page } = a;
		await runCommand(page, 'Radiograph: Audit Dataset');
		const view = await panelFrame(page, 'audit');
		const issues = view.locator('[data-testid="audit-section"][data-finding="labelIssues"]');
		await issues.waitFor({ state: 'visible', timeout: 12 * 60_000 });
		await shot(page, 'review-defects-02-audit');
		const count = Number(await issues.getAttribute('data-count'));
		assert.ok(count > 0, 'the audit lists label issues');
		await issues.locator('[data-testid="audit-queue"]').click();
		const grid = await panelFrame(page, 'predictions', 90_000);
		await until('queue items', async () => Number(await grid.locator('[data-testid="grid-count"]').first().textContent({ timeout: 2000 })) === count, 90_000);
		await shot(page, 'review-defects-03-label-issues-queue');
		assert.equal(await grid.locator('[data-testid="metrics-accuracy"]').count(), 0, 'no accuracy over images chosen for disagreeing');
		assert.equal(await grid.locator('[data-testid="confusion-matrix"]').count(), 0, 'no confusion matrix');
		assert.equal(await grid.locator('p', { hasText: 'prediction disagrees with the given label' }).count(), 1, 'the side says why');
		const tiles = await grid
			.locator('[data-testid="grid-item"]')
			.evaluateAll((els) => els.map((el) => ({ text: el.textContent ?? '', wrong: el.classList.contains('is-wrong') || el.classList.contains('is-right') })));
		assert.ok(tiles.length > 0);
		for (const t of tiles) {
			assert.doesNotMatch(t.text, /\bwrong\b|\bright\b|Correct:/, t.text);
			assert.match(t.text, /Given label:/);
			assert.equal(t.wrong, false);
		}
	});
});
