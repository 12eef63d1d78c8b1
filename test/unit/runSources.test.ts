// Per-source results reach the panels: a run's summary keeps metrics.bySource, predictions carry source and
// patient, and a classified folder names its source. Real dev radiographs (with their manifest rows), VGG16
// with seeded random weights at 64 px (the point is the plumbing, not the accuracy).
import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { classifyFolder, listRuns, loadRun, trainRun } from '../../src/engine/api';
import { parseCsvRecords } from '../../src/engine/data/csv';
import { initBackend, shutdownBackend } from '../../src/engine/model/tf';
import { readJson, type StoredMetrics } from '../../src/engine/run/runDir';
import { runTimes } from '../../src/engine/run/times';
import { CLASS_NAMES, DEFAULT_TRAIN_CONFIG, type Metrics } from '../../src/engine/types';
import { isMetrics, withCheckedSources } from '../../src/protocol/common';

const DEV = path.resolve(__dirname, '../../../shared/cxr/dev');
const manifestText = readFileSync(path.join(DEV, 'manifest.csv'), 'utf8');
const rows = parseCsvRecords(manifestText);
const header = manifestText.split(/\r?\n/)[0];
const lines = manifestText.split(/\r?\n/).slice(1).filter(Boolean);

let tmp: string;
let data: string;
/** relPath → manifest row, for the images copied. */
const picked = new Map<string, Record<string, string>>();

before(async () => {
	await initBackend();
	tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-runsrc-'));
	data = path.join(tmp, 'data');
	// Per class, images of both sources where the class has two (NORMAL, PNEUMONIA: kermany and ieee8023).
	const keep: string[] = [];
	for (const c of CLASS_NAMES) {
		const bySource = new Map<string, number>();
		rows.forEach((r, i) => {
			if (r.label !== c || (bySource.get(r.source_dataset) ?? 0) >= 5) return;
			bySource.set(r.source_dataset, (bySource.get(r.source_dataset) ?? 0) + 1);
			picked.set(r.path, r);
			keep.push(lines[i]);
		});
	}
	for (const rel of picked.keys()) {
		await fs.mkdir(path.dirname(path.join(data, rel)), { recursive: true });
		await fs.copyFile(path.join(DEV, rel), path.join(data, rel));
	}
	await fs.writeFile(path.join(data, 'manifest.csv'), [header, ...keep].join('\n') + '\n');
});

after(async () => {
	shutdownBackend();
	if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

test('a run summary keeps bySource; predictions carry source and patient (also for runs written before the columns)', async () => {
	const workDir = path.join(tmp, 'work');
	const run = await trainRun({ ...DEFAULT_TRAIN_CONFIG, backbone: 'vgg16', dataDir: data, workDir, weights: 'none', epochs: 2, imageSize: 64, baseRuntime: 'tfjs' });
	const stored = await readJson<StoredMetrics>(path.join(run.runDir, 'metrics.json'));
	assert.ok(stored.bySource && stored.bySource.length >= 2, 'the test split holds both sources');
	const [summary] = await listRuns(workDir);
	assert.deepEqual(summary.metrics.bySource, stored.bySource);
	assert.ok(isMetrics(summary.metrics));
	const view = await loadRun(run.runDir);
	assert.deepEqual(view.summary.metrics.bySource, stored.bySource);
	for (const p of view.predictions) {
		const r = picked.get(p.relPath)!;
		assert.equal(p.source, r.source_dataset, p.relPath);
		assert.equal(p.patientId, r.patient_id, p.relPath);
	}

	// Compare's times: feature extraction and head apart, both inside the total (not the head alone).
	const t = runTimes(stored.timing, view.history);
	assert.equal(t.head, stored.timing.train);
	assert.equal(t.features, stored.timing.scan + stored.timing.decode + stored.timing.weights + stored.timing.features);
	assert.ok(t.features > 0 && t.features + t.head <= t.total + 1e-9, JSON.stringify(stored.timing));
	// Older runs without timing: the head time is the sum of the epochs, the feature time unknown.
	const old = runTimes(undefined, view.history);
	assert.ok(Number.isNaN(old.features) && Number.isNaN(old.total));
	assert.equal(
		old.head,
		view.history.reduce((a, h) => a + h.seconds, 0),
	);

	// An older predictions.csv without the two columns: loadRun fills them from a scan of the dataset.
	const csvFile = path.join(run.runDir, 'predictions.csv');
	const csv = await fs.readFile(csvFile, 'utf8');
	const n = parseCsvRecords(csv).length;
	await fs.writeFile(
		csvFile,
		csv
			.split('\n')
			.map((l) => l.split(',').slice(0, -2).join(','))
			.join('\n'),
	);
	const again = await loadRun(run.runDir);
	assert.equal(again.predictions.length, n);
	assert.deepEqual(
		again.predictions.map((p) => [p.source, p.patientId]),
		view.predictions.map((p) => [p.source, p.patientId]),
	);

	// A classified folder of one source still gets its one-row table; without a manifest the source is 'unknown'.
	const one = path.join(tmp, 'kermany');
	const kermany = [...picked.values()].filter((r) => r.source_dataset !== 'ieee8023');
	assert.ok(kermany.length > 0);
	for (const r of kermany) {
		await fs.mkdir(path.join(one, r.label), { recursive: true });
		await fs.copyFile(path.join(DEV, r.path), path.join(one, r.path));
	}
	const unknown = await classifyFolder(run.runDir, one, { workDir });
	assert.deepEqual(
		unknown.metrics?.bySource?.map((s) => [s.source, s.n]),
		[['unknown', kermany.length]],
	);
	await fs.writeFile(path.join(one, 'manifest.csv'), [header, ...lines.filter((_, i) => kermany.includes(rows[i]))].join('\n') + '\n');
	const named = await classifyFolder(run.runDir, one, { workDir });
	assert.deepEqual(
		named.metrics?.bySource?.map((s) => [s.source, s.n]),
		[[kermany[0].source_dataset, kermany.length]],
	);
	assert.ok(named.predictions.every((p) => p.source === kermany[0].source_dataset));
});

test('a malformed per-source table is dropped at the boundary, the rest of the metrics kept', () => {
	const m: Metrics = {
		loss: 1,
		accuracy: 0.5,
		confusion: [
			[1, 1, 0],
			[0, 0, 0],
			[0, 0, 0],
		],
		perClass: [],
		macroAvg: { precision: 0, recall: 0, f1: 0, support: 2 },
		weightedAvg: { precision: 0, recall: 0, f1: 0, support: 2 },
		support: 2,
		bySource: [{ source: 'a', n: 2, accuracy: 0.5, recall: [0.5, null, null], support: [2, 0, 0] }],
	};
	assert.equal(withCheckedSources(m), m);
	const bad = { ...m, bySource: [{ source: 'a', n: 'two' }] } as unknown as Metrics;
	assert.equal(isMetrics(bad), false);
	const fixed = withCheckedSources(bad);
	assert.equal(fixed.bySource, undefined);
	assert.equal(fixed.accuracy, 0.5);
});
