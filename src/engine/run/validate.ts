// Run folders are data anyone can commit to a repository: every file is checked field by field when loaded,
// and a bad field is reported with the file and the field's path. Only known fields are kept.
import { BACKBONE_IDS, CLASS_NAMES, type EpochLog, type SplitResult, type TrainConfig } from '../types';
import { isArrayOf, isBoolean, isInteger, isNumber, isOneOf, isRecord, isShortString, isString, type Guard } from '../../protocol/guards';
import type { StoredMetrics, StoredWeights } from './files';
import { TRAIN_LIMITS } from './limits';

/** A field rule: a guard, a nested object of rules, or an array of nested objects. */
type Rule = Guard<unknown> | { object: Fields; optional?: boolean } | { arrayOf: Fields };
type Fields = Record<string, Rule | { optional: Guard<unknown> }>;

export class RunFileError extends Error {
	constructor(
		readonly file: string,
		readonly field: string,
		reason: string,
	) {
		super(`${file}: ${field ? `field '${field}' ` : ''}${reason}`);
		this.name = 'RunFileError';
	}
}

/** JSON has no NaN: a metric that was NaN reads back as null. */
const isJsonNumber = (v: unknown): v is number => v === null || isNumber(v);
const isNonNegInt = (v: unknown): v is number => isInteger(v) && v >= 0;
const isFraction = (v: unknown): v is number => isNumber(v) && v >= 0 && v <= 1;
/** An integer setting within the bounds training itself enforces. */
const inLimits =
	(name: keyof typeof TRAIN_LIMITS) =>
	(v: unknown): v is number =>
		isInteger(v) && v >= TRAIN_LIMITS[name].min && v <= TRAIN_LIMITS[name].max;
const isRelPaths = isArrayOf(isShortString);
const isStringRecordOfNumbers: Guard<Record<string, number>> = (v): v is Record<string, number> => isRecord(v) && Object.values(v).every(isJsonNumber);

/** Checks `v` against `fields`; returns a copy with only those fields, or throws naming the first bad one. */
function check(file: string, v: unknown, fields: Fields, at = ''): Record<string, unknown> {
	if (!isRecord(v)) throw new RunFileError(file, at, at ? 'must be an object' : 'must hold a JSON object');
	const out: Record<string, unknown> = {};
	for (const [key, rule] of Object.entries(fields)) {
		const where = at ? `${at}.${key}` : key;
		const value = Object.prototype.hasOwnProperty.call(v, key) ? v[key] : undefined;
		if (typeof rule === 'function') {
			if (!rule(value)) throw new RunFileError(file, where, value === undefined ? 'is missing' : `has an invalid value (${preview(value)})`);
			out[key] = value;
		} else if ('arrayOf' in rule) {
			if (!Array.isArray(value)) throw new RunFileError(file, where, 'must be an array');
			out[key] = value.map((item, i) => check(file, item, rule.arrayOf, `${where}[${i}]`));
		} else if ('object' in rule) {
			if (value === undefined && rule.optional) continue;
			out[key] = check(file, value, rule.object, where);
		} else {
			if (value === undefined) continue;
			if (!rule.optional(value)) throw new RunFileError(file, where, `has an invalid value (${preview(value)})`);
			out[key] = value;
		}
	}
	return out;
}

function preview(v: unknown): string {
	const s = JSON.stringify(v) ?? String(v);
	return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}

const REPORT: Fields = { precision: isJsonNumber, recall: isJsonNumber, f1: isJsonNumber, support: isNonNegInt };
const CONFUSION: Guard<number[][]> = (v): v is number[][] =>
	Array.isArray(v) && v.length === CLASS_NAMES.length && v.every((row) => Array.isArray(row) && row.length === CLASS_NAMES.length && row.every(isNonNegInt));

const METRICS: Fields = {
	loss: isJsonNumber,
	accuracy: isJsonNumber,
	confusion: CONFUSION,
	perClass: { arrayOf: { className: isOneOf(CLASS_NAMES), ...REPORT } },
	macroAvg: { object: REPORT },
	weightedAvg: { object: REPORT },
	support: isNonNegInt,
	bySource: {
		optional: (v: unknown): v is unknown =>
			Array.isArray(v) &&
			v.every((s) => isRecord(s) && isString(s.source) && isNonNegInt(s.n) && isJsonNumber(s.accuracy) && Array.isArray(s.recall) && s.recall.every(isJsonNumber) && isArrayOf(isNonNegInt)(s.support)),
	},
};

/** metrics.json's int8 report: numbers and words only (the ranges live in quantization.json). */
const INT8: Fields = {
	method: isString,
	quantizerVersion: isNonNegInt,
	calibrationSet: isShortString,
	calibrationImages: isNonNegInt,
	checkImages: isNonNegInt,
	cosineMin: isJsonNumber,
	cosineP1: isJsonNumber,
	cosineMedian: isJsonNumber,
	accepted: isBoolean,
	reason: { optional: isString },
	stats: { object: { convs: isNonNegInt, activations: isNonNegInt, foldedRelus: isNonNegInt } },
	rangesSha: isShortString,
	testCosineMin: { optional: isJsonNumber },
	testCosineP1: { optional: isJsonNumber },
	testAgreement: { optional: isJsonNumber },
	testAccuracyFp32: { optional: isJsonNumber },
	mcnemar: { object: { int8Only: isNonNegInt, fp32Only: isNonNegInt, p: isJsonNumber }, optional: true },
	accuracyDelta: { object: { estimate: isJsonNumber, lo: isJsonNumber, hi: isJsonNumber, n: isNonNegInt }, optional: true },
};

