// Unseen sources and dataset shift where the number is used (issue 23): `radreview evaluate --data` on extra-nih
// (a source the dev-trained run never saw) names the source with its count and says the images differ from the
// training split; on the run's own test split it says neither. ResNet50 with its offline ImageNet weights at 64 px
// (the point is the check, not the accuracy); the feature cache is kept in a stable folder so reruns are warm.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseCsvRecords } from '../../src/engine/data/csv';
import { folderSource, shiftReport, sourceCoverage } from '../../src/engine/audit/shift';
import type { SplitResult } from '../../src/engine/types';
import { missingPrereq } from './prereq';

const ROOT = path.resolve(__dirname, '../..');
const DEV = path.resolve(ROOT, '../shared/cxr/dev');
const NIH = path.resolve(ROOT, '../shared/cxr/extra-nih');
const WORK = path.join(os.tmpdir(), 'radreview-shift-test-cache');
let tmp: string;
let runDir: string | undefined;

function cli(...args: string[]): { code: number | null; stdout: string; stderr: string } {
	const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 600_000 });
	return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
	tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-shift-'));
});

after(async () => {
	if (tmp) await fs.rm(tmp, { recursive: true, force: true });
	if (runDir) await fs.rm(runDir, { recursive: true, force: true });
});

test('sources: manifest names or the folder, seen ones matched to the training split, unseen first', () => {
	const cov = sourceCoverage(['NIH', 'NIH', undefined, 'ieee8023'], ['ieee8023', 'kermany', undefined], '/data/incoming', '/data/dev');
	assert.deepEqual(
		cov.map((s) => [s.source, s.images, s.seen]),
		[
			['NIH', 2, false],
			[folderSource('/data/incoming'), 1, false],
			['ieee8023', 1, true],
		],
	);
	const r = shiftReport(cov, true, undefined);
	assert.equal(r.unseen, 2);
	assert.match(r.warnings[0], /^2 of 3 sources here were never seen in training \(NIH: 2 images, incoming \(folder\): 1 image\); the run's test accuracy does not apply to them\.$/);
	// The same folder as training, no manifest: seen.
	assert.equal(sourceCoverage([undefined], [undefined], '/x/dev', '/y/dev')[0].seen, true);
	// A run that records no training sources names nothing as unseen.
	assert.equal(shiftReport(cov, false, undefined).warnings.length, 0);
});

test('evaluate --data names the unseen NIH source and the shift; on the run’s own test split it does not', async (t) => {
	if (!(existsSync(DEV) && existsSync(NIH))) return missingPrereq(t, `${DEV} and ${NIH}`);
	const trained = cli('train', '--backbone', 'resnet50', '--data', DEV, '--image-size', '64', '--workdir', WORK);
	assert.equal(trained.code, 0, trained.stderr);
	runDir = /run\s+(\S+)/.exec(trained.stdout)?.[1];
	assert.ok(runDir && existsSync(runDir), trained.stdout);

	const nih = cli('evaluate', '--run', runDir, '--data', NIH, '--workdir', WORK);
	assert.equal(nih.code, 0, nih.stderr);
	console.log(nih.stdout.slice(nih.stdout.indexOf('Sources against')));
	assert.match(nih.stdout, /NIH-ChestX-ray8\s+200\s+NEVER SEEN/);
	assert.match(nih.stdout, /1 of 1 source here was never seen in training \(NIH-ChestX-ray8: 200 images\); the run's test accuracy does not apply to it\./);
	assert.match(nih.stdout, /These images differ from the run's training split \(kernel two-sample test/);

	// The run's own test split, with its manifest rows: every source seen, no shift.
	const split = JSON.parse(await fs.readFile(path.join(runDir, 'splits.json'), 'utf8')) as SplitResult;
	const own = path.join(tmp, 'test-split');
	const manifest = await fs.readFile(path.join(DEV, 'manifest.csv'), 'utf8');
	const lines = manifest.split(/\r?\n/);
	const rows = parseCsvRecords(manifest);
	const keep = new Set(split.test);
	const kept = [lines[0], ...rows.flatMap((r, i) => (keep.has(r.path) ? [lines[i + 1]] : []))];
	for (const rel of split.test) {
		await fs.mkdir(path.dirname(path.join(own, rel)), { recursive: true });
		await fs.link(path.join(DEV, rel), path.join(own, rel)).catch(() => fs.copyFile(path.join(DEV, rel), path.join(own, rel)));
	}
	await fs.writeFile(path.join(own, 'manifest.csv'), kept.join('\n') + '\n');
	const mine = cli('evaluate', '--run', runDir, '--data', own, '--workdir', WORK);
	assert.equal(mine.code, 0, mine.stderr);
	console.log(mine.stdout.slice(mine.stdout.indexOf('Sources against')));
	assert.match(mine.stdout, /ieee8023\s+\d+\s+seen \(\d+ training images\)/);
	assert.doesNotMatch(mine.stdout, /never seen|NEVER SEEN/);
	assert.doesNotMatch(mine.stdout, /differ from the run's training split/);
	assert.match(mine.stdout, /No dataset-level shift against the training split was detected/);
});
