// The engine worker: one long-lived worker thread that runs every tfjs/sharp job, so the extension
// host stays responsive. Requests come from src/engine/client.ts and are validated here.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parentPort } from 'node:worker_threads';
import sharp from 'sharp';
import { isEngineRequest, type EngineEvent, type EngineJobRequest, type EngineResults, type ThumbsResult } from '../protocol/engine';
import * as api from './api';
import { auditDataset } from './audit/run';
import { decodePreview, decodeToRgb } from './data/decode';
import { datasetLabels } from './data/scan';
import { viewImage } from './data/view';
import { backendReport, initBackend } from './model/tf';
import type { FileError, ProgressEvent } from './types';
import { isCancelled, throwIfAborted } from './util/cancel';
import { sha256 } from './util/hash';
import { writeFileAtomic } from './util/atomic';
import { confinePath } from './util/confine';
import { setWorkspaceScope } from './util/scope';
import { compareRunReports, reportWithOverlays, writeReport } from './report/runReport';
import { explainForPanel } from './explain/explainRun';
import { exitForTest } from './testHooks';

const port = parentPort;
if (!port) throw new Error('worker.ts must run in a worker thread');

const controllers = new Map<number, AbortController>();
/** Stop-and-keep signals of running jobs (only training reads it). */
const stoppers = new Map<number, AbortController>();
/** Jobs run one at a time: two trainings at once would only fight over the same cores. */
let queue: Promise<void> = Promise.resolve();

function post(msg: EngineEvent): void {
	port!.postMessage(msg);
}

port.on('message', (msg: unknown) => {
	if (!isEngineRequest(msg)) {
		post({ type: 'log', level: 'warn', message: `Engine worker ignored a malformed request: ${JSON.stringify(msg)?.slice(0, 200)}` });
		return;
	}
	if (msg.type === 'cancel') {
		controllers.get(msg.id)?.abort();
		return;
	}
	if (msg.type === 'scope') {
		setWorkspaceScope({ roots: msg.roots, trusted: msg.trusted });
		return;
	}
	exitForTest(msg.type);
	if (msg.type === 'stop') {
		stoppers.get(msg.id)?.abort();
		return;
	}
	const controller = new AbortController();
	controllers.set(msg.id, controller);
	const stopper = new AbortController();
	stoppers.set(msg.id, stopper);
	const job = msg;
	const run = (): Promise<void> =>
		execute(job, controller.signal, stopper.signal)
			.then((result) => post({ type: 'result', id: job.id, result }))
			.catch((e: unknown) => post({ type: 'error', id: job.id, error: serialize(e) }))
			.finally(() => {
				controllers.delete(job.id);
				stoppers.delete(job.id);
			});
	if (UNQUEUED.has(job.type)) void run();
	else queue = queue.then(run);
});

/** Cheap jobs that skip the queue so panels stay live during training. */
const UNQUEUED = new Set<EngineJobRequest['type']>([
	'listRuns',
	'runHistories',
	'loadRun',
	'testSplitChanges',
	'thumbs',
	'splits',
	'preview',
	'viewImage',
	'weightsStatus',
	'probeBackends',
	'recoverRuns',
	'listInterrupted',
	'datasetLabels',
]);

