// The readers' section of a run's report card, from the run's dataset: nothing when nobody has read, a plain
// error line when the reads file cannot be used (the card itself never fails for it).
import * as path from 'node:path';
import type { JobOptions, Prediction } from '../types';
import { readersCardOf, type ReadersCard } from './card';
import { readReads } from './store';
import { readersReport } from './study';
import { isCancelled } from '../util/cancel';

export async function readersSection(
	dataDir: string,
	runDir: string,
	predictions: readonly Prediction[],
	opts: JobOptions & { resamples?: number; bootstrapSeed?: number },
): Promise<ReadersCard | undefined> {
	try {
		if ((await readReads(dataDir)).reads.length === 0) return undefined;
		// The run's held-out images only: the model is compared with the readers where it has not seen the answer.
		const held = new Map(predictions.filter((p) => p.split === undefined || p.split === 'test').map((p) => [p.relPath, { probs: p.probs, predicted: p.predicted }]));
		const r = await readersReport(dataDir, { signal: opts.signal, resamples: opts.resamples, seed: opts.bootstrapSeed, predictions: held });
		const card = readersCardOf(r);
		if (card.model) card.model.run = path.basename(runDir);
		return card;
	} catch (e) {
		if (isCancelled(e)) throw e;
		const message = (e as Error).message;
		opts.onProgress?.({ kind: 'log', level: 'warn', message: `readers: ${message}` });
		return { error: message, readers: [], images: 0, pairs: [], bootstrap: { resamples: 0, seed: 0, unit: 'image' } };
	}
}
