// Annotations in the real VS Code: relabel with the keyboard in the prediction grid → radreview-annotations.csv
// changes on disk → retraining uses the new label (counts in the run and the Dataset panel); flag an image from
// the Explorer context menu → a decoration on that file; undo restores the file.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLASSES, contextMenuAction, launch, makeDataset, runCommand, shot, until, writeJson, type Harness } from './harness';
import type { FrameLocator, Page } from './pw';

const PER_CLASS = 4;
const SETTINGS = {
	'radiographReview.datasetFolder': 'data',
	'radiographReview.epochs': 3,
	'radiographReview.batchSize': 6,
	'radiographReview.imageSize': 64,
	'radiographReview.weights.vgg16': 'none',
	'radiographReview.reviewer': 'E2E Reviewer',
};

let h: Harness;
const cspViolations: string[] = [];
const annotationsFile = (): string => path.join(h.workspace, 'data', 'radreview-annotations.csv');
const rows = (): string[] => (fs.existsSync(annotationsFile()) ? fs.readFileSync(annotationsFile(), 'utf8').trim().split('\n').slice(1) : []);
const rowOf = (relPath: string): string[] | undefined =>
	rows()
		.map((r) => r.split(','))
		.find((f) => f[0] === relPath);
const runsDir = (): string => path.join(h.workspace, '.radreview', 'runs');
const completeRuns = (): string[] =>
	fs.existsSync(runsDir())
		? fs
				.readdirSync(runsDir())
				.filter((n) => !n.startsWith('.'))
				.sort()
		: [];

/** The visible webview showing panel `name` (panels can be side by side), once it has `ready` in it. */
async function panel(page: Page, name: string, ready = '[data-testid="panel-root"]', timeoutMs = 300_000): Promise<FrameLocator> {
	return until(
		`${name} panel`,
		async () => {
			const n = await page.locator('iframe.webview.ready >> visible=true').count();
			for (let i = 0; i < n; i++) {
				const f = page.frameLocator('iframe.webview.ready >> visible=true').nth(i).frameLocator('#active-frame');
				if ((await f.locator(`[data-testid="panel-root"][data-panel="${name}"]`).count()) > 0 && (await f.locator(ready).count()) > 0) return f;
			}
			return undefined;
		},
		timeoutMs,
		500,
	);
}

