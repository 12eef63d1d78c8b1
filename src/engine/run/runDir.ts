// A run folder: everything one training produced, readable without the engine. Built in a hidden `.partial`
// folder and renamed into place when complete, so a cancelled or crashed run never looks finished.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BackboneId, EpochLog, Metrics, RunSummary, SplitResult, TrainConfig } from '../types';
import { RUN_FILES, type StoredMetrics, type StoredWeights } from './files';
import { validateConfig, validateHistory, validateMetrics, validateSplits, validateWeights } from './validate';
import { readInterruptedRun, readJson, type InterruptedMarker, type InterruptedRun } from './read';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic';
import { tf, type LayersModel } from '../model/tf';

export { RUN_FILES, type StoredMetrics, type StoredWeights } from './files';
export { readJson, type InterruptedMarker, type InterruptedRun } from './read';

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
			const owner: PartialOwner = { pid: process.pid, hostname: os.hostname(), startedAt: now.toISOString() };
			await writeJsonAtomic(path.join(partialDir, RUN_FILES.owner), owner);
			return { name, partialDir, finalDir };
		} catch (e) {
			if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
		}
	}
}

/** Moves a complete run into place. */
export async function commitRun(run: PendingRun): Promise<string> {
	await fs.rm(path.join(run.partialDir, RUN_FILES.owner), { force: true });
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

/** Reads a complete run folder (not its model: see loadLayersModel). */
export async function loadRun(runDir: string): Promise<LoadedRun> {
	const dir = path.resolve(runDir);
	if (!(await exists(path.join(dir, RUN_FILES.metrics)))) {
		throw new Error(`${dir}: not a complete run folder (no ${RUN_FILES.metrics})`);
	}
	const read = async <T>(file: string, validate: (file: string, v: unknown) => T): Promise<T> => {
		const p = path.join(dir, file);
		return validate(p, await readJson<unknown>(p));
	};
	const [config, splits, history, metrics, weights] = await Promise.all([
		read(RUN_FILES.config, validateConfig),
		read(RUN_FILES.splits, validateSplits),
		read(RUN_FILES.history, validateHistory),
		read(RUN_FILES.metrics, validateMetrics),
		read(RUN_FILES.weights, validateWeights),
	]);
	return { runDir: dir, name: path.basename(dir), config, splits, history, metrics, weights };
}

export function summaryOf(run: LoadedRun): RunSummary {
	const { backbone, backend, weights, createdAt } = run.metrics;
	const { loss, accuracy, confusion, perClass, macroAvg, weightedAvg, support, bySource } = run.metrics;
	// bySource travels too: the panels show the per-source table from the summary (sources confound classes).
	const metrics: Metrics = { loss, accuracy, confusion, perClass, macroAvg, weightedAvg, support, ...(bySource ? { bySource } : {}) };
	return { runDir: run.runDir, backbone, weights, backend, createdAt, metrics, ...(run.config.testSource ? { testSource: run.config.testSource } : {}) };
}

/** A finished run with its epoch history: what the Compare and Training panels show. */
export interface RunWithHistory {
	summary: RunSummary;
	history: EpochLog[];
	/** metrics.json's stage times (features, head, total, …). */
	timing?: Record<string, number>;
}

/** The visible folders under a runs folder (hidden `.partial` ones left out); none when it does not exist. */
async function runFolderNames(root: string): Promise<string[]> {
	try {
		return (await fs.readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name);
	} catch {
		return [];
	}
}

/** Complete runs under `<workDir>/runs` with their history, newest first, in one pass; unreadable folders are skipped. */
export async function listRunsWithHistory(workDir: string): Promise<RunWithHistory[]> {
	const root = runsDir(workDir);
	const names = await runFolderNames(root);
	const out: RunWithHistory[] = [];
	for (const name of names) {
		try {
			const run = await loadRun(path.join(root, name));
			out.push({ summary: summaryOf(run), history: run.history, timing: run.metrics.timing });
		} catch {
			// incomplete or foreign folder
		}
	}
	const newestFirst = (a: RunSummary, b: RunSummary): number => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : b.runDir.localeCompare(a.runDir));
	return out.sort((a, b) => newestFirst(a.summary, b.summary));
}

