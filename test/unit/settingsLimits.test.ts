// The limits package.json declares for the settings are the limits the engine enforces (CLI and worker alike).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { TRAIN_LIMITS, resolveTrainConfig } from '../../src/engine/api';
import { availableBackbones, getBackbone } from '../../src/engine/model/backbones';
import { minHeadImageSize, pooledShape } from '../../src/engine/model/head';

const pkg = JSON.parse(readFileSync(path.join(__dirname, '../../package.json'), 'utf8')) as {
	contributes: { configuration: { properties: Record<string, { minimum?: number; maximum?: number }> } };
};
const props = pkg.contributes.configuration.properties;
const base = { backbone: 'vgg16' as const, dataDir: '/d', workDir: '/w' };

test('every limited setting has the same bounds in package.json and in the engine', () => {
	for (const [name, { min, max }] of Object.entries(TRAIN_LIMITS)) {
		const p = props[`radiographReview.${name}`];
		assert.ok(p, `radiographReview.${name} is declared`);
		assert.equal(p.minimum, min, `${name} minimum`);
		assert.equal(p.maximum, max, `${name} maximum`);
	}
});

test('values outside the declared limits are refused with the option named; the bounds themselves pass', () => {
	for (const [name, { min, max }] of Object.entries(TRAIN_LIMITS)) {
		const over = Number.isInteger(max) && max >= 1 && name !== 'testFraction' && name !== 'valFraction' ? max + 1 : max + 0.01;
		const under = Number.isInteger(min) && name !== 'testFraction' && name !== 'valFraction' ? min - 1 : min - 0.01;
		assert.throws(() => resolveTrainConfig({ ...base, [name]: over }), new RegExp(`${name} must be`), `${name} = ${over}`);
		assert.throws(() => resolveTrainConfig({ ...base, [name]: under }), new RegExp(`${name} must be`), `${name} = ${under}`);
		const fractions = name === 'testFraction' || name === 'valFraction';
		// Fractions are checked one at a time: keep the other one small so their sum stays meaningful.
		assert.doesNotThrow(() => resolveTrainConfig({ ...base, ...(fractions ? { testFraction: 0.2, valFraction: 0.1 } : {}), [name]: max }), `${name} = ${max}`);
		// imageSize's lower bound is the setting's; each backbone may need more (tested below).
		if (name !== 'imageSize') assert.doesNotThrow(() => resolveTrainConfig({ ...base, [name]: min }), `${name} = ${min}`);
	}
	assert.throws(() => resolveTrainConfig({ ...base, epochs: 1_000_000 }), /epochs must be an integer from 1 to 1000/);
	assert.throws(() => resolveTrainConfig({ ...base, learningRate: 0 }), /learningRate must be > 0/);
});

test('an image size too small for a backbone is refused up front, naming its minimum (VGG16 at 32 px pooled to nothing)', () => {
	assert.equal(minHeadImageSize(getBackbone('vgg16')), 64);
	assert.throws(() => resolveTrainConfig({ ...base, imageSize: 32 }), /imageSize 32 is too small for VGG16: its base output would be 1×1.*Use an image size of 64 or more/);
	assert.throws(() => resolveTrainConfig({ ...base, backbone: 'resnet50', imageSize: 32 }), /too small for ResNet50: its base output would be 1×1.* 33 or more/);
	assert.doesNotThrow(() => resolveTrainConfig({ ...base, imageSize: 64 }));
	// Xception at 64 pools fine (2×2): Keras' own minimum (71) is the builder's to refuse, after the weights are known.
	assert.doesNotThrow(() => resolveTrainConfig({ ...base, backbone: 'xception', imageSize: 64 }));
	for (const id of availableBackbones()) {
		const spec = getBackbone(id);
		const min = minHeadImageSize(spec);
		assert.ok(min >= TRAIN_LIMITS.imageSize.min && min <= TRAIN_LIMITS.imageSize.max, `${id}: ${min}`);
		// At the minimum the pooled features are not empty; one pixel less, they would be.
		assert.ok(
			pooledShape(spec.outputShape(min))
				.slice(0, 2)
				.every((d) => d >= 1),
			`${id} at ${min}`,
		);
		assert.doesNotThrow(() => resolveTrainConfig({ ...base, backbone: id, imageSize: min }), `${id} at ${min}`);
		// One pixel less: refused here when the pooling would be empty (else by the builder's Keras minimum).
		if (min - 1 >= TRAIN_LIMITS.imageSize.min && spec.outputShape(min - 1)[0] < 2) {
			assert.throws(() => resolveTrainConfig({ ...base, backbone: id, imageSize: min - 1 }), new RegExp(`too small for ${spec.displayName}.* ${min} or more`), `${id} at ${min - 1}`);
		}
	}
});
