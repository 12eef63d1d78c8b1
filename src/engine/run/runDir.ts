// A run folder: everything one training produced, readable without the engine. Built in a hidden `.partial`
// folder and renamed into place when complete, so a cancelled or crashed run never looks finished.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { BackboneId, EpochLog, Metrics, RunSummary, SplitResult, TrainConfig, WeightsInfo } from '../types';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic';
import { tf, type LayersModel } from '../model/tf';

export const RUN_FILES = {
	config: 'config.json',
	splits: 'splits.json',
	history: 'history.json',
	metrics: 'metrics.json',
	predictions: 'predictions.csv',
	weights: 'weights.json',
	model: 'model.json',
	modelWeights: 'weights.bin',
} as const;

/** metrics.json: the test metrics plus what produced them. */
export interface StoredMetrics extends Metrics {
	backbone: BackboneId;
	backend: string;
	/** Which runtime computed the base features ('tfjs …' or 'onnxruntime-node …'; 'cache' when all were cached). */
	baseRuntime: string;
	weights: WeightsInfo;
	createdAt: string;
	timing: Record<string, number>;
	counts: { train: number; val: number; test: number; decodeErrors: number };
}

/** weights.json: which backbone weights the head was trained on (not a copy of them). */
export interface StoredWeights extends WeightsInfo {
	backbone: BackboneId;
}

export interface LoadedRun {
	runDir: string;
	name: string;
	config: TrainConfig;
	splits: SplitResult;
	history: EpochLog[];
	metrics: StoredMetrics;
	weights: StoredWeights;
}

export function runsDir(workDir: string): string {
	return path.join(workDir, 'runs');
}

/** YYYYMMDD-HHMMSS in UTC. */
export function timestampName(d = new Date()): string {
	const p = (n: number) => String(n).padStart(2, '0');
	return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

export interface PendingRun {
	name: string;
	/** Where files are written while the run is in progress. */
	partialDir: string;
	/** Where the run lands when complete. */
	finalDir: string;
}

/** Reserves a run name (unique even for two runs in the same second) and creates its partial folder. */
export async function beginRun(workDir: string, backbone: BackboneId, now = new Date()): Promise<PendingRun> {
	const root = runsDir(workDir);
	await fs.mkdir(root, { recursive: true });
	const base = `${timestampName(now)}-${backbone}`;
	for (let i = 1; ; i++) {
		const name = i === 1 ? base : `${base}-${i}`;
		const finalDir = path.join(root, name);
		const partialDir = path.join(root, `.${name}.partial`);
		if (await exists(finalDir)) continue;
		try {
			await fs.mkdir(partialDir); // fails if another run holds the name
			return { name, partialDir, finalDir };
		} catch (e) {
			if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
		}
	}
}

/** Moves a complete run into place. */
export async function commitRun(run: PendingRun): Promise<string> {
	await fs.rename(run.partialDir, run.finalDir);
	return run.finalDir;
}

/** Removes an unfinished run (on cancel or error). */
export async function abandonRun(run: PendingRun): Promise<void> {
	await fs.rm(run.partialDir, { recursive: true, force: true });
}

export const writeRunJson = (dir: string, file: string, value: unknown): Promise<void> => writeJsonAtomic(path.join(dir, file), value);

/** Saves a layers model as model.json + weights.bin (pure tfjs has no file:// handler). */
export async function saveLayersModel(model: LayersModel, dir: string): Promise<void> {
	await model.save(
		tf.io.withSaveHandler(async (artifacts) => {
			const data = artifacts.weightData;
			const bytes = data == null ? new Uint8Array(0) : new Uint8Array(Array.isArray(data) ? concatBuffers(data) : data);
			await writeFileAtomic(path.join(dir, RUN_FILES.modelWeights), bytes);
			const json = {
				modelTopology: artifacts.modelTopology,
				format: artifacts.format ?? 'layers-model',
				generatedBy: artifacts.generatedBy,
				convertedBy: artifacts.convertedBy ?? null,
				weightsManifest: [{ paths: [RUN_FILES.modelWeights], weights: artifacts.weightSpecs ?? [] }],
			};
			await writeJsonAtomic(path.join(dir, RUN_FILES.model), json);
			return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON', weightDataBytes: bytes.byteLength } };
		}),
	);
}

/** Loads model.json + its weight files from a folder. */
export async function loadLayersModel(dir: string): Promise<LayersModel> {
	const file = path.join(dir, RUN_FILES.model);
	const json = await readJson<{ modelTopology: object; weightsManifest: tf.io.WeightsManifestConfig }>(file);
	const specs: tf.io.WeightsManifestEntry[] = [];
	const parts: Uint8Array[] = [];
	for (const group of json.weightsManifest) {
		specs.push(...group.weights);
		for (const p of group.paths) parts.push(await fs.readFile(path.join(dir, p)));
	}
	const weightData = concatBuffers(parts.map((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer));
	return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: specs, weightData }));
}

