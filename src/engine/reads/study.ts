// A reader study of a dataset: its reads, its images (folder labels, patients), the reference standard (the
// adjudicated label in radreview-annotations.csv where there is one, else the folder label) and optionally a run's
// predictions on the same images. The CLI and the report card build their figures from here.
import * as path from 'node:path';
import type { ClassName, JobOptions } from '../types';
import { scanDataset } from '../data/scan';
import { readAnnotations } from '../annotations/store';
import type { Annotation } from '../annotations/format';
import { readReads } from './store';
import { readerAgreement, DEFAULT_READS_RESAMPLES, DEFAULT_READS_SEED, type ReaderAgreement, type Reference } from './agreement';
import { modelVsReaders, type ModelCase, type ModelVsReaders } from './modelVsReaders';
import type { Read } from './format';

/** Marks an annotation as an adjudication of reads (its note starts so; see the adjudication queue). */
export const ADJUDICATED_NOTE = 'adjudicated';

export interface ReadersReport extends ReaderAgreement {
	data: string;
	readsFile: string;
	/** Reads of images no longer in the dataset (moved or deleted), left out of everything. */
	orphanReads: number;
	model?: ModelVsReaders;
}

export interface ReadersOptions extends Pick<JobOptions, 'signal'> {
	resamples?: number;
	seed?: number;
	/** A run folder: adds the model against the readers on the images they read. */
	run?: string;
	/** The run's predictions, when the caller has loaded them already (relPath → case). */
	predictions?: ReadonlyMap<string, ModelCase>;
}

const isAdjudication = (a: Annotation | undefined) => Boolean(a && (a.label || a.note.toLowerCase().startsWith(ADJUDICATED_NOTE)));

/** The reference label of each labelled image: an annotation's label (adjudicated) or the folder label. */
export function referenceOf(folder: ReadonlyMap<string, ClassName | null>, annotations: ReadonlyMap<string, Annotation>): Map<string, Reference> {
	const out = new Map<string, Reference>();
	for (const [p, label] of folder) {
		const a = annotations.get(p);
		const l = a?.label ?? label;
		if (l) out.set(p, { label: l, adjudicated: isAdjudication(a) });
	}
	return out;
}

async function runPredictions(runDir: string): Promise<Map<string, ModelCase>> {
	// Loaded lazily: the API module pulls in the training stack, which `readers` without --run never needs.
	const { loadRun } = await import('../api');
	const view = await loadRun(runDir);
	// Only held-out images: a model judged on images it was trained or tuned on would look better than it is.
	return new Map(view.predictions.filter((p) => p.split === undefined || p.split === 'test').map((p) => [p.relPath, { probs: p.probs, predicted: p.predicted }]));
}

export async function readersReport(dataDir: string, opts: ReadersOptions = {}): Promise<ReadersReport> {
	const root = path.resolve(dataDir);
	const [{ file, reads }, scan, annotations] = await Promise.all([readReads(root), scanDataset(root, { signal: opts.signal }), readAnnotations(root)]);
	const folder = new Map(scan.images.map((r) => [r.relPath, r.label]));
	const present: Read[] = reads.filter((r) => folder.has(r.path));
	const patients = new Map(scan.images.map((r) => [r.relPath, r.patientId]));
	const reference = referenceOf(folder, annotations.set);
	const resamples = opts.resamples ?? DEFAULT_READS_RESAMPLES;
	const seed = opts.seed ?? DEFAULT_READS_SEED;
	const agreement = readerAgreement({ reads: present, patients, reference, resamples, seed });
	const predictions = opts.predictions ?? (opts.run ? await runPredictions(opts.run) : undefined);
	const model =
		predictions && present.length
			? modelVsReaders({ run: opts.run ? path.basename(path.resolve(opts.run)) : 'model', reads: present, model: predictions, reference, patients, resamples, seed })
			: undefined;
	return { data: root, readsFile: file, orphanReads: reads.length - present.length, ...agreement, ...(model ? { model } : {}) };
}
