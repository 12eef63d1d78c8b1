// The e2e suite under load: two busy loops hold two cores while the suite runs several times in a row; fails if any
// run fails. `npm run test:e2e:stress` (all e2e files, 3 runs); `node scripts/stressE2e.mjs --runs 1 test/e2e/x.e2e.ts`
// for a subset. The loops are child processes, stopped by their own pids however the runs end.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
let runs = 3;
const files = [];
for (let i = 0; i < args.length; i++) {
	if (args[i] === '--runs') runs = Number(args[++i]);
	else files.push(args[i]);
}
if (!Number.isInteger(runs) || runs < 1) {
	console.error('usage: node scripts/stressE2e.mjs [--runs N] [test/e2e/FILE.e2e.ts ...]');
	process.exit(2);
}
const e2e = files.length
	? files
	: fs
			.readdirSync(path.join(root, 'test', 'e2e'))
			.filter((f) => f.endsWith('.e2e.ts'))
			.sort()
			.map((f) => path.join('test', 'e2e', f));

const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const LOOPS = 2;
const loops = Array.from({ length: LOOPS }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
const stopLoops = () => {
	for (const l of loops) if (l.exitCode === null && l.signalCode === null) l.kill('SIGKILL');
};
process.on('exit', stopLoops);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(`stress: ${LOOPS} busy loops (pids ${loops.map((l) => l.pid).join(', ')}) on ${os.availableParallelism()} cores (${cpu}); ${runs} run(s) of ${e2e.length} e2e file(s)`);

const results = [];
for (let r = 1; r <= runs; r++) {
	const t0 = Date.now();
	const code = await new Promise((resolve) => {
		const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...e2e], { cwd: root, stdio: 'inherit' });
		child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0)));
	});
	const minutes = ((Date.now() - t0) / 60_000).toFixed(1);
	results.push({ run: r, ok: code === 0, minutes });
	console.log(`stress: run ${r}/${runs} ${code === 0 ? 'passed' : `FAILED (exit ${code})`} in ${minutes} min`);
}
stopLoops();
const failed = results.filter((x) => !x.ok);
console.log(`stress: ${results.length - failed.length}/${results.length} runs passed under ${LOOPS} busy loops (${cpu}): ${results.map((x) => `${x.minutes} min`).join(', ')}`);
process.exit(failed.length ? 1 : 0);
