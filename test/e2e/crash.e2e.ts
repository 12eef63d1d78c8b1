// The engine worker dies (process.exit inside it, as a native crash would): the extension host stays up, the user
// is told, and the next command starts a fresh worker. The exit is injected once with RADREVIEW_TEST_WORKER_EXIT.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLASSES, launch, makeDataset, runCommand, shot, until, webview, writeJson, type Harness } from './harness';

const PER_CLASS = 2;
let h: Harness;
const marker = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'radreview-crash-')), 'worker-exited');

describe('Radiograph Review when its engine worker dies', { timeout: 5 * 60_000 }, () => {
	before(async () => {
		// code-server → extension host → worker all inherit the environment.
		process.env.RADREVIEW_TEST_WORKER_EXIT = `splits:${marker}`;
		h = await launch((ws) => {
			makeDataset(path.join(ws, 'data'), PER_CLASS);
			writeJson(path.join(ws, '.vscode', 'settings.json'), { 'radiographReview.datasetFolder': 'data' });
		});
	});

	after(async () => {
		delete process.env.RADREVIEW_TEST_WORKER_EXIT;
		if (h) await h.stop();
		fs.rmSync(path.dirname(marker), { recursive: true, force: true });
	});

	test('the host survives, says what happened, and the next command works on a fresh worker', async () => {
		const { page } = h;
		await runCommand(page, 'Radiograph: Show Dataset Splits');
		await page.locator('.notifications-toasts', { hasText: 'engine worker stopped unexpectedly' }).first().waitFor({ state: 'visible', timeout: 90_000 });
		assert.ok(fs.existsSync(marker), 'the worker really exited inside the scan job');
		await shot(page, 'crash-01-worker-died');

		// Same command again: the extension host is alive and a new worker answers.
		await runCommand(page, 'Radiograph: Show Dataset Splits');
		const view = webview(page);
		const total = await until(
			'dataset count from a fresh worker',
			async () => {
				const n = Number(await view.locator('[data-testid="dataset-count"]').first().textContent({ timeout: 1000 }));
				return n > 0 ? n : undefined;
			},
			90_000,
		);
		assert.equal(total, PER_CLASS * CLASSES.length);
		await shot(page, 'crash-02-fresh-worker');
	});
});
