// Issue 19 item 2, in a real VS Code: toggling Grad-CAM in the large view keeps keyboard review (← → step to the
// next image) instead of dropping the focus on <body>. A small run trained by the CLI (random weights: the test
// checks the wiring, not the model).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO, launch, makeDataset, runCommand, shot, until, webview, writeJson, type Harness } from './harness';

let h: Harness;

describe('Grad-CAM toggle in the large view keeps the keyboard', { timeout: 12 * 60_000 }, () => {
	before(async () => {
		h = await launch((ws) => {
			makeDataset(path.join(ws, 'data'), 8);
			writeJson(path.join(ws, '.vscode', 'settings.json'), { 'radiographReview.datasetFolder': 'data', 'radiographReview.weights.vgg16': 'none' });
			const args = ['train', '--backbone', 'vgg16', '--weights', 'none', '--data', path.join(ws, 'data'), '--image-size', '64', '--epochs', '1', '--workdir', path.join(ws, '.radreview')];
			const r = spawnSync(process.execPath, [path.join(REPO, 'bin', 'radreview.js'), ...args], { encoding: 'utf8', timeout: 5 * 60_000 });
			assert.equal(r.status, 0, `radreview train failed:\n${r.stderr}`);
		});
	});

	after(async () => {
		if (h) await h.stop();
	});

	test('"Show the map", then ← and →: the large view steps through the images and the focus stays in it', async () => {
		const { page } = h;
		await runCommand(page, 'Radiograph: Show Report');
		// One run: the report opens at once; several: a quick pick first.
		const view = webview(page);
		const gridButton = view.locator('vscode-button', { hasText: 'Predictions grid' }).first();
		await until(
			'the report',
			async () => {
				const pick = page.locator('.quick-input-list .monaco-list-row', { hasText: 'VGG16' }).first();
				if (await pick.isVisible()) await pick.click();
				return (await gridButton.isVisible()) || undefined;
			},
			180_000,
		);
		await view.locator('vscode-button', { hasText: 'Predictions grid' }).first().click();
		await until('grid items', async () => ((await view.locator('[data-testid="grid-item"]').count()) > 1 ? true : undefined), 120_000);
		await view.locator('[data-testid="grid-item"]').first().click();
		const title = view.locator('.detail-title');
		const first = await until('large view', async () => (await title.textContent({ timeout: 1000 }))?.trim() || undefined, 60_000);

		await view.locator('#gradcam-show').click();
		await until('map shown', async () => ((await view.locator('.gradcam-controls').textContent())?.match(/Map of|Computing the map/) ? true : undefined), 120_000, 250);
		const focused = async () => view.locator('body').evaluate(() => `${document.activeElement?.tagName}#${document.activeElement?.id}`);
		assert.notEqual(await focused(), 'BODY#', 'the focus stays on a control of the large view');
		await shot(page, 'gradcam-focus-01-map-on');

		await page.keyboard.press('ArrowRight');
		const second = await until(
			'→ steps to the next image',
			async () => {
				const t = (await title.textContent())?.trim();
				return t && t !== first ? t : undefined;
			},
			30_000,
			250,
		);
		await page.keyboard.press('ArrowLeft');
		await until('← steps back', async () => ((await title.textContent())?.trim() === first ? true : undefined), 30_000, 250);
		assert.notEqual(second, first);
		// Off again: the same.
		await view.locator('#gradcam-show').click();
		assert.notEqual(await focused(), 'BODY#');
		await page.keyboard.press('ArrowRight');
		await until('→ after hiding the map', async () => ((await title.textContent())?.trim() === second ? true : undefined), 30_000, 250);
		await shot(page, 'gradcam-focus-02-stepped');
	});
});
