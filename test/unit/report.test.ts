// Report-card statistics: checked against scikit-learn / SciPy on the same inputs (Debian python3-sklearn), Wilson
// coverage by simulation, bootstrap reproducibility by seed, the operating point chosen on validation only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { CLASS_NAMES, type Prediction } from '../../src/engine/types';
import { Prng } from '../../src/engine/train/prng';
import { averagePrecision, brierBinary, brierMulti, chooseThreshold, expectedCalibrationError, mcnemar, prCurve, reliability, rocAuc, rocCurve, wilson } from '../../src/engine/report/stats';
import { buildReport, comparePaired, formatInterval } from '../../src/engine/report/report';
import { missingPrereq } from './prereq';

// Debian's python3 first: a pyenv or venv python3 earlier on PATH may lack the Debian packages.
const PYTHON = ['/usr/bin/python3', 'python3'].find((py) => spawnSync(py, ['-c', 'import sklearn, scipy'], { encoding: 'utf8' }).status === 0);

/** Three-class probabilities with some signal, rounded to 2 decimals so that ties occur. */
function synthetic(n: number, seed: number): { y: number[]; probs: number[][] } {
	const rng = new Prng(seed);
	const y: number[] = [];
	const probs: number[][] = [];
	for (let i = 0; i < n; i++) {
		const t = Math.floor(rng.next() * 3);
		const logits = [0, 1, 2].map((c) => (c === t ? 1.2 : 0) + rng.next() * 2);
		const e = logits.map(Math.exp);
		const s = e.reduce((a, b) => a + b, 0);
		const p = e.map((v) => Math.round((v / s) * 100) / 100);
		y.push(t);
		probs.push(p);
	}
	return { y, probs };
}

function python(script: string, input: unknown): any {
	const r = spawnSync(PYTHON!, ['-c', script], { input: JSON.stringify(input), encoding: 'utf8' });
	assert.equal(r.status, 0, r.stderr);
	return JSON.parse(r.stdout);
}

