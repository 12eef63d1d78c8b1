// Predictions panel controller: a run's test predictions or a classified folder, as a thumbnail grid.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { toCsv } from '../engine/data/csv';
import { CLASS_NAMES, type ClassName, type Prediction, type RunSummary, type TrainConfig } from '../engine/types';
import { testSetLabel } from '../util/sourceChoices';
import { withCheckedSources } from '../protocol/common';
import type { EngineResults } from '../protocol/engine';
import {
	isPredictionsFromWebview,
	type GradcamResultMessage,
	type ImageMessage,
	type PredictionItem,
	type PredictionsFromWebview,
	type PredictionsToWebview,
	type PredictionsView,
} from '../protocol/predictions';
import { confinePath } from '../util/pathConfinement';
import type { Services } from '../util/services';
import { DISPLAY_NAMES } from '../util/trainingSessions';
import { allowChosenFolder, readableRoots, requireTrust, requireWorkDir, UserError, workDir } from '../util/workspace';
import { AnnotationBridge } from './annotationBridge';
import { BasePanel } from './basePanel';
import { exportDir, saveExport } from './exportFile';

/** workspaceState: what each prediction set was made from, by set key, so a reload can make it again. */
const SETS_KEY = 'radiographReview.predictionSets';
/** Sets remembered (the newest): enough for every panel a window keeps open. */
const MAX_SAVED_SETS = 20;

/** How to show a prediction set again after a reload: a run's predictions, or a folder classified with a run. */
export type SavedSet = { kind: 'run'; runDir: string } | { kind: 'folder'; runDir: string; folder: string; csvPath?: string };

/** Thumbnail edge in pixels (the grid shows them at ~120 px; 2x for HiDPI would cost more disk). */
const THUMB_SIZE = 160;
/** Grad-CAM overlay edge: enough for the large view, which shows the thumbnail enlarged. */
export const GRADCAM_SIZE = 320;
/** Long side of the large view's image: a screen's worth of a radiograph, not its 15 MP original. */
const PREVIEW_SIDE = 2048;

/** The prediction set of a run's own predictions. */
export const runSetKey = (runDir: string): string => `run:${path.resolve(runDir)}`;
/** The prediction set of a folder classified with a run (classifying it again with that run reuses its panel). */
export const folderSetKey = (runDir: string, folder: string): string => `folder:${path.resolve(runDir)}|${path.resolve(folder)}`;

/** An image to show: the engine's prediction, or (an audit queue) none, with a note saying why it is listed. */
export type ShownImage = (Prediction & { disputed?: boolean }) | (Omit<Prediction, 'predicted' | 'probs'> & { predicted: null; probs: []; note: string });

/**
 * What the host hands the panel: the wire view, but with the images to show (items are derived here), and how to
 * make the set again after a reload (none: the panel closes on reload, as an audit queue does).
 */
export type PredictionsInput = Omit<PredictionsView, 'items'> & { predictions: ShownImage[]; restore?: SavedSet };

export class PredictionsPanel extends BasePanel<PredictionsToWebview, PredictionsFromWebview> {
	/** The panel last opened or revealed. */
	static current: PredictionsPanel | undefined;
	static readonly viewType = 'radiographReview.predictions';
	/** One panel per prediction set, side by side. */
	private static readonly bySet = new Map<string, PredictionsPanel>();
	/** The set this panel shows (or is loading). */
	private setKey: string | undefined;

	private view: PredictionsView | null = null;
	private busy: string | null = null;
	/** relPath → absolute path, for the items currently shown (the only files openFile may open). */
	private files = new Map<string, string>();
	private readonly annotations: AnnotationBridge;

