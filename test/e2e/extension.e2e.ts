// End to end in a real VS Code (code-server) with a small real dataset: train from the palette, watch the
// curves and the prediction grid, classify a folder from the explorer, and cancel a training while typing.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
	CLASSES,
	contextMenuAction,
	hold,
	intoView,
	launch,
	makeDataset,
	makeUnlabelled,
	panelFrame,
	reachedHold,
	release,
	runCommand,
	shot,
	until,
	webview,
	writeJson,
	type Harness,
} from './harness';

const PER_CLASS = 6;
const UNLABELLED_PER_CLASS = 1;
/** The declared maximum of radiographReview.epochs: tests stay within the settings' limits. */
const MAX_EPOCHS = 1000;
/** The cancel test trains on images whose features are not cached yet, so its training has a feature pass. */
const LARGE_PER_CLASS = 20;
/** The status bar while a VGG16 training runs, in any stage. */
const RUNNING = new RegExp(`VGG16 (starting|epoch \\d+/${MAX_EPOCHS}\\b)`);
// Small and fast: the e2e checks the wiring, not the model. Random weights must be labelled as such.
const SETTINGS = {
	'radiographReview.datasetFolder': 'data',
	// Enough small steps that the curves are seen live on every run (the fused head does an epoch in milliseconds).
	'radiographReview.epochs': MAX_EPOCHS,
	'radiographReview.batchSize': 2,
	'radiographReview.imageSize': 64,
	'radiographReview.weights.vgg16': 'none',
	'radiographReview.backend': 'auto',
};

let h: Harness;
const cspViolations: string[] = [];
const t0 = Date.now();
const runsDir = (): string => path.join(h.workspace, '.radreview', 'runs');
const listRuns = (): string[] => (fs.existsSync(runsDir()) ? fs.readdirSync(runsDir()) : []);
const completeRuns = (): string[] => listRuns().filter((n) => !n.startsWith('.'));

/** Waits until the Dataset panel shows `n` images: the extension host has read a changed datasetFolder setting. */
async function datasetShown(n: number): Promise<void> {
	await runCommand(h.page, 'Radiograph: Show Dataset Splits');
	const view = await panelFrame(h.page, 'dataset');
	await until(`the Dataset panel with ${n} images`, async () => Number(await view.locator('[data-testid="dataset-count"]').first().textContent({ timeout: 1000 })) === n, 120_000, 250);
}

