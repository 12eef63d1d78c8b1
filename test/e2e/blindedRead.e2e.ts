// End to end in a real VS Code: two readers read the same 12 images blinded. Everything the webview received and
// everything its page holds is searched for the images' paths, file names and folders (which are the class
// names), and radreview-reads.csv ends with 12 blinded rows per reader.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Frame, FrameLocator, Page } from './pw';
import { spawnSync } from 'node:child_process';
import { REPO, launch, makeDataset, panelFrame, runCommand, shot, until, writeJson, type Harness } from './harness';

const CLASSES = ['COVID', 'NORMAL', 'PNEUMONIA'];
let h: Harness;
let data = '';
let rels: string[] = [];

/**
 * Installed in the panel's page: every string of every message it receives from then on. VS Code writes the page
 * into its frame (no init script reaches it), so the recorder goes in once the page is up, and an undo with
 * nothing to undo makes the host send its state (the first image) again.
 */
// A string, not a function: the test runner's transpiler would wrap a function's inner helpers in its own
// __name(), which the page does not have.
const recordMessages = `(() => {
	const seen = [];
	window.__radreviewSeen = seen;
	const strings = (v, out, depth) => {
		if (depth > 12) return out;
		if (typeof v === 'string') out.push(v);
		else if (ArrayBuffer.isView(v)) out.push('[binary ' + v.byteLength + ']');
		else if (Array.isArray(v)) for (const x of v) strings(x, out, depth + 1);
		else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) { out.push(k); strings(x, out, depth + 1); }
		return out;
	};
	window.addEventListener('message', (e) => seen.push(strings(e.data, [], 0)));
})()`;

/** The blinded panel's page (a frame inside the webview's frame). */
async function panelPage(page: Page): Promise<Frame> {
	return until(
		'the blinded page',
		async () => {
			for (const f of page.frames()) {
				if (f === page.mainFrame()) continue;
				const name = await f.evaluate(() => document.querySelector('[data-panel="blinded"]') !== null).catch(() => false);
				if (name) return f;
			}
			return undefined;
		},
		60_000,
	);
}

/** The strings of each message the panel page received since its recorder went in. */
async function receivedMessages(frame: Frame): Promise<string[][]> {
	return frame.evaluate(() => (window as unknown as { __radreviewSeen?: string[][] }).__radreviewSeen ?? []);
}

/** Whatever of the images' identity a text holds: dataset folder, relative path, file name, name without extension. */
function leaks(text: string): string[] {
	const found: string[] = [];
	if (text.includes(data)) found.push(data);
	for (const rel of rels) {
		const base = path.posix.basename(rel);
		for (const s of [rel, base, base.replace(/\.[^.]+$/, '')]) if (text.includes(s)) found.push(s);
	}
	return found;
}

/** The page of the panel, with the fixed choice list (the same for every image) taken out. */
async function pageText(view: FrameLocator): Promise<{ html: string; withoutChoices: string }> {
	return view.locator('html').evaluate((root: Element) => {
		const copy = root.cloneNode(true) as HTMLElement;
		for (const el of copy.querySelectorAll('[data-testid="blinded-choice"], [data-testid="blinded-step"]')) el.remove();
		return { html: root.outerHTML, withoutChoices: copy.outerHTML };
	});
}

const received: string[][] = [];

async function readAll(page: Page, reader: string, choice: (i: number) => number): Promise<void> {
	const view = await panelFrame(page, 'blinded', 120_000, async (f) => ((await f.locator('[data-testid="blinded-reader"]').textContent({ timeout: 1000 })) ?? '').includes(reader));
	const progress = view.locator('[data-testid="blinded-progress"]');
	await until('the first image', async () => (await progress.textContent()) === '0 / 12' && (await view.locator('[data-testid="blinded-image"]').getAttribute('data-token')), 120_000);
	const frame = await panelPage(page);
	await frame.evaluate(recordMessages);
	await view.locator('[data-testid="blinded-image"]').click();
	await page.keyboard.press('z');
	await until('the state sent again', async () => (await receivedMessages(frame)).some((m) => m.includes('state')), 30_000, 100);
	for (let i = 0; i < 12; i++) {
		const token = await view.locator('[data-testid="blinded-image"]').getAttribute('data-token');
		const { html, withoutChoices } = await pageText(view);
		assert.deepEqual(leaks(html), [], `${reader}, image ${i + 1}: the page names the image`);
		for (const c of CLASSES) assert.ok(!withoutChoices.includes(c), `${reader}, image ${i + 1}: the page shows ${c} outside the fixed choice list`);
		if (i === 3) await shot(page, `blinded-01-${reader.toLowerCase()}-reading`);
		await page.keyboard.press(String(choice(i)));
		await until('the confidence step', async () => (await view.locator('[data-testid="blinded-step"]').getAttribute('data-step')) === 'confidence', 30_000, 100);
		await page.keyboard.press(String((i % 5) + 1));
		await until(
			`read ${i + 1} recorded`,
			async () => (await progress.textContent()) === `${i + 1} / 12` && (await view.locator('[data-testid="blinded-image"]').getAttribute('data-token')) !== token,
			60_000,
			100,
		);
	}
	await until('the set finished', async () => (await view.locator('[data-testid="blinded-step"]').getAttribute('data-step')) === 'done', 30_000, 100);
	await shot(page, `blinded-02-${reader.toLowerCase()}-done`);
	received.push(...(await receivedMessages(frame)));
}