	/** The panel of prediction set `key`: revealed if open, else a new one (beside a prediction set on screen). */
	static forSet(services: Services, key: string): PredictionsPanel {
		const open = PredictionsPanel.bySet.get(key);
		if (open && !open.isDisposed) {
			open.reveal();
			PredictionsPanel.current = open;
			return open;
		}
		// Beside a prediction set on screen, so the two compare side by side; otherwise where the user is.
		const onScreen = [...PredictionsPanel.bySet.values()].some((p) => !p.isDisposed && p.panel.visible);
		const panel = new PredictionsPanel(services, onScreen ? vscode.ViewColumn.Beside : undefined);
		panel.setKey = key;
		PredictionsPanel.bySet.set(key, panel);
		PredictionsPanel.current = panel;
		return panel;
	}

	/** Load a run from disk and show its test predictions (all of them when the run has no split column). */
	static async showRun(services: Services, runDir: string): Promise<void> {
		const panel = PredictionsPanel.forSet(services, runSetKey(runDir));
		panel.setBusy(`Loading ${path.basename(runDir)}…`);
		try {
			const run = await services.engine.run({ type: 'loadRun', runDir });
			const config = (run.extra as { config?: TrainConfig } | undefined)?.config;
			const stale = run.staleLabels;
			const test = run.predictions.filter((p) => p.split === 'test');
			const predictions = test.length > 0 ? test : run.predictions;
			const name = DISPLAY_NAMES[run.summary.backbone] ?? run.summary.backbone;
			await panel.setInput({
				setKey: runSetKey(runDir),
				title: `${name} — ${test.length > 0 ? testSetLabel(config?.testSource) : 'predictions'} (${path.basename(runDir)})`,
				source: 'run',
				backbone: run.summary.backbone,
				weights: run.summary.weights,
				backend: run.summary.backend,
				runDir: run.summary.runDir,
				root: config?.dataDir ?? commonRoot(predictions),
				predictions,
				metrics: run.summary.metrics,
				errors: [],
				csvPath: path.join(run.summary.runDir, 'predictions.csv'),
				restore: { kind: 'run', runDir },
			});
			if (stale) panel.post({ type: 'notice', level: 'warn', message: `This run's ${stale}.` });
			if (test.length > 0) void panel.noteTestSplitChanges(services, runDir, stale ? `This run's ${stale}. ` : '');
		} catch (e) {
			panel.setBusy(null);
			throw e;
		}
	}

	/** Says when the dataset's test split is no longer the run's (after `before`, the notice shown so far: one notice at a time). */
	private async noteTestSplitChanges(services: Services, runDir: string, before: string): Promise<void> {
		try {
			const c = await services.engine.run({ type: 'testSplitChanges', runDir });
			const n = c ? c.left.length + c.joined.length : 0;
			if (!c || n === 0 || this.isDisposed) return;
			const parts = [c.left.length ? `${c.left.length} left the test split` : '', c.joined.length ? `${c.joined.length} joined it` : ''].filter(Boolean).join(', ');
			this.post({
				type: 'notice',
				level: 'warn',
				message: `${before}${n} test image${n === 1 ? '' : 's'} changed since this run (${parts}): a new run is tested on other images. Radiograph: Freeze Split keeps the test set put.`,
			});
		} catch (e) {
			services.log.warn(`Could not compare ${path.basename(runDir)}'s test split with the dataset's: ${(e as Error).message}`);
		}
	}