describe('Radiograph Review in VS Code', { timeout: 15 * 60_000 }, () => {
	before(async () => {
		h = await launch((ws) => {
			makeDataset(path.join(ws, 'data'), PER_CLASS);
			makeUnlabelled(path.join(ws, 'incoming'), UNLABELLED_PER_CLASS, PER_CLASS);
			makeDataset(path.join(ws, 'data-large'), LARGE_PER_CLASS);
			writeJson(path.join(ws, '.vscode', 'settings.json'), SETTINGS);
		});
		// Any CSP violation in a webview shows up as a console error of the page (the webviews are iframes in it).
		h.page.on('console', (m) => {
			if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
		});
		await shot(h.page, '00-workbench');
	});

	after(async () => {
		if (h) {
			await shot(h.page, '99-end');
			await h.stop();
		}
		console.log(`e2e total ${((Date.now() - t0) / 1000).toFixed(1)}s`);
	});

	test('Show Dataset Splits: class counts and a seeded split of the real images', async () => {
		const { page } = h;
		await runCommand(page, 'Radiograph: Show Dataset Splits');
		const view = webview(page);
		const total = await until('dataset count', async () => {
			const n = Number(await view.locator('[data-testid="dataset-count"]').first().textContent({ timeout: 1000 }));
			return n > 0 ? n : undefined;
		});
		assert.equal(total, PER_CLASS * CLASSES.length);
		for (const c of CLASSES) assert.equal(Number(await view.locator(`[data-testid="class-count"][data-class="${c}"]`).textContent()), PER_CLASS, c);
		const splits = await Promise.all(['train', 'val', 'test'].map(async (s) => Number(await view.locator(`[data-testid="split-count"][data-split="${s}"]`).textContent())));
		assert.equal(
			splits.reduce((a, b) => a + b, 0),
			total,
			`splits ${splits.join('/')}`,
		);
		assert.ok(splits[2] > 0, 'a test split');
		// Thumbnails are made in the worker after the scan: wait until one has really loaded (not a placeholder, not a broken URI).
		await until(
			'a loaded dataset thumbnail',
			async () => {
				const widths = await view.locator('[data-testid="dataset-thumb"]').evaluateAll((imgs) => imgs.map((i) => ((i as HTMLImageElement).complete ? (i as HTMLImageElement).naturalWidth : 0)));
				return widths.some((w) => w > 0) ? true : undefined;
			},
			60_000,
			250,
		);
		await shot(page, '00b-dataset');
	});

	test('Train VGG16 from the palette: curves get points, then the grid shows predicted and true labels', async () => {
		const { page } = h;
		// The engine holds the training after its first epoch until the live curve was seen (however fast the machine).
		hold(h, 'train');
		await runCommand(page, 'Radiograph: Train VGG16');
		// The training panel opens first and streams epochs: the curves must get points while the run is still going.
		const view = webview(page);
		await reachedHold(h, 'train');
		await until(
			'live training curve points',
			async () => {
				const root = await view.locator('[data-testid="panel-root"]').first().getAttribute('data-panel', { timeout: 1000 });
				if (root === 'predictions') assert.fail('the training ended before its curves were seen live');
				if (root !== 'training') return undefined;
				const n = Number(await view.locator('[data-testid="curve-point-count"]').first().textContent({ timeout: 1000 }));
				const state = await view.locator('[data-testid="training-series"]').first().getAttribute('data-state', { timeout: 1000 });
				return n > 0 && state === 'running' ? n : undefined;
			},
			180_000,
			100,
		);
		// Epochs are 1-based from the engine: never 'epoch 0/N' nor 'epoch N+1/N'.
		const progress = (await view.locator('[data-testid="epoch-progress"]').first().textContent()) ?? '';
		const m = /epoch (\d+)\/(\d+)/.exec(progress);
		assert.ok(m && Number(m[2]) === SETTINGS['radiographReview.epochs'] && Number(m[1]) >= 1 && Number(m[1]) <= Number(m[2]), `live progress '${progress}'`);
		await shot(page, '01-training-curves');
		release(h, 'train');

		// When the run finishes, the predictions panel shows the test split.
		const items = await until(
			'prediction grid items',
			async () => {
				const root = await view.locator('[data-testid="panel-root"]').first().getAttribute('data-panel', { timeout: 1000 });
				if (root !== 'predictions') return undefined;
				const n = await view.locator('[data-testid="grid-item"]').count();
				return n > 0 ? n : undefined;
			},
			240_000,
		);
		await shot(page, '02-predictions-grid');
		const preds = await view.locator('[data-testid="grid-item"] [data-testid="pred-label"]').allTextContents();
		const truth = await view.locator('[data-testid="grid-item"] [data-testid="true-label"]').allTextContents();
		assert.equal(preds.length, items, 'one predicted label per grid item');
		assert.equal(truth.length, items, 'one true label per test image');
		for (const l of [...preds, ...truth]) assert.ok((CLASSES as readonly string[]).includes(l.trim()), `label '${l}'`);
		const weights = await view.locator('[data-testid="weights-label"]').first().textContent();
		assert.match(weights ?? '', /not pretrained/);
		// The run is on disk, complete.
		assert.equal(completeRuns().length, 1, `runs: ${listRuns().join(', ')}`);
		const run = path.join(runsDir(), completeRuns()[0]);
		for (const f of ['history.json', 'metrics.json', 'predictions.csv', 'model.json']) assert.ok(fs.existsSync(path.join(run, f)), f);
		const history = JSON.parse(fs.readFileSync(path.join(run, 'history.json'), 'utf8')) as unknown[];
		assert.equal(history.length, SETTINGS['radiographReview.epochs']);

		// Reopening the training panel replays the history from the host.
		await runCommand(page, 'Radiograph: Show Training');
		const replayed = await until('replayed curve points', async () => {
			const n = Number(await view.locator('[data-testid="curve-point-count"]').first().textContent({ timeout: 1000 }));
			return n >= SETTINGS['radiographReview.epochs'] ? n : undefined;
		});
		assert.equal(replayed, SETTINGS['radiographReview.epochs'], 'one point per epoch');
		const epochs = SETTINGS['radiographReview.epochs'];
		assert.equal((await view.locator('[data-testid="epoch-progress"]').first().textContent())?.trim(), `epoch ${epochs}/${epochs}`);
		assert.equal(await view.locator('[data-testid="training-series"]').first().getAttribute('data-state'), 'done');
		await shot(page, '03-training-replayed');
	});

	test('Explorer → Classify Radiographs on a folder: grid and predictions.csv', async () => {
		const { page } = h;
		const csvDir = path.join(h.workspace, '.radreview', 'classifications');
		const started = async (): Promise<boolean> => fs.existsSync(csvDir) || (await page.locator('.notifications-toasts', { hasText: 'Classifying incoming' }).count()) > 0;
		await contextMenuAction(page, 'incoming', 'Classify Radiographs', started, '04a-explorer-menu');
		await shot(page, '04b-after-menu');
		const view = webview(page);
		const expected = UNLABELLED_PER_CLASS * CLASSES.length;
		await until(
			'classified grid',
			async () => {
				const title = await view.locator('[data-testid="panel-root"]').first().getAttribute('data-panel', { timeout: 1000 });
				if (title !== 'predictions') return undefined;
				const count = await view.locator('[data-testid="grid-item"]').count();
				const names = await view.locator('[data-testid="grid-item"]').first().getAttribute('data-rel-path', { timeout: 1000 });
				return count === expected && names && !names.includes('/') ? count : undefined;
			},
			240_000,
		);
		await shot(page, '04c-classified-grid');
		const preds = await view.locator('[data-testid="grid-item"] [data-testid="pred-label"]').allTextContents();
		assert.equal(preds.length, expected);
		for (const l of preds) assert.ok((CLASSES as readonly string[]).includes(l.trim()));
		assert.equal(await view.locator('[data-testid="grid-item"] [data-testid="true-label"]').count(), 0, 'unlabelled folder: no true labels');
		// The CSV is written under .radreview/classifications.
		const dir = path.join(h.workspace, '.radreview', 'classifications');
		const csvs = fs
			.readdirSync(dir)
			.filter((f) => f.endsWith('.csv'))
			.sort();
		assert.ok(csvs.length >= 1, 'a predictions csv');
		const lines = fs
			.readFileSync(path.join(dir, csvs[csvs.length - 1]), 'utf8')
			.trim()
			.split(/\r?\n/);
		assert.equal(lines.length, expected + 1, 'header + one row per image');
		for (const f of fs.readdirSync(path.join(h.workspace, 'incoming')))
			assert.ok(
				lines.some((l) => l.includes(f)),
				`${f} in csv`,
			);

		// PDF export: rendered in the webview, bytes to the host, save dialog, atomic write.
		await view.locator('[data-testid="export-pdf"]').first().click();
		const saveInput = page.locator('.quick-input-widget input.input');
		await saveInput.waitFor({ state: 'visible', timeout: 60_000 });
		// The simple file dialog fills in its default path asynchronously: wait for it, then replace it.
		await until('save dialog default path', async () => ((await saveInput.inputValue()).includes('/') ? true : undefined), 30_000, 200);
		const target = path.join(h.workspace, 'classified.pdf');
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
		await shot(page, '04d-save-dialog');
		// Enter would pick the highlighted folder row; OK accepts the typed path.
		await page.locator('.quick-input-widget .monaco-button', { hasText: 'OK' }).first().click();
		const pdf = await until('exported PDF', async () => (fs.existsSync(target) ? fs.readFileSync(target) : undefined), 60_000);
		assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-');
		await shot(page, '04f-exported-pdf');
	});

	test('While training runs the editor stays responsive; Cancel Training during the feature pass stops it cleanly', async () => {
		const { page } = h;
		// Images whose features are not cached: the training has a feature pass, and the engine holds it there
		// (src/engine/testHooks.ts) until the cancel, so the cancel lands in the feature pass on any machine.
		writeJson(path.join(h.workspace, '.vscode', 'settings.json'), { ...SETTINGS, 'radiographReview.datasetFolder': 'data-large' });
		await datasetShown(LARGE_PER_CLASS * CLASSES.length);
		const before = completeRuns().length;
		hold(h, 'features');
		try {
			await runCommand(page, 'Radiograph: Train VGG16');
			await reachedHold(h, 'features');
			const status = page.locator('.statusbar-item', { hasText: RUNNING }).first();
			await status.waitFor({ state: 'visible', timeout: 60_000 });
			await shot(page, '05-training-running');

			await runCommand(page, 'File: New Untitled Text File');
			const text = 'typed while training';
			await page.locator('.monaco-editor textarea').first().waitFor({ state: 'attached' });
			await page.keyboard.type(text, { delay: 20 });
			await until('typed text in the editor', async () => ((await page.locator('.monaco-editor .view-lines').first().innerText()).replace(/\u00a0/g, ' ').includes(text) ? true : undefined), 20_000);
			// Still training (held in its feature pass) while we typed.
			assert.ok(await page.locator('.statusbar-item', { hasText: RUNNING }).first().isVisible(), 'training still running after typing');
			assert.ok(fs.existsSync(path.join(h.holds, 'features')), 'the training is still in its feature pass');
			await shot(page, '06-typed-while-training');

			await runCommand(page, 'Radiograph: Cancel Training');
			// The engine answers a cancel within CANCEL_GRACE_MS (3 s); the limit here only keeps a busy machine from failing it.
			await page.locator('.notifications-toasts', { hasText: 'was cancelled' }).first().waitFor({ state: 'visible', timeout: 60_000 });
		} finally {
			release(h, 'features');
		}
		await shot(page, '07-cancelled');
		// No epoch progress any more, and no new (or half-written) run on disk.
		await until('status bar idle', async () => ((await page.locator('.statusbar-item', { hasText: RUNNING }).count()) === 0 ? true : undefined), 30_000);
		assert.equal(completeRuns().length, before, 'a cancelled training leaves no run');
		assert.deepEqual(
			listRuns().filter((n) => n.endsWith('.partial')),
			[],
			'no partial run folder left',
		);
		await runCommand(page, 'Radiograph: Show Training');
		const view = await panelFrame(page, 'training');
		const card = view.locator('[data-testid="training-series"][data-state="cancelled"]').first();
		await card.waitFor({ state: 'attached', timeout: 30_000 });
		await intoView(card);
		await shot(page, '08-training-panel-cancelled');
	});

	test('no webview broke its Content Security Policy', () => {
		assert.deepEqual(cspViolations, []);
	});
});
