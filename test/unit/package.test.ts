// The .vsix as users install it: built with `npm run package`, unpacked into an empty folder, and checked there —
// every module the shipped entry points require resolves and loads inside the package, the bundled CLI runs, and
// the package stays lean (size budget, no test data, no sources or source maps).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { builtinModules } from 'node:module';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
/**
 * The linux-x64 package is ≈ 36 MB: 33.9 MB before the DICOM codecs (JPEG 2000, JPEG-LS, HTJ2K, lossless JPEG WASM)
 * and the report's PDF writer joined the worker and the CLI. Growth past this needs a reason.
 */
const SIZE_BUDGET_BYTES = 38 * 1024 * 1024;
/** Modules the engine loads by a name held in a variable or by import() (so no literal require() shows them). */
const LOADED_BY_NAME = ['h5wasm/node', 'dcmjs-codecs'];
/** Optional modules behind a try/catch in bundled third-party code, absent from the dependencies on purpose. */
const OPTIONAL_ABSENT: Record<string, string> = { encoding: "node-fetch's optional charset conversion (bundled with tfjs)" };
const BUILTINS = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

let tmp: string;
let vsix: string;
let ext: string;

before(() => {
	tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'radreview-vsix-'));
	// RADREVIEW_VSIX reuses a package built moments ago (CI builds it once for this test and the installed e2e).
	vsix = process.env.RADREVIEW_VSIX ? path.resolve(process.env.RADREVIEW_VSIX) : path.join(tmp, 'radiograph-review.vsix');
	if (!process.env.RADREVIEW_VSIX) {
		const r = spawnSync('npm', ['run', 'package', '--', '--out', vsix], { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
		assert.equal(r.status, 0, `npm run package failed:\n${r.stdout}\n${r.stderr}`);
	}
	const u = spawnSync('unzip', ['-q', vsix, '-d', path.join(tmp, 'unpacked')], { encoding: 'utf8' });
	assert.equal(u.status, 0, `unzip ${vsix}: ${u.stderr}`);
	ext = path.join(tmp, 'unpacked', 'extension');
});

after(() => {
	if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

function walk(dir: string): string[] {
	return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(path.join(dir, d.name)) : [path.join(dir, d.name)]));
}

/** The Node entry points the package declares or ships: main, bin, and every dist/*.js. */
function entryPoints(): string[] {
	const pkg = JSON.parse(fs.readFileSync(path.join(ext, 'package.json'), 'utf8')) as { main: string; bin?: Record<string, string> };
	const files = [
		pkg.main,
		...Object.values(pkg.bin ?? {}),
		...fs
			.readdirSync(path.join(ext, 'dist'))
			.filter((f) => f.endsWith('.js'))
			.map((f) => `dist/${f}`),
	];
	return [...new Set(files.map((f) => path.resolve(ext, f)))];
}

test('the package is within its size budget and holds no test data, sources or source maps', () => {
	const size = fs.statSync(vsix).size;
	assert.ok(size <= SIZE_BUDGET_BYTES, `${(size / 2 ** 20).toFixed(1)} MB > budget ${SIZE_BUDGET_BYTES / 2 ** 20} MB`);
	const rel = walk(ext).map((f) => path.relative(ext, f).split(path.sep).join('/'));
	const bad = rel.filter(
		(f) =>
			/\.map$/.test(f) ||
			(/\.ts$/.test(f) && !f.endsWith('.d.ts')) ||
			/^(src|webview|test|test-results|scripts|\.radreview|\.cache)\//.test(f) ||
			// Radiographs ship only as the bundled samples.
			(/\.(jpe?g|dcm|dicom)$/i.test(f) && !f.startsWith('media/samples/')),
	);
	assert.deepEqual(bad, [], 'files that must not ship');
	assert.ok(rel.includes('media/samples/ATTRIBUTION.md'), 'the samples ship with their attribution');
});

