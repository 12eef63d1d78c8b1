// The engine's facade: what the CLI and the extension's worker call. Plain Node, no vscode.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
	BACKBONE_IDS,
	CLASS_NAMES,
	DEFAULT_TRAIN_CONFIG,
	type EpochLog,
	type Equalize,
	type FileError,
	type ImageRecord,
	type JobOptions,
	type Metrics,
	type Prediction,
	type ResizeMode,
	type RunSummary,
	type ScanResult,
	type SplitMode,
	type SplitName,
	type SplitResult,
	type TrainConfig,
	type WeightsInfo,
	type AnnotationSummary,
} from './types';
import { isCancelled, throwIfAborted } from './util/cancel';
import { initBackend, type BackendReport } from './model/tf';
import { getBackbone } from './model/backbones';
import type { BackboneSpec } from './model/backbones/spec';
import { buildHead, minHeadImageSize, predictPooled, wrapHead, type Head } from './model/head';
import { scanDataset } from './data/scan';
import { loadImages, type LoadedImage, type LoadResult, type PixelCacheOptions } from './data/cache';
import { splitDataset, splitIndex } from './data/splits';
import { readFrozenSplit, reviewPlacement, writeFrozenSplit } from './data/frozenSplit';
import { linkDuplicates } from './data/duplicates';
import { computeFeatures, featureCacheDir, type FeatureInput, type FeatureKey, type FeatureOptions, type FeatureResult } from './train/features';
import { pipelineFeatures, type PipelinedLoad } from './train/pipeline';
import { int8CacheFile, int8Fidelity, int8Tag, planCalibration, readStoredInt8, writeStoredInt8, type CalibrationPlan, type Int8Fidelity, type StoredInt8 } from './train/int8Base';
import type { FeatureExtractor } from './runtime/extractor';
import { normalise } from './data/preprocess';
import { poolFeatures } from './model/head';
import { createExtractor, prepareBase, type PreparedBase } from './train/base';
import { headTrainerLabel, trainHead, type FeatureSet } from './train/train';
import { computeMetrics, lossAndAccuracy } from './infer/metrics';
import { applyAnnotations, staleLabelsOf, type AppliedAnnotations } from './annotations/store';
import { balancedRows, fitLinearProbe, splitBySource } from './train/mitigations';
import { balanceWeights } from './audit/audit';
import { buildOodReference, OOD_K, oodVerdict, scoreOod, type OodReference, type OodVerdict } from './audit/ood';
import { readHeader, type ImageHeader } from './audit/pixels';
import { globalPool } from './audit/linear';
import { datasetShift, folderSource, shiftReport, sourceCoverage, trainingSources, type ShiftReport } from './audit/shift';
import { readOodReference, writeOodReference } from './run/oodFile';
import { classSourceTable } from './data/sources';
import { predictRecords, readPredictionsCsv, writePredictionsCsv } from './infer/classify';
import {
	RUN_FILES,
	abandonRun,
	beginRun,
	commitRun,
	listRuns as listRunDirs,
	listInterruptedRuns as listInterrupted,
	recoverPartialRuns,
	type InterruptedRun,
	type RecoverResult,
	listRunsWithHistory,
	loadLayersModel,
	loadRun as loadRunDir,
	saveLayersModel,
	summaryOf,
	timestampName,
	writeRunJson,
	type LoadedRun,
	type RunWithHistory,
	type StoredMetrics,
	type StoredWeights,
} from './run/runDir';
import type { WindowChoice } from './data/voi';
import { shardRecords, type Shard } from './scale/shard';
import { holdForTest } from './testHooks';
import { TRAIN_LIMITS } from './run/limits';
import { mayRead } from './util/scope';

export type { LoadedRun, RunWithHistory, StoredMetrics } from './run/runDir';
export { weightsStatus } from './weights/status';
export { probeBackends } from './model/tf';

/** Stale `.partial` run folders → interrupted runs (or removed); folders of live processes stay. */
export function recoverRuns(workDir: string): Promise<RecoverResult> {
	return recoverPartialRuns(path.resolve(workDir));
}

export function listInterruptedRuns(workDir: string): Promise<InterruptedRun[]> {
	return listInterrupted(path.resolve(workDir));
}

/**
 * The limits the settings declare (package.json: minimum/maximum), enforced here so that the CLI, a hand-edited
 * settings file and the worker all meet the same bounds. A unit test keeps the two in step.
 */
export { TRAIN_LIMITS } from './run/limits';

/** Fills defaults, resolves paths and checks values; throws naming the bad option. */
export function resolveTrainConfig(cfg: Partial<TrainConfig> & Pick<TrainConfig, 'backbone' | 'dataDir' | 'workDir'>): TrainConfig {
	const c: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, ...cfg, reduceLr: { ...DEFAULT_TRAIN_CONFIG.reduceLr, ...cfg.reduceLr } };
	if (!(BACKBONE_IDS as readonly string[]).includes(c.backbone)) throw new Error(`Unknown backbone '${c.backbone}' (one of ${BACKBONE_IDS.join(', ')})`);
	const int = (name: keyof typeof TRAIN_LIMITS, v: number) => {
		const { min, max } = TRAIN_LIMITS[name];
		if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${name} must be an integer from ${min} to ${max} (got ${v})`);
	};
	const frac = (name: keyof typeof TRAIN_LIMITS, v: number) => {
		const { min, max } = TRAIN_LIMITS[name];
		if (!(v >= min && v <= max)) throw new Error(`${name} must be from ${min} to ${max} (got ${v})`);
	};
	int('epochs', c.epochs);
	int('batchSize', c.batchSize);
	int('imageSize', c.imageSize);
	// Up front, before weights or images: below 2×2 the head's pooling is empty and the backend crashes unexplained.
	// (Keras' own minimum, e.g. Xception's 71, is the builder's to refuse, after the weights are known.)
	const spec = getBackbone(c.backbone);
	const [h, w] = spec.outputShape(c.imageSize);
	if (h < 2 || w < 2) {
		const minSize = minHeadImageSize(spec);
		throw new Error(
			`imageSize ${c.imageSize} is too small for ${spec.displayName}: its base output would be ${h}×${w}, and the head's 2×2 average pooling needs at least 2×2. Use an image size of ${minSize} or more.`,
		);
	}
	if (!Number.isInteger(c.seed) || c.seed < 0) throw new Error(`seed must be an integer ≥ 0 (got ${c.seed})`);
	if (!(c.learningRate > 0)) throw new Error(`learningRate must be > 0 (got ${c.learningRate})`);
	if (!(c.reduceLr.minLr >= 0)) throw new Error(`minLr must be ≥ 0 (got ${c.reduceLr.minLr})`);
	if (!(c.dropout >= 0 && c.dropout < 1)) throw new Error(`dropout must be in [0, 1) (got ${c.dropout})`);
	frac('testFraction', c.testFraction);
	frac('valFraction', c.valFraction);
	if (c.testFraction + c.valFraction >= 1) throw new Error(`testFraction + valFraction must leave images to train on (got ${c.testFraction} + ${c.valFraction})`);
	return { ...c, dataDir: path.resolve(c.dataDir), workDir: path.resolve(c.workDir) };
}

