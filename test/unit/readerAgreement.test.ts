// Reader agreement: Cohen's κ and Fleiss' κ equal scikit-learn's cohen_kappa_score and statsmodels' fleiss_kappa
// (Debian python3-sklearn, python3-statsmodels) on seeded random reads; the bootstrap intervals cover the true κ in
// ≥ 93 % of 200 simulated studies with a known κ; one reader only still gets reader-vs-reference.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CLASS_NAMES, type ClassName } from '../../src/engine/types';
import { Prng } from '../../src/engine/train/prng';
import { cohenKappa, countsTable, fleissKappa, pairConfusion, specificAgreement } from '../../src/engine/reads/kappa';
import { readerAgreement, type Reference } from '../../src/engine/reads/agreement';
import { modelVsReaders } from '../../src/engine/reads/modelVsReaders';
import type { Read } from '../../src/engine/reads/format';
import { missingPrereq } from './prereq';

const PYTHON = ['/usr/bin/python3', 'python3'].find((py) => spawnSync(py, ['-c', 'import sklearn, statsmodels'], { encoding: 'utf8' }).status === 0);

function python(script: string, input: unknown): unknown {
	const r = spawnSync(PYTHON!, ['-c', script], { input: JSON.stringify(input), encoding: 'utf8' });
	assert.equal(r.status, 0, r.stderr);
	return JSON.parse(r.stdout);
}

/** Class from marginal probabilities p. */
function draw(rng: Prng, p: readonly number[]): number {
	let u = rng.next();
	for (let c = 0; c < p.length - 1; c++) if ((u -= p[c]) < 0) return c;
	return p.length - 1;
}

/**
 * Readers who each copy the image's true class with probability ρ and otherwise draw from the marginals p: the
 * population κ (Cohen's for any pair, Fleiss' for all) is ρ², since marginals are equal.
 */
function simulate(rng: Prng, n: number, readers: number, rho: number, p: readonly number[]): number[][] {
	const truth = Array.from({ length: n }, () => draw(rng, p));
	return Array.from({ length: readers }, () => truth.map((t) => (rng.next() < rho ? t : draw(rng, p))));
}

test('Cohen’s κ equals scikit-learn’s cohen_kappa_score, Fleiss’ κ statsmodels’ fleiss_kappa, on seeded random reads (1e-9)', (t) => {
	if (!PYTHON) return missingPrereq(t, 'python3 with scikit-learn and statsmodels (apt-get install python3-sklearn python3-statsmodels)');
	const rng = new Prng(7);
	const cases: number[][][] = [];
	for (let s = 0; s < 12; s++) {
		const n = 5 + Math.floor(rng.next() * 80);
		const readers = 2 + (s % 4);
		const rho = rng.next();
		const p = s % 3 === 0 ? [0.6, 0.3, 0.1] : [1 / 3, 1 / 3, 1 / 3];
		cases.push(simulate(rng, n, readers, rho, p));
	}
	const ref = python(
		`
import json, sys, itertools, numpy as np
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import fleiss_kappa, aggregate_raters
out = []
for readers in json.load(sys.stdin):
    pairs = [float(cohen_kappa_score(a, b)) for a, b in itertools.combinations(readers, 2)]
    table, _ = aggregate_raters(np.array(readers).T, n_cat=3)
    out.append({'pairs': pairs, 'fleiss': float(fleiss_kappa(table, method='fleiss'))})
print(json.dumps(out))`,
		cases,
	) as { pairs: number[]; fleiss: number }[];
	cases.forEach((readers, s) => {
		const ours: number[] = [];
		for (let i = 0; i < readers.length; i++) for (let j = i + 1; j < readers.length; j++) ours.push(cohenKappa(pairConfusion(readers[i], readers[j], 3)));
		assert.equal(ours.length, ref[s].pairs.length);
		ours.forEach((k, i) => assert.ok(Math.abs(k - ref[s].pairs[i]) < 1e-9, `case ${s} pair ${i}: ${k} vs sklearn ${ref[s].pairs[i]}`));
		const f = fleissKappa(countsTable(readers, 3));
		assert.ok(Math.abs(f - ref[s].fleiss) < 1e-9, `case ${s}: Fleiss ${f} vs statsmodels ${ref[s].fleiss}`);
	});
});

