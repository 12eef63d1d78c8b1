// Run folders are data: every file is validated on load, and a bad field is named with its file.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { loadRun } from '../../src/engine/api';
import { DEFAULT_TRAIN_CONFIG } from '../../src/engine/types';

const tmp = mkdtempSync(path.join(tmpdir(), 'radreview-runfiles-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const report = { precision: 1, recall: 1, f1: 1, support: 1 };
function goodRun(): Record<string, unknown> {
	return structuredClone({
		'config.json': { ...DEFAULT_TRAIN_CONFIG, backbone: 'vgg16', dataDir: '/data', workDir: '/w/.radreview', preprocessing: 'caffe' },
		'splits.json': { mode: 'patient', seed: 40, testFraction: 0.2, valFraction: 0.1, train: ['COVID/a.jpg'], val: [], test: ['NORMAL/b.jpg'], leakedPatients: [] },
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
			weights: { pretrained: false, name: 'random (not pretrained)', sha256: 'random-40' },
			createdAt: '2026-01-01T00:00:00.000Z',
			timing: { total: 1 },
			counts: { train: 1, val: 0, test: 1, decodeErrors: 0 },
		},
		'weights.json': { pretrained: false, name: 'random (not pretrained)', sha256: 'random-40', backbone: 'vgg16' },
		'predictions.csv': 'relPath,path,label,predicted,p_COVID,p_NORMAL,p_PNEUMONIA,correct,split\nNORMAL/b.jpg,/data/NORMAL/b.jpg,NORMAL,NORMAL,0.1,0.8,0.1,true,test\n',
	});
}

let n = 0;
function writeRun(files: Record<string, unknown>): string {
	const dir = path.join(tmp, `run-${++n}`);
	mkdirSync(dir);
	for (const [name, v] of Object.entries(files)) writeFileSync(path.join(dir, name), typeof v === 'string' ? v : JSON.stringify(v));
	return dir;
}

test('a well-formed run folder loads, NaN written as null reads back as NaN, unknown fields are dropped', async () => {
	const files = goodRun();
	(files['config.json'] as Record<string, unknown>).smuggled = '/etc/passwd';
	const r = await loadRun(writeRun(files));
	assert.equal(r.summary.backbone, 'vgg16');
	assert.ok(Number.isNaN(r.history[0].val_loss));
	assert.equal(r.predictions.length, 1);
	assert.equal('smuggled' in r.extra.config, false);
});

const cases: [string, string, (f: Record<string, any>) => void, RegExp][] = [
	['config.json', 'epochs', (f) => (f['config.json'].epochs = 'many'), /config\.json: field 'epochs' has an invalid value/],
	['config.json', 'dataDir', (f) => delete f['config.json'].dataDir, /config\.json: field 'dataDir' is missing/],
	['config.json', 'reduceLr.factor', (f) => (f['config.json'].reduceLr.factor = null), /config\.json: field 'reduceLr\.factor'/],
	['splits.json', 'train', (f) => (f['splits.json'].train = [42]), /splits\.json: field 'train'/],
	['history.json', '[0].lr', (f) => (f['history.json'][0].lr = 'x'), /history\.json: field '\[0\]\.lr'/],
	['history.json', 'array', (f) => (f['history.json'] = { epoch: 1 }), /history\.json: must hold a JSON array/],
	['metrics.json', 'confusion', (f) => (f['metrics.json'].confusion = [[1e9]]), /metrics\.json: field 'confusion'/],
	['metrics.json', 'perClass[1].className', (f) => (f['metrics.json'].perClass[1].className = '<img src=x>'), /metrics\.json: field 'perClass\[1\]\.className'/],
	['metrics.json', 'weights.pretrained', (f) => (f['metrics.json'].weights.pretrained = 'yes'), /metrics\.json: field 'weights\.pretrained'/],
	['weights.json', 'backbone', (f) => (f['weights.json'].backbone = '../../x'), /weights\.json: field 'backbone'/],
	['predictions.csv', 'p_NORMAL', (f) => (f['predictions.csv'] = (f['predictions.csv'] as string).replace('0.8', '7')), /predictions\.csv: row 2: column 'p_NORMAL'/],
	['predictions.csv', 'split', (f) => (f['predictions.csv'] = (f['predictions.csv'] as string).replace(',test', ',all')), /predictions\.csv: row 2: column 'split'/],
	['predictions.csv', 'path', (f) => (f['predictions.csv'] = (f['predictions.csv'] as string).replace('/data/NORMAL/b.jpg', '')), /predictions\.csv: row 2: column 'path' is empty/],
];

for (const [file, field, mutate, want] of cases) {
	test(`a bad ${file} (${field}) is refused, naming the file and the field`, async () => {
		const files = goodRun();
		mutate(files);
		await assert.rejects(loadRun(writeRun(files)), (e: Error) => {
			assert.match(e.message, want);
			assert.ok(e.message.includes(tmp), `the message names the file's path: ${e.message}`);
			return true;
		});
	});
}

test('a run file that is not JSON is named', async () => {
	const files = goodRun();
	files['splits.json'] = '{"mode": "patient",';
	await assert.rejects(loadRun(writeRun(files)), /splits\.json: not valid JSON/);
});
