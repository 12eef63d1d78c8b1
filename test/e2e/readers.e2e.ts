// End to end in a real VS Code: a dataset with two readers' reads (imported with the CLI) and a small run trained
// by the CLI; the Report panel shows the Readers section: κ with its interval and the readers on the model's ROC.
// (The blinded-reading and adjudication UI of issue 22 are not built yet; this checks the report card's part.)
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO, launch, makeDataset, runCommand, shot, until, webview, writeJson, type Harness } from './harness';

let h: Harness;

function cli(...args: string[]): void {
	const r = spawnSync(process.execPath, [path.join(REPO, 'bin', 'radreview.js'), ...args], { encoding: 'utf8', timeout: 5 * 60_000 });
	assert.equal(r.status, 0, `radreview ${args[0]} failed:\n${r.stderr}`);
}

describe('Readers in the report card', { timeout: 10 * 60_000 }, () => {
	before(async () => {
		h = await launch((ws) => {
			const data = path.join(ws, 'data');
			const files = makeDataset(data, 10).map((f) => path.relative(data, f).split(path.sep).join('/'));
			const classes = ['COVID', 'NORMAL', 'PNEUMONIA'];
			const other = (p: string) => classes[(classes.indexOf(p.split('/')[0]) + 1) % 3];
			fs.writeFileSync(path.join(ws, 'ann.csv'), 'path,label\n' + files.map((p, i) => `${p},${i % 5 === 0 ? other(p) : p.split('/')[0]}`).join('\n') + '\n');
			fs.writeFileSync(path.join(ws, 'bob.csv'), 'path,label\n' + files.map((p, i) => `${p},${i % 3 === 1 ? other(p) : p.split('/')[0]}`).join('\n') + '\n');
			cli('reads', 'import', path.join(ws, 'ann.csv'), '--data', data, '--reader', 'Ann');
			cli('reads', 'import', path.join(ws, 'bob.csv'), '--data', data, '--reader', 'Bob');
			writeJson(path.join(ws, '.vscode', 'settings.json'), { 'radiographReview.datasetFolder': 'data', 'radiographReview.weights.vgg16': 'none' });
			cli('train', '--backbone', 'vgg16', '--weights', 'none', '--data', data, '--image-size', '64', '--epochs', '2', '--workdir', path.join(ws, '.radreview'));
		});
	});

	after(async () => {
		if (h) await h.stop();
	});

	test('Show Report: the Readers section has Cohen’s κ with an interval and each reader on the model’s ROC', async () => {
		const { page } = h;
		await runCommand(page, 'Radiograph: Show Report');
		// With one run the report opens at once; otherwise a quick pick lists the runs.
		const pick = page.locator('.quick-input-list .monaco-list-row', { hasText: 'VGG16' }).first();
		const view = webview(page);
		await until(
			'run pick or report',
			async () => {
				if (await pick.isVisible()) {
					await pick.click();
					return true;
				}
				return (await view.locator('[data-testid="report-provenance"], [data-testid="panel-root"]').count()) > 0 ? true : undefined;
			},
			120_000,
			500,
		);
		const text = await until(
			'readers section',
			async () => {
				const t = await view.locator('[data-testid="report-readers"]').first().textContent({ timeout: 1000 });
				return t && /Cohen -?\d\.\d{3} \[-?\d\.\d{3}, -?\d\.\d{3}\]/.test(t) ? t : undefined;
			},
			180_000,
		);
		assert.match(text, /Ann – Bob/);
		assert.match(text, /The model against the readers \(\d+ held-out image\(s\) they read\)/);
		const points = await view.locator('[data-testid="report-readers"] g.reader-point').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-reader')));
		assert.ok(points.includes('Ann') && points.includes('Bob'), `reader points: ${points.join(', ')}`);
		await view.locator('[data-testid="report-readers"]').first().scrollIntoViewIfNeeded();
		await shot(page, 'readers-01-report-card');
	});
});
