// The Radiograph Viewer: a read-only custom editor for DICOM (its default editor) and PNG / JPEG (offered through
// "Reopen Editor With…"). The engine worker decodes the full-resolution stored values; the webview windows them.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { IMAGE_EXTENSIONS } from '../engine/data/sniff';
import { CLASS_NAMES, type RunSummary } from '../engine/types';
import { isViewerFromWebview, type ViewerAnnotationMessage, type ViewerFromWebview, type ViewerGradcamMessage, type ViewerPredictionMessage, type ViewerToWebview } from '../protocol/viewer';
import { Disposable } from '../util/dispose';
import type { Services } from '../util/services';
import { datasetRoot, workDir } from '../util/workspace';
import { AnnotationBridge } from './annotationBridge';
import { webviewHtml } from './basePanel';
import { GRADCAM_SIZE, gradcamDir } from './predictionsPanel';

/** The viewer's two registrations: DICOM (default editor) and PNG / JPEG (an option; the built-in preview stays default). */
export const VIEWER_VIEW_TYPE = 'radiographReview.viewer';
export const IMAGE_VIEWER_VIEW_TYPE = 'radiographReview.imageViewer';

class ViewerDocument implements vscode.CustomDocument {
	constructor(readonly uri: vscode.Uri) {}
	dispose(): void {}
}

export class ViewerProvider implements vscode.CustomReadonlyEditorProvider<ViewerDocument> {
	static register(s: Services): vscode.Disposable {
		const provider = new ViewerProvider(s);
		const options = { webviewOptions: { retainContextWhenHidden: true }, supportsMultipleEditorsPerDocument: true };
		return vscode.Disposable.from(
			vscode.window.registerCustomEditorProvider(VIEWER_VIEW_TYPE, provider, options),
			vscode.window.registerCustomEditorProvider(IMAGE_VIEWER_VIEW_TYPE, provider, options),
		);
	}

	private constructor(private readonly s: Services) {}

	openCustomDocument(uri: vscode.Uri): ViewerDocument {
		return new ViewerDocument(uri);
	}

	resolveCustomEditor(doc: ViewerDocument, panel: vscode.WebviewPanel): void {
		const session = new ViewerSession(this.s, doc.uri.fsPath, panel);
		panel.onDidDispose(() => session.dispose());
	}
}

/** One open viewer: its file, the file's prediction, the webview. Next / previous open the neighbour's own editor. */
class ViewerSession extends Disposable {
	private ready = false;
	private loading: AbortController | undefined;
	/** The image's row of the dataset's radreview-annotations.csv, through the store the other panels share. */
	private readonly annotations: AnnotationBridge;

	constructor(
		private readonly s: Services,
		private readonly file: string,
		private readonly panel: vscode.WebviewPanel,
	) {
		super();
		const ext = s.extensionUri;
		// The webview reads nothing from disk: pixels (and the Grad-CAM PNG) arrive as messages. Roots: the bundle and icons only.
		panel.webview.options = {
			enableScripts: true,
			localResourceRoots: [vscode.Uri.joinPath(ext, 'dist'), vscode.Uri.joinPath(ext, 'media'), vscode.Uri.joinPath(ext, 'node_modules', '@vscode', 'codicons', 'dist')],
		};
		this.annotations = new AnnotationBridge(s.annotations, () => {
			const rel = this.relPath();
			// Outside the dataset: a root that differs from the store's, so the bridge says why annotating is off.
			return rel ? { root: datasetRoot()!, paths: new Set([rel]) } : { root: path.dirname(this.file), paths: new Set() };
		});
		this._register(this.annotations.watch((m) => this.post(this.annotationMessage(m))));
		this._register(panel.webview.onDidReceiveMessage((m: unknown) => void this.receive(m)));
		panel.webview.html = webviewHtml(panel.webview, ext, 'viewer', path.basename(this.file));
	}

	override dispose(): void {
		this.loading?.abort();
		super.dispose();
	}

	private post(msg: ViewerToWebview): void {
		if (this.ready && !this.isDisposed) void this.panel.webview.postMessage(msg);
	}