/** "WASM (SIMD, 1 thread)" plus where the base ran, for every place a result is shown. */
function backendLabel(report: BackendReport, baseRuntime: string): string {
	if (baseRuntime === 'feature cache') return `${report.label}; base features from cache`;
	return baseRuntime.startsWith('tfjs') ? report.label : `${report.label}; base on ${baseRuntime}`;
}

/** "imagenet (…)" or "random (not pretrained)": wording shared by the CLI and the panels. */
export function describeWeights(w: WeightsInfo): string {
	return w.pretrained ? `${w.name} (pretrained)` : `${w.name.includes('not pretrained') ? w.name : `${w.name} (not pretrained)`}`;
}

async function scan(dataDir: string, opts: JobOptions): Promise<ScanResult> {
	const st = await fs.stat(dataDir).catch(() => undefined);
	if (!st?.isDirectory()) throw new Error(`${dataDir}: not a folder`);
	// scanDataset reports its own stage progress and file errors.
	return scanDataset(dataDir, { signal: opts.signal, onProgress: opts.onProgress });
}

function decode(records: ImageRecord[], workDir: string, size: number, resize: ResizeMode, opts: JobOptions, extra: { dicomWindow?: WindowChoice; equalize?: Equalize } = {}): Promise<LoadResult> {
	// loadImages reports its own stage progress and file errors.
	const { dicomWindow, equalize } = extra;
	return loadImages(records, { workDir, size, resize, ...(dicomWindow ? { dicomWindow } : {}), ...(equalize ? { equalize } : {}), signal: opts.signal, onProgress: opts.onProgress });
}

/** How the base runs: fp32, or int8 calibrated on a plan's images, or int8 from ranges a run stored. */
type Int8Request = { plan: CalibrationPlan } | { stored: StoredInt8 };

/** Records still to decode: the feature pass decodes them itself, overlapped with the base (see train/pipeline.ts). */
interface ToDecode {
	records: ImageRecord[];
	pixels: PixelCacheOptions;
}

/** Features for loaded (or still to decode) images through the cache; the base is built only if something is missing. */
async function features(
	loaded: LoadResult | ToDecode,
	spec: BackboneSpec,
	base: PreparedBase,
	cfg: Pick<TrainConfig, 'imageSize' | 'resize' | 'baseRuntime' | 'workDir' | 'equalize'> & { preprocessing: NonNullable<TrainConfig['preprocessing']> },
	opts: JobOptions,
	int8?: Int8Request,
): Promise<FeatureResult & { int8?: StoredInt8; pipelined?: PipelinedLoad }> {
	const baseShape = spec.outputShape(cfg.imageSize);
	const fp32Key: FeatureKey = {
		backbone: spec.id,
		weightsSha: base.info.sha256,
		preprocessing: cfg.preprocessing,
		resize: cfg.resize,
		size: cfg.imageSize,
		...(cfg.equalize && cfg.equalize !== 'none' ? { equalize: cfg.equalize } : {}),
	};
	const buildExtractor = async (int8Opts?: Parameters<typeof createExtractor>[4]['int8']): Promise<FeatureExtractor> => {
		opts.onProgress?.({ kind: 'stage', stage: 'weights', done: 0, total: 1, message: `building ${spec.displayName} (${base.info.name})` });
		const model = await base.build();
		opts.onProgress?.({ kind: 'stage', stage: 'weights', done: 1, total: 1, message: base.info.name });
		const ex = await createExtractor(model, spec, cfg.imageSize, cfg.baseRuntime, {
			cacheDir: path.join(cfg.workDir, 'cache', 'onnx'),
			weightsSha: base.info.sha256,
			onProgress: opts.onProgress,
			int8: int8Opts,
		});
		// Delegate rather than spread: an extractor may be a class with getters.
		return {
			get runtime() {
				return ex.runtime;
			},
			get outputShape() {
				return ex.outputShape;
			},
			int8: ex.int8,
			int8Ranges: ex.int8Ranges,
			extract: (batch: Float32Array, n: number) => ex.extract(batch, n),
			dispose: async () => {
				await ex.dispose();
				model.dispose();
			},
		};
	};

	// int8: the ranges decide the feature key, so they come first (from a run, the calibration cache, or calibrating now).
	let stored: StoredInt8 | undefined;
	let ready: FeatureExtractor | undefined;
	if (int8 && 'stored' in int8) stored = int8.stored;
	else if (int8) {
		const file = int8CacheFile(cfg.workDir, fp32Key, int8.plan.calibrationSet);
		stored = await readStoredInt8(file);
		if (!stored) {
			opts.onProgress?.({ kind: 'log', level: 'info', message: `int8: calibrating on ${int8.plan.calibration.length} training images, checking on ${int8.plan.check.length} others` });
			const norm = (im: FeatureInput) => ({ sha256: im.sha256, x: normalise(im.rgb, cfg.preprocessing) });
			ready = await buildExtractor({
				calibration: int8.plan.calibration.map(norm),
				check: int8.plan.check.map(norm),
				pool: (raw: Float32Array) => poolFeatures(raw, 1, baseShape),
			});
			if (!ready.int8) {
				await ready.dispose();
				throw new Error(`int8 needs ONNX Runtime for the base (runtime: ${ready.runtime})`);
			}
			stored = { report: ready.int8, ranges: ready.int8Ranges };
			await writeStoredInt8(file, stored);
		}
		const r = stored.report;
		opts.onProgress?.({
			kind: 'log',
			level: r.accepted ? 'info' : 'warn',
			message: r.accepted
				? `int8 base: pooled-feature cosine vs fp32 min ${r.cosineMin.toFixed(4)}, 1st percentile ${r.cosineP1.toFixed(4)} on ${r.checkImages} images`
				: `int8 base not used, ${spec.displayName} stays fp32: ${r.reason}`,
		});
	}
	const accepted = stored?.report.accepted && stored.ranges ? stored : undefined;
	const key: FeatureKey = accepted ? { ...fp32Key, precision: int8Tag(accepted.report) } : fp32Key;
	const run: FeatureOptions = {
		workDir: cfg.workDir,
		key,
		baseShape,
		signal: opts.signal,
		onProgress: opts.onProgress,
		extractor: async () => {
			const ex = ready ?? (await buildExtractor(accepted ? { ranges: accepted.ranges!, quantizerVersion: accepted.report.quantizerVersion } : undefined));
			ready = undefined;
			opts.onProgress?.({ kind: 'log', level: 'info', message: `Computing features on ${ex.runtime} into ${featureCacheDir(cfg.workDir, key)}` });
			return ex;
		},
	};
	const piped = 'records' in loaded ? await pipelineFeatures(loaded.records, { ...run, pixels: loaded.pixels }) : undefined;
	const result = piped?.features ?? (await computeFeatures((loaded as LoadResult).images, run));
	if (ready) await ready.dispose();
	return { ...result, int8: stored, ...(piped ? { pipelined: piped.loaded } : {}) };
}

