// e2e harness: a fresh code-server (the real VS Code workbench + Node extension host) with this
// extension linked in, a throw-away workspace holding a small real dataset, and headless Debian
// chromium driven by playwright-core. See ../../../shared/docs/E2E.md for why this and not test-electron.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import type { BrowserContext, Chromium, FrameLocator, Locator, Page } from './pw';

export const REPO = path.resolve(__dirname, '../..');
const HOST = path.join(__dirname, 'host');
const SHARED_DEV = path.resolve(REPO, '../shared/cxr/dev');
export const CLASSES = ['COVID', 'NORMAL', 'PNEUMONIA'] as const;
export const SHOTS = path.join(REPO, 'test-results', 'e2e');

const hostRequire = createRequire(path.join(HOST, 'package.json'));

export interface Harness {
	root: string;
	workspace: string;
	/** RADREVIEW_TEST_HOLD of the extension host: see hold() and src/engine/testHooks.ts. */
	holds: string;
	page: Page;
	context: BrowserContext;
	stop(): Promise<void>;
}

/** Copy `perClass` images of each class from ../shared/cxr/dev (never into the repo). */
export function makeDataset(dir: string, perClass: number, offset = 0): string[] {
	const copied: string[] = [];
	for (const c of CLASSES) {
		fs.mkdirSync(path.join(dir, c), { recursive: true });
		const files = fs
			.readdirSync(path.join(SHARED_DEV, c))
			.sort()
			.slice(offset, offset + perClass);
		for (const f of files) {
			fs.copyFileSync(path.join(SHARED_DEV, c, f), path.join(dir, c, f));
			copied.push(path.join(dir, c, f));
		}
	}
	return copied;
}

/** Copy a few images of mixed classes into one flat, unlabelled folder. */
export function makeUnlabelled(dir: string, perClass: number, offset: number): string[] {
	fs.mkdirSync(dir, { recursive: true });
	const out: string[] = [];
	for (const c of CLASSES) {
		for (const f of fs
			.readdirSync(path.join(SHARED_DEV, c))
			.sort()
			.slice(offset, offset + perClass)) {
			const target = path.join(dir, `${c.toLowerCase()}-${f}`.replace(/[^A-Za-z0-9._-]/g, '_'));
			fs.copyFileSync(path.join(SHARED_DEV, c, f), target);
			out.push(target);
		}
	}
	return out;
}

export function writeJson(file: string, value: unknown): void {
	fs.mkdirSync(path.dirname(file), { recursive: true });
	fs.writeFileSync(file, JSON.stringify(value, null, '\t'));
}

async function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const srv = net.createServer();
		srv.once('error', reject);
		srv.listen(0, '127.0.0.1', () => {
			const port = (srv.address() as net.AddressInfo).port;
			srv.close(() => resolve(port));
		});
	});
}

function healthy(port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const req = http.get({ host: '127.0.0.1', port, path: '/healthz', timeout: 1000 }, (res) => {
			res.resume();
			resolve(res.statusCode === 200);
		});
		req.on('error', () => resolve(false));
		req.on('timeout', () => {
			req.destroy();
			resolve(false);
		});
	});
}

/** Start code-server + chromium on a workspace prepared by `prepare(workspace)`. */
export interface LaunchOptions {
	/** Turn workspace trust on and answer the trust prompt with "No": the workspace opens in Restricted Mode. */
	untrusted?: boolean;
}

