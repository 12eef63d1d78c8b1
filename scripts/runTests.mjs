// The test suites as `npm test`, `npm run test:unit` and `npm run test:e2e` run them:
//   node scripts/runTests.mjs unit|e2e|all [FILES…]   (FILES: only these, of the one suite named)
// One .vsix per run: it is built once (`npm run package`, which typechecks and builds dist/) and named to the tests in
// RADREVIEW_VSIX, so package.test.ts and installed.e2e.ts unpack the same file instead of packaging twice. An
// RADREVIEW_VSIX already set is used as is (then only `npm run build` runs).
// Each file's wall time goes to test-results/durations.json, the ten slowest are listed before the summary
// (scripts/testDurations.mjs).
// Unit files run two at a time: each makes its own temp folders, and the caches two may share (the audit's feature
// cache) write entries atomically. If packaging fails, nothing was built for the tests: dist/ is built alone, the
// files run one at a time (package.test.ts then packages, rebuilding dist/, and reports the failure as its own).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const VSIX = path.join(ROOT, '.cache', 'test', 'radiograph-review.vsix');
const SUITES = {
	unit: { dir: 'test/unit', suffix: '.test.ts', concurrency: 2 },
	// e2e files drive one code-server each and wait on a busy machine's UI: one at a time.
	e2e: { dir: 'test/e2e', suffix: '.e2e.ts', concurrency: 1 },
};

const [which = 'all', ...only] = process.argv.slice(2);
const suites = which === 'all' ? ['unit', 'e2e'] : [which];
if (!suites.every((s) => s in SUITES) || (only.length > 0 && which === 'all')) {
	console.error(`usage: node scripts/runTests.mjs unit|e2e|all [FILES…] (got ${process.argv.slice(2).join(' ')})`);
	process.exit(2);
}

function run(cmd, args, env) {
	const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit', env });
	return r.status ?? 1;
}

const env = { ...process.env };
let packaged = Boolean(env.RADREVIEW_VSIX);
if (!packaged) {
	mkdirSync(path.dirname(VSIX), { recursive: true });
	rmSync(VSIX, { force: true });
	const t0 = Date.now();
	packaged = run('npm', ['run', 'package', '--', '--out', VSIX], env) === 0;
	if (packaged) {
		env.RADREVIEW_VSIX = VSIX;
		console.log(`# one .vsix for this run: ${path.relative(ROOT, VSIX)} (${Math.round((Date.now() - t0) / 1000)} s)`);
	} else console.log('# npm run package failed: the tests that need the .vsix will package it themselves and fail there');
}
if (!packaged || process.env.RADREVIEW_VSIX) {
	const b = run('npm', ['run', 'build'], env);
	if (b !== 0) process.exit(b);
}

let failed = 0;
for (const name of suites) {
	const s = SUITES[name];
	const files =
		only.length > 0
			? only
			: readdirSync(path.join(ROOT, s.dir))
					.filter((f) => f.endsWith(s.suffix))
					.sort()
					.map((f) => `${s.dir}/${f}`);
	// RADREVIEW_TEST_CONCURRENCY=1 runs the files one at a time (to rule concurrency out when a test fails).
	const concurrency = packaged ? Number(process.env.RADREVIEW_TEST_CONCURRENCY) || s.concurrency : 1;
	const args = ['--import', 'tsx', '--test', '--test-reporter=./scripts/testDurations.mjs', '--test-reporter-destination=stdout', `--test-concurrency=${concurrency}`, ...files];
	// A failing unit suite does not hide the e2e suite's results: both run, and the exit code says either failed.
	const code = run(process.execPath, args, env);
	if (code !== 0) failed ||= code;
}
process.exit(failed);