/** Decode and features in one pipelined pass: the images' pixels are not kept, only which decoded and their features. */
async function decodeWithFeatures(
	records: ImageRecord[],
	spec: BackboneSpec,
	base: PreparedBase,
	cfg: Parameters<typeof features>[3] & { dicomWindow?: WindowChoice },
	opts: JobOptions,
	int8?: Int8Request,
): Promise<{ loaded: PipelinedLoad; feats: FeatureResult & { int8?: StoredInt8 } }> {
	const pixels: PixelCacheOptions = {
		workDir: cfg.workDir,
		size: cfg.imageSize,
		resize: cfg.resize,
		...(cfg.dicomWindow ? { dicomWindow: cfg.dicomWindow } : {}),
		...(cfg.equalize ? { equalize: cfg.equalize } : {}),
	};
	const { pipelined, ...feats } = await features({ records, pixels }, spec, base, cfg, opts, int8);
	return { loaded: pipelined!, feats };
}

/**
 * The pipelined pass keeps no pixels; duplicate links and the OOD pixel checks need them, so they are read back from
 * the pixel cache that pass just filled (images whose features were cached may decode here). Aligned with `loaded`.
 */
async function withPixels(loaded: PipelinedLoad | LoadResult, pixels: PixelCacheOptions, opts: JobOptions): Promise<LoadedImage[]> {
	if (loaded.images.every((im) => 'rgb' in im)) return loaded.images as LoadedImage[];
	const again = await loadImages(
		loaded.images.map((im) => im.record),
		{ ...pixels, signal: opts.signal },
	);
	const byPath = new Map(again.images.map((im) => [im.record.relPath, im]));
	return loaded.images.map((im) => {
		const x = byPath.get(im.record.relPath);
		if (!x) throw new Error(`${im.record.path}: ${again.errors.find((e) => e.path === im.record.path)?.reason ?? 'could not be read again'} (it changed during the run)`);
		return x;
	});
}

function subset(f: FeatureResult, rows: number[], labels: number[]): FeatureSet {
	const feats = new Float32Array(rows.length * f.dim);
	rows.forEach((r, i) => feats.set(f.feats.subarray(r * f.dim, (r + 1) * f.dim), i * f.dim));
	return { feats, labels, n: rows.length, dim: f.dim };
}

const classIndex = (r: ImageRecord): number => CLASS_NAMES.indexOf(r.label!);

/** The dataset's annotations applied to a scan (corrected labels, exclusions), with what they did logged. */
async function annotate(scanned: ScanResult, opts: JobOptions): Promise<AppliedAnnotations> {
	const a = await applyAnnotations(scanned.root, scanned.images);
	const s = a.summary;
	if (s.rows || s.sha256) {
		opts.onProgress?.({
			kind: 'log',
			level: 'info',
			message: `Annotations (${s.file}): ${a.relabelled.length} relabelled, ${a.excluded.length} excluded${s.moved ? `, ${s.moved} followed a moved image` : ''}`,
		});
		for (const x of a.excluded) opts.onProgress?.({ kind: 'log', level: 'info', message: `  excluded ${x.path}: ${x.reason}` });
	}
	return a;
}

/** splits.json lists what the annotations changed (and, for training, the duplicate groups it kept together). */
const withAnnotations = (split: SplitResult, a: AppliedAnnotations, linked?: string[][], frozen?: boolean): SplitResult => ({
	...split,
	excluded: a.excluded,
	relabelled: a.relabelled,
	...(linked ? { linkedGroups: linked.length, linked } : {}),
	...(frozen ? { frozen } : {}),
});

/**
 * scan → decode (cached) → split → weights → features (cached) → train the head → evaluate on test → write the run.
 * The run folder appears only when complete; on cancel (CancelledError) or error nothing complete-looking is left.
 * `allowRandomFallback`: weights 'auto' with no pretrained weights to be found trains on random ones (with a
 * warning) instead of failing with WeightsNotFoundError.
 */