test('specific agreement of two readers is 2a/(2a+b+c) and 2d/(2d+b+c); Fleiss’ κ of two readers with equal marginals is near Cohen’s', () => {
	const a = [0, 0, 0, 1, 1, 2, 2, 2, 0, 1];
	const b = [0, 0, 1, 1, 2, 2, 2, 0, 0, 1];
	const table = countsTable([a, b], 3);
	// Class 0: both 3, one only 2 → positive 6/8; neither 5 → negative 10/12.
	const s = specificAgreement(table, 0);
	assert.equal(s.positive, 6 / 8);
	assert.equal(s.negative, 10 / 12);
	assert.ok(Math.abs(fleissKappa(table) - cohenKappa(pairConfusion(a, b, 3))) < 0.05);
});

test('the bootstrap interval over patients covers the true κ in ≥ 93 % of 200 simulated studies (Cohen’s pair and Fleiss’ three)', (t) => {
	const rng = new Prng(1);
	const rho = Math.sqrt(0.5);
	const p = [0.3, 0.45, 0.25];
	let coverPair = 0;
	let coverFleiss = 0;
	const studies = 200;
	for (let s = 0; s < studies; s++) {
		const sim = simulate(rng, 150, 3, rho, p);
		const reads: Read[] = sim.flatMap((labels, r) =>
			labels.map((c, i) => ({ path: `img${i}.png`, sha256: '', reader: `R${r}`, label: CLASS_NAMES[c], confidence: null, flags: [], seconds: null, time: '2026-12-08T00:00:00Z', blinded: true })),
		);
		const ag = readerAgreement({ reads, reference: new Map(), resamples: 300, seed: s });
		const k = ag.pairs[0].kappa;
		if (k.lo <= 0.5 && 0.5 <= k.hi) coverPair++;
		if (ag.fleiss!.kappa.lo <= 0.5 && 0.5 <= ag.fleiss!.kappa.hi) coverFleiss++;
	}
	t.diagnostic(`coverage of κ = 0.5: Cohen ${coverPair} / ${studies}, Fleiss ${coverFleiss} / ${studies}`);
	assert.ok(coverPair / studies >= 0.93, `Cohen’s κ interval covered the true κ in ${coverPair} of ${studies}`);
	assert.ok(coverFleiss / studies >= 0.93, `Fleiss’ κ interval covered the true κ in ${coverFleiss} of ${studies}`);
});

test('readerAgreement: pairs, confusion, patients as the bootstrap unit, reader-vs-reference with Wilson intervals; one reader → a note, reference still shown', () => {
	const labels: ClassName[] = ['COVID', 'COVID', 'NORMAL', 'NORMAL', 'PNEUMONIA', 'PNEUMONIA', 'COVID', 'NORMAL'];
	const ann: ClassName[] = ['COVID', 'NORMAL', 'NORMAL', 'NORMAL', 'PNEUMONIA', 'COVID', 'COVID', 'PNEUMONIA'];
	const bob: ClassName[] = ['COVID', 'COVID', 'NORMAL', 'PNEUMONIA', 'PNEUMONIA', 'PNEUMONIA', 'NORMAL', 'NORMAL'];
	const mk = (reader: string, ls: ClassName[]): Read[] =>
		ls.map((label, i) => ({ path: `${labels[i]}/x${i}.png`, sha256: '', reader, label, confidence: 3, flags: [], seconds: i + 1, time: '2026-12-08T00:00:00Z', blinded: true }));
	const reference = new Map<string, Reference>(labels.map((l, i) => [`${l}/x${i}.png`, { label: i === 7 ? 'PNEUMONIA' : l, adjudicated: i === 7 }]));
	const patients = new Map(labels.map((l, i) => [`${l}/x${i}.png`, `p${i >> 1}`]));
	const ag = readerAgreement({ reads: [...mk('Ann', ann), ...mk('Bob', bob)], reference, patients, resamples: 200, seed: 1 });
	assert.equal(ag.agreementNote, undefined);
	assert.equal(ag.bootstrap.unit, 'patient');
	assert.equal(ag.pairs.length, 1);
	const pr = ag.pairs[0];
	assert.deepEqual([pr.a, pr.b, pr.n], ['Ann', 'Bob', 8]);
	assert.equal(pr.observed, 3 / 8);
	assert.deepEqual(pr.confusion, [
		[1, 1, 1],
		[1, 1, 1],
		[0, 1, 1],
	]);
	assert.equal(pr.kappa.est, cohenKappa(pr.confusion));
	assert.ok(pr.kappa.lo <= pr.kappa.est && pr.kappa.est <= pr.kappa.hi);
	assert.deepEqual(ag.reference, { folder: 7, adjudicated: 1, missing: 0 });
	const annRef = ag.vsReference.find((r) => r.reader === 'Ann')!;
	// Ann against the reference (x7 adjudicated PNEUMONIA): right on x0, x2, x3, x4, x6, x7 → 6 / 8.
	assert.equal(annRef.accuracy.est, 6 / 8);
	const covid = annRef.classes[0];
	assert.equal(covid.support, 3);
	assert.equal(covid.sensitivity.est, 2 / 3);
	assert.equal(covid.specificity.est, 4 / 5);
	assert.ok(covid.sensitivity.lo < covid.sensitivity.est && covid.sensitivity.hi > covid.sensitivity.est);
	assert.deepEqual(
		ag.readers.map((r) => [r.name, r.reads, r.blinded, r.medianSeconds]),
		[
			['Ann', 8, 8, 4.5],
			['Bob', 8, 8, 4.5],
		],
	);

	const one = readerAgreement({ reads: mk('Ann', ann), reference, resamples: 50 });
	assert.match(one.agreementNote!, /needs reads by two readers or more; only Ann has read/);
	assert.equal(one.pairs.length, 0);
	assert.equal(one.vsReference[0].accuracy.est, 6 / 8);
});

