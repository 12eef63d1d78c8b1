// Grad-CAM: the analytic gradient against finite differences, the head's forward against tfjs, and a synthetic
// dataset whose label is a bright corner marker: the trained head's map lands in that corner and is flagged.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { initBackend, shutdownBackend } from '../../src/engine/model/tf';
import { buildHead, headWeightsOf, predictPooled } from '../../src/engine/model/head';
import { trainHead } from '../../src/engine/train/train';
import { Prng } from '../../src/engine/train/prng';
import { gradCam, headLogits, logitGradient, poolFlat, whereItLooks, type FeatureMap, type HeadWeights } from '../../src/engine/explain/gradcam';

before(async () => {
	await initBackend('cpu');
});
after(() => shutdownBackend());

function randomHead(d: number, hidden: number, classes: number, rng: Prng): HeadWeights {
	const r = (n: number, s: number) => Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * s);
	return { k1: r(d * hidden, 0.5), b1: r(hidden, 0.2), k2: r(hidden * classes, 0.8), b2: r(classes, 0.1), hidden, classes };
}

test('the analytic logit gradient matches central finite differences (odd map sizes drop a row and a column)', () => {
	const rng = new Prng(3);
	const a: FeatureMap = { h: 5, w: 7, c: 4, data: Float32Array.from({ length: 5 * 7 * 4 }, () => rng.next() * 2) };
	const wts = randomHead((5 >> 1) * (7 >> 1) * 4, 6, 3, rng);
	// Evaluate in float64: copy the map into a Float64-backed clone for the perturbations.
	const logit = (data: Float64Array, cls: number) => headLogits(poolFlat({ ...a, data: data as unknown as Float32Array }), wts).logits[cls];
	for (let cls = 0; cls < 3; cls++) {
		const g = logitGradient(a, wts, cls);
		const base = Float64Array.from(a.data);
		let maxErr = 0;
		let nonzero = 0;
		for (let i = 0; i < base.length; i++) {
			const eps = 1e-5;
			const up = base.slice();
			up[i] += eps;
			const down = base.slice();
			down[i] -= eps;
			const fd = (logit(up, cls) - logit(down, cls)) / (2 * eps);
			maxErr = Math.max(maxErr, Math.abs(fd - g[i]));
			if (Math.abs(g[i]) > 1e-6) nonzero++;
		}
		assert.ok(maxErr < 1e-6, `class ${cls}: max |fd − analytic| = ${maxErr}`);
		assert.ok(nonzero > base.length / 2, `class ${cls}: gradient mostly zero (${nonzero})`);
		// The last row and column are outside every pooling window.
		for (let k = 0; k < 4; k++) assert.equal(g[(4 * 7 + 3) * 4 + k], 0);
	}
});

test('the analytic head forward equals the tfjs head on pooled features', async () => {
	const rng = new Prng(5);
	const baseShape: [number, number, number] = [6, 6, 8];
	const head = buildHead({ baseShape, dropout: 0.2, seed: 9 });
	try {
		const a: FeatureMap = { h: 6, w: 6, c: 8, data: Float32Array.from({ length: 288 }, () => rng.next()) };
		const pooled = Float32Array.from(poolFlat(a));
		const ref = predictPooled(head, pooled, 1);
		const cam = gradCam(a, headWeightsOf(head));
		cam.probs.forEach((p, i) => assert.ok(Math.abs(p - ref[i]) < 1e-5, `prob ${i}: ${p} vs ${ref[i]}`));
	} finally {
		head.model.dispose();
	}
});

/**
 * A fixed random 4×4-patch "convolution" with relu: a tiny frozen base for 56×56 grey images → 14×14×6. Each filter's
 * bias equals its largest response to a patch no brighter than 0.3, so dim noise leaves the map sparse, as relu
 * features of a real base are.
 */
function tinyBase(rng: Prng): (img: Float32Array) => FeatureMap {
	const C = 6;
	const filters = Array.from({ length: C }, (_, k) => Float32Array.from({ length: 16 }, () => (k === 0 ? 1 / 16 : (rng.next() * 2 - 1) / 4)));
	const bias = filters.map((f) => 0.3 * f.reduce((a, w) => a + Math.max(0, w), 0));
	return (img) => {
		const g = 14;
		const data = new Float32Array(g * g * C);
		for (let i = 0; i < g; i++)
			for (let j = 0; j < g; j++)
				for (let k = 0; k < C; k++) {
					let s = 0;
					for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) s += img[(i * 4 + y) * 56 + j * 4 + x] * filters[k][y * 4 + x];
					data[(i * g + j) * C + k] = Math.max(0, s - bias[k]);
				}
		return { data, h: g, w: g, c: C };
	};
}

/** Dim noise everywhere; class 0 has a bright 6×6 marker in the top-left corner, class 2 in the bottom-right. */
function markerImage(cls: number, rng: Prng): Float32Array {
	const img = Float32Array.from({ length: 56 * 56 }, () => rng.next() * 0.3);
	const at = cls === 0 ? [0, 0] : cls === 2 ? [50, 50] : null;
	if (at) for (let y = 0; y < 6; y++) for (let x = 0; x < 6; x++) img[(at[0] + y) * 56 + at[1] + x] = 1;
	return img;
}

test('a head trained on a corner-marker dataset looks at the marker: mass in that corner, "outside the lungs" flag raised', async () => {
	const rng = new Prng(17);
	const base = tinyBase(rng);
	const n = 90;
	const labels = Array.from({ length: n }, (_, i) => i % 3);
	const maps = labels.map((c) => base(markerImage(c, rng)));
	const dim = 7 * 7 * 6;
	const feats = new Float32Array(n * dim);
	maps.forEach((m, i) => feats.set(Float32Array.from(poolFlat(m)), i * dim));
	const head = buildHead({ baseShape: [14, 14, 6], dropout: 0, seed: 2 });
	try {
		await trainHead(head, { feats, labels, n, dim }, undefined, { epochs: 60, batchSize: 15, learningRate: 0.01, seed: 1 });
		const wts = headWeightsOf(head);
		for (const cls of [0, 2]) {
			let hits = 0;
			for (let t = 0; t < 10; t++) {
				const cam = gradCam(base(markerImage(cls, rng)), wts, cls);
				assert.equal(cam.probs.indexOf(Math.max(...cam.probs)), cls, 'the head learned the marker');
				// Mass in the marker's quadrant of the 14×14 grid.
				let total = 0;
				let quadrant = 0;
				for (let i = 0; i < 14; i++)
					for (let j = 0; j < 14; j++) {
						const v = cam.map[i * 14 + j];
						total += v;
						if (cls === 0 ? i < 7 && j < 7 : i >= 7 && j >= 7) quadrant += v;
					}
				const where = whereItLooks(cam.map, 14, 14);
				assert.ok(quadrant / total > 0.8, `class ${cls}: ${((100 * quadrant) / total).toFixed(0)} % of the mass in the marker's quadrant`);
				assert.ok(where.outside, `class ${cls}: border share ${where.border.toFixed(2)} not flagged`);
				hits++;
			}
			assert.equal(hits, 10);
		}
		// A map spread evenly over the field is not flagged.
		const flat = whereItLooks(new Float64Array(14 * 14).fill(1), 14, 14);
		assert.ok(!flat.outside && Math.abs(flat.border - 0.49) < 0.03, `uniform border share ${flat.border}`);
	} finally {
		head.model.dispose();
	}
});