export async function trainRun(cfgIn: TrainConfig, opts: JobOptions & { allowRandomFallback?: boolean } = {}): Promise<RunSummary> {
	const cfg = resolveTrainConfig(cfgIn);
	const timing: Record<string, number> = {};
	const t0 = Date.now();
	let tMark = t0;
	const lap = (name: string) => {
		const now = Date.now();
		timing[name] = (now - tMark) / 1000;
		tMark = now;
	};
	const backend = await initBackend(cfg.backend);
	opts.onProgress?.({ kind: 'log', level: 'info', message: `Backend: ${backend.label}` });
	const spec = getBackbone(cfg.backbone);
	const preprocessing = cfg.preprocessing ?? spec.preprocessing;

	opts.onProgress?.({ kind: 'stage', stage: 'weights', done: 0, total: 1 });
	const base = await prepareBase(spec, cfg.weights, cfg.imageSize, cfg.seed, {
		workDir: cfg.workDir,
		signal: opts.signal,
		onProgress: opts.onProgress,
		allowRandomFallback: opts.allowRandomFallback,
	});
	if (base.fallbackNote) opts.onProgress?.({ kind: 'log', level: 'warn', message: base.fallbackNote });
	// Weights first: a backbone without weights fails in a second, before any image is decoded, and the panels
	// name the weights as soon as they are known.
	opts.onProgress?.({ kind: 'weights', weights: base.info });
	opts.onProgress?.({ kind: 'stage', stage: 'weights', done: 1, total: 1, message: describeWeights(base.info) });
	lap('weights');

	await holdForTest('scan', opts.signal);
	const scanned = await scan(cfg.dataDir, opts);
	const annotated = await annotate(scanned, opts);
	const labelled = annotated.images.filter((r) => r.label != null);
	if (labelled.length === 0) throw new Error(`${cfg.dataDir}: ${noLabelledImages(scanned)}`);
	// Said before training and kept in the run: where a class comes from one source, accuracy can be the source's.
	const confounds = classSourceTable(labelled).warnings.map((w) => w.message);
	for (const m of confounds) opts.onProgress?.({ kind: 'log', level: 'warn', message: `Source shortcut: ${m} (see radreview audit)` });
	lap('scan');
	// fp32 features need no split, so decoding overlaps the base's forward pass. int8 calibrates on the training
	// split, which depends on which files decode: that path decodes every image first.
	const early = cfg.precision === 'int8' ? undefined : await decodeWithFeatures(labelled, spec, base, { ...cfg, preprocessing }, opts);
	const full = early ? undefined : await decode(labelled, cfg.workDir, cfg.imageSize, cfg.resize, opts, { dicomWindow: cfg.dicomWindow, equalize: cfg.equalize });
	const loaded: PipelinedLoad = early?.loaded ?? full!;
	if (loaded.images.length === 0) throw new Error(`${cfg.dataDir}: none of the ${labelled.length} images could be decoded`);
	const images = await withPixels(
		loaded,
		{ workDir: cfg.workDir, size: cfg.imageSize, resize: cfg.resize, ...(cfg.dicomWindow ? { dicomWindow: cfg.dicomWindow } : {}), ...(cfg.equalize ? { equalize: cfg.equalize } : {}) },
		opts,
	);
	// Pipelined, 'decode' holds the overlapped feature pass too (the keys stay those Compare sums).
	lap('decode');
	throwIfAborted(opts.signal);

	opts.onProgress?.({ kind: 'stage', stage: 'split', done: 0, total: 1 });
	// Copies of one image on both sides of the split would score the model on what it memorised.
	const dups = linkDuplicates(images, cfg.imageSize);
	if (dups.groups.length) {
		opts.onProgress?.({
			kind: 'log',
			level: 'info',
			message: `Duplicates: ${dups.groups.length} groups (${dups.exactPairs} identical, ${dups.nearPairs} resized / recompressed pairs) kept in one split each`,
		});
	}
	const place = cfg.testSource
		? undefined
		: await stablePlacement(
				scanned,
				annotated,
				loaded.images.map((i) => i.record),
			);
	const split = withAnnotations(
		cfg.testSource
			? splitBySource(
					loaded.images.map((i) => i.record),
					cfg.testSource,
					{ ...cfg, linked: dups.groups },
				)
			: splitDataset(
					loaded.images.map((i) => i.record),
					{ mode: cfg.splitMode, seed: cfg.seed, testFraction: cfg.testFraction, valFraction: cfg.valFraction, linked: dups.groups, ...place },
				),
		annotated,
		dups.groups,
		place?.frozen !== undefined,
	);
	opts.onProgress?.({ kind: 'stage', stage: 'split', done: 1, total: 1, message: `train ${split.train.length}, val ${split.val.length}, test ${split.test.length}` });
	if (split.leakedPatients.length) {
		opts.onProgress?.({ kind: 'log', level: 'warn', message: `${split.leakedPatients.length} patients appear in more than one split (image-level split)` });
	}

	const run = await beginRun(cfg.workDir, cfg.backbone);
	let head: Head | undefined;
	try {
		const dir = run.partialDir;
		await writeRunJson(dir, RUN_FILES.config, { ...cfg, preprocessing, annotations: annotated.summary });
		await writeRunJson(dir, RUN_FILES.splits, split);
		const storedWeights: StoredWeights = { ...base.info, backbone: cfg.backbone };
		await writeRunJson(dir, RUN_FILES.weights, storedWeights);

		const splitOf = new Map<string, SplitName>();
		for (const s of ['train', 'val', 'test'] as const) for (const rel of split[s]) splitOf.set(rel, s);
		// int8 calibrates on training images only: nothing about the test images shapes the base.
		const int8Req = full && cfg.precision === 'int8' ? { plan: planCalibration(full.images.filter((im) => splitOf.get(im.record.relPath) === 'train')) } : undefined;
		const feats = early?.feats ?? (await features(full!, spec, base, { ...cfg, preprocessing }, opts, int8Req));
		const baseRuntime = feats.runtime ?? 'feature cache';
		lap('features');
		const rowsOf = (s: SplitName) => loaded.images.map((im, i) => (splitOf.get(im.record.relPath) === s ? i : -1)).filter((i) => i >= 0);
		// Calibrated on the training images and kept with the run, so classify can say "not a chest X-ray".
		const ood = await trainOod(images, feats, rowsOf('train'), spec.outputShape(cfg.imageSize)[2], opts);
		if (ood) lap('out of distribution');
		const labelsAll = loaded.images.map((im) => classIndex(im.record));
		const sourcesAll = loaded.images.map((im) => im.record.source);
		const balance = cfg.balance && cfg.balance !== 'none' ? cfg.balance : undefined;
		const sets = Object.fromEntries(
			(['train', 'val', 'test'] as const).map((s) => {
				const rows = s === 'train' && balance && cfg.head !== 'linear-probe' ? balancedRows(rowsOf(s), labelsAll, sourcesAll, balance) : rowsOf(s);
				return [
					s,
					subset(
						feats,
						rows,
						rows.map((r) => labelsAll[r]),
					),
				];
			}),
		) as Record<SplitName, FeatureSet>;

		head = buildHead({ baseShape: spec.outputShape(cfg.imageSize), dropout: cfg.dropout, seed: cfg.seed });
		opts.onProgress?.({ kind: 'stage', stage: 'train', done: 0, total: cfg.epochs, message: `${sets.train.n} train / ${sets.val.n} val images${balance ? ` (balanced by ${balance})` : ''}` });
		let trained: { history: EpochLog[]; stoppedAt?: number; restoredEpoch?: number; engine?: 'wasm' | 'tfjs'; fallbackReason?: string };
		const checkpoint = historyCheckpoint(dir);
		if (cfg.head === 'linear-probe') {
			const rows = rowsOf('train');
			const weights = balance
				? balanceWeights(
						rows.map((r) => labelsAll[r]),
						rows.map((r) => sourcesAll[r] ?? ''),
						balance,
					)
				: undefined;
			const probe = fitLinearProbe(
				head,
				feats.feats,
				feats.dim,
				rows,
				labelsAll,
				rows.map((r) => loaded.images[r].record.patientId),
				cfg.seed,
				weights,
			);
			opts.onProgress?.({
				kind: 'log',
				level: 'info',
				message: `Linear probe: λ = ${probe.lambda} by grouped CV on the training split (log loss ${Object.entries(probe.cvLoss)
					.map(([l, v]) => `${l}: ${v.toFixed(3)}`)
					.join(', ')})`,
			});
			const evalSet = (set: FeatureSet) => (set.n ? lossAndAccuracy(predictPooled(head!, set.feats, set.n), set.labels) : { loss: NaN, accuracy: NaN });
			const tr = evalSet(sets.train);
			const va = evalSet(sets.val);
			trained = { history: [{ epoch: 1, loss: tr.loss, acc: tr.accuracy, val_loss: va.loss, val_acc: va.accuracy, lr: probe.lambda, seconds: (Date.now() - tMark) / 1000 }] };
			await writeRunJson(dir, 'linear-probe.json', probe);
		} else {
			try {
				trained = await trainHead(head, sets.train, sets.val, {
					epochs: cfg.epochs,
					batchSize: cfg.batchSize,
					learningRate: cfg.learningRate,
					seed: cfg.seed,
					reduceLr: cfg.reduceLr,
					restoreBestWeights: cfg.restoreBestWeights,
					signal: opts.signal,
					stopSignal: opts.stopSignal,
					onProgress: (e) => {
						if (e.kind === 'epoch') checkpoint.add(e.log);
						opts.onProgress?.(e);
					},
				});
			} finally {
				await checkpoint.close();
			}
		}
		lap('train');

		opts.onProgress?.({ kind: 'stage', stage: 'evaluate', done: 0, total: 1 });
		await holdForTest('evaluate', opts.signal);
		const records = loaded.images.map((im) => im.record);
		const predictions = predictRecords(head, feats.feats, records, (r) => splitOf.get(r.relPath)).map((p, i) => (ood ? withOod(p, ood.verdicts[i]) : p));
		const testRows = rowsOf('test');
		const testProbs = testRows.flatMap((r) => predictions[r].probs);
		const metrics = computeMetrics(
			testProbs,
			sets.test.labels,
			testRows.map((r) => loaded.images[r].record.source),
		);
		opts.onProgress?.({ kind: 'stage', stage: 'evaluate', done: 1, total: 1, message: `test accuracy ${(metrics.accuracy * 100).toFixed(1)}%` });
		lap('evaluate');

		opts.onProgress?.({ kind: 'stage', stage: 'write', done: 0, total: 1 });
		throwIfAborted(opts.signal);
		await saveLayersModel(head.model, dir);
		await writeRunJson(dir, RUN_FILES.history, trained.history);
		await writePredictionsCsv(path.join(dir, RUN_FILES.predictions), predictions);
		if (ood) await writeOodReference(dir, ood.reference);
		let int8: Int8Fidelity | undefined;
		if (feats.int8 && full) {
			await writeRunJson(dir, RUN_FILES.quantization, feats.int8);
			if (feats.int8.report.accepted) {
				// The same head on fp32 features of the same test images: does int8 change any decision?
				const testLoaded = { ...full, images: testRows.map((r) => full.images[r]) };
				const fp = await features(testLoaded, spec, base, { ...cfg, preprocessing }, opts);
				const fpPred = predictRecords(
					head,
					fp.feats,
					testLoaded.images.map((im) => im.record),
				);
				int8 = int8Fidelity(
					feats.int8.report,
					testRows.map((r) => predictions[r]),
					fpPred,
					sets.test.feats,
					fp.feats,
					feats.dim,
				);
			} else int8 = { ...feats.int8.report };
			lap('int8 check');
		}
		const createdAt = new Date().toISOString();
		const headTrainer = trained.engine ? headTrainerLabel({ engine: trained.engine, fallbackReason: trained.fallbackReason }) : 'linear probe (L2 softmax regression)';
		const backendText = `${backendLabel(backend, baseRuntime)}; head on ${trained.engine === 'wasm' ? 'fused WASM' : 'the tfjs loop'}`;
		timing.total = (Date.now() - t0) / 1000;
		const stored: StoredMetrics = {
			...metrics,
			backbone: cfg.backbone,
			backend: backendText,
			baseRuntime,
			weights: base.info,
			createdAt,
			timing,
			counts: { train: sets.train.n, val: sets.val.n, test: sets.test.n, decodeErrors: loaded.errors.length },
			...(int8 ? { int8 } : {}),
			headTrainer,
			...(confounds.length ? { sourceWarnings: confounds } : {}),
		};
		if (trained.stoppedAt !== undefined) stored.stoppedAt = trained.stoppedAt;
		if (trained.restoredEpoch !== undefined) stored.restoredEpoch = trained.restoredEpoch;
		// metrics.json last: its presence marks a complete run (see loadRun).
		await writeRunJson(dir, RUN_FILES.metrics, stored);
		const finalDir = await commitRun(run);
		opts.onProgress?.({ kind: 'stage', stage: 'write', done: 1, total: 1, message: finalDir });
		return { runDir: finalDir, backbone: cfg.backbone, weights: base.info, backend: backendText, metrics, createdAt };
	} catch (e) {
		await abandonRun(run).catch(() => undefined);
		if (!isCancelled(e)) opts.onProgress?.({ kind: 'log', level: 'error', message: `Run abandoned: ${e instanceof Error ? e.message : String(e)}` });
		throw e;
	} finally {
		head?.model.dispose();
	}
}

