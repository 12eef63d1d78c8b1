// Test metrics as the reference reported them: model.evaluate's loss/accuracy and sklearn's classification_report.
import { CLASS_NAMES, type ClassReport, type Metrics, type SourceMetrics } from '../types';
import { wilson } from '../report/stats';

/** "80.00 % [72.0–86.1 %] (n = 120)": an accuracy always travels with its Wilson 95 % interval and n. */
export function accuracyWithInterval(accuracy: number, n: number, digits = 2): string {
	if (!(n > 0) || !Number.isFinite(accuracy)) return `– (n = ${n})`;
	const w = wilson(Math.round(accuracy * n), n);
	return `${(accuracy * 100).toFixed(digits)} % [${(w.lo * 100).toFixed(1)}–${(w.hi * 100).toFixed(1)} %] (n = ${n})`;
}

/** Keras' backend epsilon: probabilities are clipped to [ε, 1−ε] before the log. */
export const EPSILON = 1e-7;

function argmaxRow(probs: ArrayLike<number>, row: number, k: number): number {
	let best = 0;
	for (let i = 1; i < k; i++) if (probs[row * k + i] > probs[row * k + best]) best = i;
	return best;
}

/** Mean categorical cross-entropy and accuracy, as model.evaluate (probs: n × classes, row-major). */
export function lossAndAccuracy(probs: ArrayLike<number>, labels: number[]): { loss: number; accuracy: number } {
	const k = CLASS_NAMES.length;
	const n = labels.length;
	if (n === 0) return { loss: NaN, accuracy: NaN };
	let loss = 0;
	let correct = 0;
	for (let r = 0; r < n; r++) {
		let sum = 0;
		for (let i = 0; i < k; i++) sum += probs[r * k + i];
		const p = Math.min(Math.max(probs[r * k + labels[r]] / sum, EPSILON), 1 - EPSILON);
		loss -= Math.log(p);
		if (argmaxRow(probs, r, k) === labels[r]) correct++;
	}
	return { loss: loss / n, accuracy: correct / n };
}

/** confusion[true][predicted] over class indices. */
export function confusionMatrix(yTrue: number[], yPred: number[], k = CLASS_NAMES.length): number[][] {
	const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
	yTrue.forEach((t, i) => m[t][yPred[i]]++);
	return m;
}

const div = (a: number, b: number): number => (b === 0 ? 0 : a / b);

/** Per-class precision/recall/F1/support and macro/weighted averages, as sklearn's classification_report(zero_division=0). */
export function classificationReport(confusion: number[][]): Pick<Metrics, 'perClass' | 'macroAvg' | 'weightedAvg' | 'support'> {
	const k = confusion.length;
	const perClass: ClassReport[] = [];
	for (let c = 0; c < k; c++) {
		const tp = confusion[c][c];
		const support = confusion[c].reduce((a, b) => a + b, 0);
		let predicted = 0;
		for (let r = 0; r < k; r++) predicted += confusion[r][c];
		const precision = div(tp, predicted);
		const recall = div(tp, support);
		const f1 = div(2 * precision * recall, precision + recall);
		perClass.push({ className: CLASS_NAMES[c], precision, recall, f1, support });
	}
	const total = perClass.reduce((a, r) => a + r.support, 0);
	const avg = (w: (r: ClassReport) => number) => {
		const ws = perClass.map(w);
		const wsum = ws.reduce((a, b) => a + b, 0);
		const pick = (f: (r: ClassReport) => number) =>
			div(
				perClass.reduce((a, r, i) => a + f(r) * ws[i], 0),
				wsum,
			);
		return { precision: pick((r) => r.precision), recall: pick((r) => r.recall), f1: pick((r) => r.f1), support: total };
	};
	return { perClass, macroAvg: avg(() => 1), weightedAvg: avg((r) => r.support), support: total };
}