	private async receive(raw: unknown): Promise<void> {
		if (!isViewerFromWebview(raw)) {
			this.s.log.warn(`[viewer] rejected a malformed webview message`);
			return;
		}
		const msg: ViewerFromWebview = raw;
		switch (msg.type) {
			case 'ready':
				this.ready = true;
				return this.load();
			case 'error':
				this.s.log.error(`[viewer] webview: ${msg.message}`);
				return;
			case 'navigate': {
				// Open the neighbour as its own (preview) editor, so the tab, breadcrumbs and "Reopen With" name the file shown.
				const { files, index } = await this.siblings();
				if (files.length < 2) return;
				const next = files[(index + msg.delta + files.length) % files.length];
				const viewType = /\.(dcm|dicom)$/i.test(next) ? VIEWER_VIEW_TYPE : IMAGE_VIEWER_VIEW_TYPE;
				await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(next), viewType, { viewColumn: this.panel.viewColumn, preview: true });
				return;
			}
			case 'gradcam':
				this.post(await this.gradcam());
				return;
			case 'annotate':
				try {
					await this.annotations.handle(msg);
				} catch (e) {
					void vscode.window.showErrorMessage((e as Error).message);
					this.post(this.annotationMessage(await this.annotations.message())); // undo the webview's optimistic edit
				}
				return;
		}
	}

	/** This image's path relative to the dataset folder ('/'-separated), or undefined outside it. */
	private relPath(): string | undefined {
		const root = datasetRoot();
		if (!root) return undefined;
		const rel = path.relative(root, this.file);
		return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : undefined;
	}

	/** The bridge's rows narrowed to this image. */
	private annotationMessage(m: Awaited<ReturnType<AnnotationBridge['message']>>): ViewerAnnotationMessage {
		const rel = this.relPath() ?? null;
		return { type: 'annotation', path: rel, row: (rel && m.rows[rel]) || null, ...(m.disabled ? { disabled: m.disabled } : {}) };
	}

	/** Image files of the folder, sorted by name, and this file's place among them. */
	private async siblings(): Promise<{ files: string[]; index: number }> {
		const dir = path.dirname(this.file);
		const names = await fs.readdir(dir).catch(() => [] as string[]);
		const files = names
			.filter((n) => IMAGE_EXTENSIONS.test(n))
			.sort((a, b) => a.localeCompare(b, undefined, { numeric: true }))
			.map((n) => path.join(dir, n));
		return { files, index: Math.max(0, files.indexOf(this.file)) };
	}

	private async load(): Promise<void> {
		this.loading?.abort();
		const controller = (this.loading = new AbortController());
		const file = this.file;
		const name = path.basename(file);
		const [{ files, index }, prediction] = [await this.siblings(), this.prediction(file)];
		try {
			const data = await this.s.engine.run({ type: 'viewImage', path: file }, { signal: controller.signal });
			if (controller.signal.aborted) return;
			this.post({ type: 'image', image: { ...data, name, index, count: files.length } });
		} catch (e) {
			if (controller.signal.aborted) return;
			const message = (e as Error).message;
			this.s.log.warn(`[viewer] ${message}`);
			this.post({ type: 'loadError', name, message });
		}
		this.post(await prediction);
		this.post(this.annotationMessage(await this.annotations.message()));
	}

	/** The workspace's latest finished run, or why there is none. */
	private async latestRun(): Promise<{ run: RunSummary; workDir: string } | { none: string }> {
		const dir = workDir();
		if (!dir) return { none: 'Open a folder to see predictions of its runs.' };
		const runs = await this.s.engine.run({ type: 'listRuns', workDir: dir });
		if (!runs.length) return { none: 'No trained run yet: train a backbone to see predictions here.' };
		return { run: runs.reduce((a, b) => (b.createdAt > a.createdAt ? b : a)), workDir: dir };
	}

	/** The Grad-CAM map of this image under the latest run: the Predictions panel's overlay (and its cache), made in the worker. */
	private async gradcam(): Promise<ViewerGradcamMessage> {
		const name = path.basename(this.file);
		try {
			const latest = await this.latestRun();
			if ('none' in latest) return { type: 'gradcam', name, error: latest.none };
			const r = await this.s.engine.run({ type: 'explain', runDir: latest.run.runDir, workDir: latest.workDir, paths: [this.file], outDir: gradcamDir(latest.workDir), size: GRADCAM_SIZE });
			const o = r.overlays[this.file];
			if (!o) return { type: 'gradcam', name, error: r.errors[0]?.reason ?? 'Grad-CAM made no map for this image.' };
			const png = new Uint8Array(await fs.readFile(o.png));
			return { type: 'gradcam', name, png, className: o.className, run: path.basename(latest.run.runDir), border: o.border, outside: o.outside };
		} catch (e) {
			const error = (e as Error).message;
			this.s.log.warn(`[viewer] Grad-CAM: ${this.file}: ${error}`);
			return { type: 'gradcam', name, error };
		}
	}

	/** The latest run's prediction for `file`, or a note saying why there is none. */
	private async prediction(file: string): Promise<ViewerPredictionMessage> {
		const none = (note: string): ViewerPredictionMessage => ({ type: 'prediction', prediction: null, note });
		try {
			const found = await this.latestRun();
			if ('none' in found) return none(found.none);
			const latest = found.run;
			const run = await this.s.engine.run({ type: 'loadRun', runDir: latest.runDir });
			const target = path.resolve(file);
			const p = run.predictions.find((x) => path.resolve(x.path) === target);
			const runName = path.basename(latest.runDir);
			if (!p) return none(`The latest run (${runName}) has no prediction for this image.`);
			return {
				type: 'prediction',
				prediction: {
					backbone: latest.backbone,
					run: runName,
					predicted: p.predicted,
					probs: p.probs,
					classes: CLASS_NAMES,
					label: p.label,
					...(p.split ? { split: p.split } : {}),
					pretrained: latest.weights.pretrained,
				},
			};
		} catch (e) {
			return none(`Could not read the latest run: ${(e as Error).message}`);
		}
	}
}