/** Feature scores plus the pixel and header checks, per image. */
async function oodVerdicts(images: LoadedImage[], scores: number[], threshold: number): Promise<OodVerdict[]> {
	const headers = await Promise.all(images.map((im) => readHeader(im.record.path).catch((): ImageHeader | undefined => undefined)));
	return images.map((im, i) => oodVerdict(scores[i], threshold, im.rgb, headers[i]));
}

const withOod = (p: Prediction, v: OodVerdict): Prediction => ({ ...p, outOfDistribution: v.outOfDistribution, oodScore: v.score, ...(v.details.length ? { oodReasons: v.details } : {}) });

/** The run's reference from its training rows and a verdict for every image (training images scored leave-one-out). */
async function trainOod(
	images: LoadedImage[],
	feats: FeatureResult,
	trainRows: number[],
	channels: number,
	opts: JobOptions,
): Promise<{ reference: OodReference; verdicts: OodVerdict[] } | undefined> {
	if (trainRows.length < OOD_K + 2) {
		opts.onProgress?.({ kind: 'log', level: 'warn', message: `Out-of-distribution check left out: ${trainRows.length} training images are too few to calibrate it` });
		return undefined;
	}
	const pooled = globalPool(feats.feats, images.length, channels);
	const train = new Float32Array(trainRows.length * channels);
	trainRows.forEach((r, i) => train.set(pooled.subarray(r * channels, (r + 1) * channels), i * channels));
	const { reference, scores: own } = buildOodReference(train, trainRows.length, channels);
	const scores = scoreOod(reference, pooled, images.length);
	trainRows.forEach((r, i) => (scores[r] = own[i]));
	const verdicts = await oodVerdicts(images, scores, reference.threshold);
	const flagged = verdicts.filter((v) => v.outOfDistribution).length;
	if (flagged)
		opts.onProgress?.({
			kind: 'log',
			level: 'warn',
			message: `${flagged} of ${images.length} images look like no frontal chest X-ray of the training split (outOfDistribution in predictions.csv; see radreview audit)`,
		});
	return { reference, verdicts };
}

/** Seconds between history.json checkpoints of a running training (what an interrupted run keeps). */
const CHECKPOINT_MS = 2000;

/** Writes the history so far into the partial run folder, at most every CHECKPOINT_MS, one write at a time. */
function historyCheckpoint(dir: string): { add(log: EpochLog): void; close(): Promise<void> } {
	const history: EpochLog[] = [];
	let last = 0;
	let writing: Promise<void> = Promise.resolve();
	let busy = false;
	const write = (): void => {
		busy = true;
		last = Date.now();
		writing = writeRunJson(dir, RUN_FILES.history, history.slice())
			.catch(() => undefined) // a checkpoint is best effort; the final history.json is not
			.finally(() => (busy = false));
	};
	return {
		add(log) {
			history.push(log);
			if (!busy && (history.length === 1 || Date.now() - last >= CHECKPOINT_MS)) write();
		},
		close: () => writing,
	};
}

