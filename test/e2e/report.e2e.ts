// End to end in a real VS Code: a run trained by the CLI (small, random weights: the e2e checks the wiring), its
// report card in the Report panel, the Grad-CAM overlay toggled in the prediction grid and the large view's
// controls, and the report's PDF export holding the curves and overlays (rendered with pdftoppm).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { REPO, SHOTS, launch, makeDataset, runCommand, shot, until, webview, writeJson, type Harness } from './harness';

const PER_CLASS = 10;
let h: Harness;
const cspViolations: string[] = [];

const hasPdftoppm = spawnSync('pdftoppm', ['-v'], { encoding: 'utf8' }).error === undefined;
if (!hasPdftoppm && process.env.CI === 'true') throw new Error('report.e2e: pdftoppm not found (apt-get install poppler-utils)');

describe('Report card and Grad-CAM in VS Code', { timeout: 12 * 60_000 }, () => {
	before(async () => {
		h = await launch((ws) => {
			makeDataset(path.join(ws, 'data'), PER_CLASS);
			writeJson(path.join(ws, '.vscode', 'settings.json'), { 'radiographReview.datasetFolder': 'data', 'radiographReview.weights.vgg16': 'none' });
			// Two runs on the same split (same seed), so Compare can pair them on the same test images.
			for (const epochs of ['5', '1']) {
				const r = spawnSync(
					process.execPath,
					[
						path.join(REPO, 'bin', 'radreview.js'),
						'train',
						'--backbone',
						'vgg16',
						'--weights',
						'none',
						'--data',
						path.join(ws, 'data'),
						'--image-size',
						'64',
						'--epochs',
						epochs,
						'--workdir',
						path.join(ws, '.radreview'),
					],
					{ encoding: 'utf8', timeout: 5 * 60_000 },
				);
				assert.equal(r.status, 0, `radreview train failed:\n${r.stderr}`);
			}
		});
		h.page.on('console', (m) => {
			if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
		});
	});

	after(async () => {
		if (h) await h.stop();
	});

	test('Show Report: accuracy with interval and n, per-class table, ROC chart, provenance', async () => {
		const { page } = h;
		await runCommand(page, 'Radiograph: Show Report');
		// Two runs: the quick pick lists both, each accuracy with its interval.
		const pick = page.locator('.quick-input-list .monaco-list-row', { hasText: 'VGG16' }).first();
		await pick.waitFor({ state: 'visible', timeout: 60_000 });
		assert.match((await pick.textContent()) ?? '', /\[\d+\.\d–\d+\.\d %\] \(n = \d+\)/);
		await pick.click();
		const view = webview(page);
		const acc = await until(
			'report accuracy',
			async () => {
				const t = await view.locator('[data-testid="report-accuracy"]').first().textContent({ timeout: 1000 });
				return t && /\[\d+\.\d–\d+\.\d\] \(n = \d+\)/.test(t) ? t : undefined;
			},
			180_000,
		);
		const n = Number(/n = (\d+)/.exec(acc)![1]);
		assert.ok(n > 0, acc);
		const rows = await view.locator('[data-testid="report-class-table"] tbody tr').count();
		assert.equal(rows, 3, 'one row per class');
		assert.ok((await view.locator('[data-testid="report-roc"] polyline').count()) >= 3, 'three ROC curves');
		const prov = (await view.locator('[data-testid="report-provenance"]').textContent()) ?? '';
		assert.match(prov, /patient-grouped split \(seed 40\)/);
		assert.match(prov, /NOT pretrained/);
		await shot(page, 'report-01-card');
	});

	test('Grad-CAM overlay toggles in the grid; the large view has opacity and class controls', async () => {
		const { page } = h;
		const view = webview(page);
		await view.locator('vscode-button', { hasText: 'Predictions grid' }).first().click();
		await until('grid items', async () => ((await view.locator('[data-testid="grid-item"]').count()) > 0 ? true : undefined), 120_000);
		const toggle = view.locator('[data-testid="gradcam-toggle"]').first();
		await toggle.click();
		const loaded = async () =>
			view
				.locator('[data-testid="gradcam-overlay"]')
				.evaluateAll((imgs) => imgs.filter((i) => (i as HTMLImageElement).complete && (i as HTMLImageElement).naturalWidth > 0 && !(i.parentElement as HTMLElement).hidden).length);
		const shown = await until('overlays loaded', async () => ((await loaded()) > 0 ? await loaded() : undefined), 240_000, 500);
		assert.ok(shown > 0);
		assert.equal(await toggle.getAttribute('aria-pressed'), 'true');
		await shot(page, 'report-02-grid-gradcam-on');
		await toggle.click();
		await until('overlays hidden', async () => ((await loaded()) === 0 ? true : undefined), 30_000, 250);
		assert.equal(await toggle.getAttribute('aria-pressed'), 'false');
		await shot(page, 'report-03-grid-gradcam-off');
		// The grid at the run's operating point: each tile marked as called COVID or not at the validation threshold.
		const opToggle = view.locator('[data-testid="operating-point-toggle"]').first();
		await opToggle.click();
		const line = await until(
			'operating point line',
			async () => {
				const t = await view.locator('[data-testid="grid-operating-point"]').first().textContent({ timeout: 1000 });
				return t && !t.startsWith('Choosing') ? t : undefined;
			},
			120_000,
		);
		if (/ if p ≥ \d\.\d{3} \(chosen on validation/.test(line)) {
			assert.match(line, /on test: sensitivity [\d.]+ % \[/);
			const chips = await until(
				'operating-point chips',
				async () => ((await view.locator('.op-chip:not([hidden])').count()) > 0 ? await view.locator('.op-chip:not([hidden])').count() : undefined),
				30_000,
				250,
			);
			assert.equal(chips, await view.locator('[data-testid="grid-item"]').count(), 'one mark per tile');
		} else assert.match(line, /^No operating point: /);
		await shot(page, 'report-03b-grid-operating-point');
		await opToggle.click();
		// Back on, then the large view of the first image.
		await toggle.click();
		await view.locator('[data-testid="grid-item"]').first().click();
		const slider = view.locator('[data-testid="gradcam-opacity"]');
		await slider.waitFor({ state: 'visible', timeout: 60_000 });
		await until(
			'large-view overlay',
			async () => (await view.locator('.detail-picture [data-testid="gradcam-overlay"]').evaluateAll((imgs) => imgs.some((i) => (i as HTMLImageElement).naturalWidth > 0))) || undefined,
			120_000,
		);
		// A range input cannot be typed into: set it as a user's drag would, with an input event.
		await slider.evaluateAll((els) => {
			const el = els[0] as HTMLInputElement;
			el.value = '0.9';
			el.dispatchEvent(new Event('input', { bubbles: true }));
		});
		const opacity = await view.locator('.detail-picture [data-testid="gradcam-overlay"]').evaluateAll((els) => (els[0] as HTMLElement).style.opacity);
		assert.equal(opacity, '0.9');
		await view.locator('[data-testid="gradcam-class"]').evaluateAll((els) => {
			const el = els[0] as HTMLSelectElement;
			el.value = 'PNEUMONIA';
			el.dispatchEvent(new Event('change', { bubbles: true }));
		});
		await until('map of PNEUMONIA', async () => ((await view.locator('.gradcam-controls').textContent())?.includes('Map of PNEUMONIA') ? true : undefined), 120_000);
		await shot(page, 'report-04-large-view');
		await page.keyboard.press('Escape');
		// With the overlay on, the grid's PNG export carries the maps over the thumbnails.
		await view.locator('[data-testid="export-png"]').first().click();
		const saveInput = page.locator('.quick-input-widget input.input');
		await saveInput.waitFor({ state: 'visible', timeout: 60_000 });
		await until('save dialog default path', async () => ((await saveInput.inputValue()).includes('/') ? true : undefined), 30_000, 200);
		const target = path.join(h.workspace, 'grid-gradcam.png');
		await until(
			'save path typed',
			async () => {
				await saveInput.fill(target);
				await page.waitForTimeout(300);
				return (await saveInput.inputValue()) === target ? true : undefined;
			},
			30_000,
			200,
		);
		await page.locator('.quick-input-widget .monaco-button', { hasText: 'OK' }).first().click();
		await until('exported PNG', async () => (fs.existsSync(target) && fs.statSync(target).size > 0 ? true : undefined), 60_000);
		const { data } = await sharp(target).removeAlpha().raw().toBuffer({ resolveWithObject: true });
		let warm = 0;
		// Warm heat-map pixels over the grey radiographs, not counting the sheet's own red (#c62828) wrong-answer marks.
		const near = (i: number, r: number, g: number, b: number) => Math.abs(data[i] - r) < 14 && Math.abs(data[i + 1] - g) < 14 && Math.abs(data[i + 2] - b) < 14;
		for (let i = 0; i < data.length; i += 3) if (data[i] > 150 && data[i + 2] < 90 && data[i] - data[i + 1] > 30 && !near(i, 198, 40, 40)) warm++;
		assert.ok(warm / (data.length / 3) > 0.02, `heat-map share of the exported sheet: ${warm / (data.length / 3)}`);
	});

	test('Compare: intervals under the metrics, and a paired comparison of the two runs', async () => {
		const { page } = h;
		await runCommand(page, 'Radiograph: Compare Backbones');
		const view = webview(page);
		const latest = view.locator('vscode-checkbox').first();
		await latest.waitFor({ state: 'visible', timeout: 60_000 });
		// Both runs are VGG16: show every run, not only the latest per backbone.
		await latest.click();
		await until('two compare rows', async () => ((await view.locator('[data-testid="compare-row"]').count()) === 2 ? true : undefined), 60_000);
		const iv = await view.locator('[data-testid="compare-interval"]').allTextContents();
		assert.equal(iv.length, 2);
		for (const t of iv) assert.match(t, /^\[\d+\.\d–\d+\.\d\] \(n = \d+\)$/);
		await until('macro-AUC interval from the report cards', async () => ((await view.locator('td', { hasText: /^\d\.\d{3}\[\d\.\d{3}–\d\.\d{3}\]$/ }).count()) >= 2 ? true : undefined), 120_000);
		await view.locator('vscode-button', { hasText: 'Compare on the shared test images' }).first().click();
		const paired = await until(
			'paired comparison',
			async () => ((await view.locator('[data-testid="compare-paired"]').count()) > 0 ? await view.locator('[data-testid="compare-paired"]').textContent() : undefined),
			120_000,
		);
		assert.match(paired ?? '', /McNemar exact p = [\d.e-]+/);
		assert.match(paired ?? '', /A − B = [+-]\d+\.\d points \[[+-]\d+\.\d, [+-]\d+\.\d\]/);
		await shot(page, 'report-06-compare');
	});

	test('the report PDF holds the curves and the Grad-CAM overlays', async () => {
		const { page } = h;
		await runCommand(page, 'Radiograph: Show Report');
		const pick = page.locator('.quick-input-list .monaco-list-row', { hasText: 'VGG16' }).first();
		await pick.waitFor({ state: 'visible', timeout: 60_000 });
		await pick.click();
		const view = webview(page);
		await view.locator('[data-testid="report-export-pdf"]').first().click();
		const saveInput = page.locator('.quick-input-widget input.input');
		await saveInput.waitFor({ state: 'visible', timeout: 60_000 });
		await until('save dialog default path', async () => ((await saveInput.inputValue()).includes('/') ? true : undefined), 30_000, 200);
		const target = path.join(h.workspace, 'report.pdf');
		await until(
			'save path typed',
			async () => {
				await saveInput.fill(target);
				await page.waitForTimeout(300);
				return (await saveInput.inputValue()) === target ? true : undefined;
			},
			30_000,
			200,
		);
		await page.locator('.quick-input-widget .monaco-button', { hasText: 'OK' }).first().click();
		const pdf = await until('exported PDF', async () => (fs.existsSync(target) && fs.statSync(target).size > 0 ? fs.readFileSync(target) : undefined), 240_000);
		assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-');
		await until('where-it-looks in the panel', async () => ((await view.locator('[data-testid="report-looks"]').count()) > 0 ? true : undefined), 60_000);
		await shot(page, 'report-05-after-pdf');
		assert.ok(hasPdftoppm, 'pdftoppm (poppler-utils) is needed to check the PDF');
		const out = path.join(SHOTS, 'report-pdf');
		fs.mkdirSync(SHOTS, { recursive: true });
		const r = spawnSync('pdftoppm', ['-png', '-r', '60', target, out], { encoding: 'utf8' });
		assert.equal(r.status, 0, r.stderr);
		const pages = fs
			.readdirSync(SHOTS)
			.filter((f) => f.startsWith('report-pdf-') && f.endsWith('.png'))
			.sort();
		assert.ok(pages.length >= 3, `pages: ${pages.join(', ')}`);
		// Page 2 holds the curves: coloured ROC/PR lines; page 3 the overlays: many saturated heat-map pixels.
		const text = spawnSync('pdftotext', ['-f', '2', '-l', '3', target, '-'], { encoding: 'utf8' }).stdout;
		assert.match(text, /ROC \(test, one-vs-rest\)/);
		assert.match(text, /Grad-CAM overlays/);
		// Rendered pixels: the curves page has the class colours' lines, the overlay page warm heat-map pixels.
		const share = async (file: string, pick: (r: number, g: number, b: number) => boolean): Promise<number> => {
			const { data, info } = await sharp(path.join(SHOTS, file)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
			let k = 0;
			for (let i = 0; i < data.length; i += 3) if (pick(data[i], data[i + 1], data[i + 2])) k++;
			return k / (info.width * info.height);
		};
		const curveBlue = await share(pages[1], (r, g, b) => b > 150 && r < 80 && g < 140);
		const curveRed = await share(pages[1], (r, g, b) => r > 150 && g < 80 && b < 80);
		assert.ok(curveBlue > 0.0005 && curveRed > 0.0005, `curve pixels blue ${curveBlue}, red ${curveRed}`);
		const heat = await share(pages[2], (r, g, b) => r > 150 && b < 90 && Math.abs(r - g) > 30);
		assert.ok(heat > 0.01, `heat-map pixels on the overlay page: ${heat}`);
		assert.deepEqual(cspViolations, [], 'no CSP violation in any webview');
	});
});
