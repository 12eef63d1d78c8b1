// The webview and worker boundaries: every malformed message must be rejected before use.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMetrics } from '../../src/protocol/common';
import { isCompareFromWebview } from '../../src/protocol/compare';
import { isDatasetFromWebview } from '../../src/protocol/dataset';
import { isEngineEvent, isEngineRequest } from '../../src/protocol/engine';
import { isPredictionsFromWebview } from '../../src/protocol/predictions';
import { isTrainingFromWebview } from '../../src/protocol/training';
import { TestId } from '../../src/protocol/testIds';
import { isViewerFromWebview } from '../../src/protocol/viewer';

const guards = { dataset: isDatasetFromWebview, training: isTrainingFromWebview, predictions: isPredictionsFromWebview, compare: isCompareFromWebview, viewer: isViewerFromWebview };

test('every panel accepts ready and rejects non-objects, unknown types and stray fields', () => {
	for (const [name, g] of Object.entries(guards)) {
		assert.ok(g({ type: 'ready' }), `${name}: ready`);
		for (const bad of [
			null,
			undefined,
			42,
			'ready',
			[],
			[{ type: 'ready' }],
			{},
			{ type: 42 },
			{ type: 'Ready' },
			{ type: 'ready', extra: 1 },
			{ type: '__proto__' },
			{ type: 'toString' },
			{ type: 'constructor' },
		]) {
			assert.equal(g(bad), false, `${name} accepted ${JSON.stringify(bad)}`);
		}
	}
});

test('predictions: openFile needs exactly a non-empty string relPath', () => {
	assert.ok(isPredictionsFromWebview({ type: 'openFile', relPath: 'COVID/a.jpg' }));
	assert.equal(isPredictionsFromWebview({ type: 'openFile' }), false, 'missing field');
	assert.equal(isPredictionsFromWebview({ type: 'openFile', relPath: 3 }), false, 'wrong type');
	assert.equal(isPredictionsFromWebview({ type: 'openFile', relPath: '' }), false, 'empty');
	assert.equal(isPredictionsFromWebview({ type: 'openFile', relPath: 'x'.repeat(5000) }), false, 'absurdly long');
	assert.equal(isPredictionsFromWebview({ type: 'openFile', relPath: 'a.jpg', path: '/etc/passwd' }), false, 'extra field');
	assert.equal(isPredictionsFromWebview({ type: 'openFile', relPath: ['a.jpg'] }), false, 'array');
});

test('export: format from the list, bare file name, base64 bytes only', () => {
	const ok = { type: 'export', format: 'png', suggestedName: 'grid.png', base64: 'iVBORw0KGgo=' };
	assert.ok(isPredictionsFromWebview(ok));
	assert.ok(isTrainingFromWebview(ok));
	assert.ok(isCompareFromWebview({ type: 'export', format: 'csv', suggestedName: 'runs.csv' }));
	assert.equal(isPredictionsFromWebview({ ...ok, format: 'exe' }), false, 'unknown format');
	assert.equal(isPredictionsFromWebview({ ...ok, suggestedName: '../../.bashrc' }), false, 'path in name');
	assert.equal(isPredictionsFromWebview({ ...ok, suggestedName: 'a\\b.png' }), false, 'backslash in name');
	assert.equal(isPredictionsFromWebview({ ...ok, suggestedName: '..' }), false, 'dot-dot name');
	assert.equal(isPredictionsFromWebview({ ...ok, base64: 'not base64!' }), false, 'bad base64');
	assert.equal(isPredictionsFromWebview({ ...ok, base64: 12 }), false, 'number as bytes');
	assert.equal(isPredictionsFromWebview({ ...ok, path: '/tmp/x' }), false, 'host path smuggled');
});

test('dataset: computeSplits checks mode, integer seed and fractions in [0, 1)', () => {
	const ok = { type: 'computeSplits', mode: 'patient', seed: 40, testFraction: 0.2, valFraction: 0.1 };
	assert.ok(isDatasetFromWebview(ok));
	assert.equal(isDatasetFromWebview({ ...ok, mode: 'random' }), false);
	assert.equal(isDatasetFromWebview({ ...ok, seed: 1.5 }), false);
	assert.equal(isDatasetFromWebview({ ...ok, seed: '40' }), false);
	assert.equal(isDatasetFromWebview({ ...ok, testFraction: 1 }), false);
	assert.equal(isDatasetFromWebview({ ...ok, testFraction: -0.1 }), false);
	assert.equal(isDatasetFromWebview({ ...ok, valFraction: Number.NaN }), false);
	const { seed: _seed, ...missing } = ok;
	assert.equal(isDatasetFromWebview(missing), false, 'missing seed');
});

test('train requests name a known backbone', () => {
	for (const b of ['vgg16', 'resnet50v2', 'xception', 'resnet50']) assert.ok(isTrainingFromWebview({ type: 'train', backbone: b }));
	assert.equal(isTrainingFromWebview({ type: 'train', backbone: 'alexnet' }), false);
	assert.equal(isTrainingFromWebview({ type: 'train' }), false);
	assert.equal(isDatasetFromWebview({ type: 'train', backbone: 'VGG16' }), false, 'case matters');
	assert.ok(isTrainingFromWebview({ type: 'stop' }), 'stop all');
	assert.ok(isTrainingFromWebview({ type: 'stop', id: 'session-1' }));
	assert.equal(isTrainingFromWebview({ type: 'stop', id: 7 }), false);
});