/** All test metrics from probabilities (n × classes) and true class indices. */
export function computeMetrics(probs: ArrayLike<number>, labels: number[], sources?: (string | undefined)[], minSources = 2): Metrics {
	const k = CLASS_NAMES.length;
	const preds = labels.map((_, r) => argmaxRow(probs, r, k));
	const { loss, accuracy } = lossAndAccuracy(probs, labels);
	const confusion = confusionMatrix(labels, preds, k);
	const bySource = sources ? metricsBySource(labels, preds, sources, minSources) : undefined;
	return { loss, accuracy, confusion, ...classificationReport(confusion), ...(bySource ? { bySource } : {}) };
}

/**
 * Accuracy and per-class recall per source dataset; undefined with fewer than `minSources` sources (a split of one
 * source says nothing new; a classified folder names its one source, so its caller asks for 1).
 */
export function metricsBySource(labels: number[], preds: number[], sources: (string | undefined)[], minSources = 2): SourceMetrics[] | undefined {
	const names = [...new Set(sources.map((s) => s ?? 'unknown'))].sort();
	if (names.length === 0 || names.length < minSources) return undefined;
	return names.map((source) => {
		const rows = labels.map((_, i) => i).filter((i) => (sources[i] ?? 'unknown') === source);
		const c = confusionMatrix(
			rows.map((i) => labels[i]),
			rows.map((i) => preds[i]),
		);
		const support = c.map((row) => row.reduce((a, b) => a + b, 0));
		return {
			source,
			n: rows.length,
			accuracy: rows.filter((i) => labels[i] === preds[i]).length / rows.length,
			recall: c.map((row, j) => (support[j] ? row[j] / support[j] : null)),
			support,
		};
	});
}

/** A fixed-width text report like sklearn's, plus the confusion matrix. */
export function formatMetrics(m: Metrics): string {
	const f = (x: number) => x.toFixed(2).padStart(9);
	const w = Math.max(12, ...CLASS_NAMES.map((c) => c.length));
	const lines = [
		`test loss ${m.loss.toFixed(4)}   test accuracy ${accuracyWithInterval(m.accuracy, m.support)}   (95 % Wilson interval)`,
		'',
		`${''.padStart(w)}${['precision', 'recall', 'f1-score'].map((h) => h.padStart(9)).join('')}${'support'.padStart(10)}`,
		...m.perClass.map((r) => `${r.className.padStart(w)}${f(r.precision)}${f(r.recall)}${f(r.f1)}${String(r.support).padStart(10)}`),
		'',
		`${'accuracy'.padStart(w)}${''.padStart(18)}${f(m.accuracy)}${String(m.support).padStart(10)}`,
		`${'macro avg'.padStart(w)}${f(m.macroAvg.precision)}${f(m.macroAvg.recall)}${f(m.macroAvg.f1)}${String(m.support).padStart(10)}`,
		`${'weighted avg'.padStart(w)}${f(m.weightedAvg.precision)}${f(m.weightedAvg.recall)}${f(m.weightedAvg.f1)}${String(m.support).padStart(10)}`,
		'',
		'confusion matrix (rows = true, columns = predicted)',
		`${''.padStart(w)}${CLASS_NAMES.map((c) => c.padStart(w)).join('')}`,
		...m.confusion.map((row, i) => `${CLASS_NAMES[i].padStart(w)}${row.map((v) => String(v).padStart(w)).join('')}`),
	];
	if (m.bySource) {
		const sw = Math.max(w, ...m.bySource.map((s) => s.source.length));
		const cell = (r: number | null, n: number) => (r === null ? '–' : `${(r * 100).toFixed(0)}% of ${n}`).padStart(13);
		lines.push(
			'',
			'by source dataset (recall per class; sources confound classes, see the README)',
			`${''.padStart(sw)}${'accuracy'.padStart(10)}${CLASS_NAMES.map((c) => c.padStart(13)).join('')}`,
			...m.bySource.map((s) => `${s.source.padStart(sw)}${`${(s.accuracy * 100).toFixed(1)}%`.padStart(10)}${s.recall.map((r, j) => cell(r, s.support[j])).join('')}`),
		);
	}
	return lines.join('\n');
}