test('every require of the shipped entry points resolves and loads inside the package', () => {
	const entries = entryPoints();
	assert.ok(entries.some((e) => e.endsWith('dist/extension.js')) && entries.some((e) => e.endsWith('dist/worker.js')));
	// The DICOM decode thread, started from beside dist/worker.js and dist/cli.js (src/engine/data/decodePool.ts).
	assert.ok(
		entries.some((e) => e.endsWith('dist/decodeWorker.js')),
		'dist/decodeWorker.js ships',
	);
	const wanted: { from: string; spec: string }[] = [];
	for (const entry of entries) {
		assert.ok(fs.existsSync(entry), `${path.relative(ext, entry)} is declared but not shipped`);
		const code = fs.readFileSync(entry, 'utf8');
		for (const m of code.matchAll(/\brequire\(\s*(["'])([^"']+)\1\s*\)/g)) {
			const spec = m[2];
			if (BUILTINS.has(spec) || spec === 'vscode' || spec in OPTIONAL_ABSENT) continue;
			wanted.push({ from: entry, spec });
		}
	}
	const worker = path.join(ext, 'dist', 'worker.js');
	for (const spec of LOADED_BY_NAME) wanted.push({ from: worker, spec });
	assert.ok(wanted.some((w) => w.spec === 'sharp') && wanted.some((w) => w.spec.endsWith('dist/cli.js')), `requires found: ${wanted.map((w) => w.spec).join(', ')}`);

	// Resolve and load in a child whose only node_modules are the package's (the temp folder has none above it).
	// The script sits in dist/ so that ESM-only specifiers (import conditions) resolve as they do for the worker.
	const script = path.join(ext, 'dist', 'load-check.mjs');
	fs.writeFileSync(
		script,
		`import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
const [root, list] = [process.argv[2], JSON.parse(process.argv[3])];
const failed = [];
for (const { from, spec } of list) {
	try {
		const esm = ${JSON.stringify(LOADED_BY_NAME)}.includes(spec);
		const req = createRequire(from);
		const file = esm ? fileURLToPath(import.meta.resolve(spec)) : req.resolve(spec);
		if (!file.startsWith(root)) throw new Error('resolved outside the package: ' + file);
		// cli.js runs its command line when loaded: resolving it is enough (the CLI test below runs it).
		if (spec.endsWith('cli.js')) continue;
		if (esm) await import(spec); else req(spec);
	} catch (e) {
		failed.push(from.slice(root.length + 1) + ' → ' + spec + ': ' + String(e && e.message || e).split('\\n')[0]);
	}
}
console.log(JSON.stringify(failed));
`,
	);
	const unique = [...new Map(wanted.map((w) => [`${w.from}|${w.spec}`, w])).values()];
	const r = spawnSync(process.execPath, [script, ext, JSON.stringify(unique)], { cwd: tmp, encoding: 'utf8', env: { ...process.env, NODE_PATH: '' } });
	assert.equal(r.status, 0, r.stderr);
	assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop() ?? '[]'), [], 'requires that fail inside the package');
	// The optional modules are really absent from the repo's own dependencies too (else they should ship).
	for (const spec of Object.keys(OPTIONAL_ABSENT)) assert.throws(() => require.resolve(spec, { paths: [ROOT] }), `${spec} is installed: ship it or drop it from OPTIONAL_ABSENT`);
});

test('the shipped CLI runs from the installed folder on the bundled samples', () => {
	const bin = path.join(ext, 'bin', 'radreview.js');
	const help = spawnSync(process.execPath, [bin, '--help'], { cwd: tmp, encoding: 'utf8', timeout: 120_000 });
	assert.equal(help.status, 0, help.stderr);
	assert.match(help.stdout, /Usage: radreview <command>/);
	const split = spawnSync(process.execPath, [bin, 'split', '--data', path.join(ext, 'media', 'samples')], { cwd: tmp, encoding: 'utf8', timeout: 300_000 });
	assert.equal(split.status, 0, split.stderr);
	assert.match(split.stdout, /60 images/);
});