describe('Blinded reading by two readers', { timeout: 15 * 60_000 }, () => {
	before(async () => {
		h = await launch((ws) => {
			data = path.join(ws, 'data');
			rels = makeDataset(data, 4).map((f) => path.relative(data, f).split(path.sep).join('/'));
			writeJson(path.join(ws, '.vscode', 'settings.json'), { 'radiographReview.datasetFolder': 'data' });
		});
	});

	after(async () => {
		if (h) await h.stop();
	});

	test('two readers read the same 12 images; the webview never holds a path, a file name or a label; a disagreement is adjudicated', async () => {
		const { page } = h;
		// Ann: no reader name yet, so it is asked once (git's name as the suggestion); all images of the folder.
		await runCommand(page, 'Radiograph: Start Blinded Read');
		const input = page.locator('.quick-input-widget input.input');
		await until('the reader-name prompt', async () => ((await page.locator('.quick-input-widget').textContent()) ?? '').includes('reader'), 60_000);
		await input.fill('Ann');
		await page.keyboard.press('Enter');
		await page.locator('.quick-input-list .monaco-list-row', { hasText: 'All 12 images' }).first().click();
		await readAll(page, 'Ann', (i) => (i % 3) + 1);

		// Bob: the setting (workspace level) switches the reader; a stratified sample of all 12 with the same seed.
		writeJson(path.join(h.workspace, '.vscode', 'settings.json'), { 'radiographReview.datasetFolder': 'data', 'radiographReview.readerName': 'Bob' });
		await until(
			'a session as Bob',
			async () => {
				await runCommand(page, 'Radiograph: Start Blinded Read');
				await page.locator('.quick-input-list .monaco-list-row', { hasText: 'stratified sample' }).first().click();
				await input.waitFor({ state: 'visible' });
				await input.fill('12');
				await page.keyboard.press('Enter');
				const view = await panelFrame(page, 'blinded', 60_000);
				const who = await until('reader shown', async () => view.locator('[data-testid="blinded-reader"]').textContent({ timeout: 1000 }), 60_000);
				return who.includes('Bob');
			},
			180_000,
			1000,
		);
		await readAll(page, 'Bob', (i) => (i % 2) + 1);

		const messages = received;
		const states = messages.filter((m) => m.includes('state') && m.includes('token'));
		assert.ok(states.length >= 26, `the recorder saw ${states.length} state messages`);
		assert.ok(
			states.some((m) => m.some((s) => s.startsWith('[binary '))),
			'the pixels came as binary',
		);
		for (const m of messages) {
			const text = m.join('\n');
			assert.deepEqual(leaks(text), [], `a message names an image: ${text.slice(0, 300)}`);
			if (!m.includes('state')) continue;
			// The class names arrive only as the fixed list of choices, the same in every message.
			const classes = m.slice(m.indexOf('classes') + 1, m.indexOf('classes') + 4);
			assert.deepEqual(classes, CLASSES);
			const rest = [...m.slice(0, m.indexOf('classes')), ...m.slice(m.indexOf('classes') + 4)];
			for (const c of CLASSES) assert.ok(!rest.includes(c), `a state message holds ${c} outside the choices`);
		}

		// Adjudication: the queue lists the images where they disagree with every read; the decision becomes the label.
		const rows = page.locator('.quick-input-list .monaco-list-row');
		// The whole gesture is repeated if a pick closes under it (a panel taking the focus on a busy machine).
		const first = await until(
			'one disagreement adjudicated',
			async () => {
				await runCommand(page, 'Radiograph: Adjudicate Reads');
				// The palette's own row (the command just run) shows until the queue replaces it: wait for the queue's rows.
				const queued = await until(
					'the disagreement queue',
					async () => {
						const t = (await rows.count()) > 0 ? await rows.first().textContent() : null;
						return t && /Ann: \w+.*Bob: \w+/.test(t) ? t : undefined;
					},
					60_000,
				);
				await shot(page, 'blinded-03-adjudication-queue');
				await rows.first().click({ timeout: 10_000 });
				await until('the decision pick', async () => ((await rows.first().textContent()) ?? '').startsWith('COVID'), 30_000, 200);
				await rows.nth(1).click({ timeout: 10_000 });
				return queued;
			},
			240_000,
			1000,
		);
		const decided = (first.match(/^[^\s]+?\.(png|jpe?g|dcm)/i) ?? [''])[0];
		const annotations = path.join(data, 'radreview-annotations.csv');
		const row = await until(
			'the adjudicated label',
			async () =>
				fs.existsSync(annotations)
					? fs
							.readFileSync(annotations, 'utf8')
							.split('\n')
							.find((l) => l.includes('adjudicated NORMAL from reads: Ann='))
					: undefined,
			60_000,
		);
		if (decided) assert.ok(row.startsWith(decided), `${row} decides ${decided}`);
		await page.keyboard.press('Escape');

		const csv = fs.readFileSync(path.join(data, 'radreview-reads.csv'), 'utf8').trim().split('\n');
		const reads = csv.slice(1).map((l) => l.split(','));
		assert.equal(reads.length, 24);
		for (const reader of ['Ann', 'Bob']) {
			const mine = reads.filter((r) => r[2] === reader);
			assert.equal(mine.length, 12, `${reader}'s reads`);
			assert.deepEqual(mine.map((r) => r[0]).sort(), [...rels].sort());
			assert.ok(
				mine.every((r) => r[8] === 'yes' && /^[0-9a-f]{64}$/.test(r[1]) && Number(r[6]) >= 0),
				`${reader}'s rows are blinded, hashed and timed`,
			);
		}
	});
	test('a third reader reads the test split of a run: exactly the images that run was tested on', async () => {
		const { page } = h;
		const workdir = path.join(h.workspace, '.radreview');
		const r = spawnSync(
			process.execPath,
			[path.join(REPO, 'bin', 'radreview.js'), 'train', '--backbone', 'vgg16', '--weights', 'none', '--data', data, '--image-size', '64', '--epochs', '1', '--workdir', workdir],
			{ encoding: 'utf8', timeout: 5 * 60_000 },
		);
		assert.equal(r.status, 0, r.stderr);
		const runs = fs.readdirSync(path.join(workdir, 'runs')).filter((d) => !d.startsWith('.'));
		assert.equal(runs.length, 1);
		const testSplit: string[] = JSON.parse(fs.readFileSync(path.join(workdir, 'runs', runs[0], 'splits.json'), 'utf8')).test;
		assert.ok(testSplit.length >= 2, `test split: ${testSplit.join(' ')}`);

		writeJson(path.join(h.workspace, '.vscode', 'settings.json'), { 'radiographReview.datasetFolder': 'data', 'radiographReview.readerName': 'Cy' });
		const view = await until(
			'a session as Cy on the run’s test split',
			async () => {
				await runCommand(page, 'Radiograph: Start Blinded Read');
				await page.locator('.quick-input-list .monaco-list-row', { hasText: 'test split of a run' }).first().click();
				return panelFrame(page, 'blinded', 60_000, async (f) => ((await f.locator('[data-testid="blinded-reader"]').textContent({ timeout: 1000 })) ?? '').includes('Cy'));
			},
			180_000,
			1000,
		);
		const progress = view.locator('[data-testid="blinded-progress"]');
		await until('the first image', async () => (await progress.textContent()) === `0 / ${testSplit.length}`, 120_000);
		await view.locator('[data-testid="blinded-image"]').click();
		for (let i = 0; i < testSplit.length; i++) {
			assert.deepEqual(leaks(await view.locator('html').evaluate((e: Element) => e.outerHTML)), [], `image ${i + 1}: the page names the image`);
			await page.keyboard.press('1');
			await until('the confidence step', async () => (await view.locator('[data-testid="blinded-step"]').getAttribute('data-step')) === 'confidence', 30_000, 100);
			await page.keyboard.press('3');
			await until(`read ${i + 1} recorded`, async () => (await progress.textContent()) === `${i + 1} / ${testSplit.length}`, 60_000, 100);
		}
		await shot(page, 'blinded-04-run-split-done');
		const cy = fs
			.readFileSync(path.join(data, 'radreview-reads.csv'), 'utf8')
			.trim()
			.split('\n')
			.slice(1)
			.map((l) => l.split(','))
			.filter((row) => row[2] === 'Cy');
		assert.deepEqual(cy.map((row) => row[0]).sort(), [...testSplit].sort());
	});
});
