// The Radiograph Viewer in the real VS Code: a .dcm opens in it by default, dragging changes the window (the canvas'
// pixels change), the latest run's prediction and the DICOM tags are shown, the Grad-CAM toggle lays the run's map
// over the image, and the review controls write radreview-annotations.csv.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLASSES, launch, makeDataset, runCommand, shot, until, webview, writeJson, type Harness } from './harness';

const AWK = path.resolve(__dirname, '../../../shared/cxr/awkward');
/** A real adult DX chest radiograph (NIH "No Finding"), uncompressed DICOM: label-equivalent NORMAL. */
const DCM = 'dicom_DX_chest_NIH-nofinding_8bit_uncompressed.dcm';
const SETTINGS = {
	'radiographReview.datasetFolder': 'data',
	'radiographReview.epochs': 2,
	'radiographReview.batchSize': 6,
	'radiographReview.imageSize': 64,
	'radiographReview.weights.vgg16': 'none',
};

let h: Harness;
const cspViolations: string[] = [];
const runsDir = (): string => path.join(h.workspace, '.radreview', 'runs');
const finishedRun = (): string | undefined =>
	fs.existsSync(runsDir())
		? fs
				.readdirSync(runsDir())
				.filter((n) => !n.startsWith('.'))
				.find((n) => fs.existsSync(path.join(runsDir(), n, 'predictions.csv')))
		: undefined;

/** A summary of the visible canvas' pixels: mean grey and a coarse fingerprint of 64 samples. */
function canvasStats(els: Element[]): { mean: number; samples: number[]; width: number } {
	const c = els[0] as HTMLCanvasElement;
	const ctx = c.getContext('2d')!;
	const d = ctx.getImageData(0, 0, c.width, c.height).data;
	let sum = 0;
	for (let i = 0; i < d.length; i += 4) sum += d[i];
	const samples: number[] = [];
	for (let k = 0; k < 64; k++) {
		const x = Math.floor(((k % 8) + 0.5) * (c.width / 8));
		const y = Math.floor((Math.floor(k / 8) + 0.5) * (c.height / 8));
		samples.push(d[(y * c.width + x) * 4]);
	}
	return { mean: sum / (d.length / 4), samples, width: c.width };
}

/** How coloured the visible canvas is: mean |r − g| + |g − b| (0 for the grey radiograph alone). */
function canvasColour(els: Element[]): number {
	const c = els[0] as HTMLCanvasElement;
	const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
	let sum = 0;
	for (let i = 0; i < d.length; i += 4) sum += Math.abs(d[i] - d[i + 1]) + Math.abs(d[i + 1] - d[i + 2]);
	return sum / (d.length / 4);
}

/** Set a select's or slider's value as a person would, firing the event the webview listens to. */
function setValue(el: Element, a: { value: string; event: string }): void {
	(el as HTMLInputElement).value = a.value;
	el.dispatchEvent(new Event(a.event, { bubbles: true }));
}

/** The CSV row of `relPath` as column → value (no quoted commas in these rows), or undefined. */
function annotationRow(relPath: string): Record<string, string> | undefined {
	const file = path.join(h.workspace, 'data', 'radreview-annotations.csv');
	if (!fs.existsSync(file)) return undefined;
	const [head, ...lines] = fs.readFileSync(file, 'utf8').trim().split('\n');
	const line = lines.find((l) => l.startsWith(`${relPath},`));
	if (!line) return undefined;
	const cols = head.split(',');
	const values = line.split(',');
	return Object.fromEntries(cols.map((c, i) => [c, values[i] ?? '']));
}