async function execute(req: EngineJobRequest, signal: AbortSignal, stopSignal: AbortSignal): Promise<EngineResults[EngineJobRequest['type']]> {
	throwIfAborted(signal);
	const onProgress = (event: ProgressEvent): void => {
		post({ type: 'progress', id: req.id, event });
		// The engine picks the backend mid-job: tell the status bar as soon as it is known.
		announceBackend(true);
	};
	const opts = { signal, onProgress, stopSignal };
	switch (req.type) {
		case 'train': {
			await reportBackend(req.config.backend);
			const summary = await api.trainRun(req.config, opts);
			announceBackend();
			return summary;
		}
		case 'classify': {
			const r = await api.classifyFolder(req.runDir, req.folder, { ...opts, workDir: req.workDir, outCsv: req.outCsv });
			announceBackend();
			return r;
		}
		case 'preprocess':
			return { summary: await api.preprocessDataset(req.dataDir, { workDir: req.workDir, imageSize: req.imageSize, resize: req.resize }, opts) };
		case 'splits':
			return api.computeSplits(req.dataDir, { mode: req.mode, seed: req.seed, testFraction: req.testFraction, valFraction: req.valFraction, freeze: req.freeze === true }, opts);
		case 'listRuns':
			return api.listRuns(req.workDir);
		case 'runHistories':
			return api.listRunHistories(req.workDir);
		case 'loadRun':
			return api.loadRun(req.runDir);
		case 'testSplitChanges':
			return api.testSplitChanges(req.runDir, opts);
		case 'thumbs':
			return makeThumbs(req.paths, req.roots, req.outDir, req.size, signal);
		case 'preview': {
			// The worker confines too: it reads whatever path it is given, so the roots are checked here as well.
			const file = await confinePath(req.path, req.roots);
			const p = await decodePreview(file, req.maxSide);
			return { base64: Buffer.from(p.jpeg).toString('base64'), width: p.width, height: p.height, originalWidth: p.originalWidth, originalHeight: p.originalHeight };
		}
		case 'viewImage':
			return viewImage(req.path);
		case 'backend':
			return reportBackend(req.preference);
		case 'weightsStatus':
			return api.weightsStatus(req.settings);
		case 'probeBackends':
			return api.probeBackends();
		case 'recoverRuns':
			return api.recoverRuns(req.workDir);
		case 'datasetLabels':
			return Object.fromEntries(await datasetLabels(req.dataDir, opts));
		case 'listInterrupted':
			return api.listInterruptedRuns(req.workDir);
		case 'audit':
			return auditDataset({ dataDir: req.dataDir, workDir: req.workDir, backbone: req.backbone, seed: req.seed }, opts);
		case 'report': {
			const rule = req.targetSensitivity === undefined ? ({ kind: 'youden' } as const) : ({ kind: 'sensitivity', target: req.targetSensitivity } as const);
			const { card, overlays } = await reportWithOverlays(req.runDir, {
				...opts,
				workDir: req.workDir,
				positiveClass: req.positiveClass,
				rule,
				gradcam: req.gradcam || req.exportTo?.format === 'pdf',
			});
			if (req.exportTo) await writeReport(card, overlays, req.exportTo.format, req.exportTo.file);
			return card;
		}
		case 'explain': {
			const r = await explainForPanel(req.runDir, req.paths, {
				...opts,
				workDir: req.workDir,
				outDir: req.outDir,
				size: req.size,
				cls: req.className,
				nameOf: (file, cls) => `${sha256(`${req.runDir}\0${file}\0${cls}`).slice(0, 32)}.png`,
			});
			const overlays: EngineResults['explain']['overlays'] = {};
			let forward = 0;
			let gradcam = 0;
			for (const [file, o] of r.overlays) {
				const e = o.explanation;
				overlays[file] = { png: o.png, className: e.className, predicted: e.predicted, border: e.where.border, corners: e.where.corners, outside: e.where.outside };
				forward += e.ms.forward;
				gradcam += e.ms.gradcam;
			}
			const n = Math.max(1, r.overlays.size);
			announceBackend();
			return { overlays, errors: r.errors, ms: { forward: forward / n, gradcam: gradcam / n } };
		}
		case 'comparePaired':
			return compareRunReports(req.runA, req.runB, opts);
		default: {
			const never: never = req;
			throw new Error(`Unknown engine request ${JSON.stringify(never)}`);
		}
	}
}

async function reportBackend(pref: Parameters<typeof initBackend>[0]): Promise<EngineResults['backend']> {
	const r = await initBackend(pref);
	const report = { name: r.name, label: r.label, skipped: r.skipped };
	announced = r.label;
	post({ type: 'backend', report });
	return report;
}

let announced: string | undefined;
/** Post the current backend (only when it changed, if `ifChanged`). */
function announceBackend(ifChanged = false): void {
	const r = backendReport();
	if (!r || (ifChanged && announced === r.label)) return;
	announced = r.label;
	post({ type: 'backend', report: { name: r.name, label: r.label, skipped: r.skipped } });
}

/**
 * Small JPEG thumbnails, named by a hash of path + size + mtime so a changed file gets a new one. Paths come from run
 * folders and datasets (untrusted): only files that resolve inside `roots` are read.
 */
async function makeThumbs(paths: string[], roots: string[], outDir: string, size: number, signal: AbortSignal): Promise<ThumbsResult> {
	await fs.mkdir(outDir, { recursive: true });
	const thumbs: Record<string, string> = {};
	const errors: FileError[] = [];
	for (const p of paths) {
		throwIfAborted(signal);
		try {
			const real = await confinePath(p, roots);
			const st = await fs.stat(real);
			const out = path.join(outDir, `${sha256(`${real}\0${st.size}\0${st.mtimeMs}\0${size}`).slice(0, 32)}.jpg`);
			try {
				await fs.access(out);
			} catch {
				// DICOM and odd PNGs go through the engine's decoder; letterbox keeps the aspect ratio.
				const img = await decodeToRgb(real, { size, resize: 'letterbox' });
				const jpeg = await sharp(Buffer.from(img.rgb), { raw: { width: img.size, height: img.size, channels: 3 } })
					.jpeg({ quality: 80 })
					.toBuffer();
				await writeFileAtomic(out, jpeg);
			}
			thumbs[p] = out;
		} catch (e) {
			errors.push({ path: p, reason: (e as Error).message });
		}
	}
	return { thumbs, errors };
}

function serialize(e: unknown): { name: string; message: string; stack?: string } {
	if (isCancelled(e)) return { name: 'CancelledError', message: e.message || 'Cancelled' };
	if (e instanceof Error) return { name: e.name, message: e.message, stack: e.stack };
	return { name: 'Error', message: String(e) };
}
