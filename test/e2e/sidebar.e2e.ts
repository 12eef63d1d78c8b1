// The Radiograph sidebar in Restricted Mode: the Runs view lists a run made by the CLI (read-only: its context menu
// offers no Delete) and follows changes on disk, without starting the engine. It reads what the engine wrote as the
// engine does: an interrupted run shows as interrupted, a note leaves a run fresh, a label change makes it stale.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLASSES, launch, makeDataset, REPO, runCommand, shot, writeJson, type Harness } from './harness';

const PER_CLASS = 3;
let h: Harness;
let metrics: { accuracy: number; counts: { test: number } };
let annotated: string;

/** The built CLI, synchronously (workspace set-up). */
function radreview(cwd: string, ...args: string[]): void {
	const r = spawnSync(process.execPath, [path.join(REPO, 'bin/radreview.js'), ...args], { cwd, encoding: 'utf8', timeout: 300_000 });
	assert.equal(r.status, 0, r.stderr);
}

describe('Radiograph sidebar in an untrusted workspace', { timeout: 8 * 60_000 }, () => {
	before(async () => {
		h = await launch(
			(ws) => {
				makeDataset(path.join(ws, 'data'), PER_CLASS);
				writeJson(path.join(ws, '.vscode', 'settings.json'), { 'radiographReview.datasetFolder': 'data' });
				// A real run made outside VS Code (the CLI), so the untrusted window has something to list.
				const r = spawnSync(
					process.execPath,
					[
						path.join(REPO, 'bin/radreview.js'),
						'train',
						'--backbone',
						'vgg16',
						'--weights',
						'none',
						'--epochs',
						'1',
						'--image-size',
						'64',
						'--data',
						path.join(ws, 'data'),
						'--workdir',
						path.join(ws, '.radreview'),
					],
					{ cwd: ws, encoding: 'utf8', timeout: 300_000 },
				);
				assert.equal(r.status, 0, r.stderr);
				const run = fs.readdirSync(path.join(ws, '.radreview', 'runs')).filter((n) => !n.startsWith('.'))[0];
				const runDir = path.join(ws, '.radreview', 'runs', run);
				metrics = JSON.parse(fs.readFileSync(path.join(runDir, 'metrics.json'), 'utf8')) as typeof metrics;
				// A note (no label change) after training, written by the engine: the run must stay fresh.
				annotated = `${CLASSES[0]}/${fs.readdirSync(path.join(ws, 'data', CLASSES[0])).sort()[0]}`;
				radreview(ws, 'annotate', '--data', path.join(ws, 'data'), '--reviewer', 'e2e', 'note', annotated, 'a note, not a label');
				// A training cut off after its first epoch checkpoint: the engine's own partial folder (beginRun in a
				// process that then exits) with that history, which `radreview runs` records as interrupted.
				const files = JSON.stringify(['config.json', 'history.json', 'weights.json']);
				const begin = `const fs = require('fs'), path = require('path'); require('./src/engine/run/runDir').beginRun(${JSON.stringify(path.join(ws, '.radreview'))}, 'vgg16').then((p) => { for (const f of ${files}) fs.copyFileSync(path.join(${JSON.stringify(runDir)}, f), path.join(p.partialDir, f)); })`;
				const b = spawnSync(process.execPath, ['--import', 'tsx', '-e', begin], { cwd: REPO, encoding: 'utf8' });
				assert.equal(b.status, 0, b.stderr);
				radreview(ws, 'runs', '--workdir', path.join(ws, '.radreview'));
			},
			{ untrusted: true },
		);
	});

	after(async () => {
		if (h) await h.stop();
	});

	test('Runs lists the run read-only (no Delete); the Datasets view ignores the workspace dataset setting', async () => {
		const { page } = h;
		await page.locator('.activitybar .action-label[aria-label^="Radiograph"]').first().click();
		const row = (text: string) => page.locator('.pane-body .monaco-list-row', { hasText: text }).first();
		const runRow = row(`VGG16 — ${(metrics.accuracy * 100).toFixed(1)} % (n=${metrics.counts.test})`);
		await runRow.waitFor({ state: 'visible', timeout: 120_000 });
		assert.match(await runRow.innerText(), /not pretrained/);
		// radiographReview.datasetFolder is a restricted setting: Restricted Mode ignores the workspace's value.
		await page.locator('.pane-body .welcome-view-content', { hasText: 'Restricted Mode: the dataset folder set in this workspace' }).first().waitFor({ state: 'visible' });
		assert.equal(await row(`${CLASSES[0]}: ${PER_CLASS}`).count(), 0);
		await runRow.click({ button: 'right' });
		const menu = page.locator('.context-view .monaco-menu');
		await menu.locator('.action-item', { hasText: 'Reveal Run Folder' }).first().waitFor({ state: 'visible' });
		await menu.locator('.action-item', { hasText: 'Open Predictions' }).first().waitFor({ state: 'visible' });
		assert.equal(await menu.locator('.action-item', { hasText: 'Delete Run' }).count(), 0, 'no Delete in Restricted Mode');
		await shot(page, 'sidebar-01-restricted');
		await page.keyboard.press('Escape');

		// The interrupted run (the engine's interrupted.json) shows as interrupted with its epochs, not as unreadable.
		const interrupted = row('VGG16 — interrupted');
		await interrupted.waitFor({ state: 'visible', timeout: 60_000 });
		assert.match(await interrupted.innerText(), /1\/1 epochs/);
		assert.equal(await row('unreadable').count(), 0);
		// The note added after training changed no label: the run is not stale.
		assert.doesNotMatch(await runRow.innerText(), /labels changed since/);
		// A label change does make it stale (the engine's labelsDigest differs).
		radreview(h.workspace, 'annotate', '--data', path.join(h.workspace, 'data'), '--reviewer', 'e2e', 'set', annotated, CLASSES[1]);
		await runCommand(page, 'Radiograph: Refresh Sidebar');
		await row('labels changed since').waitFor({ state: 'visible', timeout: 60_000 });
		await shot(page, 'sidebar-01b-interrupted-and-stale');

		// A run folder removed on disk leaves the Runs view.
		fs.rmSync(path.join(h.workspace, '.radreview', 'runs'), { recursive: true });
		await page.locator('.pane-body .welcome-view-content', { hasText: 'No runs in this workspace yet' }).first().waitFor({ state: 'visible', timeout: 60_000 });
		await shot(page, 'sidebar-02-run-removed');
		assert.doesNotMatch(extensionLog(h.root), /Engine worker started/, 'listing runs needs no engine');
	});
});

function extensionLog(root: string): string {
	const dir = path.join(root, 'user-data', 'logs');
	return (fs.readdirSync(dir, { recursive: true }) as string[])
		.filter((f) => f.endsWith('Radiograph Review.log'))
		.map((f) => fs.readFileSync(path.join(dir, f), 'utf8'))
		.join('\n');
}
