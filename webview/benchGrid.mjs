// Bench (not shipped): the real Predictions webview bundle with 5,000 annotated predictions, in headless chromium
// through webview/preview.html, whose fake host answers every edit with all the rows as the extension does (the
// host's own work and the IPC hop are not included). Measures time to first paint of the grid, scroll frame
// times, and keystroke-to-update latency of a relabel: to the first frame showing it, and to the frame after the
// host's answer was applied. `radreview bench` runs it (section grid) and writes the figures into
// bench-results.json; --before FILE also loads another build of the panel, alternating page loads, for a ratio.
// Usage: npm run build && node webview/makePreviewSample.mjs && node webview/benchGrid.mjs [N] [--loads K]
//        [--before dist/old-predictions.js] [--json]
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const argv = process.argv.slice(2);
const opt = (name) => {
	const i = argv.indexOf(name);
	return i < 0 ? undefined : argv.splice(i, 2)[1];
};
const json = argv.includes('--json') ? (argv.splice(argv.indexOf('--json'), 1), true) : false;
const before = opt('--before');
const loads = Number(opt('--loads') ?? 3);
const n = Number(argv[0] ?? 5000);
const require = createRequire(resolve('test/e2e/host/package.json'));
const { chromium } = require('playwright-core');
const profile = mkdtempSync(join(tmpdir(), 'rr-bench-grid-'));
const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const median = (xs) => quantile(xs, 0.5);
const ms = (x) => `${x.toFixed(1)} ms`;
const load0 = loadavg()[0];

const context = await chromium.launchPersistentContext(profile, {
	executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
	headless: true,
	viewport: { width: 1400, height: 900 },
	args: ['--headless', '--no-sandbox', '--disable-gpu', '--allow-file-access-from-files'],
});

/** One page load of `bundle` (undefined: the current build): first paint, scroll frames, keystrokes. */
async function measure(page, bundle) {
	// A previous build gets the host's previous answer too: all the rows after every edit.
	const extra = bundle ? `&full=1&bundle=${encodeURIComponent(`file://${resolve(bundle)}`)}` : '';
	await page.goto(`file://${resolve('webview/preview.html')}?panel=predictions&theme=dark&annot=1&n=${n}${extra}`);
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
	// Keystroke → the tile shows the new label (first frame), and → the frame after the host's answer.
	const keys = await page.evaluate(
		() =>
			new Promise(async (done) => {
				const out = [];
				const classes = ['COVID', 'NORMAL', 'PNEUMONIA'];
				const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
				// Let the last scroll's render land first.
				for (let f = 0; f < 3; f++) await frame();
				for (let i = 0; i < 30; i++) {
					const tile = document.querySelectorAll('[data-testid="grid-item"]')[i % 12];
					tile.focus();
					const want = classes[i % 3];
					const rel = tile.dataset.relPath;
					// Registered after the panel's listener: runs once the panel has handled the answer.
					const answered = new Promise((r) => {
						const on = (e) => {
							if (e.data?.type !== 'annotations') return;
							window.removeEventListener('message', on);
							r();
						};
						window.addEventListener('message', on);
					});
					const t0 = performance.now();
					tile.dispatchEvent(new KeyboardEvent('keydown', { key: String((i % 3) + 1), bubbles: true }));
					const handled = performance.now() - t0;
					await frame();
					const first = performance.now() - t0;
					const now = document.querySelector(`[data-testid="grid-item"][data-rel-path="${CSS.escape(rel)}"] [data-testid="true-label"]`);
					const ok = now?.textContent === want;
					await answered;
					await frame();
					out.push({ first, settled: performance.now() - t0, handled, ok });
				}
				done(out);
			}),
	);
	return {
		firstPaint,
		count: Number(count),
		scrollMedian: median(frames),
		scrollP95: quantile(frames, 0.95),
		scrollMax: Math.max(...frames),
		keyMedian: median(keys.map((k) => k.first)),
		keyP95: quantile(
			keys.map((k) => k.first),
			0.95,
		),
		settledMedian: median(keys.map((k) => k.settled)),
		handlerMedian: median(keys.map((k) => k.handled)),
		updated: keys.filter((k) => k.ok).length,
		keys: keys.length,
	};
}

const runs = { current: [], before: [] };
try {
	const page = context.pages()[0] ?? (await context.newPage());
	// Alternate builds load by load, so both see the same machine load.
	for (let r = 0; r < loads; r++) {
		if (before) runs.before.push(await measure(page, before));
		runs.current.push(await measure(page, undefined));
	}
} finally {
	await context.close();
	rmSync(profile, { recursive: true, force: true });
}

const summary = (xs) =>
	xs.length === 0
		? undefined
		: Object.fromEntries(['firstPaint', 'scrollMedian', 'scrollP95', 'keyMedian', 'keyP95', 'settledMedian', 'handlerMedian'].map((k) => [k, median(xs.map((x) => x[k]))]));
const result = { n, loads, loadAverage: [load0, loadavg()[0]], cores: cpus().length, current: summary(runs.current), before: summary(runs.before), runs };
if (json) process.stdout.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
else {
	console.log(`Predictions grid, ${n} annotated predictions (headless chromium, preview host; ${loads} page loads each; load average ${load0.toFixed(1)} on ${cpus().length} cores):`);
	for (const [name, xs] of Object.entries(runs))
		for (const [i, r] of xs.entries())
			console.log(
				`  ${name} load ${i + 1}: first paint ${ms(r.firstPaint)} (${r.count} images) · scroll frame median ${ms(r.scrollMedian)}, p95 ${ms(r.scrollP95)}, max ${ms(r.scrollMax)} · keystroke→update median ${ms(r.keyMedian)}, p95 ${ms(r.keyP95)}, with the host's answer ${ms(r.settledMedian)} (handler ${ms(r.handlerMedian)}; ${r.updated}/${r.keys} updated)`,
			);
	if (result.before)
		for (const k of Object.keys(result.current)) console.log(`  median ${k}: before ${ms(result.before[k])}, now ${ms(result.current[k])}, ratio ${(result.before[k] / result.current[k]).toFixed(2)}×`);
}
