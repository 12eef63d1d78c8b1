// The engine's facade: what the CLI and the extension's worker call. Plain Node, no vscode.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import {
	BACKBONE_IDS,
	CLASS_NAMES,
	DEFAULT_TRAIN_CONFIG,
	type EpochLog,
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
} from './types';
import { isCancelled, throwIfAborted } from './util/cancel';
import { initBackend, type BackendReport } from './model/tf';
import { getBackbone } from './model/backbones';
import type { BackboneSpec } from './model/backbones/spec';
import { buildHead, wrapHead, type Head } from './model/head';
import { scanDataset } from './data/scan';
import { loadImages, type LoadResult } from './data/cache';
import { splitDataset } from './data/splits';
import { computeFeatures, featureCacheDir, type FeatureResult } from './train/features';
import { createExtractor, prepareBase, type PreparedBase } from './train/base';
import { trainHead, type FeatureSet } from './train/train';
import { computeMetrics } from './infer/metrics';
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

function decode(records: ImageRecord[], workDir: string, size: number, resize: ResizeMode, opts: JobOptions): Promise<LoadResult> {
	// loadImages reports its own stage progress and file errors.
	return loadImages(records, { workDir, size, resize, signal: opts.signal, onProgress: opts.onProgress });
}

/** Features for loaded images through the cache; the base is built only if something is missing. */
async function features(
	loaded: LoadResult,
	spec: BackboneSpec,
	base: PreparedBase,
	cfg: Pick<TrainConfig, 'imageSize' | 'resize' | 'baseRuntime' | 'workDir'> & { preprocessing: NonNullable<TrainConfig['preprocessing']> },
	opts: JobOptions,
): Promise<FeatureResult> {
	const baseShape = spec.outputShape(cfg.imageSize);
	const key = { backbone: spec.id, weightsSha: base.info.sha256, preprocessing: cfg.preprocessing, resize: cfg.resize, size: cfg.imageSize };
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
	const labelled = scanned.images.filter((r) => r.label != null);
	if (labelled.length === 0) throw new Error(`${cfg.dataDir}: no labelled images (expected class folders ${CLASS_NAMES.join(', ')} or a metadata.csv)`);
	lap('scan');
	const loaded = await decode(labelled, cfg.workDir, cfg.imageSize, cfg.resize, opts);
	if (loaded.images.length === 0) throw new Error(`${cfg.dataDir}: none of the ${labelled.length} images could be decoded`);
	lap('decode');
	throwIfAborted(opts.signal);

	opts.onProgress?.({ kind: 'stage', stage: 'split', done: 0, total: 1 });
	const split = splitDataset(
		loaded.images.map((i) => i.record),
		{ mode: cfg.splitMode, seed: cfg.seed, testFraction: cfg.testFraction, valFraction: cfg.valFraction },
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
		await writeRunJson(dir, RUN_FILES.config, { ...cfg, preprocessing });
		await writeRunJson(dir, RUN_FILES.splits, split);
		const storedWeights: StoredWeights = { ...base.info, backbone: cfg.backbone };
		await writeRunJson(dir, RUN_FILES.weights, storedWeights);

		const feats = await features(loaded, spec, base, { ...cfg, preprocessing }, opts);
		const baseRuntime = feats.runtime ?? 'feature cache';
		lap('features');

		const splitOf = new Map<string, SplitName>();
		for (const s of ['train', 'val', 'test'] as const) for (const rel of split[s]) splitOf.set(rel, s);
		const rowsOf = (s: SplitName) => loaded.images.map((im, i) => (splitOf.get(im.record.relPath) === s ? i : -1)).filter((i) => i >= 0);
		const sets = Object.fromEntries(
			(['train', 'val', 'test'] as const).map((s) => {
				const rows = rowsOf(s);
				return [s, subset(feats, rows, rows.map((r) => classIndex(loaded.images[r].record)))];
			}),
		) as Record<SplitName, FeatureSet>;

		head = buildHead({ baseShape: spec.outputShape(cfg.imageSize), dropout: cfg.dropout, seed: cfg.seed });
		opts.onProgress?.({ kind: 'stage', stage: 'train', done: 0, total: cfg.epochs, message: `${sets.train.n} train / ${sets.val.n} val images` });
		const trained = await trainHead(head, sets.train, sets.val, {
			epochs: cfg.epochs,
			batchSize: cfg.batchSize,
			learningRate: cfg.learningRate,
			seed: cfg.seed,
			reduceLr: cfg.reduceLr,
			signal: opts.signal,
			onProgress: opts.onProgress,
		});
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
	const loaded = await decode(scanned.images, workDir, cfg.imageSize, cfg.resize, opts);
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
	const labelled = predictions.filter((p) => p.label != null);
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
): Promise<{ scan: ScanResult; split: SplitResult }> {
	const scanned = await scan(path.resolve(dataDir), opts);
	const labelled = scanned.images.filter((r) => r.label != null);
	if (labelled.length === 0) throw new Error(`${scanned.root}: no labelled images to split`);
	opts.onProgress?.({ kind: 'stage', stage: 'split', done: 0, total: 1 });
	const split = splitDataset(labelled, o);
	opts.onProgress?.({ kind: 'stage', stage: 'split', done: 1, total: 1 });
	return { scan: scanned, split };
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
}

export async function loadRun(runDir: string): Promise<RunView> {
	const run: LoadedRun = await loadRunDir(runDir);
	const predictions = await withSources(await readPredictionsCsv(path.join(run.runDir, RUN_FILES.predictions)), run.config.dataDir);
	return { summary: summaryOf(run), history: run.history, predictions, extra: { config: run.config, splits: run.splits, metrics: run.metrics, weights: run.weights } };
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
