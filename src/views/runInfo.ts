// What the Runs view shows of each run folder, read straight from its JSON files: no engine, no TensorFlow, so
// the view works before the worker starts and in Restricted Mode. Never throws for one bad folder.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

/** complete: metrics.json is there; incomplete: a hidden `.<name>.partial` folder (training now, or interrupted); unreadable: anything else. */
export type RunState = 'complete' | 'incomplete' | 'unreadable';

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
	/** Labels changed since training (the annotation file's hash differs from the one the run recorded), or the run says so. */
	staleLabels?: boolean;
	/** Why the folder is unreadable. */
	problem?: string;
}

export const ANNOTATIONS_FILE = 'radreview-annotations.csv';

interface MetricsJson {
	backbone?: string;
	accuracy?: number;
	support?: number;
	createdAt?: string;
	weights?: { name?: string; pretrained?: boolean };
	staleLabels?: boolean;
	interrupted?: boolean;
}
/** The part of config.json that names the annotation file a run was trained with (written by the annotations feature). */
interface ConfigJson {
	dataDir?: string;
	annotations?: { sha256?: string; hash?: string } | null;
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
	const hashes = new Map<string, Promise<string | undefined>>();
	const annotationHash = (dataDir: string): Promise<string | undefined> => {
		if (!hashes.has(dataDir)) hashes.set(dataDir, sha256Of(path.join(dataDir, ANNOTATIONS_FILE)));
		return hashes.get(dataDir)!;
	};
	const entries = await Promise.all(dirs.map((d) => readRun(path.join(root, d), annotationHash)));
	return entries.sort((a, b) => (b.createdAt ?? b.name).localeCompare(a.createdAt ?? a.name) || b.name.localeCompare(a.name));
}

async function readRun(dir: string, annotationHash: (dataDir: string) => Promise<string | undefined>): Promise<RunEntry> {
	const folder = path.basename(dir);
	const partial = /^\.(.+)\.partial$/.exec(folder);
	if (partial) return { name: partial[1], dir, state: 'incomplete', backbone: /-([a-z0-9]+)(?:-\d+)?$/.exec(partial[1])?.[1] };
	let metrics: MetricsJson;
	try {
		metrics = JSON.parse(await fs.readFile(path.join(dir, 'metrics.json'), 'utf8')) as MetricsJson;
	} catch (e) {
		const code = (e as NodeJS.ErrnoException).code;
		return { name: folder, dir, state: 'unreadable', problem: code === 'ENOENT' ? 'no metrics.json' : `metrics.json: ${(e as Error).message}` };
	}
	const entry: RunEntry = {
		name: folder,
		dir,
		state: metrics.interrupted ? 'incomplete' : 'complete',
		backbone: metrics.backbone,
		weightsName: metrics.weights?.name,
		pretrained: metrics.weights?.pretrained,
		accuracy: typeof metrics.accuracy === 'number' ? metrics.accuracy : undefined,
		n: typeof metrics.support === 'number' ? metrics.support : undefined,
		createdAt: metrics.createdAt,
		staleLabels: metrics.staleLabels === true ? true : undefined,
	};
	if (entry.staleLabels === undefined) entry.staleLabels = await labelsChanged(dir, annotationHash);
	return entry;
}

/** True when the run recorded an annotation file hash and the file now hashes differently (or is gone). */
async function labelsChanged(dir: string, annotationHash: (dataDir: string) => Promise<string | undefined>): Promise<boolean | undefined> {
	let config: ConfigJson;
	try {
		config = JSON.parse(await fs.readFile(path.join(dir, 'config.json'), 'utf8')) as ConfigJson;
	} catch {
		return undefined;
	}
	const recorded = config.annotations?.sha256 ?? config.annotations?.hash;
	if (!recorded || !config.dataDir) return undefined;
	return (await annotationHash(config.dataDir)) !== recorded;
}

async function sha256Of(file: string): Promise<string | undefined> {
	try {
		return createHash('sha256')
			.update(await fs.readFile(file))
			.digest('hex');
	} catch {
		return undefined;
	}
}