describe('Annotations in VS Code', { timeout: 15 * 60_000 }, () => {
	before(async () => {
		h = await launch((ws) => {
			makeDataset(path.join(ws, 'data'), PER_CLASS);
			writeJson(path.join(ws, '.vscode', 'settings.json'), SETTINGS);
		});
		h.page.on('console', (m) => {
			if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
		});
	});

	after(async () => {
		if (h) {
			await shot(h.page, 'annot-99-end');
			await h.stop();
		}
	});

	let relabelled = '';
	let newLabel = '';

	test('relabel with the keyboard in the grid: the file on disk changes; undo and redo go through it', async () => {
		const { page } = h;
		await runCommand(page, 'Radiograph: Train VGG16');
		const view = await panel(page, 'predictions', '[data-testid="grid-item"]');
		const tile = view.locator('[data-testid="grid-item"]').first();
		relabelled = (await tile.getAttribute('data-rel-path')) ?? '';
		const truth = ((await tile.locator('[data-testid="true-label"]').textContent()) ?? '').trim();
		assert.ok(relabelled && (CLASSES as readonly string[]).includes(truth), `${relabelled}: ${truth}`);
		const k = (CLASSES.indexOf(truth as (typeof CLASSES)[number]) + 1) % CLASSES.length;
		newLabel = CLASSES[k];
		// Keyboard only: focus the tile, press the class's number key.
		await tile.focus();
		await tile.press(String(k + 1));
		const row = await until('the relabel on disk', async () => rowOf(relabelled)?.[2] === newLabel || undefined, 30_000, 200);
		assert.ok(row);
		assert.deepEqual(rowOf(relabelled)?.slice(2, 4), [newLabel, truth], 'label, original_label');
		assert.equal(rowOf(relabelled)?.[6], 'E2E Reviewer');
		const current = view.locator(`[data-testid="grid-item"][data-rel-path="${relabelled}"]`).first();
		await current.locator('[data-testid="annotation-badges"] [data-state="relabelled"]').waitFor({ state: 'attached', timeout: 10_000 });
		assert.equal(((await current.locator('[data-testid="true-label"]').textContent()) ?? '').trim(), newLabel, 'the tile shows the corrected label');
		await shot(page, 'annot-01-relabelled-in-grid');

		// Ctrl+Z restores the file; Ctrl+Shift+Z brings the relabel back.
		await current.focus();
		await current.press('Control+z');
		await until('undo on disk', async () => (rowOf(relabelled) === undefined ? true : undefined), 30_000, 200);
		await shot(page, 'annot-02-undone');
		await view.locator(`[data-testid="grid-item"][data-rel-path="${relabelled}"]`).first().focus();
		await view.locator(`[data-testid="grid-item"][data-rel-path="${relabelled}"]`).first().press('Control+Shift+z');
		await until('redo on disk', async () => (rowOf(relabelled)?.[2] === newLabel ? true : undefined), 30_000, 200);

		// `?` lists the keys.
		await view.locator(`[data-testid="grid-item"][data-rel-path="${relabelled}"]`).first().press('?');
		await view.locator('[data-testid="annotation-help"]').first().waitFor({ state: 'visible', timeout: 10_000 });
		await shot(page, 'annot-03-keys');
		await page.keyboard.press('Escape');
	});

	test('retraining uses the corrected label: the run and the Dataset panel show the new counts', async () => {
		const { page } = h;
		const before = completeRuns();
		await runCommand(page, 'Radiograph: Train VGG16');
		const run = await until('a second run', async () => completeRuns().find((r) => !before.includes(r)), 300_000, 1000);
		const dir = path.join(runsDir(), run);
		const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
		assert.equal(config.annotations.relabelled, 1);
		assert.equal(config.annotations.excluded, 0);
		const splits = JSON.parse(fs.readFileSync(path.join(dir, 'splits.json'), 'utf8')) as { relabelled: { path: string; to: string }[] };
		assert.deepEqual(
			splits.relabelled.map((r) => [r.path, r.to]),
			[[relabelled, newLabel]],
		);
		const pred = fs
			.readFileSync(path.join(dir, 'predictions.csv'), 'utf8')
			.split('\n')
			.find((l) => l.startsWith(`${relabelled},`));
		assert.ok(pred?.split(',')[2] === newLabel, `predictions.csv carries the corrected label: ${pred}`);

		await runCommand(page, 'Radiograph: Show Dataset Splits');
		const view = await panel(page, 'dataset', '[data-testid="annotation-count"]', 60_000);
		const n = await until(
			'annotation counts in the Dataset panel',
			async () => {
				const t = await view.locator('[data-testid="annotation-count"][data-kind="relabelled"]').first().textContent({ timeout: 1000 });
				return t ? Number(t) : undefined;
			},
			60_000,
		);
		assert.equal(n, 1);
		const counts = await Promise.all(CLASSES.map(async (c) => Number(await view.locator(`[data-testid="class-count"][data-class="${c}"]`).textContent())));
		assert.deepEqual(
			counts,
			CLASSES.map((c) => PER_CLASS + (c === newLabel ? 1 : 0) - (relabelled.startsWith(`${c}/`) ? 1 : 0)),
		);
		await shot(page, 'annot-04-dataset-counts');
	});

	test('flag from the Explorer context menu: the file gets the flag and a decoration; undo restores it', async () => {
		const { page } = h;
		const files = fs
			.readdirSync(path.join(h.workspace, 'data', 'NORMAL'))
			.filter((f) => !f.startsWith('.'))
			.sort();
		const name = files.find((f) => `NORMAL/${f}` !== relabelled)!;
		const rel = `NORMAL/${name}`;
		const rowLocator = (text: string) => page.locator('.explorer-folders-view .monaco-list-row', { hasText: text }).first();
		// Expand data/ and data/NORMAL/ (a click on a folder row toggles it).
		for (const folder of ['data', 'NORMAL']) {
			if ((await page.locator('.explorer-folders-view .monaco-list-row', { hasText: name }).count()) > 0) break;
			const r = rowLocator(folder);
			if ((await r.getAttribute('aria-expanded')) !== 'true') await r.click();
			// The next row exists once this one has expanded: wait for that state, not for a time.
			await until(`${folder} expanded`, async () => (await r.getAttribute('aria-expanded')) === 'true', 30_000, 100);
		}
		const fileRow = rowLocator(name);
		await fileRow.waitFor({ state: 'visible', timeout: 30_000 });
		// The row's decoration before the flag: the latest run's predicted class initial as its badge.
		const decoration = async () =>
			fileRow.evaluateAll((els) =>
				// Only what decorations set: their classes (one per colour) and the badge text (::after), not selection state.
				els
					.flatMap((el) => [el, ...Array.from(el.querySelectorAll('*'))])
					.map((e) =>
						[
							...String(e.className)
								.split(/\s+/)
								.filter((c) => c.startsWith('monaco-decoration')),
							getComputedStyle(e, '::after').content,
						]
							.filter((x) => x && x !== 'none' && x !== 'normal')
							.join(' '),
					)
					.filter(Boolean)
					.join(' | '),
			);
		const plain = await until(
			'the prediction badge',
			async () => {
				const d = await decoration();
				return /monaco-decoration/.test(d) && /"[CNP]"/.test(d) ? d : undefined;
			},
			60_000,
			250,
		);
		const reasons = page.locator('.quick-input-list .monaco-list-row', { hasText: 'exclude from training' }).first();
		await contextMenuAction(page, fileRow, 'Radiograph: Flag…', () => reasons.isVisible(), 'annot-05-explorer-menu');
		await page.locator('.quick-input-list .monaco-list-row', { hasText: 'exclude from training' }).first().click();
		await until('the flag on disk', async () => (rowOf(rel)?.[4] === 'exclude' ? true : undefined), 30_000, 200);
		// The decoration changes (the flagged colour) on the file, live.
		const decorated = await until(
			'the flagged decoration',
			async () => {
				const d = await decoration();
				return d !== plain && /monaco-decoration-itemColor/.test(d) ? d : undefined;
			},
			30_000,
			250,
		);
		assert.match(decorated, /"[CNP]"/);
		await shot(page, 'annot-06-explorer-decoration');

		await runCommand(page, 'Radiograph: Undo Annotation Edit');
		await until('undo of the flag on disk', async () => (rowOf(rel) === undefined ? true : undefined), 30_000, 200);
		await until('the decoration as before the flag', async () => ((await decoration()) === plain ? true : undefined), 30_000, 250);
		assert.deepEqual(rowOf(relabelled)?.[2], newLabel, 'the earlier relabel is untouched');
		await shot(page, 'annot-07-explorer-undone');
	});

	test('a malformed file (a git conflict) is reported with its line and never written to', async () => {
		const { page } = h;
		const good = fs.readFileSync(annotationsFile(), 'utf8');
		const lines = good.split('\n');
		const broken = [lines[0], '<<<<<<< HEAD', ...lines.slice(1)].join('\n');
		fs.writeFileSync(annotationsFile(), broken);
		await page.locator('.notifications-toasts', { hasText: 'radreview-annotations.csv:2: a merge-conflict marker' }).first().waitFor({ state: 'visible', timeout: 60_000 });
		await shot(page, 'annot-08-malformed-reported');
		// A relabel in the grid is refused and says why; the file stays byte-identical.
		const view = await panel(page, 'predictions', '[data-testid="grid-item"]', 60_000);
		const tile = view.locator('[data-testid="grid-item"]').first();
		await tile.focus();
		await tile.press('3');
		await view.locator('[data-testid="notice"]', { hasText: 'merge-conflict marker' }).first().waitFor({ state: 'visible', timeout: 30_000 });
		await page.waitForTimeout(1500);
		assert.equal(fs.readFileSync(annotationsFile(), 'utf8'), broken);
		await shot(page, 'annot-09-malformed-refused');
		// Fixed on disk → annotating works again.
		fs.writeFileSync(annotationsFile(), good);
		await until(
			'the store to accept the fixed file',
			async () => {
				await tile.focus();
				await tile.press('r');
				return fs.readFileSync(annotationsFile(), 'utf8') !== good ? true : undefined;
			},
			60_000,
			2000,
		);
	});

	test('no webview broke its Content Security Policy', () => {
		assert.deepEqual(cspViolations, []);
	});
});
