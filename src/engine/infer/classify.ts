// Predictions: from pooled features through a trained head, and to/from predictions.csv.
import { promises as fs } from 'node:fs';
import { CLASS_NAMES, type ClassName, type ImageRecord, type Prediction, type SplitName } from '../types';
import { predictPooled, type Head } from '../model/head';
import { writeFileAtomic } from '../util/atomic';
import { parseOwnCsvRecords, toCsv } from '../data/csv';
import { checkRelPath } from '../annotations/format';

// source, patient_id and the out-of-distribution columns were appended later: readers go by header name, so
// older files still read.
export const PREDICTION_COLUMNS = [
	'relPath',
	'path',
	'label',
	'predicted',
	...CLASS_NAMES.map((c) => `p_${c}`),
	'correct',
	'split',
	'source',
	'patient_id',
	'outOfDistribution',
	'ood_score',
	'ood_reasons',
] as const;
/** Between reasons in the ood_reasons column (the reasons themselves may hold ';'). */
const REASON_SEP = ' | ';

/** One prediction per record, probabilities in CLASS_NAMES order. */
export function predictRecords(head: Head, feats: Float32Array, records: ImageRecord[], split?: (r: ImageRecord) => SplitName | undefined): Prediction[] {
	const k = CLASS_NAMES.length;
	const probs = predictPooled(head, feats, records.length);
	return records.map((r, i) => {
		const p = Array.from(probs.subarray(i * k, (i + 1) * k));
		let best = 0;
		for (let c = 1; c < k; c++) if (p[c] > p[best]) best = c;
		const pred: Prediction = { relPath: r.relPath, path: r.path, label: r.label, predicted: CLASS_NAMES[best], probs: p };
		const s = split?.(r);
		if (s) pred.split = s;
		if (r.source) pred.source = r.source;
		pred.patientId = r.patientId;
		return pred;
	});
}

export function predictionsToCsv(preds: Prediction[]): string {
	return toCsv(
		PREDICTION_COLUMNS,
		preds.map((p) => [
			p.relPath,
			p.path,
			p.label ?? '',
			p.predicted,
			...p.probs.map((x) => String(x)),
			p.label == null ? '' : String(p.label === p.predicted),
			p.split ?? '',
			p.source ?? '',
			p.patientId ?? '',
			p.outOfDistribution === undefined ? '' : String(p.outOfDistribution),
			p.oodScore === undefined ? '' : String(p.oodScore),
			(p.oodReasons ?? []).join(REASON_SEP),
		]),
	);
}

export function writePredictionsCsv(file: string, preds: Prediction[]): Promise<void> {
	return writeFileAtomic(file, predictionsToCsv(preds));
}

const isClass = (v: string): v is ClassName => (CLASS_NAMES as readonly string[]).includes(v);
const isSplit = (v: string): v is SplitName => v === 'train' || v === 'val' || v === 'test';

/**
 * Reads a predictions.csv written by writePredictionsCsv (the CSV reader lower-cases header names). The file may come
 * from anyone: every row is checked and a bad one is reported by row and column.
 */
export async function readPredictionsCsv(file: string): Promise<Prediction[]> {
	const rows = parseOwnCsvRecords(await fs.readFile(file, 'utf8'));
	return rows.map((r, i) => {
		const bad = (column: string, why: string): Error => new Error(`${file}: row ${i + 2}: column '${column}' ${why}`);
		for (const col of ['relpath', 'path'] as const) {
			const v = r[col];
			if (!v || v.length > 4096 || v.includes('\0')) throw bad(col, v ? 'is not a usable path' : 'is empty');
		}
		if (!checkRelPath(r.relpath)) throw bad('relPath', `is not a relative '/'-separated path inside the dataset ('${r.relpath.slice(0, 80)}')`);
		if (!isClass(r.predicted)) throw bad('predicted', `is not a class ('${String(r.predicted ?? '').slice(0, 40)}')`);
		if (r.label && !isClass(r.label)) throw bad('label', `is not a class ('${r.label.slice(0, 40)}')`);
		if (r.split && !isSplit(r.split)) throw bad('split', `is not train, val or test ('${r.split.slice(0, 40)}')`);
		const probs = CLASS_NAMES.map((c) => {
			const col = `p_${c.toLowerCase()}`;
			const x = Number(r[col]);
			if (r[col] === undefined || r[col] === '' || !(x >= 0 && x <= 1)) throw bad(`p_${c}`, 'must be a probability in [0, 1]');
			return x;
		});
		const p: Prediction = { relPath: r.relpath, path: r.path, label: isClass(r.label) ? r.label : null, predicted: r.predicted, probs };
		if (isSplit(r.split)) p.split = r.split;
		if (r.source) p.source = r.source;
		if (r.patient_id) p.patientId = r.patient_id;
		const ood = r.outofdistribution;
		if (ood && ood !== 'true' && ood !== 'false') throw bad('outOfDistribution', `is not true or false ('${ood.slice(0, 40)}')`);
		if (ood) {
			p.outOfDistribution = ood === 'true';
			const score = Number(r.ood_score);
			if (r.ood_score && Number.isFinite(score)) p.oodScore = score;
			if (r.ood_reasons) p.oodReasons = r.ood_reasons.split(REASON_SEP);
		}
		return p;
	});
}
