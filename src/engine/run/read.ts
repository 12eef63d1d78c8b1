// Reading run folders without TensorFlow: the same readers serve the engine and the sidebar (which lists runs in
// Restricted Mode, before the worker starts). Every value passes the run validators; errors name the file.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { BackboneId, EpochLog, WeightsInfo } from '../types';
import { RUN_FILES } from './files';
import { validateConfig, validateHistory, validateWeights } from './validate';

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

/** interrupted.json: when the interruption was found, and how far training had got. */
export interface InterruptedMarker {
	startedAt: string;
	foundAt: string;
	/** Epochs in history.json (the last checkpoint before the interruption). */
	epochs: number;
	/** Planned epochs (config.json). */
	plannedEpochs: number;
	reason: string;
}

/** An interrupted run as the panels show it. */
export interface InterruptedRun {
	runDir: string;
	name: string;
	backbone: BackboneId;
	createdAt: string;
	history: EpochLog[];
	plannedEpochs: number;
	weights?: WeightsInfo;
}

/**
 * The interrupted run in `dir`: undefined when the folder has no interrupted.json; throws (naming the file) when a
 * file of it does not validate. Interrupted runs are data like finished ones: the same validators.
 */
export async function readInterruptedRun(dir: string): Promise<InterruptedRun | undefined> {
	const file = (f: string) => path.join(dir, f);
	let marker: InterruptedMarker;
	try {
		marker = await readJson<InterruptedMarker>(file(RUN_FILES.interrupted));
	} catch (e) {
		if (!(await fs.stat(file(RUN_FILES.interrupted)).catch(() => undefined))) return undefined;
		throw e;
	}
	if (typeof marker !== 'object' || marker === null || typeof marker.startedAt !== 'string') throw new Error(`${file(RUN_FILES.interrupted)}: startedAt is missing`);
	const config = validateConfig(file(RUN_FILES.config), await readJson<unknown>(file(RUN_FILES.config)));
	const history = validateHistory(file(RUN_FILES.history), await readJson<unknown>(file(RUN_FILES.history)));
	const weights = await readJson<unknown>(file(RUN_FILES.weights))
		.then((v) => validateWeights(file(RUN_FILES.weights), v))
		.catch(() => undefined);
	return { runDir: dir, name: path.basename(dir), backbone: config.backbone, createdAt: marker.startedAt, history, plannedEpochs: config.epochs, weights };
}
