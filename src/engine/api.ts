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
import { buildHead, predictPooled, wrapHead, type Head } from './model/head';
import { scanDataset } from './data/scan';
import { loadImages, type LoadResult } from './data/cache';
import { splitDataset } from './data/splits';
import { computeFeatures, featureCacheDir, type FeatureResult } from './train/features';
import { createExtractor, prepareBase, type PreparedBase } from './train/base';
import { trainHead, type FeatureSet } from './train/train';
import { computeMetrics, lossAndAccuracy } from './infer/metrics';
import { applyAnnotations, labelsDigest, readAnnotations, type AppliedAnnotations } from './annotations/store';
import { balancedRows, fitLinearProbe, splitBySource } from './train/mitigations';
import { balanceWeights } from './audit/audit';
import { classSourceTable } from './data/sources';
import { predictRecords, readPredictionsCsv, writePredictionsCsv } from './infer/classify';
import {
	RUN_FILES,
	abandonRun,
	beginRun,
	commitRun,
	listRuns as listRunDirs,
	loadLayersModel,
	loadRun as loadRunDir,
	saveLayersModel,
	summaryOf,
	timestampName,
	writeRunJson,
	type LoadedRun,
	type StoredMetrics,
	type StoredWeights,
} from './run/runDir';

export type { LoadedRun, StoredMetrics } from './run/runDir';