/** Complete runs under `<workDir>/runs`, newest first; unreadable folders are skipped. */
export async function listRuns(workDir: string): Promise<RunSummary[]> {
	return (await listRunsWithHistory(workDir)).map((r) => r.summary);
}

async function exists(p: string): Promise<boolean> {
	return fs.stat(p).then(
		() => true,
		() => false,
	);
}

/** owner.json of a `.partial` folder. */
export interface PartialOwner {
	pid: number;
	hostname: string;
	startedAt: string;
}

export interface RecoverResult {
	/** Partial folders turned into interrupted runs. */
	interrupted: string[];
	/** Partial folders removed (nothing worth keeping: no epoch yet). */
	removed: string[];
	/** Partial folders left alone: a live process (this window, another window) is writing them. */
	live: string[];
}

/** Whether a process with this pid exists (signal 0 checks without signalling). */
export function pidAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (e) {
		return (e as NodeJS.ErrnoException).code === 'EPERM';
	}
}

/** Left-over `.partial` folders with no owner.json older than this are removed (an older version wrote them). */
const UNOWNED_GRACE_MS = 60 * 60_000;

/**
 * Stale `.partial` folders (their writer is gone: a window was reloaded or crashed mid-training) become
 * interrupted runs when they hold at least one epoch, and are removed otherwise. A folder whose owner process
 * is alive on this machine (another window training into the same workspace) is left alone; so is one written
 * on another host (a shared folder: its liveness cannot be checked from here).
 */
export async function recoverPartialRuns(workDir: string, isAlive: (pid: number) => boolean = pidAlive, now = new Date()): Promise<RecoverResult> {
	const root = runsDir(workDir);
	const out: RecoverResult = { interrupted: [], removed: [], live: [] };
	let names: string[];
	try {
		names = (await fs.readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory() && /^\..+\.partial$/.test(d.name)).map((d) => d.name);
	} catch {
		return out;
	}
	for (const dirName of names) {
		const dir = path.join(root, dirName);
		const owner = await readJson<PartialOwner>(path.join(dir, RUN_FILES.owner)).catch(() => undefined);
		if (owner) {
			if (owner.hostname !== os.hostname() || isAlive(owner.pid)) {
				out.live.push(dir);
				continue;
			}
		} else {
			const st = await fs.stat(dir).catch(() => undefined);
			if (st && now.getTime() - st.mtimeMs < UNOWNED_GRACE_MS) {
				out.live.push(dir);
				continue;
			}
		}
		const history = await readJson<EpochLog[]>(path.join(dir, RUN_FILES.history)).catch(() => [] as EpochLog[]);
		const config = await readJson<TrainConfig>(path.join(dir, RUN_FILES.config)).catch(() => undefined);
		if (!config || !Array.isArray(history) || history.length === 0) {
			await fs.rm(dir, { recursive: true, force: true });
			out.removed.push(dir);
			continue;
		}
		const marker: InterruptedMarker = {
			startedAt: owner?.startedAt ?? now.toISOString(),
			foundAt: now.toISOString(),
			epochs: history.length,
			plannedEpochs: config.epochs,
			reason: owner ? `the process writing it (pid ${owner.pid}) ended before training finished` : 'left unfinished',
		};
		await writeJsonAtomic(path.join(dir, RUN_FILES.interrupted), marker);
		await fs.rm(path.join(dir, RUN_FILES.owner), { force: true });
		const finalName = dirName.slice(1, -'.partial'.length);
		let target = path.join(root, finalName);
		for (let i = 2; await exists(target); i++) target = path.join(root, `${finalName}-interrupted-${i}`);
		await fs.rename(dir, target);
		out.interrupted.push(target);
	}
	return out;
}

/** Interrupted runs under `<workDir>/runs`, newest first. */
export async function listInterruptedRuns(workDir: string): Promise<InterruptedRun[]> {
	const root = runsDir(workDir);
	const names = await runFolderNames(root);
	const out: InterruptedRun[] = [];
	for (const name of names) {
		const run = await readInterruptedRun(path.join(root, name)).catch(() => undefined); // unreadable: not shown
		if (run) out.push(run);
	}
	return out.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
}