test('compare: openRun needs a string run folder; messages of another panel are refused', () => {
	assert.ok(isCompareFromWebview({ type: 'openRun', runDir: '/w/.radreview/runs/x' }));
	assert.equal(isCompareFromWebview({ type: 'openRun', runDir: null }), false);
	assert.equal(isCompareFromWebview({ type: 'openFile', relPath: 'a.jpg' }), false, 'predictions-only message');
	assert.equal(isPredictionsFromWebview({ type: 'trainAll' }), false, 'compare-only message');
});

test('engine boundary: worker events and host requests are validated', () => {
	assert.ok(isEngineEvent({ type: 'progress', id: 1, event: { kind: 'stage', stage: 'decode', done: 1, total: 2 } }));
	assert.ok(isEngineEvent({ type: 'result', id: 1, result: { any: 'thing' } }));
	assert.ok(isEngineEvent({ type: 'error', id: 1, error: { name: 'CancelledError', message: 'Cancelled' } }));
	assert.ok(isEngineEvent({ type: 'backend', report: { name: 'wasm', label: 'WASM', skipped: [] } }));
	assert.equal(isEngineEvent({ type: 'progress', id: -1, event: { kind: 'log', level: 'info', message: 'x' } }), false, 'negative id');
	assert.equal(isEngineEvent({ type: 'progress', id: 1, event: { kind: 'nonsense' } }), false, 'unknown event kind');
	assert.equal(isEngineEvent({ type: 'error', id: 1, error: 'boom' }), false, 'error not serialised');
	assert.equal(isEngineEvent({ type: 'result', result: 1 }), false, 'no id');

	assert.ok(isEngineRequest({ type: 'cancel', id: 3 }));
	assert.ok(isEngineRequest({ type: 'listRuns', id: 3, workDir: '/w/.radreview' }));
	assert.ok(isEngineRequest({ type: 'thumbs', id: 3, paths: ['/a.jpg'], roots: ['/w'], outDir: '/t', size: 160 }));
	assert.equal(isEngineRequest({ type: 'thumbs', id: 3, paths: ['/a.jpg'], outDir: '/t', size: 160 }), false, 'thumbnails always name their roots');
	assert.equal(isEngineRequest({ type: 'cancel', id: '3' }), false);
	assert.equal(isEngineRequest({ type: 'thumbs', id: 3, paths: [1], roots: ['/w'], outDir: '/t', size: 160 }), false);
	assert.equal(isEngineRequest({ type: 'preprocess', id: 3, dataDir: '/d', workDir: '/w', imageSize: 237, resize: 'crop' }), false);
	assert.equal(isEngineRequest({ type: 'eval', id: 3, code: 'process.exit()' }), false);
});

test('test ids are unique (two elements must never share a contract name)', () => {
	const values = Object.values(TestId);
	assert.equal(new Set(values).size, values.length);
	for (const v of values) assert.match(v, /^[a-z][a-z-]*$/);
});

test('metrics guards stay lenient: per-source results (optional bySource) pass through to the panels', () => {
	const metrics = {
		loss: 0.9,
		accuracy: 0.5,
		confusion: [
			[1, 0, 0],
			[0, 1, 1],
			[1, 0, 0],
		],
		perClass: [],
		macroAvg: { precision: 0.5, recall: 0.5, f1: 0.5, support: 4 },
		weightedAvg: { precision: 0.5, recall: 0.5, f1: 0.5, support: 4 },
		support: 4,
	};
	const bySource = [{ source: 'kermany', n: 2, accuracy: 1, recall: [null, 1, 1], support: [0, 1, 1] }];
	assert.ok(isMetrics(metrics), 'without bySource (older runs)');
	assert.ok(isMetrics({ ...metrics, bySource }), 'with bySource');
	assert.ok(isEngineEvent({ type: 'result', id: 2, result: { summary: { metrics: { ...metrics, bySource } } } }));
	assert.equal(isMetrics({ ...metrics, accuracy: 'high' }), false);
});

test('viewer: navigate by exactly one image, Grad-CAM requests carry nothing, annotation edits are checked, viewImage requests name a path', () => {
	assert.ok(isViewerFromWebview({ type: 'navigate', delta: 1 }));
	assert.ok(isViewerFromWebview({ type: 'navigate', delta: -1 }));
	assert.ok(isViewerFromWebview({ type: 'gradcam' }));
	assert.ok(isViewerFromWebview({ type: 'annotate', edits: [{ kind: 'label', path: 'NORMAL/a.dcm', label: 'COVID' }] }));
	for (const bad of [
		{ type: 'navigate', delta: 2 },
		{ type: 'navigate', delta: 0.5 },
		{ type: 'navigate' },
		{ type: 'hook', name: 'exec' },
		{ type: 'navigate', delta: 1, path: '/etc/passwd' },
		{ type: 'gradcam', path: '/etc/passwd' },
		{ type: 'annotate', edits: [{ kind: 'label', path: 'a.dcm', label: 'CAT' }] },
	]) {
		assert.equal(isViewerFromWebview(bad), false, JSON.stringify(bad));
	}
	assert.ok(isEngineRequest({ type: 'viewImage', id: 3, path: '/data/x.dcm' }));
	assert.equal(isEngineRequest({ type: 'viewImage', id: 3, path: '' }), false);
});
