// Bench (not shipped): the real Predictions webview bundle with 5,000 annotated predictions, in headless chromium
// through webview/preview.html (its fake host answers at once, so host round trips are not included).
// Measures time to first paint of the grid, scroll frame times, and keystroke-to-update latency of a relabel.
// Usage: npm run build && node webview/makePreviewSample.mjs && node webview/benchGrid.mjs [N]
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const n = Number(process.argv[2] ?? 5000);
const require = createRequire(resolve('test/e2e/host/package.json'));
const { chromium } = require('playwright-core');
const profile = mkdtempSync(join(tmpdir(), 'rr-bench-grid-'));
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const ms = (x) => `${x.toFixed(1)} ms`;

const context = await chromium.launchPersistentContext(profile, {
	executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
	headless: true,
	viewport: { width: 1400, height: 900 },
	args: ['--headless', '--no-sandbox', '--disable-gpu', '--allow-file-access-from-files'],
});
try {
	const page = context.pages()[0] ?? (await context.newPage());
	const runs = [];
	for (let r = 0; r < 3; r++) {
		await page.goto(`file://${resolve('webview/preview.html')}?panel=predictions&theme=dark&annot=1&n=${n}`);
		// First paint: the first frame after a decorated tile exists, from navigation start.
		const firstPaint = await page.evaluate(
			() =>
				new Promise((done) => {
					const check = () => {
						if (document.querySelector('[data-testid="grid-item"] [data-testid="annotation-badges"]')) requestAnimationFrame(() => done(performance.now()));
						else requestAnimationFrame(check);
					};
					check();
				}),
		);
		const count = await page.evaluate(() => document.querySelector('[data-testid="grid-count"]')?.textContent);
		// Scrolling: 120 frames, 300 px a frame (≈ 1.3 rows), frame-to-frame times.
		const frames = await page.evaluate(
			() =>
				new Promise((done) => {
					const sc = document.querySelector('.grid-scroller');
					const times = [];
					let last = performance.now();
					let k = 0;
					const step = () => {
						const now = performance.now();
						times.push(now - last);
						last = now;
						sc.scrollTop += 300;
						if (++k < 120) requestAnimationFrame(step);
						else done(times.slice(1));
					};
					requestAnimationFrame(step);
				}),
		);
		// Keystroke → the tile shows the new label: keydown on a focused tile, until the next frame has it.
		const keys = await page.evaluate(
			() =>
				new Promise(async (done) => {
					const out = [];
					const classes = ['COVID', 'NORMAL', 'PNEUMONIA'];
					// Let the last scroll's render land first.
					for (let f = 0; f < 3; f++) await new Promise((r) => requestAnimationFrame(() => r()));
					for (let i = 0; i < 30; i++) {
						const tile = document.querySelectorAll('[data-testid="grid-item"]')[i % 12];
						tile.focus();
						const want = classes[i % 3];
						const rel = tile.dataset.relPath;
						const t0 = performance.now();
						tile.dispatchEvent(new KeyboardEvent('keydown', { key: String((i % 3) + 1), bubbles: true }));
						const handled = performance.now() - t0;
						await new Promise((r) => requestAnimationFrame(() => r()));
						const now = document.querySelector(`[data-testid="grid-item"][data-rel-path="${CSS.escape(rel)}"] [data-testid="true-label"]`);
						out.push({ ms: performance.now() - t0, handled, ok: now?.textContent === want });
					}
					done(out);
				}),
		);
		runs.push({ firstPaint, count, frames, keys });
	}
	const { loadavg, cpus } = await import('node:os');
	console.log(`Predictions grid, ${n} annotated predictions (headless chromium, preview host; 3 page loads; load average ${loadavg()[0].toFixed(1)} on ${cpus().length} cores):`);
	for (const [i, r] of runs.entries()) {
		const kms = r.keys.map((k) => k.ms);
		console.log(
			`  load ${i + 1}: first paint ${ms(r.firstPaint)} (${r.count} images) · scroll frame median ${ms(quantile(r.frames, 0.5))}, p95 ${ms(quantile(r.frames, 0.95))}, max ${ms(Math.max(...r.frames))} · keystroke→update median ${ms(quantile(kms, 0.5))}, p95 ${ms(quantile(kms, 0.95))} (handler ${ms(quantile(r.keys.map((k) => k.handled), 0.5))}; ${r.keys.filter((k) => k.ok).length}/${r.keys.length} updated)`,
		);
	}
} finally {
	await context.close();
	rmSync(profile, { recursive: true, force: true });
}
