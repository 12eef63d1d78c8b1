// Restricted Mode: training and classification refuse with an explanation and touch nothing.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launch, makeDataset, runCommand, shot, writeJson, type Harness } from './harness';

let h: Harness;

describe('Radiograph Review in an untrusted workspace', { timeout: 5 * 60_000 }, () => {
	before(async () => {
		h = await launch(
			(ws) => {
				makeDataset(path.join(ws, 'data'), 2);
				writeJson(path.join(ws, '.vscode', 'settings.json'), { 'radiographReview.datasetFolder': 'data', 'radiographReview.epochs': 1 });
			},
			{ untrusted: true },
		);
	});

	after(async () => {
		if (h) await h.stop();
	});

	test('Train VGG16 refuses and explains Restricted Mode', async () => {
		await runCommand(h.page, 'Radiograph: Train VGG16');
		await h.page.locator('.notifications-toasts', { hasText: 'Restricted Mode' }).first().waitFor({ state: 'visible', timeout: 60_000 });
		await shot(h.page, 'trust-01-train-refused');
		assert.equal(fs.existsSync(path.join(h.workspace, '.radreview', 'runs')), false, 'no run folder');
	});

	test('Classify Radiographs refuses before asking for a folder', async () => {
		await runCommand(h.page, 'Radiograph: Classify Radiographs');
		await h.page.locator('.notifications-toasts', { hasText: 'Classifying radiographs is disabled in Restricted Mode' }).first().waitFor({ state: 'visible', timeout: 60_000 });
		assert.equal(await h.page.locator('.quick-input-widget').isVisible(), false, 'no folder picker');
		await shot(h.page, 'trust-02-classify-refused');
	});
});