export async function launch(prepare: (workspace: string) => void, options: LaunchOptions = {}): Promise<Harness> {
	const codeServerBin = path.join(HOST, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
	if (!fs.existsSync(codeServerBin)) throw new Error(`code-server is not installed: run test/e2e/setup.sh (missing ${codeServerBin})`);
	if (!process.env.RADREVIEW_E2E_VSIX && !fs.existsSync(path.join(REPO, 'dist', 'extension.js'))) throw new Error('dist/extension.js missing: run npm run build');

	const root = fs.mkdtempSync(path.join(os.tmpdir(), 'radreview-e2e-'));
	const workspace = path.join(root, 'workspace');
	fs.mkdirSync(workspace);
	prepare(workspace);

	const port = await freePort();
	const cfg = path.join(root, 'config.yaml');
	fs.writeFileSync(cfg, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
	const userData = path.join(root, 'user-data');
	const extDir = path.join(root, 'extensions');
	fs.mkdirSync(extDir);
	const vsix = process.env.RADREVIEW_E2E_VSIX;
	if (vsix) {
		// The packaged extension, as a user installs it (checks .vscodeignore kept everything needed at run time).
		const r = spawnSync(process.execPath, [codeServerBin, '--user-data-dir', path.join(root, 'user-data'), '--extensions-dir', extDir, '--install-extension', path.resolve(vsix)], {
			encoding: 'utf8',
			env: { ...process.env, XDG_CONFIG_HOME: path.join(root, 'xdg-install'), XDG_DATA_HOME: path.join(root, 'xdg-install') },
		});
		if (r.status !== 0) throw new Error(`installing ${vsix} failed: ${r.stdout}${r.stderr}`);
	} else {
		// The built checkout is the extension: link it under the publisher.name-version folder VS Code expects.
		const pkg = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { publisher: string; name: string; version: string };
		fs.symlinkSync(REPO, path.join(extDir, `${pkg.publisher}.${pkg.name}-${pkg.version}`), 'dir');
	}
	writeJson(path.join(userData, 'User', 'settings.json'), {
		'workbench.startupEditor': 'none',
		'security.workspace.trust.enabled': Boolean(options.untrusted),
		'telemetry.telemetryLevel': 'off',
		'extensions.autoUpdate': false,
		'extensions.autoCheckUpdates': false,
		'update.mode': 'none',
		'git.enabled': false,
		'workbench.tips.enabled': false,
		'workbench.enableExperiments': false,
		'chat.disableAIFeatures': true,
	});

	const xdg = (n: string): string => {
		const d = path.join(root, 'xdg', n);
		fs.mkdirSync(d, { recursive: true });
		return d;
	};
	const holds = path.join(root, 'holds');
	fs.mkdirSync(holds);
	const env = { ...process.env, XDG_CONFIG_HOME: xdg('config'), XDG_DATA_HOME: xdg('data'), XDG_CACHE_HOME: xdg('cache'), RADREVIEW_TEST_HOLD: holds };
	const log = fs.openSync(path.join(root, 'code-server.log'), 'a');
	const server: ChildProcess = spawn(
		process.execPath,
		[
			codeServerBin,
			'--config',
			cfg,
			'--user-data-dir',
			userData,
			'--extensions-dir',
			extDir,
			'--disable-telemetry',
			'--disable-update-check',
			...(options.untrusted ? [] : ['--disable-workspace-trust']),
			'--disable-getting-started-override',
			'--ignore-last-opened',
			workspace,
		],
		{ env, detached: true, stdio: ['ignore', log, log] },
	);
	const killServer = (): void => {
		// The whole process group: killing only the pid leaves file watchers behind.
		try {
			if (server.pid) process.kill(-server.pid, 'SIGTERM');
		} catch {
			// already gone
		}
	};

	try {
		const deadline = Date.now() + 60_000;
		while (!(await healthy(port))) {
			if (server.exitCode !== null) throw new Error(`code-server exited (${server.exitCode}); see ${root}/code-server.log`);
			if (Date.now() > deadline) throw new Error(`code-server did not become healthy; see ${root}/code-server.log`);
			await new Promise((r) => setTimeout(r, 300));
		}
		const { chromium } = hostRequire('playwright-core') as { chromium: Chromium };
		const context = await chromium.launchPersistentContext(path.join(root, 'chromium-profile'), {
			executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
			headless: true,
			viewport: { width: 1400, height: 900 },
			env: { ...env, XDG_CONFIG_HOME: xdg('chromium') },
			args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
		});
		const page = context.pages()[0] ?? (await context.newPage());
		page.setDefaultTimeout(30_000);
		await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(workspace)}`);
		await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
		if (options.untrusted) {
			await page.locator('.monaco-dialog-box .monaco-button', { hasText: "No, I don't trust the authors" }).first().click({ timeout: 90_000 });
		}
		await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: 90_000 });
		return {
			root,
			workspace,
			holds,
			page,
			context,
			async stop() {
				await context.close().catch(() => undefined);
				killServer();
				if (!process.env.RADREVIEW_E2E_KEEP) fs.rmSync(root, { recursive: true, force: true });
			},
		};
	} catch (e) {
		killServer();
		throw e;
	}
}

/** Run a palette command by its full title ('Radiograph: Train VGG16'), retrying until the extension host knows it. */
export async function runCommand(page: Page, title: string, timeoutMs = 90_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	const input = page.locator('.quick-input-widget input.input');
	for (;;) {
		await page.keyboard.press('F1');
		// A webview that keeps the keyboard (the review grid) swallows F1: move the focus back to the workbench.
		const opened = await input.waitFor({ state: 'visible', timeout: 5000 }).then(
			() => true,
			() => false,
		);
		if (!opened) {
			await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
			await page.keyboard.press('F1');
			await input.waitFor({ state: 'visible' });
		}
		const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
		try {
			// A panel that opens meanwhile can take the focus and close the palette: then the whole gesture repeats.
			await input.fill(`>${title}`, { timeout: 5000 });
			await row.waitFor({ state: 'visible', timeout: 4000 });
			// Pick the row whose label is exactly the title (fuzzy matches list other commands too).
			const rows = page.locator('.quick-input-list .monaco-list-row');
			const n = await rows.count();
			for (let i = 0; i < n; i++) {
				const label = (await rows.nth(i).locator('.label-name').first().textContent())?.replace(/\s+/g, ' ').trim();
				if (label === title) {
					await rows.nth(i).click();
					return;
				}
			}
			await row.click();
			return;
		} catch {
			// The palette closed, or built its list before the extension host was up: close and reopen.
			await page.keyboard.press('Escape');
			if (Date.now() > deadline) throw new Error(`Command '${title}' never appeared in the palette`);
			await page.waitForTimeout(1500);
		}
	}
}

/**
 * Runs a context-menu action on a row (an Explorer row whose text holds `row`, or any row locator) until `started()`
 * says it ran. A mouse click on a menu item is sometimes swallowed while a webview holds the focus, and a view refresh
 * can tear the menu down: the item is focused by hovering and triggered with Enter, and the whole gesture is retried.
 */
export async function contextMenuAction(page: Page, row: Locator | string, action: string, started: () => Promise<boolean>, shotName?: string): Promise<void> {
	const target = typeof row === 'string' ? page.locator('.explorer-folders-view .monaco-list-row', { hasText: row }).first() : row;
	for (let attempt = 1; ; attempt++) {
		await target.click({ button: 'right' });
		const item = page.locator('.context-view .monaco-menu .action-item', { hasText: action }).first();
		await item.waitFor({ state: 'visible' });
		if (shotName) await shot(page, `${shotName}-${attempt}`);
		await item.hover();
		const focused = await page
			.locator('.context-view .monaco-menu .action-item.focused', { hasText: action })
			.first()
			.waitFor({ state: 'visible', timeout: 5000 })
			.then(
				() => true,
				() => false,
			);
		// Enter acts on the focused item only; without focus, fall back to the click.
		if (focused) await page.keyboard.press('Enter');
		else await item.click();
		try {
			await until(`${action} to start`, async () => ((await started()) ? true : undefined), 20_000, 250);
			return;
		} catch (e) {
			if (attempt === 3) throw e;
			await page.keyboard.press('Escape');
		}
	}
}

/** The visible Predictions webviews, each with its header title. */
export async function predictionPanels(page: Page): Promise<Array<{ frame: FrameLocator; title: string }>> {
	const out: Array<{ frame: FrameLocator; title: string }> = [];
	const n = await page.locator('iframe.webview.ready >> visible=true').count();
	for (let i = 0; i < n; i++) {
		const f = page.frameLocator('iframe.webview.ready >> visible=true').nth(i).frameLocator('#active-frame');
		if ((await f.locator('[data-testid="panel-root"][data-panel="predictions"]').count()) === 0) continue;
		out.push({ frame: f, title: (await f.locator('h1').first().textContent({ timeout: 2000 })) ?? '' });
	}
	return out;
}

/** The content frame of the visible webview. */
export function webview(page: Page, which: 'only' | 'last' = 'only'): FrameLocator {
	const frames = page.frameLocator('iframe.webview.ready >> visible=true');
	// 'last': the newest visible webview, when panels sit side by side.
	return (which === 'last' ? frames.last() : frames).frameLocator('#active-frame');
}

/** Save a screenshot as test-results/e2e/<name>.png. */
export async function shot(page: Page, name: string): Promise<void> {
	fs.mkdirSync(SHOTS, { recursive: true });
	await page.screenshot({ path: path.join(SHOTS, `${name}.png`) }).catch(() => undefined);
}

/** Poll `fn` until it returns a truthy value. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false | null>, timeoutMs = 60_000, everyMs = 500): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	let last: unknown;
	for (;;) {
		try {
			const v = await fn();
			if (v) return v;
		} catch (e) {
			last = e;
		}
		if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
		await new Promise((r) => setTimeout(r, everyMs));
	}
}

/** Answer VS Code's simple folder dialog (a quick input) with `folder`, then press the button matching `button`. */
export async function answerFolderDialog(page: Page, folder: string, button: RegExp): Promise<void> {
	const input = page.locator('.quick-input-widget input.input');
	await input.waitFor({ state: 'visible', timeout: 60_000 });
	await until('dialog default path', async () => ((await input.inputValue()).includes('/') ? true : undefined), 30_000, 200);
	const typed = folder.endsWith('/') ? folder : `${folder}/`;
	await until(
		'folder typed',
		async () => {
			await input.fill(typed);
			await page.waitForTimeout(300);
			return (await input.inputValue()) === typed ? true : undefined;
		},
		30_000,
		200,
	);
	await page.locator('.quick-input-widget .monaco-button', { hasText: button }).first().click();
}

/** The content frame of a visible webview whose panel root is `name` and that `match` accepts (panels may sit side by side). */
export async function panelFrame(page: Page, name: string, timeoutMs = 60_000, match: (f: FrameLocator) => Promise<boolean> = () => Promise.resolve(true)): Promise<FrameLocator> {
	return until(
		`${name} panel`,
		async () => {
			const frames = page.frameLocator('iframe.webview.ready >> visible=true');
			const n = await page.locator('iframe.webview.ready >> visible=true').count();
			for (let i = 0; i < n; i++) {
				const f = frames.nth(i).frameLocator('#active-frame');
				if ((await f.locator(`[data-testid="panel-root"][data-panel="${name}"]`).count()) > 0 && (await match(f))) return f;
			}
			return undefined;
		},
		timeoutMs,
		250,
	);
}

/** Where a training can be held (src/engine/testHooks.ts HOLD_STAGES; not imported: the harness stays apart from src). */
export type HoldStage = 'scan' | 'decode' | 'features' | 'train' | 'evaluate';

/**
 * The next training waits at `stage` until release() (or a cancel, or for 'train' a Stop and keep): a test that needs
 * a training to be running makes sure of it this way, instead of hoping that the training takes long enough.
 */
export function hold(h: Harness, stage: HoldStage): void {
	fs.rmSync(path.join(h.holds, `${stage}.reached`), { force: true });
	fs.writeFileSync(path.join(h.holds, stage), 'held by the e2e harness\n');
}

export function release(h: Harness, stage: HoldStage): void {
	fs.rmSync(path.join(h.holds, stage), { force: true });
}

/** Waits until the engine has reached the hold at `stage` (it writes `<stage>.reached` there). */
export async function reachedHold(h: Harness, stage: HoldStage, timeoutMs = 10 * 60_000): Promise<void> {
	await until(`the training to reach its ${stage} hold`, async () => fs.existsSync(path.join(h.holds, `${stage}.reached`)), timeoutMs, 250);
}

/** Scrolls `target` into view; a panel that redraws can detach it mid-scroll, so the scroll is retried on the fresh element. */
export async function intoView(target: Locator, timeoutMs = 30_000): Promise<void> {
	await until(
		'the element in view',
		async () => {
			await target.scrollIntoViewIfNeeded({ timeout: 2000 });
			return true;
		},
		timeoutMs,
		200,
	);
}