test('modelVsReaders: paired differences per reader, their mean over three readers with an interval, readers’ ROC points, agreement', () => {
	const rng = new Prng(11);
	const n = 90;
	const truth = Array.from({ length: n }, (_, i) => i % 3);
	const paths = truth.map((_, i) => `img${i}.png`);
	const reference = new Map<string, Reference>(paths.map((p, i) => [p, { label: CLASS_NAMES[truth[i]], adjudicated: i < 10 }]));
	const model = new Map(
		paths.map((p, i) => {
			const probs = [0.1, 0.1, 0.1];
			probs[rng.next() < 0.8 ? truth[i] : (truth[i] + 1) % 3] += 0.7;
			return [p, { probs, predicted: CLASS_NAMES[probs.indexOf(Math.max(...probs))] }];
		}),
	);
	const reads: Read[] = ['A', 'B', 'C'].flatMap((reader, r) =>
		paths.map((p, i) => ({
			path: p,
			sha256: '',
			reader,
			label: CLASS_NAMES[rng.next() < 0.6 + 0.1 * r ? truth[i] : (truth[i] + 2) % 3],
			confidence: null,
			flags: [],
			seconds: null,
			time: '2026-12-08T00:00:00Z',
			blinded: true,
		})),
	);
	const m = modelVsReaders({ run: 'r', reads, model, reference, resamples: 300, seed: 3 });
	assert.equal(m.cases, n);
	const modelAcc = paths.filter((p) => model.get(p)!.predicted === reference.get(p)!.label).length / n;
	assert.equal(m.vsReference.accuracy.est, modelAcc);
	assert.equal(m.vsAdjudicated.n, 10);
	for (const d of m.differences) {
		const readerAcc = reads.filter((r) => r.reader === d.reader && r.label === reference.get(r.path)!.label).length / n;
		assert.ok(Math.abs(d.accuracy.est - (modelAcc - readerAcc)) < 1e-12);
		assert.ok(d.accuracy.lo <= d.accuracy.est && d.accuracy.est <= d.accuracy.hi);
	}
	const mean = m.meanDifference!;
	assert.equal(mean.readers, 3);
	assert.ok(Math.abs(mean.accuracy.est - m.differences.reduce((s, d) => s + d.accuracy.est, 0) / 3) < 1e-12);
	assert.ok(mean.accuracy.lo <= mean.accuracy.est && mean.accuracy.est <= mean.accuracy.hi);
	const covid = m.classes[0];
	assert.equal(covid.support, 30);
	const a = covid.readers.find((x) => x.reader === 'A')!;
	const aReads = reads.filter((r) => r.reader === 'A');
	assert.equal(a.sensitivity.est, aReads.filter((r) => reference.get(r.path)!.label === 'COVID' && r.label === 'COVID').length / 30);
	assert.equal(a.fpr.est, aReads.filter((r) => reference.get(r.path)!.label !== 'COVID' && r.label === 'COVID').length / 60);
	for (const ag of m.agreement) assert.ok(ag.kappa.lo <= ag.kappa.est && ag.kappa.est <= ag.kappa.hi);
});