const close = (a: number, b: number, msg: string, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${msg}: ${a} vs ${b}`);
const closeArr = (a: number[], b: number[], msg: string) => {
	assert.equal(a.length, b.length, `${msg}: length ${a.length} vs ${b.length}`);
	a.forEach((x, i) => (x === b[i] || (x === Infinity && b[i] > 1) ? undefined : close(x, b[i], `${msg}[${i}]`)));
};

const SKLEARN = `
import json, sys
import numpy as np
from sklearn.metrics import roc_auc_score, average_precision_score, roc_curve, precision_recall_curve, brier_score_loss, f1_score, confusion_matrix
from sklearn.calibration import calibration_curve
from scipy.stats import binomtest
d = json.load(sys.stdin)
y = np.array(d['y']); P = np.array(d['probs'])
out = {'classes': []}
for c in range(3):
    t = (y == c).astype(int); s = P[:, c]
    fpr, tpr, th = roc_curve(t, s, drop_intermediate=False)
    pr, rc, pth = precision_recall_curve(t, s)
    pt, pp = calibration_curve(t, s, n_bins=10, strategy='uniform')
    out['classes'].append({'auc': roc_auc_score(t, s), 'ap': average_precision_score(t, s), 'fpr': fpr.tolist(), 'tpr': tpr.tolist(),
        'th': th[1:].tolist(), 'precision': pr.tolist(), 'recall': rc.tolist(), 'brier': brier_score_loss(t, s),
        'cal_true': pt.tolist(), 'cal_pred': pp.tolist()})
pred = P.argmax(1)
out['macro_f1'] = f1_score(y, pred, average='macro')
out['confusion'] = confusion_matrix(y, pred).tolist()
out['brier_multi'] = float(np.mean(np.sum((P - np.eye(3)[y]) ** 2, axis=1)))
out['mcnemar'] = [binomtest(int(b), int(b + c), 0.5).pvalue for b, c in d['discordant']]
print(json.dumps(out))
`;

test('ROC/PR curves, AUC, AP, Brier, calibration bins, macro-F1 and McNemar match scikit-learn / SciPy', (t) => {
	if (!PYTHON) return missingPrereq(t, 'python3 with scikit-learn and SciPy (apt-get install python3-sklearn)');
	const { y, probs } = synthetic(300, 7);
	const discordant = [
		[3, 12],
		[10, 10],
		[0, 5],
		[40, 25],
	];
	const ref = python(SKLEARN, { y, probs, discordant }) as {
		classes: { auc: number; ap: number; fpr: number[]; tpr: number[]; th: number[]; precision: number[]; recall: number[]; brier: number; cal_true: number[]; cal_pred: number[] }[];
		brier_multi: number;
		macro_f1: number;
		confusion: number[][];
		mcnemar: number[];
	};
	for (let c = 0; c < 3; c++) {
		const s = probs.map((p) => p[c]);
		const pos = y.map((t) => t === c);
		const r = ref.classes[c];
		close(rocAuc(s, pos), r.auc, `AUC ${c}`);
		close(averagePrecision(s, pos), r.ap, `AP ${c}`);
		const roc = rocCurve(s, pos);
		closeArr(roc.fpr, r.fpr, `fpr ${c}`);
		closeArr(roc.tpr, r.tpr, `tpr ${c}`);
		closeArr(roc.thresholds.slice(1), r.th, `roc thresholds ${c}`);
		const pr = prCurve(s, pos);
		closeArr(pr.precision, r.precision, `precision ${c}`);
		closeArr(pr.recall, r.recall, `recall ${c}`);
		close(brierBinary(s, pos), r.brier, `Brier ${c}`);
		const bins = reliability(s, pos).filter((b) => b.count > 0);
		closeArr(
			bins.map((b) => b.observed),
			r.cal_true,
			`calibration observed ${c}`,
		);
		closeArr(
			bins.map((b) => b.meanPredicted),
			r.cal_pred,
			`calibration predicted ${c}`,
		);
	}
	close(brierMulti(probs.flat(), y, 3), ref.brier_multi, 'multi-class Brier');
	const preds = probs.map((_, i) => pred(i, y, probs));
	const card = buildReport(reportInput(preds, { resamples: 200 }));
	close(card.macroF1.est, ref.macro_f1, 'macro-F1');
	assert.deepEqual(card.confusion.counts, ref.confusion);
	discordant.forEach(([b, c], i) => {
		const a = [...Array(b).fill(true), ...Array(c).fill(false)];
		const bb = [...Array(b).fill(false), ...Array(c).fill(true)];
		close(mcnemar(a, bb).p, ref.mcnemar[i], `McNemar p (${b}, ${c})`, 1e-9);
	});
});

test('Wilson interval: textbook value, and 95 % coverage by simulation', () => {
	const w = wilson(8, 10);
	close(w.lo, 0.4901625, 'lo 8/10', 1e-6);
	close(w.hi, 0.9433178, 'hi 8/10', 1e-6);
	assert.ok(Number.isNaN(wilson(0, 0).est));
	const rng = new Prng(2024);
	const coverages: number[] = [];
	for (const n of [30, 100]) {
		for (const p of [0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9]) {
			let hit = 0;
			const trials = 4000;
			for (let t = 0; t < trials; t++) {
				let k = 0;
				for (let i = 0; i < n; i++) if (rng.next() < p) k++;
				const iv = wilson(k, n);
				if (iv.lo <= p && p <= iv.hi) hit++;
			}
			coverages.push(hit / trials);
			assert.ok(hit / trials > 0.91, `coverage n=${n} p=${p}: ${hit / trials}`);
		}
	}
	const mean = coverages.reduce((a, b) => a + b, 0) / coverages.length;
	assert.ok(Math.abs(mean - 0.95) < 0.015, `mean coverage ${mean}`);
});

function pred(i: number, y: number[], probs: number[][], split: 'val' | 'test' = 'test', patient?: string): Prediction & { patient: string } {
	const p = probs[i];
	const best = p.indexOf(Math.max(...p));
	return { relPath: `${split}/${i}.png`, path: `/x/${split}/${i}.png`, label: CLASS_NAMES[y[i]], predicted: CLASS_NAMES[best], probs: p, split, patient: patient ?? `p${split}${i}` };
}

function reportInput(preds: (Prediction & { patient: string })[], extra: { resamples?: number; bootstrapSeed?: number } = {}) {
	return {
		run: { name: 'r', backbone: 'vgg16', createdAt: '', backend: 'test' },
		predictions: preds,
		patients: new Map(preds.map((p) => [p.relPath, { patientId: p.patient, source: p.label === 'COVID' ? 'adult' : 'child' }])),
		splitMode: 'patient' as const,
		seed: 40,
		leakedPatients: 0,
		weights: { pretrained: true, name: 'test' },
		...extra,
	};
}

test('the bootstrap is reproducible with a seed, resamples patients, and its interval brackets the estimate', () => {
	const { y, probs } = synthetic(240, 11);
	// Two images per patient: a patient-level bootstrap must give wider intervals than pretending 240 independents.
	const preds = probs.map((_, i) => pred(i, y, probs, 'test', `pt${Math.floor(i / 2)}`));
	const a = buildReport(reportInput(preds, { resamples: 1000, bootstrapSeed: 5 }));
	const b = buildReport(reportInput(preds, { resamples: 1000, bootstrapSeed: 5 }));
	const c = buildReport(reportInput(preds, { resamples: 1000, bootstrapSeed: 6 }));
	assert.deepEqual(a.accuracy, b.accuracy);
	assert.deepEqual(a.macroAuc, b.macroAuc);
	assert.notDeepEqual(a.accuracy, c.accuracy);
	for (const iv of [a.accuracy, a.macroF1, a.macroAuc, ...a.classes.map((k) => k.auc)]) {
		assert.ok(iv.lo <= iv.est && iv.est <= iv.hi && iv.hi - iv.lo > 0.01, JSON.stringify(iv));
	}
	assert.equal(a.provenance.patients.test, 120);
	assert.equal(a.provenance.bootstrap.unit, 'patient');
	assert.ok(a.provenance.confoundWarning, 'source = adult iff COVID: the confound warning is raised');
	assert.match(formatInterval(a.accuracy, a.n), /^\d+\.\d % \[\d+\.\d–\d+\.\d\] \(n = 240\)$/);
});

test('the operating point is chosen on validation and only applied to test', () => {
	const { y, probs } = synthetic(400, 3);
	const val = probs.slice(0, 200).map((_, i) => pred(i, y, probs, 'val'));
	const test_ = probs.slice(200).map((_, i) => pred(i + 200, y, probs, 'test'));
	const card = buildReport({ ...reportInput([...val, ...test_], { resamples: 50 }), rule: { kind: 'sensitivity', target: 0.9 } });
	const op = card.operatingPoint!;
	const vs = val.map((p) => p.probs[0]);
	const vy = val.map((p) => p.label === 'COVID');
	assert.equal(op.threshold, chooseThreshold(vs, vy, { kind: 'sensitivity', target: 0.9 }));
	assert.ok(op.val.sensitivity.est >= 0.9, `val sensitivity ${op.val.sensitivity.est}`);
	// Changing the test scores never moves the threshold.
	const shifted = test_.map((p) => ({ ...p, probs: [p.probs[0] * 0.5, p.probs[1], p.probs[2]] }));
	const card2 = buildReport({ ...reportInput([...val, ...shifted], { resamples: 50 }), rule: { kind: 'sensitivity', target: 0.9 } });
	assert.equal(card2.operatingPoint!.threshold, op.threshold);
	const tp = test_.filter((p) => p.label === 'COVID' && p.probs[0] >= op.threshold).length;
	assert.equal(op.test.sensitivity.est, tp / test_.filter((p) => p.label === 'COVID').length);
	// Youden's J maximises sensitivity + specificity − 1 on validation.
	const t = chooseThreshold(vs, vy, { kind: 'youden' });
	const j = (th: number) => {
		const tpr = vs.filter((s, i) => vy[i] && s >= th).length / vy.filter(Boolean).length;
		const fpr = vs.filter((s, i) => !vy[i] && s >= th).length / vy.filter((v) => !v).length;
		return tpr - fpr;
	};
	for (const th of new Set(vs)) assert.ok(j(th) <= j(t) + 1e-12);
	assert.ok(expectedCalibrationError(card.calibration.topLabel) >= 0);
});

test('paired comparison: McNemar and the paired bootstrap see a real difference and no difference against itself', () => {
	const { y, probs } = synthetic(300, 9);
	const a = probs.map((_, i) => pred(i, y, probs));
	// B is A with 40 of its right answers turned wrong.
	let flipped = 0;
	const b = a.map((p) => {
		if (p.predicted === p.label && flipped < 40) {
			flipped++;
			const wrong = CLASS_NAMES.find((c) => c !== p.label)!;
			return { ...p, predicted: wrong };
		}
		return p;
	});
	const r = comparePaired(a, b, { resamples: 500, seed: 1 });
	assert.equal(r.mcnemar.onlyA, 40);
	assert.equal(r.mcnemar.onlyB, 0);
	assert.ok(r.mcnemar.p < 1e-6);
	assert.ok(r.difference.lo > 0, JSON.stringify(r.difference));
	const self = comparePaired(a, a, { resamples: 200, seed: 1 });
	assert.equal(self.mcnemar.p, 1);
	assert.equal(self.difference.est, 0);
});
