// The offline ResNet50 weights really are ImageNet's: the npm model, rebuilt with today's Keras layer names and
// its ImageNet top, classifies real photos from scikit-image's data folder (Debian package python3-skimage).
// Checking top-5 against a set of acceptable classes, because ImageNet's labels split these subjects finely:
// - chelsea.png (a tabby cat's head): tabby 281, tiger cat 282, Egyptian cat 285 — the three short-haired
//   striped-cat classes that ImageNet models confuse among themselves (Keras' ResNet50 says Egyptian cat).
// - coffee.png (a cup of coffee on a saucer, from above): espresso 967, cup 968, coffee mug 504.
// - motorcycle_left.png (a small motorcycle, side view): moped 665, motor scooter 670 (ImageNet has no plain
//   "motorcycle"; these two are the classes closest to it).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { tf, initBackend, shutdownBackend } from '../../src/engine/model/tf';
import { CI, missingPrereq } from './prereq';
import { loadNpmResNet50Classifier } from '../../src/engine/weights/npmWeights';

const CANDIDATE_DIRS = [process.env.RADREVIEW_SKIMAGE_DATA, '/usr/lib/python3/dist-packages/skimage/data', '/usr/share/python3-skimage/data'].filter((d): d is string => Boolean(d));
const dataDir = CANDIDATE_DIRS.find((d) => existsSync(path.join(d, 'chelsea.png')));
const SKIP = dataDir ? false : `scikit-image test photos not found (apt-get install python3-skimage, or set RADREVIEW_SKIMAGE_DATA); looked in ${CANDIDATE_DIRS.join(', ')}`;
if (SKIP && !CI) console.log(`# imagenet.test: skipped: ${SKIP}`);

const CASES: { file: string; accept: Record<number, string> }[] = [
	{ file: 'chelsea.png', accept: { 281: 'tabby', 282: 'tiger cat', 285: 'Egyptian cat' } },
	{ file: 'coffee.png', accept: { 967: 'espresso', 968: 'cup', 504: 'coffee mug' } },
	{ file: 'motorcycle_left.png', accept: { 665: 'moped', 670: 'motor scooter' } },
];

/** keras.applications.resnet50.preprocess_input ('caffe'): RGB → BGR, minus the ImageNet channel means. */
async function caffeInput(file: string): Promise<Float32Array> {
	const { data } = await sharp(file).removeAlpha().resize(224, 224, { fit: 'fill' }).raw().toBuffer({ resolveWithObject: true });
	const mean = [103.939, 116.779, 123.68];
	const x = new Float32Array(224 * 224 * 3);
	for (let i = 0; i < 224 * 224; i++) for (let c = 0; c < 3; c++) x[i * 3 + c] = data[i * 3 + (2 - c)] - mean[c];
	return x;
}

let model: tf.LayersModel;

before(async () => {
	if (SKIP) return;
	await initBackend();
	model = await loadNpmResNet50Classifier();
});

after(() => {
	model?.dispose();
	shutdownBackend(); // WASM pthread workers keep the process alive otherwise
});

for (const c of CASES) {
	test(`ResNet50 (npm ImageNet weights) puts ${Object.values(c.accept).join(' / ')} in the top 5 for ${c.file}`, async (t) => {
		if (SKIP) return missingPrereq(t, SKIP);
		const x = await caffeInput(path.join(dataDir!, c.file));
		const probs = tf.tidy(() => (model.predict(tf.tensor4d(x, [1, 224, 224, 3])) as tf.Tensor).dataSync());
		assert.equal(probs.length, 1000);
		const top5 = [...probs.keys()].sort((a, b) => probs[b] - probs[a]).slice(0, 5);
		const hits = top5.filter((i) => i in c.accept);
		assert.ok(hits.length > 0, `${c.file}: top-5 ${top5.map((i) => `${i} (${probs[i].toFixed(3)})`).join(', ')} has none of ${Object.keys(c.accept).join(', ')}`);
		// A real classifier is confident on these clean photos; random weights give ≈0.001 everywhere.
		assert.ok(probs[top5[0]] > 0.3, `${c.file}: top-1 probability only ${probs[top5[0]]}`);
		assert.ok(top5[0] in c.accept, `${c.file}: top-1 is class ${top5[0]}`);
	});
}

test('the classifier keeps no tensors behind per prediction', async (t) => {
	if (SKIP) return missingPrereq(t, SKIP);
	const x = await caffeInput(path.join(dataDir!, 'coffee.png'));
	const before = tf.memory().numTensors;
	tf.tidy(() => (model.predict(tf.tensor4d(x, [1, 224, 224, 3])) as tf.Tensor).dataSync());
	assert.equal(tf.memory().numTensors, before);
});