function concatBuffers(bufs: ArrayBuffer[]): ArrayBuffer {
	const total = bufs.reduce((a, b) => a + b.byteLength, 0);
	const out = new Uint8Array(total);
	let o = 0;
	for (const b of bufs) {
		out.set(new Uint8Array(b), o);
		o += b.byteLength;
	}
	return out.buffer;
}

export async function readJson<T>(file: string): Promise<T> {
	let text: string;
	try {
		text = await fs.readFile(file, 'utf8');
	} catch (e) {
		throw new Error(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
	}
	try {
		return JSON.parse(text) as T;
	} catch (e) {
		throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
	}
}

/** Reads a complete run folder (not its model: see loadLayersModel). */
export async function loadRun(runDir: string): Promise<LoadedRun> {
	const dir = path.resolve(runDir);
	if (!(await exists(path.join(dir, RUN_FILES.metrics)))) {
		throw new Error(`${dir}: not a complete run folder (no ${RUN_FILES.metrics})`);
	}
	const [config, splits, history, metrics, weights] = await Promise.all([
		readJson<TrainConfig>(path.join(dir, RUN_FILES.config)),
		readJson<SplitResult>(path.join(dir, RUN_FILES.splits)),
		readJson<EpochLog[]>(path.join(dir, RUN_FILES.history)),
		readJson<StoredMetrics>(path.join(dir, RUN_FILES.metrics)),
		readJson<StoredWeights>(path.join(dir, RUN_FILES.weights)),
	]);
	return { runDir: dir, name: path.basename(dir), config, splits, history: history.map(revive), metrics, weights };
}

/** JSON has no NaN: history written with NaN (no validation split) reads back as null. */
function revive(log: EpochLog): EpochLog {
	return { ...log, val_loss: log.val_loss ?? NaN, val_acc: log.val_acc ?? NaN };
}

export function summaryOf(run: LoadedRun): RunSummary {
	const { backbone, backend, weights, createdAt } = run.metrics;
	const { loss, accuracy, confusion, perClass, macroAvg, weightedAvg, support, bySource } = run.metrics;
	// bySource travels too: the panels show the per-source table from the summary (sources confound classes).
	const metrics: Metrics = { loss, accuracy, confusion, perClass, macroAvg, weightedAvg, support, ...(bySource ? { bySource } : {}) };
	return { runDir: run.runDir, backbone, weights, backend, createdAt, metrics };
}

/** Complete runs under `<workDir>/runs`, newest first; unreadable folders are skipped. */
export async function listRuns(workDir: string): Promise<RunSummary[]> {
	const root = runsDir(workDir);
	let names: string[];
	try {
		names = (await fs.readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name);
	} catch {
		return [];
	}
	const out: RunSummary[] = [];
	for (const name of names) {
		try {
			out.push(summaryOf(await loadRun(path.join(root, name))));
		} catch {
			// incomplete or foreign folder
		}
	}
	return out.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : b.runDir.localeCompare(a.runDir)));
}

async function exists(p: string): Promise<boolean> {
	return fs.stat(p).then(
		() => true,
		() => false,
	);
}
