// node:test reporter: the usual output (TAP, or spec on a terminal) plus each test file's wall time, written to
// test-results/durations.json (one section per suite: unit, e2e) and the ten slowest listed just before the
// runner's summary, so the log still ends with "# pass N" / "# fail N".
// Used as: node --test --test-reporter=./scripts/testDurations.mjs --test-reporter-destination=stdout FILES
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { spec as Spec, tap } from 'node:test/reporters';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const OUT = path.join(ROOT, 'test-results', 'durations.json');

/** Per file: wall seconds (from the runner's own file-level completion), counts of its tests. */
function collector() {
	const files = new Map();
	const entry = (file) => {
		if (!files.has(file)) files.set(file, { seconds: null, tests: 0, pass: 0, fail: 0, skipped: 0 });
		return files.get(file);
	};
	return {
		files,
		see(ev) {
			const d = ev.data ?? {};
			if (!d.file) return;
			const e = entry(d.file);
			// The file itself completes as a nesting-0 test named by its path; its duration covers load, hooks, tests.
			if (ev.type === 'test:complete' && d.name === d.file && d.nesting === 0) {
				e.seconds = d.details?.duration_ms / 1000;
				if (d.details?.error) e.fileError = String(d.details.error.cause?.message ?? d.details.error.message ?? d.details.error);
				return;
			}
			// Counted as the runner's summary counts them: tests and subtests, not describe() suites.
			if (d.name === d.file || d.details?.type === 'suite') return;
			if (ev.type === 'test:pass') {
				e.tests++;
				if (d.skip || d.todo) e.skipped++;
				else e.pass++;
			} else if (ev.type === 'test:fail') {
				e.tests++;
				e.fail++;
			}
		},
	};
}

function suiteName(files) {
	const dirs = new Set([...files].map((f) => path.basename(path.dirname(f))));
	return dirs.size === 1 ? [...dirs][0] : 'tests';
}

/** Writes durations.json (this suite's section replaced) and returns the lines for the ten slowest. */
function record(files) {
	if (files.size === 0) return [];
	const suite = suiteName(files.keys());
	const rows = [...files].map(([file, e]) => ({
		file: path.relative(ROOT, file),
		seconds: e.seconds === null ? null : Math.round(e.seconds * 10) / 10,
		status: e.fail > 0 || e.fileError ? 'fail' : 'pass',
		tests: e.tests,
		pass: e.pass,
		fail: e.fail,
		skipped: e.skipped,
		...(e.fileError ? { error: e.fileError } : {}),
	}));
	rows.sort((a, b) => (b.seconds ?? 0) - (a.seconds ?? 0));
	const total = rows.reduce((s, r) => s + (r.seconds ?? 0), 0);
	let all = {};
	try {
		all = JSON.parse(readFileSync(OUT, 'utf8'));
	} catch {
		// first suite of this run, or an unreadable file: start afresh
	}
	all[suite] = { recorded: new Date().toISOString(), files: rows.length, fileSecondsTotal: Math.round(total * 10) / 10, byFile: rows };
	mkdirSync(path.dirname(OUT), { recursive: true });
	writeFileSync(`${OUT}.tmp`, `${JSON.stringify(all, null, '\t')}\n`);
	renameSync(`${OUT}.tmp`, OUT);
	const lines = [`${suite}: the ten slowest files (of ${rows.length}; per file: wall seconds, files may overlap) → ${path.relative(ROOT, OUT)}`];
	for (const r of rows.slice(0, 10)) lines.push(`${String(r.seconds ?? '?').padStart(7)} s  ${r.status === 'fail' ? 'FAIL ' : ''}${r.file} (${r.tests} tests)`);
	return lines;
}

/** Passes events through, recording; injects the slowest-file lines as diagnostics right before the summary. */
async function* withDurations(source, c) {
	let injected = false;
	for await (const ev of source) {
		c.see(ev);
		const d = ev.data ?? {};
		if (!injected && ev.type === 'test:diagnostic' && d.nesting === 0 && !d.file && /^tests \d+/.test(d.message)) {
			injected = true;
			for (const message of record(c.files)) yield { type: 'test:diagnostic', data: { nesting: 0, message } };
		}
		yield ev;
	}
	if (!injected) record(c.files);
}

export default async function* durations(source) {
	const events = withDurations(source, collector());
	if (!process.stdout.isTTY) {
		yield* tap(events);
		return;
	}
	const spec = new Spec();
	(async () => {
		for await (const ev of events) spec.write(ev);
		spec.end();
	})().catch((e) => spec.destroy(e));
	for await (const chunk of spec) yield chunk;
}
