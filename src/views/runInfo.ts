// What the Runs view shows of each run folder, read with the engine's own TensorFlow-free readers and validators
// (run/read.ts, run/validate.ts, annotations/store.ts): the view works before the worker starts and in Restricted
// Mode, and says what the engine would say. Never throws for one bad folder.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { staleLabelsOf } from '../engine/annotations/store';
import { RUN_FILES } from '../engine/run/files';
import { readInterruptedRun, readJson } from '../engine/run/read';
import { validateConfig, validateMetrics } from '../engine/run/validate';

export { ANNOTATIONS_FILE } from '../engine/annotations/format';

/**
 * complete: a finished run; incomplete: a hidden `.<name>.partial` folder (training now, or left by a process the
 * engine has not recovered yet); interrupted: the engine recorded it as cut off (interrupted.json: history, no model);
 * unreadable: anything else, with the engine's reason.
 */
export type RunState = 'complete' | 'incomplete' | 'interrupted' | 'unreadable';

export interface RunEntry {
	name: string;
	dir: string;
	state: RunState;
	backbone?: string;
	weightsName?: string;
	pretrained?: boolean;
	/** Test accuracy in [0, 1] and the number of test images behind it. */
	accuracy?: number;
	n?: number;
	createdAt?: string;
	/** Interrupted runs: epochs saved before the cut, of those planned. */
	epochs?: number;
	plannedEpochs?: number;
	/** The dataset's labels or exclusions changed since training (the engine's labelsDigest comparison). */
	staleLabels?: boolean;
	/** The engine's words for why the run is stale (or why the annotations cannot be read). */
	staleReason?: string;
	/** Why the folder is unreadable. */
	problem?: string;
}

/** Runs under `<workDir>/runs`, newest first; partial folders included as incomplete. */
export async function readRuns(workDir: string): Promise<RunEntry[]> {
	const root = path.join(workDir, 'runs');
	let dirs: string[];
	try {
		dirs = (await fs.readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
	} catch {
		return [];
	}
	// Runs on one dataset with the same digest share one read of its annotations.
	const stale = new Map<string, Promise<string | undefined>>();
	const staleOf = (config: Parameters<typeof staleLabelsOf>[0]): Promise<string | undefined> => {
		const key = `${config.dataDir}\0${config.annotations?.labelsDigest ?? ''}`;
		if (!stale.has(key)) stale.set(key, staleLabelsOf(config));
		return stale.get(key)!;
	};
	const entries = await Promise.all(dirs.map((d) => readRun(path.join(root, d), staleOf)));
	return entries.sort((a, b) => (b.createdAt ?? b.name).localeCompare(a.createdAt ?? a.name) || b.name.localeCompare(a.name));
}

async function readRun(dir: string, staleOf: (config: Parameters<typeof staleLabelsOf>[0]) => Promise<string | undefined>): Promise<RunEntry> {
	const folder = path.basename(dir);
	const partial = /^\.(.+)\.partial$/.exec(folder);
	if (partial) return { name: partial[1], dir, state: 'incomplete', backbone: /-([a-z0-9]+)(?:-\d+)?$/.exec(partial[1])?.[1] };
	const file = (f: string) => path.join(dir, f);
	try {
		const interrupted = await readInterruptedRun(dir);
		if (interrupted) {
			const { backbone, createdAt, history, plannedEpochs, weights } = interrupted;
			return { name: folder, dir, state: 'interrupted', backbone, createdAt, epochs: history.length, plannedEpochs, weightsName: weights?.name, pretrained: weights?.pretrained };
		}
		const metrics = validateMetrics(file(RUN_FILES.metrics), await readJson<unknown>(file(RUN_FILES.metrics)));
		const config = validateConfig(file(RUN_FILES.config), await readJson<unknown>(file(RUN_FILES.config)));
		const staleReason = await staleOf(config);
		return {
			name: folder,
			dir,
			state: 'complete',
			backbone: metrics.backbone,
			weightsName: metrics.weights.name,
			pretrained: metrics.weights.pretrained,
			accuracy: Number.isFinite(metrics.accuracy) ? metrics.accuracy : undefined,
			n: metrics.support,
			createdAt: metrics.createdAt,
			staleLabels: staleReason !== undefined,
			staleReason,
		};
	} catch (e) {
		return { name: folder, dir, state: 'unreadable', problem: e instanceof Error ? e.message : String(e) };
	}
}