	/**
	 * Classify every image of `folder` with `run` in the worker and show the result in that set's panel; writes the
	 * predictions CSV (to `outCsv` when given: a restored panel rewrites its own file rather than adding one).
	 */
	static async showFolder(services: Services, run: Pick<RunSummary, 'runDir' | 'backbone' | 'weights' | 'backend'>, folder: string, outCsv?: string): Promise<EngineResults['classify']> {
		const wd = requireWorkDir();
		const name = DISPLAY_NAMES[run.backbone] ?? run.backbone;
		const setKey = folderSetKey(run.runDir, folder);
		const panel = PredictionsPanel.forSet(services, setKey);
		panel.setBusy(`Classifying ${path.basename(folder)} with ${name}…`);
		services.log.info(`Classify ${folder} with ${run.runDir}`);
		try {
			const result = await vscode.window.withProgress(
				{ location: vscode.ProgressLocation.Notification, title: `Classifying ${path.basename(folder)} with ${name}`, cancellable: true },
				async (progress, token) => {
					const controller = new AbortController();
					const sub = token.onCancellationRequested(() => controller.abort());
					try {
						return await services.engine.run(
							{ type: 'classify', runDir: run.runDir, folder, workDir: wd, ...(outCsv ? { outCsv } : {}) },
							{
								signal: controller.signal,
								onProgress: (e) => {
									if (e.kind === 'stage') progress.report({ message: `${e.stage} ${e.done}/${e.total}` });
									else if (e.kind === 'fileError') services.log.warn(`${e.error.path}: ${e.error.reason}`);
									else if (e.kind === 'log') services.log[e.level](e.message);
								},
							},
						);
					} finally {
						sub.dispose();
					}
				},
			);
			for (const err of result.errors) services.log.warn(`${err.path}: ${err.reason}`);
			services.log.info(`Classified ${result.predictions.length} image(s), ${result.errors.length} problem(s); wrote ${result.csvPath}`);
			await panel.setInput({
				setKey,
				title: `${name} — ${path.basename(folder)}`,
				source: 'folder',
				backbone: run.backbone,
				weights: run.weights,
				backend: run.backend,
				runDir: run.runDir,
				root: folder,
				predictions: result.predictions,
				metrics: result.metrics,
				errors: result.errors,
				csvPath: result.csvPath,
				restore: { kind: 'folder', runDir: run.runDir, folder, csvPath: result.csvPath },
			});
			return result;
		} catch (e) {
			panel.setBusy(null);
			throw e;
		}
	}

	/**
	 * After a window reload: the restored panel shows the set it showed (the webview's state names it; workspaceState
	 * says how it was made): a run's predictions are read again, a classified folder is classified again (cached
	 * features make that quick). A set with nothing saved (an audit queue) closes.
	 */
	static async revive(services: Services, panel: vscode.WebviewPanel, state: unknown): Promise<void> {
		const shown = shownSetOf(state);
		const sets = services.context.workspaceState.get<Record<string, SavedSet>>(SETS_KEY, {});
		const saved = shown && Object.prototype.hasOwnProperty.call(sets, shown) ? sets[shown] : undefined;
		const key = saved && (saved.kind === 'run' ? runSetKey(saved.runDir) : folderSetKey(saved.runDir, saved.folder));
		// Hidden panels are restored only when first shown: a command may have opened this set's panel meanwhile.
		if (!saved || !key || PredictionsPanel.bySet.get(key)?.isDisposed === false) {
			panel.dispose();
			return;
		}
		const revived = new PredictionsPanel(services, undefined, panel);
		revived.setKey = key;
		PredictionsPanel.bySet.set(key, revived);
		PredictionsPanel.current = revived;
		try {
			if (saved.kind === 'run') {
				await PredictionsPanel.showRun(services, saved.runDir);
			} else {
				// The user chose this folder for this workspace before the reload (workspaceState is ours, not the
				// repository's); reading it again needs the same trust as classifying it did.
				requireTrust('Restoring a classified folder');
				allowChosenFolder(saved.folder);
				const run = (await services.engine.run({ type: 'listRuns', workDir: requireWorkDir() })).find((r) => path.resolve(r.runDir) === path.resolve(saved.runDir));
				if (!run) throw new UserError(`the run ${path.basename(saved.runDir)} that classified ${path.basename(saved.folder)} is gone`);
				await PredictionsPanel.showFolder(services, run, saved.folder, saved.csvPath);
			}
		} catch (e) {
			revived.dispose(); // not an empty panel left behind: the serializer says what failed
			throw e;
		}
	}