describe('Radiograph Viewer in VS Code', { timeout: 12 * 60_000 }, () => {
	before(async () => {
		h = await launch((ws) => {
			makeDataset(path.join(ws, 'data'), 2);
			fs.copyFileSync(path.join(AWK, DCM), path.join(ws, 'data', 'NORMAL', DCM));
			writeJson(path.join(ws, '.vscode', 'settings.json'), SETTINGS);
		});
		h.page.on('console', (m) => {
			if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
		});
	});

	after(async () => {
		if (h) {
			await shot(h.page, 'viewer-99-end');
			await h.stop();
		}
	});

	test('a run first, so the viewer has a prediction to show (random weights: wiring, not accuracy)', async () => {
		await runCommand(h.page, 'Radiograph: Train VGG16');
		await until('a finished run with predictions.csv', async () => finishedRun(), 300_000, 1000);
		const csv = fs.readFileSync(path.join(runsDir(), finishedRun()!, 'predictions.csv'), 'utf8');
		assert.ok(csv.includes(DCM), 'the DICOM image was trained on / predicted');
	});

	test('the .dcm opens in the Radiograph Viewer; the prediction and the tags are shown', async () => {
		const { page } = h;
		// Quick Open through F1 (the palette minus its '>' prefix searches files): F1 works even with a webview focused.
		// On a loaded machine the palette can miss a key press: retry as the harness's runCommand does.
		const input = page.locator('.quick-input-widget input.input');
		await until(
			'Quick Open listing the .dcm',
			async () => {
				await page.keyboard.press('Escape');
				await page.keyboard.press('F1');
				await input.waitFor({ state: 'visible', timeout: 5000 });
				await input.fill(DCM);
				await page.locator('.quick-input-list .monaco-list-row', { hasText: DCM }).first().waitFor({ state: 'visible', timeout: 10_000 });
				return true;
			},
			90_000,
			1000,
		);
		await page.keyboard.press('Enter');
		const view = webview(page);
		await until('viewer canvas with a window', async () => (await view.locator('[data-testid="viewer-canvas"]').first().getAttribute('data-width', { timeout: 1000 })) ?? undefined, 90_000);
		const name = view.locator('[data-testid="viewer-name"]').first();
		assert.match((await name.textContent()) ?? '', new RegExp(DCM.replace(/\./g, '\\.')));
		assert.equal(await name.getAttribute('data-count'), '3', 'two JPEGs and the DICOM in NORMAL/');

		const pred = await until('prediction label', async () => view.locator('[data-testid="viewer-prediction"] [data-testid="pred-label"]').first().textContent({ timeout: 1000 }), 60_000);
		assert.ok((CLASSES as readonly string[]).includes(pred.trim()), `predicted '${pred}'`);
		assert.equal((await view.locator('[data-testid="viewer-prediction"] [data-testid="true-label"]').first().textContent())?.trim(), 'NORMAL');
		assert.equal(await view.locator('[data-testid="viewer-prob"]').count(), CLASSES.length, 'one probability per class');
		const probs = await view.locator('[data-testid="viewer-prob"]').allTextContents();
		const total = probs.map((t) => Number(/([\d.]+) %/.exec(t)?.[1])).reduce((a, b) => a + b, 0);
		assert.ok(Math.abs(total - 100) < 0.5, `probabilities sum to 100 % (${probs.join(' | ')})`);

		const tag = async (k: string) => (await view.locator(`[data-testid="viewer-tags"] tr[data-tag="${k}"] td`).nth(1).textContent())?.trim();
		assert.equal(await tag('Modality'), 'DX');
		assert.equal(await tag('PatientID'), 'Covid0000');
		assert.match((await tag('TransferSyntax')) ?? '', /Implicit VR Little Endian/);
		await page.waitForTimeout(500);
		await shot(page, 'viewer-01-opened');
	});

	test('dragging on the image changes window/level: the canvas pixels change', async () => {
		const { page } = h;
		const view = webview(page);
		const canvas = view.locator('[data-testid="viewer-canvas"]').first();
		const before = await canvas.evaluateAll(canvasStats);
		const w0 = Number(await canvas.getAttribute('data-width'));
		const c0 = Number(await canvas.getAttribute('data-center'));
		assert.ok(before.mean > 5, `the image is drawn (mean grey ${before.mean.toFixed(1)})`);
		const box = await canvas.boundingBox();
		assert.ok(box, 'canvas on screen');
		const [x, y] = [box.x + box.width / 2, box.y + box.height / 2];
		await page.mouse.move(x, y);
		await page.mouse.down();
		await page.mouse.move(x - 150, y + 120, { steps: 12 });
		await page.mouse.up();
		// The drag's last frame has landed when the window stops changing.
		let last = '';
		await until(
			'the window to settle',
			async () => {
				const now = `${await canvas.getAttribute('data-width')} ${await canvas.getAttribute('data-center')}`;
				const settled = now === last && Number(now.split(' ')[0]) !== w0;
				last = now;
				return settled;
			},
			10_000,
			300,
		);
		const after = await canvas.evaluateAll(canvasStats);
		const w1 = Number(await canvas.getAttribute('data-width'));
		const c1 = Number(await canvas.getAttribute('data-center'));
		assert.ok(w1 < w0 && c1 > c0, `narrower window, higher level: W ${w0}→${w1}, L ${c0}→${c1}`);
		const changed = after.samples.filter((v, i) => v !== before.samples[i]).length;
		assert.ok(changed >= 16, `${changed} of 64 sampled canvas pixels changed`);
		assert.ok(after.mean < before.mean, `raising the level darkens the image (${before.mean.toFixed(1)} → ${after.mean.toFixed(1)})`);
		assert.match((await view.locator('[data-testid="viewer-window"]').first().textContent()) ?? '', new RegExp(`W ${Math.round(w1)}`));
		await shot(page, 'viewer-02-after-drag');

		// Invert flips the grey scale of the same window.
		await view.locator('[data-testid="viewer-invert"]').first().click();
		const inverted = await until(
			'inverted canvas',
			async () => {
				const s = await canvas.evaluateAll(canvasStats);
				return s.mean !== after.mean ? s : undefined;
			},
			10_000,
			200,
		);
		// Sampled pixels of the image (not the black bars beside it) go to about 255 − v: the downscaled canvas
		// resamples each drawing on its own, so allow a few grey levels.
		const pairs = inverted.samples.map((u, i) => [after.samples[i], u]).filter(([v, u]) => !(u === 0 && v === 0));
		const off = pairs.filter(([v, u]) => Math.abs(u + v - 255) > 16);
		assert.ok(pairs.length >= 32 && off.length <= pairs.length / 10, `inverted vs before: ${pairs.map(([v, u]) => `${v}→${u}`).join(' ')}`);
		await shot(page, 'viewer-03-inverted');
	});

	test("Grad-CAM toggle: the latest run's map is drawn over the image (the canvas' pixels change), with opacity", async () => {
		const { page } = h;
		const view = webview(page);
		const canvas = view.locator('[data-testid="viewer-canvas"]').first();
		const before = await canvas.evaluateAll(canvasStats);
		const grey = await canvas.evaluateAll(canvasColour);
		assert.ok(grey < 1, `the radiograph alone is grey (colour ${grey.toFixed(2)})`);
		const toggle = view.locator('[data-testid="viewer-gradcam"]').first();
		await toggle.click();
		assert.equal(await toggle.getAttribute('aria-pressed'), 'true');
		// The worker rebuilds the run's base and explains this one image.
		const cls = await until('the Grad-CAM map', async () => (await canvas.getAttribute('data-gradcam', { timeout: 1000 })) ?? undefined, 180_000, 500);
		assert.ok((CLASSES as readonly string[]).includes(cls), `map of class '${cls}'`);
		assert.match((await view.locator('[data-testid="viewer-gradcam-status"]').first().textContent()) ?? '', new RegExp(cls));
		const coloured = await until(
			'the map drawn',
			async () => {
				const c = await canvas.evaluateAll(canvasColour);
				return c > 5 ? c : undefined;
			},
			10_000,
			200,
		);
		const on = await canvas.evaluateAll(canvasStats);
		const changed = on.samples.filter((v, i) => v !== before.samples[i]).length;
		assert.ok(changed >= 8, `${changed} of 64 sampled canvas pixels changed under the map (colour ${coloured.toFixed(1)})`);
		await shot(page, 'viewer-04-gradcam');

		// Opacity 0: the radiograph alone again.
		const slider = view.locator('[data-testid="viewer-gradcam-opacity"]').first();
		await slider.evaluate(setValue, { value: '0', event: 'input' });
		await until('opacity 0', async () => ((await canvas.evaluateAll(canvasColour)) < 1 ? true : undefined), 10_000, 200);
		await slider.evaluate(setValue, { value: '0.5', event: 'input' });
		await until('opacity 0.5', async () => ((await canvas.evaluateAll(canvasColour)) > 5 ? true : undefined), 10_000, 200);
		await toggle.click();
		assert.equal(await toggle.getAttribute('aria-pressed'), 'false');
		await until('map hidden', async () => ((await canvas.evaluateAll(canvasColour)) < 1 ? true : undefined), 10_000, 200);
	});

	test('review in the viewer: label, flag and reviewed land in radreview-annotations.csv', async () => {
		const { page } = h;
		const view = webview(page);
		const rel = `NORMAL/${DCM}`;
		const review = view.locator('[data-testid="viewer-review"]').first();
		await until('the review controls', async () => ((await review.getAttribute('data-path', { timeout: 1000 })) === rel ? true : undefined), 30_000, 250);
		await view.locator('[data-testid="viewer-label"]').first().evaluate(setValue, { value: 'COVID', event: 'change' });
		const labelled = await until('the row on disk', async () => annotationRow(rel), 15_000, 250);
		assert.equal(labelled.label, 'COVID');
		assert.equal(labelled.original_label, 'NORMAL');
		assert.match(labelled.sha256, /^[0-9a-f]{64}$/);

		await view.locator('[data-testid="viewer-flag"]').first().evaluate(setValue, { value: 'poor-quality', event: 'change' });
		await view.locator('[data-testid="viewer-reviewed"]').first().click();
		const row = await until(
			'flag and reviewed on disk',
			async () => {
				const r = annotationRow(rel);
				return r?.flags === 'poor-quality' && r.reviewed === 'yes' ? r : undefined;
			},
			15_000,
			250,
		);
		assert.equal(row.label, 'COVID', 'the label stays');
		// The host's answer re-renders the controls from the store.
		await until('the flag listed', async () => ((await view.locator('[data-testid="viewer-flag-item"][data-flag="poor-quality"]').count()) === 1 ? true : undefined), 10_000, 250);
		assert.equal(await view.locator('[data-testid="viewer-label"]').first().inputValue(), 'COVID');
		await shot(page, 'viewer-05-reviewed');
	});

	test('next image in the folder: a JPEG from the same folder, with its own tags', async () => {
		const view = webview(h.page);
		const name = view.locator('[data-testid="viewer-name"]').first();
		const before = await name.getAttribute('data-index');
		await view.locator('[data-testid="viewer-next"]').first().click();
		// The next image opens in its own editor: wait for its name, not only its index (the name fills in after).
		await until('another image', async () => ((await name.getAttribute('data-index')) !== before && /\.(jpe?g|png)/i.test((await name.textContent()) ?? '') ? true : undefined), 30_000, 250);
		assert.match((await name.textContent()) ?? '', /\.(jpe?g|png)/i);
		await until('format tag', async () => ((await view.locator('[data-testid="viewer-tags"] tr[data-tag="Format"]').count()) > 0 ? true : undefined), 30_000, 250);
		await shot(h.page, 'viewer-06-next');
	});

	test('no Content Security Policy violation', () => {
		assert.deepEqual(cspViolations, []);
	});
});
