// Annotations from the Dataset panel's thumbnails in the real VS Code: multi-select (Ctrl-click, Shift-click) and
// flag with a built-in reason and with free text (reasons that keep the images in the panel; excluded ones leave it) → radreview-annotations.csv on disk; and the conflict dialog: the
// file changes on disk while an edit waits to be written → both versions are shown, and the choice (keep mine,
// keep the one on disk) is what ends up on disk.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launch, makeDataset, runCommand, shot, until, writeJson, type Harness } from './harness';
import type { FrameLocator, Locator, Page } from './pw';

/** Edits wait this long before they are written, so that the test can change the file on disk meanwhile. */
const WRITE_DELAY_MS = 12_000;
const SETTINGS = { 'radiographReview.datasetFolder': 'data', 'radiographReview.reviewer': 'E2E Reviewer' };
const COLUMNS = ['path', 'sha256', 'label', 'original_label', 'flags', 'note', 'reviewer', 'updated', 'reviewed'];

let h: Harness;
const cspViolations: string[] = [];
const annotationsFile = (): string => path.join(h.workspace, 'data', 'radreview-annotations.csv');
const text = (): string => (fs.existsSync(annotationsFile()) ? fs.readFileSync(annotationsFile(), 'utf8') : '');
/** The file's rows by path (the tests pick paths without commas or quotes, so a plain split reads them). */
function rows(): Map<string, Record<string, string>> {
	const [head, ...lines] = text().trim().split('\n');
	if (!head) return new Map();
	assert.equal(head, COLUMNS.join(','));
	return new Map(
		lines.map((l) => {
			const f = l.split(',');
			return [f[0], Object.fromEntries(COLUMNS.map((c, i) => [c, f[i]]))];
		}),
	);
}
/** The file with one field of one row replaced, as a reviewer would do in a text editor or a git pull. */
function editOnDisk(relPath: string, column: string, value: string): void {
	const k = COLUMNS.indexOf(column);
	const out = text()
		.split('\n')
		.map((l) => {
			const f = l.split(',');
			if (f[0] !== relPath) return l;
			f[k] = value;
			return f.join(',');
		})
		.join('\n');
	assert.notEqual(out, text(), `no row for ${relPath}`);
	fs.writeFileSync(annotationsFile(), out);
}

/** The visible Dataset panel, once its thumbnails are there. */
async function datasetPanel(page: Page): Promise<FrameLocator> {
	return until(
		'the Dataset panel with thumbnails',
		async () => {
			const n = await page.locator('iframe.webview.ready >> visible=true').count();
			for (let i = 0; i < n; i++) {
				const f = page.frameLocator('iframe.webview.ready >> visible=true').nth(i).frameLocator('#active-frame');
				if ((await f.locator('[data-testid="panel-root"][data-panel="dataset"] [data-testid="dataset-thumb-button"]').count()) > 0) return f;
			}
			return undefined;
		},
		180_000,
		500,
	);
}

