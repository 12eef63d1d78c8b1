// Issue 19, reviewer defects in a real VS Code. Item 3: two Predictions panels side by side (a run's predictions,
// then a folder classified beside it) each keep a grid that shows whole tiles, not a 28 px strip behind the header.
// The run is trained in the editor (VGG16, random weights, 64 px: quick; the test checks the layout, not the model).
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { contextMenuAction, launch, makeDataset, makeUnlabelled, predictionPanels, runCommand, shot, until, writeJson, type Harness } from './harness';

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