	private constructor(
		private readonly services: Services,
		column?: vscode.ViewColumn,
		existing?: vscode.WebviewPanel,
	) {
		super(
			{ extensionUri: services.extensionUri, log: services.log },
			{ name: 'predictions', viewType: PredictionsPanel.viewType, title: 'Radiograph Predictions', extraRoots: [], isMessage: isPredictionsFromWebview, column, existing },
		);
		this._register({
			dispose: () => {
				if (PredictionsPanel.current === this) PredictionsPanel.current = undefined;
				if (this.setKey && PredictionsPanel.bySet.get(this.setKey) === this) PredictionsPanel.bySet.delete(this.setKey);
			},
		});
		this._register(
			this.panel.onDidChangeViewState((e) => {
				if (e.webviewPanel.active) PredictionsPanel.current = this;
			}),
		);
		this.annotations = new AnnotationBridge(services.annotations, () => (this.view ? { root: this.view.root, paths: new Set(this.files.keys()) } : undefined));
		this._register(this.annotations.watch((m) => this.post(m)));
	}

	/** The snapshot, then the annotations (both replayed whenever the webview loads or shows). */
	protected override sendSnapshot(): void {
		super.sendSnapshot();
		void this.annotations.message().then((m) => this.post(m));
	}

	setBusy(text: string | null): void {
		this.busy = text;
		this.sendSnapshot();
	}

	/** Show these predictions; thumbnails are made (once, cached) in the worker. */
	async setInput(input: PredictionsInput): Promise<void> {
		if (input.restore) await this.saveSet(input.setKey, input.restore);
		const wd = workDir();
		const thumbDir = wd ? path.join(wd, 'cache', 'thumbs') : undefined;
		let thumbs: Record<string, string> = {};
		if (thumbDir) {
			this.setBusy(`Making thumbnails for ${input.predictions.length} images…`);
			try {
				// A run's paths are data: the worker reads only those inside the readable roots.
				const r = await this.services.engine.run({ type: 'thumbs', paths: input.predictions.map((p) => p.path), roots: readableRoots(), outDir: thumbDir, size: THUMB_SIZE });
				thumbs = r.thumbs;
				for (const err of r.errors) this.services.log.warn(`Thumbnail: ${err.path}: ${err.reason}`);
			} catch (e) {
				this.services.log.warn(`Thumbnails failed: ${(e as Error).message}`);
			}
			// The webview reads the thumbnail and Grad-CAM caches and nothing else (never a run's dataDir: issue 9).
			this.setExtraRoots([vscode.Uri.file(thumbDir), vscode.Uri.file(gradcamDir(wd!))]);
		}
		this.files = new Map(input.predictions.map((p) => [p.relPath, p.path]));
		if (this.setKey !== input.setKey) {
			// A panel given another set (e.g. one restored without its key) becomes that set's panel, unless it has one.
			if (this.setKey && PredictionsPanel.bySet.get(this.setKey) === this) PredictionsPanel.bySet.delete(this.setKey);
			this.setKey = input.setKey;
			if (!PredictionsPanel.bySet.has(input.setKey)) PredictionsPanel.bySet.set(input.setKey, this);
		}
		const items: PredictionItem[] = input.predictions.map((p) => {
			const item: PredictionItem = { relPath: p.relPath, label: p.label, predicted: p.predicted, probs: p.probs };
			if ('note' in p) item.note = p.note;
			if ('disputed' in p && p.disputed) item.disputed = true;
			if (p.split) item.split = p.split;
			if (p.source) item.source = p.source;
			if (p.patientId) item.patientId = p.patientId;
			if (p.outOfDistribution !== undefined) item.outOfDistribution = p.outOfDistribution;
			if (p.oodReasons?.length) item.oodReasons = p.oodReasons;
			const t = thumbs[p.path];
			if (t) item.thumbUri = this.asWebviewUri(t);
			return item;
		});
		this.view = {
			setKey: input.setKey,
			title: input.title,
			source: input.source,
			backbone: input.backbone,
			weights: input.weights,
			backend: input.backend,
			runDir: input.runDir,
			root: input.root,
			items,
			metrics: input.metrics ? withCheckedSources(input.metrics) : undefined,
			errors: input.errors,
			csvPath: input.csvPath,
		};
		this.panel.title = input.title;
		this.busy = null;
		this.sendSnapshot();
	}

