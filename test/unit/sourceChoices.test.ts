// Leave-one-source-out from the editor: the sources the quick pick offers for the dev set (manifest.csv
// source_dataset), what each choice cannot measure, and the run's held-out source reaching the panels' titles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { CLASS_NAMES, DEFAULT_TRAIN_CONFIG, type ImageRecord } from '../../src/engine/types';
import { scanDataset } from '../../src/engine/data/scan';
import { summaryOf, type LoadedRun } from '../../src/engine/run/runDir';
import type { StoredMetrics } from '../../src/engine/run/files';
import { sourceChoices, testSetLabel } from '../../src/util/sourceChoices';
import { missingPrereq } from './prereq';

const DEV = path.resolve(__dirname, '../../../shared/cxr/dev');

test('the dev set offers its two sources, largest first, each with what holding it out cannot show', async (t) => {
	if (!existsSync(DEV)) return missingPrereq(t, DEV);
	const { images } = await scanDataset(DEV);
	const choices = sourceChoices(images);
	assert.deepEqual(
		choices.map((c) => c.source),
		['Kermany2018', 'ieee8023'],
	);
	// Counts are the manifest's: every labelled image belongs to exactly one choice.
	const total = choices.reduce((n, c) => n + c.counts.reduce((a, b) => a + b, 0), 0);
	assert.equal(total, images.filter((r) => r.label !== null && r.source).length);
	for (const c of choices) {
		const mine = images.filter((r) => r.source === c.source);
		assert.deepEqual(
			c.counts,
			CLASS_NAMES.map((k) => mine.filter((r) => r.label === k).length),
		);
		assert.match(c.description, new RegExp(`^${mine.length} images: COVID \\d+ · NORMAL \\d+ · PNEUMONIA \\d+$`));
	}
	const [kermany, ieee] = choices;
	// Kermany2018 (children) has no COVID; every COVID image is ieee8023's: the confound the audit warns about.
	assert.equal(kermany.counts[CLASS_NAMES.indexOf('COVID')], 0);
	assert.deepEqual(kermany.warnings, ['no COVID image in Kermany2018: COVID recall cannot be measured']);
	assert.deepEqual(ieee.warnings, ['the other sources have no COVID image: the model cannot learn that class']);
});

test('a dataset with one source (or none recorded) offers nothing to hold out; a balanced source has no warning', () => {
	const rec = (i: number, source?: string): ImageRecord => ({
		path: `/d/${i}.png`,
		relPath: `${CLASS_NAMES[i % 3]}/${i}.png`,
		label: CLASS_NAMES[i % 3],
		patientId: `p${i}`,
		...(source ? { source } : {}),
	});
	assert.deepEqual(sourceChoices(Array.from({ length: 9 }, (_, i) => rec(i, 'A'))), []);
	assert.deepEqual(sourceChoices(Array.from({ length: 9 }, (_, i) => rec(i))), []);
	const two = sourceChoices(Array.from({ length: 12 }, (_, i) => rec(i, i < 6 ? 'A' : 'B')));
	assert.deepEqual(
		two.map((c) => [c.source, c.warnings]),
		[
			['A', []],
			['B', []],
		],
	);
});

test('a leave-one-source-out run names its held-out source in its summary and the Predictions title', () => {
	const metrics = {
		loss: 1,
		accuracy: 0.5,
		confusion: [],
		perClass: [],
		macroAvg: {},
		weightedAvg: {},
		support: 0,
		backbone: 'resnet50',
		backend: 'cpu',
		weights: {},
		createdAt: 'now',
	} as unknown as StoredMetrics;
	const run = (testSource?: string): LoadedRun =>
		({ runDir: '/r', name: 'r', config: { ...DEFAULT_TRAIN_CONFIG, backbone: 'resnet50', dataDir: '/d', workDir: '/w', ...(testSource ? { testSource } : {}) }, metrics }) as unknown as LoadedRun;
	assert.equal(summaryOf(run('ieee8023')).testSource, 'ieee8023');
	assert.equal('testSource' in summaryOf(run()), false);
	assert.equal(testSetLabel('ieee8023'), 'held-out source ieee8023');
	assert.equal(testSetLabel(undefined), 'test split');
});