export interface ClassifyResult {
	predictions: Prediction[];
	csvPath: string;
	errors: FileError[];
	/** When the folder has class subfolders (or a metadata.csv). */
	metrics?: Metrics;
	/** Sources training never saw and the dataset-level shift against the training split (audit/shift.ts). */
	shift?: ShiftReport;
}

/** Classifies every image below `folder` with a saved run; writes a predictions CSV (default under `<workDir>/classifications`). */
export async function classifyFolder(runDir: string, folder: string, opts: JobOptions & { workDir: string; outCsv?: string }): Promise<ClassifyResult> {
	const run = await loadRunDir(runDir);
	const cfg = run.config;
	const workDir = path.resolve(opts.workDir);
	await initBackend(cfg.backend);
	const spec = getBackbone(cfg.backbone);
	const preprocessing = cfg.preprocessing ?? spec.preprocessing;
	const root = path.resolve(folder);
	const scanned = await scan(root, opts);
	if (scanned.images.length === 0) throw new Error(`${root}: no images found`);
	// Corrected labels count; excluded images are still classified but left out of the evaluation.
	const annotated = await annotate(scanned, opts);
	const excluded = new Set(annotated.excluded.map((x) => x.path));
	const corrected = new Map(annotated.images.map((r) => [r.relPath, r]));
	const records = scanned.images.map((r) => corrected.get(r.relPath) ?? r);

	// The same weights the head was trained on, or a clear refusal.
	const want = run.weights;
	const source = want.pretrained ? (want.path ?? cfg.weights) : 'none';
	const base = await prepareBase(spec, source, cfg.imageSize, cfg.seed, { workDir, signal: opts.signal, onProgress: opts.onProgress });
	if (base.info.sha256 !== want.sha256) {
		throw new Error(
			`${path.join(run.runDir, RUN_FILES.weights)}: the run was trained on ${describeWeights(want)} (sha256 ${want.sha256.slice(0, 12)}), but '${source}' resolves to ${describeWeights(base.info)} (sha256 ${base.info.sha256.slice(0, 12)})`,
		);
	}
	// An int8 run's head learned int8 features: rebuild the very graph from the ranges the run stored.
	let int8: Int8Request | undefined;
	if (cfg.precision === 'int8') {
		const q = await readStoredInt8(path.join(run.runDir, RUN_FILES.quantization));
		if (!q) throw new Error(`${path.join(run.runDir, RUN_FILES.quantization)}: missing or unreadable, but the run's config.json says precision int8`);
		if (q.report.accepted) int8 = { stored: q };
	}
	// Decoded while the base runs (a cached feature needs no decode at all).
	const { loaded, feats } = await decodeWithFeatures(records, spec, base, { ...cfg, workDir, preprocessing }, opts, int8);
	const errors = [...scanned.errors, ...loaded.errors];

	opts.onProgress?.({ kind: 'stage', stage: 'classify', done: 0, total: loaded.images.length });
	const model = await loadLayersModel(run.runDir);
	let predictions: Prediction[];
	try {
		predictions = predictRecords(
			wrapHead(model),
			feats.feats,
			loaded.images.map((i) => i.record),
		);
	} finally {
		model.dispose();
	}
	// A photo or a CT slice gets probabilities too: the verdict says they mean nothing.
	const channels = spec.outputShape(cfg.imageSize)[2];
	const reference = await oodReferenceOf(run, (images) => features(images, spec, base, { ...cfg, workDir, preprocessing }, opts, int8), channels, workDir, opts);
	const pooled = globalPool(feats.feats, loaded.images.length, channels);
	const scores = reference && loaded.images.length ? scoreOod(reference, pooled, loaded.images.length) : [];
	const trainSrc = await trainingSources(run.runDir);
	const shift = shiftReport(
		sourceCoverage(
			loaded.images.map((i) => i.record.source),
			trainSrc ?? [],
			root,
			cfg.dataDir,
		),
		trainSrc !== undefined,
		reference ? datasetShift(reference, pooled, loaded.images.length, scores) : undefined,
	);
	for (const message of shift.warnings) opts.onProgress?.({ kind: 'log', level: 'warn', message });
	// A tile names where its image came from even without a manifest: the folder it was classified from.
	predictions = predictions.map((p) => (p.source ? p : { ...p, source: folderSource(root) }));
	if (reference && loaded.images.length) {
		const pixels: PixelCacheOptions = {
			workDir,
			size: cfg.imageSize,
			resize: cfg.resize,
			...(cfg.dicomWindow ? { dicomWindow: cfg.dicomWindow } : {}),
			...(cfg.equalize ? { equalize: cfg.equalize } : {}),
		};
		const verdicts = await oodVerdicts(await withPixels(loaded, pixels, opts), scores, reference.threshold);
		predictions = predictions.map((p, i) => withOod(p, verdicts[i]));
		const flagged = verdicts.filter((v) => v.outOfDistribution).length;
		if (flagged)
			opts.onProgress?.({
				kind: 'log',
				level: 'warn',
				message: `${flagged} of ${loaded.images.length} images are not like the run's training radiographs (outOfDistribution): their probabilities mean nothing`,
			});
	}
	opts.onProgress?.({ kind: 'stage', stage: 'classify', done: loaded.images.length, total: loaded.images.length });

	const csvPath = path.resolve(opts.outCsv ?? path.join(workDir, 'classifications', `${timestampName()}-${run.name}-${path.basename(root)}.csv`));
	await writePredictionsCsv(csvPath, predictions);
	const labelled = predictions.filter((p) => p.label != null && !excluded.has(p.relPath));
	const sourceOf = new Map(loaded.images.map((i) => [i.record.relPath, i.record.source]));
	const metrics = labelled.length
		? computeMetrics(
				labelled.flatMap((p) => p.probs),
				labelled.map((p) => CLASS_NAMES.indexOf(p.label!)),
				labelled.map((p) => sourceOf.get(p.relPath)),
				1, // a classified folder names its source even when it has one: the reviewer sees where the images came from
			)
		: undefined;
	return { predictions, csvPath, errors, metrics, shift };
}

/**
 * The run's stored reference; for a run trained before it was stored, recomputed from its training split (the
 * dataset through the pixel and feature caches). Undefined, with a warning, when neither is possible.
 */