	/** Remembers how to make set `key` again (newest last; the oldest beyond MAX_SAVED_SETS go). */
	private async saveSet(key: string, how: SavedSet): Promise<void> {
		const state = this.services.context.workspaceState;
		const entries = Object.entries(state.get<Record<string, SavedSet>>(SETS_KEY, {})).filter(([k]) => k !== key);
		entries.push([key, how]);
		await state.update(SETS_KEY, Object.fromEntries(entries.slice(-MAX_SAVED_SETS)));
	}

	protected snapshot(): PredictionsToWebview {
		return { type: 'snapshot', view: this.view, busy: this.busy };
	}

	protected async onMessage(msg: PredictionsFromWebview): Promise<void> {
		switch (msg.type) {
			case 'ready':
			case 'error':
				return;
			case 'openFile': {
				const file = this.files.get(msg.relPath);
				if (!file || !this.view) {
					this.services.log.warn(`openFile: '${msg.relPath}' is not one of the shown images`);
					return;
				}
				// The list came from a run folder (data): the file must resolve inside the readable roots.
				const real = await confinePath(file, readableRoots());
				await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(real), { preview: true, viewColumn: vscode.ViewColumn.Beside });
				return;
			}
			case 'annotate':
			case 'undoAnnotation':
				try {
					await this.annotations.handle(msg);
				} catch (e) {
					this.post({ type: 'notice', level: 'error', message: (e as Error).message });
					void this.annotations.message().then((m) => this.post(m)); // undo the webview's optimistic edit
				}
				return;
			case 'loadImage':
				this.post(await this.loadImage(msg.relPath, msg.requestId));
				return;
			case 'gradcam':
				await this.gradcam(msg.relPaths, msg.className);
				return;
			case 'operatingPoint': {
				const wd = workDir();
				if (!wd || !this.view || this.view.source !== 'run') {
					this.post({ type: 'operatingPoint', operatingPoint: null, error: 'Only a run’s own predictions have a validation split to choose a threshold on.' });
					return;
				}
				try {
					const card = await this.services.engine.run({ type: 'report', runDir: this.view.runDir, workDir: wd, positiveClass: msg.positiveClass ?? 'COVID', gradcam: false });
					this.post({ type: 'operatingPoint', operatingPoint: card.operatingPoint ?? null, ...(card.operatingPoint ? {} : { error: 'The run has no validation predictions with both classes.' }) });
				} catch (e) {
					this.post({ type: 'operatingPoint', operatingPoint: null, error: (e as Error).message });
				}
				return;
			}
			case 'revealCsv':
				if (this.view?.csvPath) await vscode.commands.executeCommand('revealFileInOS', vscode.Uri.file(this.view.csvPath));
				return;
			case 'export': {
				const host = msg.format === 'csv' ? this.csv() : msg.format === 'json' ? JSON.stringify(this.view, null, 2) : undefined;
				this.post(await saveExport(msg, exportDir(), host));
				return;
			}
		}
	}

	/** Grad-CAM overlays for shown images, made in the worker with the view's run (only images of this view). */
	private async gradcam(relPaths: string[], className?: ClassName): Promise<void> {
		const wd = workDir();
		if (!wd || !this.view) return;
		const files = relPaths.map((r) => this.files.get(r)).filter((f): f is string => f !== undefined);
		const relOf = new Map([...this.files].map(([rel, file]) => [file, rel]));
		let r: EngineResults['explain'];
		try {
			r = await this.services.engine.run({ type: 'explain', runDir: this.view.runDir, workDir: wd, paths: files, className, outDir: gradcamDir(wd), size: GRADCAM_SIZE });
		} catch (e) {
			// The webview waits for an answer: give it one, with the reason for every image.
			const reason = (e as Error).message;
			this.post({ type: 'gradcam', className: className ?? null, overlays: {}, errors: relPaths.map((p) => ({ path: p, reason })) });
			this.post({ type: 'notice', level: 'error', message: `Grad-CAM failed: ${reason}` });
			return;
		}
		const overlays: GradcamResultMessage['overlays'] = {};
		for (const [file, o] of Object.entries(r.overlays)) {
			const rel = relOf.get(file);
			if (rel) overlays[rel] = { uri: this.asWebviewUri(o.png), className: o.className, border: o.border, outside: o.outside };
		}
		const errors = r.errors.map((e) => ({ path: relOf.get(e.path) ?? e.path, reason: e.reason }));
		for (const e of errors) this.services.log.warn(`Grad-CAM: ${e.path}: ${e.reason}`);
		this.post({ type: 'gradcam', className: className ?? null, overlays, errors });
	}

	/** The large view's image, decoded in the worker from a shown file inside the shown root. */
	private async loadImage(relPath: string, requestId: number): Promise<ImageMessage> {
		const file = this.files.get(relPath);
		if (!file || !this.view) return { type: 'image', requestId, relPath, error: `'${relPath}' is not one of the shown images` };
		try {
			// Inside the shown root and inside the window's readable folders: a run's dataDir may be anything, even '/'.
			const real = await confinePath(await confinePath(file, [this.view.root]), readableRoots());
			const r = await this.services.engine.run({ type: 'preview', path: real, roots: readableRoots(), maxSide: PREVIEW_SIDE });
			return { type: 'image', requestId, relPath, dataUri: `data:image/jpeg;base64,${r.base64}`, width: r.width, height: r.height, originalWidth: r.originalWidth, originalHeight: r.originalHeight };
		} catch (e) {
			this.services.log.warn(`Large view: ${file}: ${(e as Error).message}`);
			return { type: 'image', requestId, relPath, error: (e as Error).message };
		}
	}

	private csv(): string | undefined {
		if (!this.view) return undefined;
		const head = ['relPath', 'label', 'predicted', ...CLASS_NAMES.map((c) => `p_${c}`), 'correct', 'split', 'source', 'patient_id', 'outOfDistribution'];
		return toCsv(
			head,
			this.view.items.map((i) => [
				i.relPath,
				i.label ?? '',
				i.predicted ?? '',
				...CLASS_NAMES.map((_, k) => (i.predicted === null ? '' : (i.probs[k] ?? 0).toFixed(6))),
				i.label === null || i.predicted === null ? '' : String(i.label === i.predicted),
				i.split ?? '',
				i.source ?? '',
				i.patientId ?? '',
				i.outOfDistribution === undefined ? '' : String(i.outOfDistribution),
			]),
		);
	}
}

/** The set a restored webview last showed (its saved UI state names it), if any. */
export function shownSetOf(state: unknown): string | undefined {
	const shown = typeof state === 'object' && state !== null ? (state as { shown?: unknown }).shown : undefined;
	return typeof shown === 'string' && shown.length > 0 && shown.length <= 8192 ? shown : undefined;
}

/** Overlay PNGs of Grad-CAM, cached per run, image and class (shared with the viewer). */
export function gradcamDir(wd: string): string {
	return path.join(wd, 'cache', 'gradcam');
}

/** The folder all paths share (fallback when a run does not name its dataset). */
function commonRoot(preds: readonly { path: string }[]): string {
	if (preds.length === 0) return '/';
	let root = path.dirname(preds[0].path);
	for (const p of preds) {
		while (!p.path.startsWith(root + path.sep) && root !== path.dirname(root)) root = path.dirname(root);
	}
	return root;
}
