// Test metrics against values worked out by hand (sklearn's classification_report, zero_division=0).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classificationReport, computeMetrics, confusionMatrix, formatMetrics, lossAndAccuracy, metricsBySource } from '../../src/engine/infer/metrics';

// true / predicted class indices; class 2 (PNEUMONIA) is never predicted.
const yTrue = [0, 0, 0, 1, 1, 2, 2];
const yPred = [0, 0, 1, 1, 0, 1, 0];
// 0.8 on the predicted class, 0.1 elsewhere; row 5 gives its true class probability 0 (clipped to 1e-7).
const probs = yPred.flatMap((p, i) => (i === 5 ? [0, 1, 0] : [0, 1, 2].map((c) => (c === p ? 0.8 : 0.1))));

const close = (a: number, b: number, msg: string) => assert.ok(Math.abs(a - b) < 1e-9, `${msg}: ${a} vs ${b}`);

test('confusion matrix is [true][predicted]', () => {
	assert.deepEqual(confusionMatrix(yTrue, yPred), [
		[2, 1, 0],
		[1, 1, 0],
		[1, 1, 0],
	]);
});

test('per-class precision/recall/F1 and averages match a hand computation, zero predictions give 0', () => {
	const r = classificationReport(confusionMatrix(yTrue, yPred));
	const [covid, normal, pneu] = r.perClass;
	close(covid.precision, 2 / 4, 'COVID precision');
	close(covid.recall, 2 / 3, 'COVID recall');
	close(covid.f1, 4 / 7, 'COVID f1');
	assert.equal(covid.support, 3);
	close(normal.precision, 1 / 3, 'NORMAL precision');
	close(normal.recall, 1 / 2, 'NORMAL recall');
	close(normal.f1, 0.4, 'NORMAL f1');
	assert.deepEqual([pneu.precision, pneu.recall, pneu.f1, pneu.support], [0, 0, 0, 2]);
	close(r.macroAvg.precision, (1 / 2 + 1 / 3) / 3, 'macro precision');
	close(r.macroAvg.recall, (2 / 3 + 1 / 2) / 3, 'macro recall');
	close(r.macroAvg.f1, (4 / 7 + 0.4) / 3, 'macro f1');
	close(r.weightedAvg.precision, (3 * (1 / 2) + 2 * (1 / 3)) / 7, 'weighted precision');
	close(r.weightedAvg.recall, 3 / 7, 'weighted recall (= accuracy)');
	close(r.weightedAvg.f1, (3 * (4 / 7) + 2 * 0.4) / 7, 'weighted f1');
	assert.equal(r.support, 7);
});

test('loss is the mean clipped cross-entropy and accuracy the argmax hit rate (as model.evaluate)', () => {
	const { loss, accuracy } = lossAndAccuracy(probs, yTrue);
	const expected = (3 * -Math.log(0.8) + 3 * -Math.log(0.1) + -Math.log(1e-7)) / 7;
	close(loss, expected, 'loss');
	close(accuracy, 3 / 7, 'accuracy');
	const m = computeMetrics(probs, yTrue);
	assert.deepEqual(m.confusion, confusionMatrix(yTrue, yPred));
	assert.match(formatMetrics(m), /PNEUMONIA\s+0\.00\s+0\.00\s+0\.00\s+2/);
});

test('per-source accuracy and recall (only with two sources or more)', () => {
	// rows 0-3 from source A, 4-6 from B (see yTrue / yPred above)
	const sources = ['A', 'A', 'A', 'A', 'B', 'B', 'B'];
	const [a, b] = metricsBySource(yTrue, yPred, sources)!;
	assert.deepEqual([a.source, a.n, a.support], ['A', 4, [3, 1, 0]]);
	close(a.accuracy, 3 / 4, 'A accuracy'); // rows 0,1 right; 2 wrong; 3 right
	assert.deepEqual(a.recall, [2 / 3, 1, null]);
	assert.deepEqual([b.source, b.n, b.support], ['B', 3, [0, 1, 2]]);
	close(b.accuracy, 0, 'B accuracy');
	assert.deepEqual(b.recall, [null, 0, 0]);
	assert.equal(
		metricsBySource(
			yTrue,
			yPred,
			yTrue.map(() => 'A'),
		),
		undefined,
	);
	const m = computeMetrics(probs, yTrue, sources);
	assert.equal(m.bySource?.length, 2);
	assert.match(formatMetrics(m), /by source dataset/);
	assert.equal(computeMetrics(probs, yTrue).bySource, undefined);
});