async function oodReferenceOf(run: LoadedRun, featuresOf: (loaded: LoadResult) => Promise<FeatureResult>, channels: number, workDir: string, opts: JobOptions): Promise<OodReference | undefined> {
	const stored = await readOodReference(run.runDir);
	if (stored) {
		if (stored.channels !== channels) throw new Error(`${path.join(run.runDir, RUN_FILES.ood)}: ${stored.channels} channels, but the backbone gives ${channels}`);
		return stored;
	}
	try {
		const cfg = run.config;
		const train = new Set(run.splits.train);
		const scanned = await scanDataset(cfg.dataDir);
		const records = scanned.images.filter((r) => train.has(r.relPath));
		const loaded = await decode(records, workDir, cfg.imageSize, cfg.resize, {}, { dicomWindow: cfg.dicomWindow, equalize: cfg.equalize });
		if (loaded.images.length < OOD_K + 2) throw new Error(`only ${loaded.images.length} of its ${train.size} training images are readable`);
		const f = await featuresOf(loaded);
		return buildOodReference(globalPool(f.feats, loaded.images.length, channels), loaded.images.length, channels).reference;
	} catch (e) {
		opts.onProgress?.({
			kind: 'log',
			level: 'warn',
			message: `No out-of-distribution check: the run has no ${RUN_FILES.ood} and its training images could not be read (${e instanceof Error ? e.message : String(e)})`,
		});
		return undefined;
	}
}

/** Why a folder cannot be split or trained on, with the layouts that can. */
export function noLabelledImages(scanned: ScanResult): string {
	const found = scanned.images.length ? `${scanned.images.length} image(s) but none with a class` : 'no images';
	return `${found}. Expected class folders (${CLASS_NAMES.join(', ')}, or names such as COVID-19 and Viral Pneumonia), a metadata.csv (filename, finding) or a manifest.csv (path, patient_id, optional source_dataset) beside class folders.`;
}

/** Decodes a dataset into the pixel cache (a warm cache makes training start at the features). */
export async function preprocessDataset(
	dataDir: string,
	o: { workDir: string; imageSize: number; resize: ResizeMode },
	opts: JobOptions = {},
): Promise<{ root: string; images: number; decoded: number; cached: number; errors: FileError[]; layout: ScanResult['layout'] }> {
	const root = path.resolve(dataDir);
	const scanned = await scan(root, opts);
	const loaded = await decode(scanned.images, path.resolve(o.workDir), o.imageSize, o.resize, opts);
	return { root, images: loaded.images.length, decoded: loaded.decoded, cached: loaded.cached, errors: [...scanned.errors, ...loaded.errors], layout: scanned.layout };
}

/**
 * What keeps a split put (issue 19): relabelled images placed by their dataset label, excluded ones (and, for
 * training, ones that failed to decode) holding their place, and the dataset's frozen split if it has one.
 */
async function stablePlacement(scanned: ScanResult, annotated: AppliedAnnotations, used?: ImageRecord[]) {
	const { placeBy, ghosts } = reviewPlacement(scanned, annotated);
	if (used) {
		const kept = new Set(used.map((r) => r.relPath));
		const original = new Map(scanned.images.map((r) => [r.relPath, r]));
		for (const r of annotated.images) if (r.label !== null && !kept.has(r.relPath)) ghosts.push(original.get(r.relPath) ?? r);
	}
	const frozen = await readFrozenSplit(scanned.root);
	return { placeBy, ghosts, ...(frozen ? { frozen } : {}) };
}

/**
 * Scans a dataset and computes its seeded split (no decoding). `freeze` records the split in the dataset's
 * radreview-splits.csv (excluded images included, in the split they would have), after which it stays put.
 */
export async function computeSplits(
	dataDir: string,
	o: { mode: SplitMode; seed: number; testFraction: number; valFraction: number; freeze?: boolean; linked?: string[][] },
	opts: JobOptions = {},
): Promise<{ scan: ScanResult; split: SplitResult; annotations: AnnotationSummary; frozenFile?: string }> {
	const scanned = await scan(path.resolve(dataDir), opts);
	const annotated = await annotate(scanned, opts);
	const labelled = annotated.images.filter((r) => r.label != null);
	if (labelled.length === 0) throw new Error(`${scanned.root}: ${noLabelledImages(scanned)}`);
	opts.onProgress?.({ kind: 'stage', stage: 'split', done: 0, total: 1 });
	const place = await stablePlacement(scanned, annotated);
	const so = { mode: o.mode, seed: o.seed, testFraction: o.testFraction, valFraction: o.valFraction, ...(o.linked ? { linked: o.linked } : {}), ...place };
	const split = withAnnotations(splitDataset(labelled, so), annotated);
	let frozenFile: string | undefined;
	if (o.freeze) {
		// The ghosts as members: every image of the dataset gets a line, in the split the rule gives it.
		const all = splitDataset([...labelled, ...place.ghosts], { ...so, ghosts: [] });
		frozenFile = await writeFrozenSplit(scanned.root, splitIndex(all));
	}
	opts.onProgress?.({ kind: 'stage', stage: 'split', done: 1, total: 1 });
	const corrected = new Map(annotated.images.map((r) => [r.relPath, r]));
	return {
		scan: { ...scanned, images: scanned.images.map((r) => corrected.get(r.relPath) ?? r) },
		split: { ...split, ...(place.frozen || frozenFile ? { frozen: true } : {}) },
		annotations: annotated.summary,
		...(frozenFile ? { frozenFile } : {}),
	};
}

/** Complete runs below `<workDir>/runs`, newest first. */
export function listRuns(workDir: string): Promise<RunSummary[]> {
	return listRunDirs(path.resolve(workDir));
}

/** Complete runs with their epoch history, newest first: one job for the Compare and Training panels. */
export function listRunHistories(workDir: string): Promise<RunWithHistory[]> {
	return listRunsWithHistory(path.resolve(workDir));
}

/** One run: summary, history, all stored predictions (with their split) and the raw files. */
export interface RunView {
	summary: RunSummary;
	history: EpochLog[];
	predictions: Prediction[];
	extra: { config: TrainConfig; splits: SplitResult; metrics: StoredMetrics; weights: StoredWeights };
	/** Set when the dataset's labels or exclusions changed after the run was trained. */
	staleLabels?: string;
}

/**
 * Whether a run's labels are stale: the annotations' labels and exclusions now differ from those it trained on.
 * A run made before annotations existed is stale once any label is corrected or any image excluded.
 */
export async function staleLabels(config: TrainConfig): Promise<string | undefined> {
	if (!(await mayRead(config.dataDir))) return undefined; // the dataset a run names is not read outside the workspace
	return staleLabelsOf(config);
}

/**
 * How the dataset's test split, computed now with the run's seed, fractions and duplicate groups (and the current
 * annotations and frozen split), differs from the run's splits.json; null for a held-out-source run.
 */
export async function testSplitChanges(runDir: string, opts: JobOptions = {}): Promise<{ left: string[]; joined: string[] } | null> {
	const run: LoadedRun = await loadRunDir(runDir);
	return run.config.testSource || run.splits.test.length === 0 ? null : testSplitChangesSince(run.config.dataDir, run.splits, opts);
}