/** The thumbnails' paths in the order shown. */
async function shownOrder(): Promise<string[]> {
	return view.locator('[data-testid="dataset-thumb-button"]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.relPath ?? ''));
}

/** Waits for the panel's rescan to count `n` flagged images. */
async function flaggedCount(n: number): Promise<void> {
	await until(
		`${n} flagged in the Dataset panel`,
		async () => (await view.locator('[data-testid="annotation-count"][data-kind="flagged"]').first().textContent({ timeout: 1000 })) === String(n),
		60_000,
		500,
	);
}

const thumb = (view: FrameLocator, relPath: string): Locator => view.locator(`[data-testid="dataset-thumb-button"][data-rel-path="${relPath}"]`).first();

/**
 * Selects thumbnails by a click gesture until the panel says `n selected`. A rescan of the panel (after settings or
 * annotation changes) redraws the thumbnails and drops a selection made meanwhile: on a busy machine that can land
 * between two clicks, so the whole gesture is repeated from a cleared selection until its state holds.
 */
async function selectThumbs(clicks: Array<[string, 'Control' | 'Shift']>, n: number): Promise<void> {
	await until(
		`${n} selected in the Dataset panel`,
		async () => {
			if ((await view.locator('.annot-status', { hasText: 'selected' }).count()) > 0) await thumb(view, clicks[0][0]).press('Escape');
			for (const [p, modifier] of clicks) await thumb(view, p).click({ modifiers: [modifier] });
			await view
				.locator('.annot-status', { hasText: `${n} selected` })
				.first()
				.waitFor({ state: 'visible', timeout: 5000 });
			return true;
		},
		90_000,
		250,
	);
}

let view: FrameLocator;

describe('Annotations from the Dataset panel', { timeout: 10 * 60_000 }, () => {
	/** Thumbnails in the order shown, with paths that need no CSV quoting. */
	let paths: string[] = [];

	before(async () => {
		process.env.RADREVIEW_TEST_ANNOTATION_WRITE_DELAY_MS = String(WRITE_DELAY_MS);
		h = await launch((ws) => {
			makeDataset(path.join(ws, 'data'), 4);
			writeJson(path.join(ws, '.vscode', 'settings.json'), SETTINGS);
		});
		h.page.on('console', (m) => {
			if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
		});
		await runCommand(h.page, 'Radiograph: Show Dataset Splits');
		view = await datasetPanel(h.page);
		// Annotating is on once the host's rows arrived (the toolbar is dimmed until then).
		await view.locator('.annot-bar:not(.is-disabled)').first().waitFor({ state: 'attached', timeout: 60_000 });
		const all = await shownOrder();
		paths = all.filter((p) => !/[",\n]/.test(p));
		assert.ok(paths.length >= 8, `thumbnails: ${all.join(' ')}`);
	});

	after(async () => {
		delete process.env.RADREVIEW_TEST_ANNOTATION_WRITE_DELAY_MS;
		if (h) {
			await shot(h.page, 'annot-ds-99-end');
			await h.stop();
		}
	});

	test('Ctrl-click two thumbnails, flag them with a built-in reason; Shift-click a range, flag it with free text', async () => {
		const { page } = h;
		const [a, b] = [paths[0], paths[2]];
		await selectThumbs(
			[
				[a, 'Control'],
				[b, 'Control'],
			],
			2,
		);
		assert.equal(await thumb(view, a).getAttribute('aria-selected'), 'true');
		assert.equal(await thumb(view, paths[1]).getAttribute('aria-selected'), 'false');
		await view.locator('[data-testid="annotation-flag"]').first().click();
		const prompt = view.locator('[data-testid="annotation-prompt"]').first();
		await prompt.waitFor({ state: 'visible', timeout: 10_000 });
		assert.match((await prompt.textContent()) ?? '', /Flag 2 images/);
		await shot(page, 'annot-ds-01-flag-two');
		await prompt.locator('[data-flag="label-doubtful"]').click();
		await until('both flags on disk', async () => rows().get(a)?.flags === 'label-doubtful' && rows().get(b)?.flags === 'label-doubtful', 60_000, 250);
		assert.equal(rows().size, 2, 'only the two selected images');
		assert.equal(rows().get(a)?.reviewer, 'E2E Reviewer');
		assert.equal(rows().get(a)?.original_label, a.split('/')[0]);
		for (const p of [a, b]) await thumb(view, p).locator('[data-testid="annotation-badges"] [data-state="flagged"]').waitFor({ state: 'attached', timeout: 10_000 });
		assert.match((await thumb(view, a).getAttribute('aria-label')) ?? '', /flagged: label doubtful/);
		// The panel rescans after annotation changes (counts, splits) and redraws the thumbnails: let it.
		await flaggedCount(2);

		// Escape clears the selection. Then a range by Shift-click, flagged with free text from the keyboard.
		await thumb(view, a).press('Escape');
		await view.locator('.annot-status', { hasText: 'selected' }).first().waitFor({ state: 'detached', timeout: 10_000 });
		const order = await shownOrder();
		const from = order.findIndex((_, i) => i + 3 <= order.length && order.slice(i, i + 3).every((p) => paths.includes(p) && p !== a && p !== b));
		assert.ok(from >= 0, `three unflagged thumbnails in a row: ${order.join(' ')}`);
		const range = order.slice(from, from + 3);
		await selectThumbs(
			[
				[range[0], 'Control'],
				[range[2], 'Shift'],
			],
			3,
		);
		await thumb(view, range[1]).focus();
		await thumb(view, range[1]).press('f');
		await prompt.waitFor({ state: 'visible', timeout: 10_000 });
		await view.locator('[data-testid="annotation-input"]').first().fill('rotated');
		await view.locator('[data-testid="annotation-input"]').first().press('Enter');
		await until('the free-text flags on disk', async () => range.every((p) => rows().get(p)?.flags === 'rotated'), 60_000, 250);
		assert.equal(rows().size, 5);
		assert.equal(rows().get(a)?.flags, 'label-doubtful', 'the first flags are untouched');
		await flaggedCount(5);
		for (const p of range) await thumb(view, p).locator('[data-testid="annotation-badges"] [data-state="flagged"]').waitFor({ state: 'attached', timeout: 10_000 });
		// Enter in the dialog saved the flag and did not also open the focused image.
		assert.equal(await h.page.locator('.tabs-container .tab', { hasText: path.basename(range[1]) }).count(), 0, 'no image opened');
		await shot(page, 'annot-ds-02-flagged');
		await thumb(view, range[1]).press('Escape');
		await view.locator('.annot-status', { hasText: 'selected' }).first().waitFor({ state: 'detached', timeout: 10_000 });
	});

	/** A label edit on `relPath` waiting to be written, and the note of its row changed on disk meanwhile. */
	async function conflict(relPath: string, key: string): Promise<Locator> {
		const { page } = h;
		const before = rows().get(relPath);
		assert.ok(before, `${relPath} has a row`);
		await thumb(view, relPath).focus();
		await thumb(view, relPath).press(key);
		// The host has the edit (a few ms) and waits WRITE_DELAY_MS to write it.
		await page.waitForTimeout(2500);
		assert.deepEqual(rows().get(relPath), before, 'the edit is not written yet');
		editOnDisk(relPath, 'note', 'edited on disk');
		const dialog = page.locator('.monaco-dialog-box', { hasText: 'changed both here and in radreview-annotations.csv' }).first();
		await dialog.waitFor({ state: 'visible', timeout: 30_000 });
		return dialog;
	}

	test('the file changes on disk while an edit waits: both versions are shown; "Keep Mine" writes mine', async () => {
		const { page } = h;
		const p = paths[0];
		const original = p.split('/')[0];
		const mine = ['COVID', 'NORMAL', 'PNEUMONIA'].find((c) => c !== original)!;
		const dialog = await conflict(p, mine[0].toLowerCase());
		const shown = (await dialog.textContent()) ?? '';
		assert.match(shown, new RegExp(`yours:\\s+label ${mine}`));
		assert.match(shown, /on disk:\s+label unchanged, flags label doubtful, note "edited on disk"/);
		assert.ok(shown.includes(p), shown);
		await shot(page, 'annot-ds-03-conflict');
		await dialog.locator('.monaco-button', { hasText: 'Keep Mine' }).first().click();
		await until('my version on disk', async () => rows().get(p)?.label === mine, 30_000, 250);
		assert.equal(rows().get(p)?.note, '', 'the note from disk is replaced by mine (none)');
		await thumb(view, p).locator('[data-testid="annotation-badges"] [data-state="relabelled"]').waitFor({ state: 'attached', timeout: 10_000 });
	});

	test('"Keep On Disk" leaves the file as changed on disk, and the panel shows it', async () => {
		const { page } = h;
		const p = paths[2];
		const dialog = await conflict(p, 'r');
		assert.match((await dialog.textContent()) ?? '', /yours:\s+label unchanged, flags label doubtful, reviewed/);
		await dialog.locator('.monaco-button', { hasText: 'Keep On Disk' }).first().click();
		const disk = text();
		// Past the write delay: nothing of mine was written over it.
		await page.waitForTimeout(WRITE_DELAY_MS + 3000);
		assert.equal(text(), disk);
		assert.equal(rows().get(p)?.note, 'edited on disk');
		assert.equal(rows().get(p)?.reviewed, '', 'not reviewed: mine was dropped');
		await thumb(view, p).locator('[data-testid="annotation-badges"] [data-state="noted"]').waitFor({ state: 'attached', timeout: 10_000 });
		assert.equal(await thumb(view, p).locator('[data-testid="annotation-badges"] [data-state="reviewed"]').count(), 0);
		await shot(page, 'annot-ds-04-kept-disk');
	});

	test('no webview broke its Content Security Policy', () => {
		assert.deepEqual(cspViolations, []);
	});
});
