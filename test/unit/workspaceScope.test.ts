// One rule for paths from workspace files: a run's dataDir, predictions.csv paths and weights.json are read only
// inside the window's readable roots, and not at all in Restricted Mode; run files meet the training limits.
// Real dev radiographs (with their manifest) outside the "workspace" stand for the files a hostile run points at.
import assert from 'node:assert/strict';
import { existsSync, promises as fs, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, afterEach, before, test } from 'node:test';
import { loadRun } from '../../src/engine/api';
import { EngineClient } from '../../src/engine/client';
import { openExplainer } from '../../src/engine/explain/explainRun';
import { reportWithOverlays } from '../../src/engine/report/runReport';
import { readPredictionsCsv } from '../../src/engine/infer/classify';
import { confineNamed, setWorkspaceScope } from '../../src/engine/util/scope';
import { DEFAULT_TRAIN_CONFIG } from '../../src/engine/types';

const DEV = path.resolve(__dirname, '../../../shared/cxr/dev');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'radreview-scope-'));
const ws = path.join(tmp, 'workspace');
const outside = path.join(tmp, 'outside');
let runDir: string;
let image: string;

after(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => setWorkspaceScope(undefined));

const report = { precision: 1, recall: 1, f1: 1, support: 1 };
async function writeRun(dir: string, config: Record<string, unknown>, predictions: string): Promise<void> {
	await fs.mkdir(dir, { recursive: true });
	const files: Record<string, unknown> = {
		'config.json': { ...DEFAULT_TRAIN_CONFIG, backbone: 'vgg16', workDir: path.join(ws, '.radreview'), ...config },
		'splits.json': { mode: 'patient', seed: 40, testFraction: 0.2, valFraction: 0.1, train: [], val: [], test: [], leakedPatients: [] },
		'history.json': [{ epoch: 1, loss: 1.1, acc: 0.5, val_loss: null, val_acc: null, lr: 0.001, seconds: 0.2 }],
		'metrics.json': {
			loss: 0.5,
			accuracy: 1,
			confusion: [
				[1, 0, 0],
				[0, 1, 0],
				[0, 0, 1],
			],
			perClass: ['COVID', 'NORMAL', 'PNEUMONIA'].map((className) => ({ className, ...report })),
			macroAvg: report,
			weightedAvg: report,
			support: 3,
			backbone: 'vgg16',
			backend: 'WASM',
			baseRuntime: 'tfjs wasm',
			weights: { pretrained: true, name: 'ImageNet', sha256: 'a'.repeat(64) },
			createdAt: '2026-01-01T00:00:00.000Z',
			timing: { total: 1 },
			counts: { train: 1, val: 0, test: 1, decodeErrors: 0 },
		},
		'weights.json': { pretrained: true, name: 'ImageNet', sha256: 'a'.repeat(64), backbone: 'vgg16', path: '/etc/passwd' },
		'predictions.csv': predictions,
	};
	for (const [name, v] of Object.entries(files)) await fs.writeFile(path.join(dir, name), typeof v === 'string' ? v : JSON.stringify(v));
}

before(async () => {
	// A dataset outside the workspace, with a manifest (patient ids): a scan of it would fill them in.
	const manifest = readFileSync(path.join(DEV, 'manifest.csv'), 'utf8').split(/\r?\n/);
	const row = manifest.slice(1).find((l) => l.startsWith('NORMAL/'))!;
	const rel = row.split(',')[0];
	await fs.mkdir(path.join(outside, 'NORMAL'), { recursive: true });
	await fs.copyFile(path.join(DEV, rel), path.join(outside, rel));
	await fs.writeFile(path.join(outside, 'manifest.csv'), `${manifest[0]}\n${row}\n`);
	image = path.join(outside, rel);
	runDir = path.join(ws, '.radreview', 'runs', 'hostile');
	await writeRun(runDir, { dataDir: outside }, `relPath,path,label,predicted,p_COVID,p_NORMAL,p_PNEUMONIA,correct,split\n${rel},${image},NORMAL,NORMAL,0.1,0.8,0.1,true,test\n`);
});