/** Fills defaults, resolves paths and checks values; throws naming the bad option. */
export function resolveTrainConfig(cfg: Partial<TrainConfig> & Pick<TrainConfig, 'backbone' | 'dataDir' | 'workDir'>): TrainConfig {
	const c: TrainConfig = { ...DEFAULT_TRAIN_CONFIG, ...cfg, reduceLr: { ...DEFAULT_TRAIN_CONFIG.reduceLr, ...cfg.reduceLr } };
	if (!(BACKBONE_IDS as readonly string[]).includes(c.backbone)) throw new Error(`Unknown backbone '${c.backbone}' (one of ${BACKBONE_IDS.join(', ')})`);
	const int = (name: string, v: number, min: number) => {
		if (!Number.isInteger(v) || v < min) throw new Error(`${name} must be an integer ≥ ${min} (got ${v})`);
	};
	int('epochs', c.epochs, 1);
	int('batchSize', c.batchSize, 1);
	int('imageSize', c.imageSize, 32);
	int('seed', c.seed, 0);
	if (!(c.learningRate > 0)) throw new Error(`learningRate must be > 0 (got ${c.learningRate})`);
	if (!(c.dropout >= 0 && c.dropout < 1)) throw new Error(`dropout must be in [0, 1) (got ${c.dropout})`);
	if (!(c.testFraction > 0 && c.valFraction >= 0 && c.testFraction + c.valFraction < 1)) {
		throw new Error(`testFraction and valFraction must be fractions summing below 1 (got ${c.testFraction}, ${c.valFraction})`);
	}
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

function decode(records: ImageRecord[], workDir: string, size: number, resize: ResizeMode, opts: JobOptions, equalize?: Equalize): Promise<LoadResult> {
	// loadImages reports its own stage progress and file errors.
	return loadImages(records, { workDir, size, resize, equalize, signal: opts.signal, onProgress: opts.onProgress });
}

/** Features for loaded images through the cache; the base is built only if something is missing. */
async function features(
	loaded: LoadResult,
	spec: BackboneSpec,
	base: PreparedBase,
	cfg: Pick<TrainConfig, 'imageSize' | 'resize' | 'baseRuntime' | 'workDir' | 'equalize'> & { preprocessing: NonNullable<TrainConfig['preprocessing']> },
	opts: JobOptions,
): Promise<FeatureResult> {
	const baseShape = spec.outputShape(cfg.imageSize);
	const key = { backbone: spec.id, weightsSha: base.info.sha256, preprocessing: cfg.preprocessing, resize: cfg.resize, size: cfg.imageSize, equalize: cfg.equalize };
	return computeFeatures(loaded.images, {
		workDir: cfg.workDir,
		key,
		baseShape,
		signal: opts.signal,
		onProgress: opts.onProgress,
		extractor: async () => {
			opts.onProgress?.({ kind: 'stage', stage: 'weights', done: 0, total: 1, message: `building ${spec.displayName} (${base.info.name})` });
			const model = await base.build();
			opts.onProgress?.({ kind: 'stage', stage: 'weights', done: 1, total: 1, message: base.info.name });
			const ex = await createExtractor(model, spec, cfg.imageSize, cfg.baseRuntime, {
				cacheDir: path.join(cfg.workDir, 'cache', 'onnx'),
				weightsSha: base.info.sha256,
				onProgress: opts.onProgress,
			});
			opts.onProgress?.({ kind: 'log', level: 'info', message: `Computing features on ${ex.runtime} into ${featureCacheDir(cfg.workDir, key)}` });
			// Delegate rather than spread: an extractor may be a class with getters.
			return {
				get runtime() {
					return ex.runtime;
				},
				get outputShape() {
					return ex.outputShape;
				},
				extract: (batch: Float32Array, n: number) => ex.extract(batch, n),
				dispose: async () => {
					await ex.dispose();
					model.dispose();
				},
			};
		},
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
		opts.onProgress?.({ kind: 'log', level: 'info', message: `Annotations (${s.file}): ${a.relabelled.length} relabelled, ${a.excluded.length} excluded${s.moved ? `, ${s.moved} followed a moved image` : ''}` });
		for (const x of a.excluded) opts.onProgress?.({ kind: 'log', level: 'info', message: `  excluded ${x.path}: ${x.reason}` });
	}
	return a;
}

/** splits.json lists what the annotations changed. */
const withAnnotations = (split: SplitResult, a: AppliedAnnotations): SplitResult => ({ ...split, excluded: a.excluded, relabelled: a.relabelled });

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

	const scanned = await scan(cfg.dataDir, opts);
	const annotated = await annotate(scanned, opts);
	const labelled = annotated.images.filter((r) => r.label != null);
	if (labelled.length === 0) throw new Error(`${cfg.dataDir}: no labelled images (expected class folders ${CLASS_NAMES.join(', ')} or a metadata.csv)`);
	// Said before training and kept in the run: where a class comes from one source, accuracy can be the source's.
	const confounds = classSourceTable(labelled).warnings.map((w) => w.message);
	for (const m of confounds) opts.onProgress?.({ kind: 'log', level: 'warn', message: `Source shortcut: ${m} (see radreview audit)` });
	lap('scan');
	const loaded = await decode(labelled, cfg.workDir, cfg.imageSize, cfg.resize, opts, cfg.equalize);
	if (loaded.images.length === 0) throw new Error(`${cfg.dataDir}: none of the ${labelled.length} images could be decoded`);
	lap('decode');
	throwIfAborted(opts.signal);

	opts.onProgress?.({ kind: 'stage', stage: 'split', done: 0, total: 1 });
	const split = withAnnotations(
		cfg.testSource
			? splitBySource(loaded.images.map((i) => i.record), cfg.testSource, cfg)
			: splitDataset(
					loaded.images.map((i) => i.record),
					{ mode: cfg.splitMode, seed: cfg.seed, testFraction: cfg.testFraction, valFraction: cfg.valFraction },
				),
		annotated,
	);
	opts.onProgress?.({ kind: 'stage', stage: 'split', done: 1, total: 1, message: `train ${split.train.length}, val ${split.val.length}, test ${split.test.length}` });
	if (split.leakedPatients.length) {
		opts.onProgress?.({ kind: 'log', level: 'warn', message: `${split.leakedPatients.length} patients appear in more than one split (image-level split)` });
	}

	opts.onProgress?.({ kind: 'stage', stage: 'weights', done: 0, total: 1 });
	const base = await prepareBase(spec, cfg.weights, cfg.imageSize, cfg.seed, {
		workDir: cfg.workDir,
		signal: opts.signal,
		onProgress: opts.onProgress,
		allowRandomFallback: opts.allowRandomFallback,
	});
	if (base.fallbackNote) opts.onProgress?.({ kind: 'log', level: 'warn', message: base.fallbackNote });
	opts.onProgress?.({ kind: 'stage', stage: 'weights', done: 1, total: 1, message: describeWeights(base.info) });
	lap('weights');

	const run = await beginRun(cfg.workDir, cfg.backbone);
	let head: Head | undefined;
	try {
		const dir = run.partialDir;
		await writeRunJson(dir, RUN_FILES.config, { ...cfg, preprocessing, annotations: annotated.summary });
		await writeRunJson(dir, RUN_FILES.splits, split);
		const storedWeights: StoredWeights = { ...base.info, backbone: cfg.backbone };
		await writeRunJson(dir, RUN_FILES.weights, storedWeights);

		const feats = await features(loaded, spec, base, { ...cfg, preprocessing }, opts);
		const baseRuntime = feats.runtime ?? 'feature cache';
		lap('features');

		const splitOf = new Map<string, SplitName>();
		for (const s of ['train', 'val', 'test'] as const) for (const rel of split[s]) splitOf.set(rel, s);
		const rowsOf = (s: SplitName) => loaded.images.map((im, i) => (splitOf.get(im.record.relPath) === s ? i : -1)).filter((i) => i >= 0);
		const labelsAll = loaded.images.map((im) => classIndex(im.record));
		const sourcesAll = loaded.images.map((im) => im.record.source);
		const balance = cfg.balance && cfg.balance !== 'none' ? cfg.balance : undefined;
		const sets = Object.fromEntries(
			(['train', 'val', 'test'] as const).map((s) => {
				const rows = s === 'train' && balance && cfg.head !== 'linear-probe' ? balancedRows(rowsOf(s), labelsAll, sourcesAll, balance) : rowsOf(s);
				return [s, subset(feats, rows, rows.map((r) => labelsAll[r]))];
			}),
		) as Record<SplitName, FeatureSet>;

		head = buildHead({ baseShape: spec.outputShape(cfg.imageSize), dropout: cfg.dropout, seed: cfg.seed });
		opts.onProgress?.({ kind: 'stage', stage: 'train', done: 0, total: cfg.epochs, message: `${sets.train.n} train / ${sets.val.n} val images${balance ? ` (balanced by ${balance})` : ''}` });
		let trained: { history: EpochLog[] };
		if (cfg.head === 'linear-probe') {
			const rows = rowsOf('train');
			const weights = balance ? balanceWeights(rows.map((r) => labelsAll[r]), rows.map((r) => sourcesAll[r] ?? ''), balance) : undefined;
			const probe = fitLinearProbe(head, feats.feats, feats.dim, rows, labelsAll, rows.map((r) => loaded.images[r].record.patientId), cfg.seed, weights);
			opts.onProgress?.({ kind: 'log', level: 'info', message: `Linear probe: λ = ${probe.lambda} by grouped CV on the training split (log loss ${Object.entries(probe.cvLoss).map(([l, v]) => `${l}: ${v.toFixed(3)}`).join(', ')})` });
			const evalSet = (set: FeatureSet) => (set.n ? lossAndAccuracy(predictPooled(head!, set.feats, set.n), set.labels) : { loss: NaN, accuracy: NaN });
			const tr = evalSet(sets.train);
			const va = evalSet(sets.val);
			trained = { history: [{ epoch: 1, loss: tr.loss, acc: tr.accuracy, val_loss: va.loss, val_acc: va.accuracy, lr: probe.lambda, seconds: (Date.now() - tMark) / 1000 }] };
			await writeRunJson(dir, 'linear-probe.json', probe);
		} else {
			trained = await trainHead(head, sets.train, sets.val, {
				epochs: cfg.epochs,
				batchSize: cfg.batchSize,
				learningRate: cfg.learningRate,
				seed: cfg.seed,
				reduceLr: cfg.reduceLr,
				signal: opts.signal,
				onProgress: opts.onProgress,
			});
		}
		lap('train');

		opts.onProgress?.({ kind: 'stage', stage: 'evaluate', done: 0, total: 1 });
		const records = loaded.images.map((im) => im.record);
		const predictions = predictRecords(head, feats.feats, records, (r) => splitOf.get(r.relPath));
		const testRows = rowsOf('test');
		const testProbs = testRows.flatMap((r) => predictions[r].probs);
		const metrics = computeMetrics(testProbs, sets.test.labels, testRows.map((r) => loaded.images[r].record.source));
		opts.onProgress?.({ kind: 'stage', stage: 'evaluate', done: 1, total: 1, message: `test accuracy ${(metrics.accuracy * 100).toFixed(1)}%` });
		lap('evaluate');

		opts.onProgress?.({ kind: 'stage', stage: 'write', done: 0, total: 1 });
		throwIfAborted(opts.signal);
		await saveLayersModel(head.model, dir);
		await writeRunJson(dir, RUN_FILES.history, trained.history);
		await writePredictionsCsv(path.join(dir, RUN_FILES.predictions), predictions);
		const createdAt = new Date().toISOString();
		const backendText = backendLabel(backend, baseRuntime);
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
			...(confounds.length ? { sourceWarnings: confounds } : {}),
		};
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

export interface ClassifyResult {
	predictions: Prediction[];
	csvPath: string;
	errors: FileError[];
	/** When the folder has class subfolders (or a metadata.csv). */
	metrics?: Metrics;
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
	const loaded = await decode(records, workDir, cfg.imageSize, cfg.resize, opts, cfg.equalize);
	const errors = [...scanned.errors, ...loaded.errors];

	// The same weights the head was trained on, or a clear refusal.
	const want = run.weights;
	const source = want.pretrained ? (want.path ?? cfg.weights) : 'none';
	const base = await prepareBase(spec, source, cfg.imageSize, cfg.seed, { workDir, signal: opts.signal, onProgress: opts.onProgress });
	if (base.info.sha256 !== want.sha256) {
		throw new Error(`${path.join(run.runDir, RUN_FILES.weights)}: the run was trained on ${describeWeights(want)} (sha256 ${want.sha256.slice(0, 12)}), but '${source}' resolves to ${describeWeights(base.info)} (sha256 ${base.info.sha256.slice(0, 12)})`);
	}
	const feats = await features(loaded, spec, base, { ...cfg, workDir, preprocessing }, opts);

	opts.onProgress?.({ kind: 'stage', stage: 'classify', done: 0, total: loaded.images.length });
	const model = await loadLayersModel(run.runDir);
	let predictions: Prediction[];
	try {
		predictions = predictRecords(wrapHead(model), feats.feats, loaded.images.map((i) => i.record));
	} finally {
		model.dispose();
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
	return { predictions, csvPath, errors, metrics };
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

/** Scans a dataset and computes its seeded split (no decoding). */
export async function computeSplits(
	dataDir: string,
	o: { mode: SplitMode; seed: number; testFraction: number; valFraction: number },
	opts: JobOptions = {},
): Promise<{ scan: ScanResult; split: SplitResult; annotations: AnnotationSummary }> {
	const scanned = await scan(path.resolve(dataDir), opts);
	const annotated = await annotate(scanned, opts);
	const labelled = annotated.images.filter((r) => r.label != null);
	if (labelled.length === 0) throw new Error(`${scanned.root}: no labelled images to split`);
	opts.onProgress?.({ kind: 'stage', stage: 'split', done: 0, total: 1 });
	const split = withAnnotations(splitDataset(labelled, o), annotated);
	opts.onProgress?.({ kind: 'stage', stage: 'split', done: 1, total: 1 });
	const corrected = new Map(annotated.images.map((r) => [r.relPath, r]));
	return { scan: { ...scanned, images: scanned.images.map((r) => corrected.get(r.relPath) ?? r) }, split, annotations: annotated.summary };
}

/** Complete runs below `<workDir>/runs`, newest first. */
export function listRuns(workDir: string): Promise<RunSummary[]> {
	return listRunDirs(path.resolve(workDir));
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
	let now: string;
	try {
		now = labelsDigest((await readAnnotations(config.dataDir)).set);
	} catch (e) {
		return `the annotations cannot be read (${e instanceof Error ? e.message : String(e)})`;
	}
	const then = config.annotations?.labelsDigest ?? labelsDigest(new Map());
	return now === then ? undefined : 'labels are stale: annotations were changed after this run was trained (retrain to use them)';
}

export async function loadRun(runDir: string): Promise<RunView> {
	const run: LoadedRun = await loadRunDir(runDir);
	const predictions = await withSources(await readPredictionsCsv(path.join(run.runDir, RUN_FILES.predictions)), run.config.dataDir);
	const stale = await staleLabels(run.config);
	return { summary: summaryOf(run), history: run.history, predictions, extra: { config: run.config, splits: run.splits, metrics: run.metrics, weights: run.weights }, ...(stale ? { staleLabels: stale } : {}) };
}

/** Runs written before predictions.csv had source / patient_id columns: fill them from a scan of the dataset, if it is still there. */
async function withSources(predictions: Prediction[], dataDir: string): Promise<Prediction[]> {
	if (predictions.every((p) => p.patientId !== undefined)) return predictions;
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
	o: { backbone: TrainConfig['backbone']; weights: string; imageSize: number; resize: ResizeMode; workDir: string; baseRuntime: TrainConfig['baseRuntime']; backend: TrainConfig['backend']; equalize?: Equalize },
	opts: JobOptions = {},
): Promise<DatasetFeatures> {
	await initBackend(o.backend);
	const spec = getBackbone(o.backbone);
	const workDir = path.resolve(o.workDir);
	const scanned = await scan(path.resolve(dataDir), opts);
	// Reviewed corrections count and excluded images are left out, so a fixed finding does not come back.
	const labelled = (await annotate(scanned, opts)).images.filter((r) => r.label != null);
	if (labelled.length === 0) throw new Error(`${scanned.root}: no labelled images (expected class folders ${CLASS_NAMES.join(', ')} or a metadata.csv)`);
	const loaded = await decode(labelled, workDir, o.imageSize, o.resize, opts, o.equalize);
	if (loaded.images.length === 0) throw new Error(`${scanned.root}: none of the ${labelled.length} images could be decoded`);
	const base = await prepareBase(spec, o.weights, o.imageSize, 0, { workDir, signal: opts.signal, onProgress: opts.onProgress });
	const feats = await features(loaded, spec, base, { imageSize: o.imageSize, resize: o.resize, baseRuntime: o.baseRuntime, workDir, preprocessing: spec.preprocessing, equalize: o.equalize }, opts);
	return { scan: scanned, loaded, features: feats, weights: base.info, channels: spec.outputShape(o.imageSize)[2] };
}
