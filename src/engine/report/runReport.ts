// The report card of a saved run: reads the run folder, recovers patient ids and sources from the dataset (the
// bootstrap resamples patients), optionally runs Grad-CAM on the test images, and builds the card.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../util/atomic';
import { reportHtml, reportPdf } from './export';
import type { ClassName, JobOptions, Prediction } from '../types';
import { loadRun } from '../api';
import { scanDataset } from '../data/scan';
import { explainImages, summariseLooks } from '../explain/explainRun';
import { mayRead, restricted } from '../util/scope';
import type { OperatingRule } from './stats';
import { buildReport, comparePaired, type PairedComparison, type ReportCard } from './report';
import { readersSection } from '../reads/cardRun';

export interface RunReportOptions extends JobOptions {
	workDir: string;
	positiveClass?: ClassName;
	rule?: OperatingRule;
	resamples?: number;
	bootstrapSeed?: number;
	/** Run Grad-CAM on every test image (one forward pass each) for the where-it-looks table. */
	gradcam?: boolean;
	/** Where Grad-CAM overlays go (default `<workDir>/cache/gradcam/<run>`). */
	overlayDir?: string;
}

/**
 * relPath → patient and source. loadRun fills them in from predictions.csv or, for older runs, a scan of the dataset;
 * undefined when neither knows them (the dataset moved): the bootstrap then resamples images, and says so.
 */
async function patientsOf(predictions: Prediction[], dataDir: string, opts: JobOptions): Promise<Map<string, { patientId: string; source?: string }> | undefined> {
	if (predictions.length && predictions.every((p) => p.patientId !== undefined)) {
		return new Map(predictions.map((p) => [p.relPath, { patientId: p.patientId!, ...(p.source ? { source: p.source } : {}) }]));
	}
	if (!(await mayRead(dataDir))) {
		opts.onProgress?.({
			kind: 'log',
			level: 'warn',
			message: `${dataDir}: the run's dataset is outside the workspace's readable folders (or the workspace is not trusted); the bootstrap resamples images`,
		});
		return undefined;
	}
	try {
		const scan = await scanDataset(dataDir, { signal: opts.signal });
		return new Map(scan.images.map((r) => [r.relPath, { patientId: r.patientId, source: r.source }]));
	} catch (e) {
		opts.onProgress?.({ kind: 'log', level: 'warn', message: `${dataDir}: cannot read the dataset for patient ids (${(e as Error).message}); the bootstrap resamples images` });
		return undefined;
	}
}

/** An overlay written for the report: the composite PNG and a caption. */
export interface ReportOverlay {
	png: string;
	caption: string;
	outside: boolean;
	correct: boolean;
}

export async function reportForRun(runDir: string, opts: RunReportOptions): Promise<ReportCard> {
	return (await reportWithOverlays(runDir, opts)).card;
}

/** The card, plus the Grad-CAM overlays when `gradcam` is set (flagged and misclassified images first). */
export async function reportWithOverlays(runDir: string, opts: RunReportOptions): Promise<{ card: ReportCard; overlays: ReportOverlay[] }> {
	const view = await loadRun(runDir);
	const { config, splits, weights } = view.extra;
	const patients = await patientsOf(view.predictions, config.dataDir, opts);
	const card = buildReport({
		run: { name: path.basename(view.summary.runDir), backbone: view.summary.backbone, createdAt: view.summary.createdAt, backend: view.summary.backend },
		predictions: view.predictions,
		patients,
		splitMode: splits.mode,
		seed: splits.seed,
		leakedPatients: splits.leakedPatients.length,
		weights: { pretrained: weights.pretrained, name: weights.name },
		resamples: opts.resamples,
		bootstrapSeed: opts.bootstrapSeed,
		positiveClass: opts.positiveClass,
		rule: opts.rule,
	});
	// The reads file lies in the dataset the run names: read only inside the workspace's readable roots.
	const readers = (await mayRead(config.dataDir)) ? await readersSection(config.dataDir, view.summary.runDir, view.predictions, opts) : undefined;
	if (readers) card.readers = readers;
	if (!opts.gradcam || restricted()) return { card, overlays: [] }; // Grad-CAM loads the weights a run names
	const test = view.predictions.filter((p) => p.split === 'test' && p.label != null);
	const r = await explainImages(
		view.summary.runDir,
		test.map((p) => p.path),
		{
			...opts,
			outDir: opts.overlayDir ?? path.join(opts.workDir, 'cache', 'gradcam', card.run.name),
		},
	);
	const byPath = new Map(test.map((p) => [path.resolve(p.path), p]));
	const items = r.explanations.map((e) => ({ e, p: byPath.get(e.path)! }));
	const byClass = summariseLooks(items.map(({ e, p }) => ({ group: p.label!, where: e.where })));
	const bySource = summariseLooks(items.map(({ e, p }) => ({ group: patients?.get(p.relPath)?.source ?? 'unknown', where: e.where })));
	const overlays = items
		.map(({ e, p }) => ({
			png: e.png,
			caption: `${path.basename(p.relPath)}: ${p.label} → ${e.predicted} ${(Math.max(...e.probs) * 100).toFixed(0)} %; map of ${e.className}; border ${(e.where.border * 100).toFixed(0)} %${e.where.outside ? ' — looks outside the lungs' : ''}`,
			outside: e.where.outside,
			correct: e.predicted === p.label,
		}))
		.sort((a, b) => Number(b.outside) - Number(a.outside) || Number(a.correct) - Number(b.correct));
	return { card: { ...card, looks: { n: items.length, flagged: items.filter(({ e }) => e.where.outside).length, byClass, bySource } }, overlays };
}

/** Paired comparison of two runs on their shared test images. */
export async function compareRunReports(runA: string, runB: string, opts: JobOptions & { resamples?: number; seed?: number } = {}): Promise<PairedComparison> {
	const [a, b] = await Promise.all([loadRun(runA), loadRun(runB)]);
	const patients = await patientsOf(a.predictions, a.extra.config.dataDir, opts);
	return comparePaired(a.predictions, b.predictions, { patients, resamples: opts.resamples, seed: opts.seed });
}

/** The card as the JSON report holds it (a file, or stdout for a pipe). */
export const reportJson = (card: ReportCard): string => JSON.stringify(card, null, 2) + '\n';

/** Writes the card as json, html or pdf (the pdf with up to 16 overlays), atomically. */
export async function writeReport(card: ReportCard, overlays: ReportOverlay[], format: 'json' | 'html' | 'pdf', file: string): Promise<void> {
	if (format === 'json') return writeFileAtomic(file, reportJson(card));
	if (format === 'html') return writeFileAtomic(file, reportHtml(card));
	const chosen = overlays.slice(0, 16);
	const pngs = await Promise.all(chosen.map((o) => fs.readFile(o.png)));
	return writeFileAtomic(
		file,
		reportPdf(
			card,
			chosen.map((o, i) => ({ png: new Uint8Array(pngs[i]), caption: o.caption })),
		),
	);
}