const WEIGHTS: Fields = { pretrained: isBoolean, name: isString, sha256: isString, path: { optional: isString } };

export function validateMetrics(file: string, v: unknown): StoredMetrics {
	const m = check(file, v, {
		...METRICS,
		backbone: isOneOf(BACKBONE_IDS),
		backend: isString,
		baseRuntime: isString,
		weights: { object: WEIGHTS },
		createdAt: isShortString,
		timing: isStringRecordOfNumbers,
		counts: { object: { train: isNonNegInt, val: isNonNegInt, test: isNonNegInt, decodeErrors: isNonNegInt } },
		headTrainer: { optional: isString },
		stoppedAt: { optional: isNonNegInt },
		restoredEpoch: { optional: isNonNegInt },
		sourceWarnings: { optional: isArrayOf(isString) },
		int8: { object: INT8, optional: true },
	}) as unknown as StoredMetrics;
	if (m.perClass.length !== CLASS_NAMES.length) throw new RunFileError(file, 'perClass', `must list the ${CLASS_NAMES.length} classes`);
	return { ...m, loss: m.loss ?? NaN, accuracy: m.accuracy ?? NaN };
}

export function validateWeights(file: string, v: unknown): StoredWeights {
	return check(file, v, { ...WEIGHTS, backbone: isOneOf(BACKBONE_IDS) }) as unknown as StoredWeights;
}

export function validateConfig(file: string, v: unknown): TrainConfig {
	return check(file, v, {
		backbone: isOneOf(BACKBONE_IDS),
		dataDir: isShortString,
		weights: isShortString,
		epochs: inLimits('epochs'),
		batchSize: inLimits('batchSize'),
		learningRate: isNumber,
		testFraction: isFraction,
		valFraction: isFraction,
		seed: isInteger,
		splitMode: isOneOf(['patient', 'image'] as const),
		resize: isOneOf(['stretch', 'letterbox'] as const),
		imageSize: inLimits('imageSize'),
		preprocessing: { optional: isOneOf(['caffe', 'tf', 'unit'] as const) },
		dropout: isFraction,
		reduceLr: { object: { factor: isNumber, patience: isNonNegInt, cooldown: isNonNegInt, minLr: isNumber } },
		backend: isOneOf(['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const),
		baseRuntime: isOneOf(['auto', 'onnx', 'tfjs'] as const),
		workDir: isShortString,
		restoreBestWeights: { optional: isBoolean },
		precision: { optional: isOneOf(['fp32', 'int8'] as const) },
		dicomWindow: {
			optional: (w: unknown): w is unknown => isRecord(w) && ((w.kind === 'file' && isNonNegInt(w.index)) || (w.kind === 'percentile' && isNumber(w.low) && isNumber(w.high)) || w.kind === 'minmax'),
		},
		equalize: { optional: isOneOf(['none', 'clahe'] as const) },
		testSource: { optional: isShortString },
		balance: { optional: isOneOf(['none', 'class', 'class-source'] as const) },
		head: { optional: isOneOf(['reference', 'linear-probe'] as const) },
		annotations: {
			object: {
				file: isShortString,
				sha256: (v: unknown): v is string | null => v === null || isShortString(v),
				rows: isNonNegInt,
				relabelled: isNonNegInt,
				excluded: isNonNegInt,
				flagged: isNonNegInt,
				noted: isNonNegInt,
				reviewed: isNonNegInt,
				moved: isNonNegInt,
				labelsDigest: isShortString,
			},
			optional: true,
		},
	}) as unknown as TrainConfig;
}

export function validateSplits(file: string, v: unknown): SplitResult {
	return check(file, v, {
		mode: isOneOf(['patient', 'image'] as const),
		seed: isInteger,
		testFraction: isFraction,
		valFraction: isFraction,
		train: isRelPaths,
		val: isRelPaths,
		test: isRelPaths,
		leakedPatients: isArrayOf(isString),
		excluded: { optional: (v: unknown): v is unknown => Array.isArray(v) && v.every((x) => isRecord(x) && isShortString(x.path) && isString(x.reason)) },
		relabelled: {
			optional: (v: unknown): v is unknown =>
				Array.isArray(v) && v.every((x) => isRecord(x) && isShortString(x.path) && (x.from === null || isOneOf(CLASS_NAMES)(x.from)) && isOneOf(CLASS_NAMES)(x.to)),
		},
		linkedGroups: { optional: isNonNegInt },
		linked: { optional: isArrayOf(isRelPaths) },
		frozen: { optional: isBoolean },
	}) as unknown as SplitResult;
}

export function validateHistory(file: string, v: unknown): EpochLog[] {
	if (!Array.isArray(v)) throw new RunFileError(file, '', 'must hold a JSON array of epochs');
	return v.map((e, i) => {
		const log = check(file, e, { epoch: isNonNegInt, loss: isJsonNumber, acc: isJsonNumber, val_loss: isJsonNumber, val_acc: isJsonNumber, lr: isNumber, seconds: isNumber }, `[${i}]`);
		return { ...log, loss: log.loss ?? NaN, acc: log.acc ?? NaN, val_loss: log.val_loss ?? NaN, val_acc: log.val_acc ?? NaN } as EpochLog;
	});
}