/** The test images of `s` (a run's splits.json) the dataset's split no longer holds, and those it holds since. */
export async function testSplitChangesSince(dataDir: string, s: SplitResult, opts: JobOptions = {}): Promise<{ left: string[]; joined: string[] }> {
	const now = await computeSplits(dataDir, { mode: s.mode, seed: s.seed, testFraction: s.testFraction, valFraction: s.valFraction, ...(s.linked ? { linked: s.linked } : {}) }, opts);
	const [was, is] = [new Set(s.test), new Set(now.split.test)];
	return { left: s.test.filter((p) => !is.has(p)), joined: now.split.test.filter((p) => !was.has(p)) };
}

export async function loadRun(runDir: string): Promise<RunView> {
	const run: LoadedRun = await loadRunDir(runDir);
	const predictions = await withSources(await readPredictionsCsv(path.join(run.runDir, RUN_FILES.predictions)), run.config.dataDir);
	const stale = await staleLabels(run.config);
	return {
		summary: summaryOf(run),
		history: run.history,
		predictions,
		extra: { config: run.config, splits: run.splits, metrics: run.metrics, weights: run.weights },
		...(stale ? { staleLabels: stale } : {}),
	};
}

/** Runs written before predictions.csv had source / patient_id columns: fill them from a scan of the dataset, if it is still there. */
async function withSources(predictions: Prediction[], dataDir: string): Promise<Prediction[]> {
	if (predictions.every((p) => p.patientId !== undefined)) return predictions;
	if (!(await mayRead(dataDir))) return predictions; // outside the workspace or Restricted Mode: tiles show 'unknown'
	let records: Map<string, ImageRecord>;
	try {
		records = await recordsOf(dataDir);
	} catch {
		return predictions; // dataset moved or gone: tiles show 'unknown'
	}
	return predictions.map((p) => {
		const r = records.get(p.relPath);
		return r && p.patientId === undefined ? { ...p, patientId: r.patientId, ...(r.source ? { source: r.source } : {}) } : p;
	});
}

/** One scan per dataset for a short while: Compare loads every run at once, often of the same dataset. */
const recentScans = new Map<string, { at: number; records: Promise<Map<string, ImageRecord>> }>();
function recordsOf(dataDir: string): Promise<Map<string, ImageRecord>> {
	const hit = recentScans.get(dataDir);
	if (hit && Date.now() - hit.at < 30_000) return hit.records;
	const records = scanDataset(dataDir).then((r) => new Map(r.images.map((i) => [i.relPath, i])));
	recentScans.set(dataDir, { at: Date.now(), records });
	records.catch(() => recentScans.delete(dataDir));
	return records;
}

/** What `extractFeatures` did: one shard's (or the whole dataset's) share of the feature cache. */
export interface FeaturesResult {
	root: string;
	/** Images in this shard that were decoded and have features now. */
	images: number;
	computed: number;
	cached: number;
	errors: FileError[];
	cacheDir: string;
	runtime: string;
	shard?: Shard;
	seconds: number;
}

/**
 * Fills the feature cache for a dataset (or for shard K of N of it) without training: the step that is worth
 * spreading over machines. Killed and started again, it computes only what is missing.
 */
export async function extractFeatures(
	cfgIn: Pick<TrainConfig, 'backbone' | 'dataDir' | 'workDir'> &
		Partial<Pick<TrainConfig, 'weights' | 'imageSize' | 'resize' | 'preprocessing' | 'backend' | 'baseRuntime' | 'seed'>> & { shard?: Shard },
	opts: JobOptions = {},
): Promise<FeaturesResult> {
	const t0 = Date.now();
	const cfg = resolveTrainConfig(cfgIn);
	await initBackend(cfg.backend);
	const spec = getBackbone(cfg.backbone);
	const preprocessing = cfg.preprocessing ?? spec.preprocessing;
	const scanned = await scan(cfg.dataDir, opts);
	const mine = cfgIn.shard ? shardRecords(scanned.images, cfgIn.shard) : scanned.images;
	if (mine.length === 0) throw new Error(`${cfg.dataDir}: no images${cfgIn.shard ? ` in shard ${cfgIn.shard.index}/${cfgIn.shard.count}` : ''}`);
	const base = await prepareBase(spec, cfg.weights, cfg.imageSize, cfg.seed, { workDir: cfg.workDir, signal: opts.signal, onProgress: opts.onProgress });
	const { loaded, feats } = await decodeWithFeatures(mine, spec, base, { ...cfg, preprocessing }, opts);
	const key = { backbone: spec.id, weightsSha: base.info.sha256, preprocessing, resize: cfg.resize, size: cfg.imageSize };
	return {
		root: cfg.dataDir,
		images: loaded.images.length,
		computed: feats.computed,
		cached: feats.cached,
		// Scan problems belong to the whole dataset: report them from shard 1 only, so a job array names each once.
		errors: [...(!cfgIn.shard || cfgIn.shard.index === 1 ? scanned.errors : []), ...loaded.errors],
		cacheDir: featureCacheDir(cfg.workDir, key),
		runtime: feats.runtime ?? 'feature cache',
		shard: cfgIn.shard,
		seconds: (Date.now() - t0) / 1000,
	};
}

/** What the audit (and anything else that reads a dataset through the caches) gets back. */
export interface DatasetFeatures {
	scan: ScanResult;
	loaded: LoadResult;
	features: FeatureResult;
	weights: WeightsInfo;
	/** Channels of the base output (features are [h·w·channels] cells, HWC). */
	channels: number;
}

/** scan → decode (cached) → weights → features (cached) for every labelled image of a dataset. */
export async function datasetFeatures(
	dataDir: string,
	o: {
		backbone: TrainConfig['backbone'];
		weights: string;
		imageSize: number;
		resize: ResizeMode;
		workDir: string;
		baseRuntime: TrainConfig['baseRuntime'];
		backend: TrainConfig['backend'];
		equalize?: Equalize;
	},
	opts: JobOptions = {},
): Promise<DatasetFeatures> {
	await initBackend(o.backend);
	const spec = getBackbone(o.backbone);
	const workDir = path.resolve(o.workDir);
	const scanned = await scan(path.resolve(dataDir), opts);
	// Reviewed corrections count and excluded images are left out, so a fixed finding does not come back.
	const labelled = (await annotate(scanned, opts)).images.filter((r) => r.label != null);
	if (labelled.length === 0) throw new Error(`${scanned.root}: no labelled images (expected class folders ${CLASS_NAMES.join(', ')} or a metadata.csv)`);
	const loaded = await decode(labelled, workDir, o.imageSize, o.resize, opts, { equalize: o.equalize });
	if (loaded.images.length === 0) throw new Error(`${scanned.root}: none of the ${labelled.length} images could be decoded`);
	const base = await prepareBase(spec, o.weights, o.imageSize, 0, { workDir, signal: opts.signal, onProgress: opts.onProgress });
	const feats = await features(loaded, spec, base, { imageSize: o.imageSize, resize: o.resize, baseRuntime: o.baseRuntime, workDir, preprocessing: spec.preprocessing, equalize: o.equalize }, opts);
	return { scan: scanned, loaded, features: feats, weights: base.info, channels: spec.outputShape(o.imageSize)[2] };
}
