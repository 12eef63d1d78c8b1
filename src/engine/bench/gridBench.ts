// Bench rows for the Predictions grid with 5,000 annotated predictions: webview/benchGrid.mjs drives the built
// panel in headless chromium (through webview/preview.html) and prints its figures; this turns them into rows.
// It needs a repository checkout (the preview host, the built webview, chromium and the e2e host's
// playwright-core): without one the section says what is missing instead of measuring.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

export interface GridBenchRow {
	runtime: string;
	value?: number;
	unit?: string;
	note?: string;
}

const RESULT = 'BENCH_RESULT ';

interface Figures {
	firstPaint: number;
	scrollMedian: number;
	scrollP95: number;
	keyMedian: number;
	keyP95: number;
	settledMedian: number;
	handlerMedian: number;
}
interface GridResult {
	n: number;
	loads: number;
	loadAverage: [number, number];
	cores: number;
	current: Figures;
}

function run(args: string[], cwd: string, timeoutMs: number): Promise<{ code: number | null; out: string; err: string }> {
	return new Promise((resolve) => {
		const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
		let out = '';
		let err = '';
		child.stdout.on('data', (d: Buffer) => (out += d.toString()));
		child.stderr.on('data', (d: Buffer) => (err += d.toString()));
		const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
		child.on('close', (code) => {
			clearTimeout(timer);
			resolve({ code, out, err });
		});
	});
}

/** What the grid bench needs that is not there, or undefined. */
function missing(repo: string): string | undefined {
	const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
	const need: Array<[string, string]> = [
		[path.join(repo, 'webview', 'benchGrid.mjs'), 'webview/benchGrid.mjs (a repository checkout)'],
		[path.join(repo, 'dist', 'webview', 'predictions.js'), 'dist/webview/predictions.js (npm run build)'],
		[path.join(repo, 'test', 'e2e', 'host', 'node_modules', 'playwright-core'), 'playwright-core in test/e2e/host (sh test/e2e/setup.sh)'],
		[chromium, `chromium at ${chromium} (CHROMIUM_PATH)`],
	];
	const absent = need.filter(([f]) => !existsSync(f)).map(([, what]) => what);
	return absent.length ? absent.join(', ') : undefined;
}

export async function benchGrid(repo: string, quick: boolean): Promise<GridBenchRow[]> {
	const n = 5000;
	const absent = missing(repo);
	if (absent) return [{ runtime: `grid with ${n} annotated predictions`, note: `skipped: missing ${absent}` }];
	if (!existsSync(path.join(repo, 'dist', 'preview-sample.js'))) {
		const made = await run([path.join(repo, 'webview', 'makePreviewSample.mjs')], repo, 600_000);
		if (made.code !== 0) return [{ runtime: `grid with ${n} annotated predictions`, note: `failed: makePreviewSample: ${made.err.trim().split('\n').at(-1) ?? made.code}` }];
	}
	const r = await run([path.join(repo, 'webview', 'benchGrid.mjs'), String(n), '--loads', quick ? '1' : '3', '--json'], repo, 900_000);
	const line = r.out.split('\n').find((l) => l.startsWith(RESULT));
	if (r.code !== 0 || !line) return [{ runtime: `grid with ${n} annotated predictions`, note: `failed: ${r.err.trim().split('\n').at(-1) ?? `exit ${r.code}`}` }];
	const g = JSON.parse(line.slice(RESULT.length)) as GridResult;
	const c = g.current;
	const load = `median of ${g.loads} page load${g.loads === 1 ? '' : 's'}; load average ${g.loadAverage[0].toFixed(1)} on ${g.cores} cores`;
	return [
		{ runtime: `first paint of the grid, ${g.n} annotated predictions (goal < 1 s)`, value: c.firstPaint, unit: 'ms', note: `from navigation start; ${load}` },
		{ runtime: 'scroll frame time, 300 px a frame', value: c.scrollMedian, unit: 'ms (median)', note: `p95 ${c.scrollP95.toFixed(1)} ms; ${load}` },
		{
			runtime: 'keystroke → relabelled tile on screen (goal < 50 ms)',
			value: c.keyMedian,
			unit: 'ms (median)',
			note: `to the next frame; p95 ${c.keyP95.toFixed(1)} ms; key handler ${c.handlerMedian.toFixed(1)} ms; ${load}`,
		},
		{ runtime: "keystroke → the host's answer applied", value: c.settledMedian, unit: 'ms (median)', note: `preview host answering at once (no extension-host round trip); ${load}` },
	];
}
