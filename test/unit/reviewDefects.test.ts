// Issue 19, reviewer defects in the panels' pure logic. Item 4: a label-issues queue lists images because their
// prediction disagrees with their label, so it shows no accuracy, no confusion matrix and no right/wrong, and calls
// the label the given label (under question), not the correct one.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { confusionOf, DEFAULT_FILTER, filterAndSort, DEFAULT_SORT, isCorrect, labelCaption, type GridItem } from '../../webview/shared/logic';

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