test('without a scope (the CLI) the run names its dataset and it is scanned: patient ids filled in', async () => {
	const r = await loadRun(runDir);
	assert.notEqual(r.predictions[0].patientId, undefined, 'the control: a scan fills the patient id');
});

test('trusted, the dataset outside the readable roots is not scanned; Restricted Mode neither', async () => {
	for (const trusted of [true, false]) {
		setWorkspaceScope({ roots: [ws], trusted });
		const r = await loadRun(runDir);
		assert.equal(r.predictions[0].patientId, undefined, `trusted=${trusted}: ${outside} was scanned`);
		assert.equal(r.staleLabels, undefined);
	}
	// Inside the roots (the user opened that folder too) it is read again.
	setWorkspaceScope({ roots: [ws, outside], trusted: true });
	assert.notEqual((await loadRun(runDir)).predictions[0].patientId, undefined);
});

test('paths named by workspace files: refused by name outside the roots, and everything in Restricted Mode', async () => {
	setWorkspaceScope({ roots: [ws], trusted: true });
	await assert.rejects(confineNamed('/etc/passwd', 'predictions.csv'), /Refused path '\/etc\/passwd': named by predictions\.csv: outside the allowed folders/);
	await assert.rejects(confineNamed(`${ws}/../outside/x.jpg`, 'predictions.csv'), /contains '\.\.'/);
	await assert.rejects(openExplainer(runDir, { workDir: path.join(ws, '.radreview') }), /Refused path '\/etc\/passwd': named by .*weights\.json/);
	setWorkspaceScope({ roots: [ws], trusted: false });
	await assert.rejects(confineNamed(path.join(ws, 'a.jpg'), 'predictions.csv'), /Restricted Mode/);
	await assert.rejects(openExplainer(runDir, { workDir: path.join(ws, '.radreview') }), /Grad-CAM .* not in Restricted Mode/);
	// The report card still opens (no scan of the dataset, no Grad-CAM).
	const { card, overlays } = await reportWithOverlays(runDir, { workDir: path.join(ws, '.radreview'), positiveClass: 'COVID', gradcam: true, resamples: 50 });
	assert.equal(overlays.length, 0);
	assert.equal(card.run.backbone, 'vgg16');
});

test('run files meet the training limits: imageSize 100000 is refused by name', async () => {
	const dir = path.join(ws, '.radreview', 'runs', 'huge');
	await writeRun(dir, { dataDir: outside, imageSize: 100000 }, 'relPath,path,label,predicted,p_COVID,p_NORMAL,p_PNEUMONIA,correct,split\n');
	await assert.rejects(loadRun(dir), /config\.json: field 'imageSize' has an invalid value/);
});

test("predictions.csv: a relPath with '../' or an absolute one is refused by row", async () => {
	const file = path.join(tmp, 'p.csv');
	for (const rel of ['../../etc/passwd', '/etc/passwd']) {
		await fs.writeFile(file, `relPath,path,label,predicted,p_COVID,p_NORMAL,p_PNEUMONIA,correct,split\n${rel},/etc/passwd,,COVID,0.5,0.25,0.25,,test\n`);
		await assert.rejects(readPredictionsCsv(file), /row 2: column 'relPath' is not a relative/);
	}
});

test('the host scope reaches the worker: the bundled worker does not scan a dataset outside the roots', async () => {
	const WORKER = path.join(__dirname, '../../dist/worker.js');
	assert.ok(existsSync(WORKER), 'npm run build first (dist/worker.js)');
	let trusted = true;
	const client = new EngineClient({ workerPath: WORKER, scope: () => ({ roots: [ws], trusted }) });
	try {
		assert.equal((await client.run({ type: 'loadRun', runDir })).predictions[0].patientId, undefined, 'outside the roots: not scanned');
		trusted = false;
		assert.equal((await client.run({ type: 'loadRun', runDir })).predictions[0].patientId, undefined, 'Restricted Mode: not scanned');
	} finally {
		client.dispose();
	}
	const open = new EngineClient({ workerPath: WORKER, scope: () => ({ roots: [ws, outside], trusted: true }) });
	try {
		assert.notEqual((await open.run({ type: 'loadRun', runDir })).predictions[0].patientId, undefined, 'the control: inside the roots it is scanned');
	} finally {
		open.dispose();
	}
});
