// The Radiograph Viewer: a read-only custom editor for DICOM (its default editor) and PNG / JPEG (offered through
// "Reopen Editor With…"). The engine worker decodes the full-resolution stored values; the webview windows them.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { IMAGE_EXTENSIONS } from '../engine/data/sniff';
import { CLASS_NAMES } from '../engine/types';
import { isViewerFromWebview, type ViewerFromWebview, type ViewerHookName, type ViewerPredictionMessage, type ViewerToWebview } from '../protocol/viewer';
import { Disposable } from '../util/dispose';
import type { Services } from '../util/services';
import { workDir } from '../util/workspace';
import { webviewHtml } from './basePanel';

/** The viewer's two registrations: DICOM (default editor) and PNG / JPEG (an option; the built-in preview stays default). */
export const VIEWER_VIEW_TYPE = 'radiographReview.viewer';
export const IMAGE_VIEWER_VIEW_TYPE = 'radiographReview.imageViewer';

/**
 * Where other features plug into the viewer (Grad-CAM: issue 12, annotations: issue 10). A hook answers the
 * webview's `hook` message for the image on screen; until one is registered the webview keeps its button disabled.
 */
export interface ViewerHook {
	run(file: string, post: (msg: ViewerToWebview) => void): Promise<void>;
}
const hooks = new Map<ViewerHookName, ViewerHook>();
/** Register a viewer hook (returns its unregistration). */
export function registerViewerHook(name: ViewerHookName, hook: ViewerHook): vscode.Disposable {
	hooks.set(name, hook);
	return new vscode.Disposable(() => hooks.get(name) === hook && hooks.delete(name));
}

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

	constructor(
		private readonly s: Services,
		private readonly file: string,
		private readonly panel: vscode.WebviewPanel,
	) {
		super();
		const ext = s.extensionUri;
		// The webview reads nothing from disk: pixels arrive as messages. Roots: the bundle and icons only.
		panel.webview.options = {
			enableScripts: true,
			localResourceRoots: [vscode.Uri.joinPath(ext, 'dist'), vscode.Uri.joinPath(ext, 'media'), vscode.Uri.joinPath(ext, 'node_modules', '@vscode', 'codicons', 'dist')],
		};
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
			case 'hook': {
				const hook = hooks.get(msg.name);
				if (hook) await hook.run(this.file, (m) => this.post(m));
				return;
			}
		}
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
	}

	/** The latest run's prediction for `file`, or a note saying why there is none. */
	private async prediction(file: string): Promise<ViewerPredictionMessage> {
		const none = (note: string): ViewerPredictionMessage => ({ type: 'prediction', prediction: null, note });
		const dir = workDir();
		if (!dir) return none('Open a folder to see predictions of its runs.');
		try {
			const runs = await this.s.engine.run({ type: 'listRuns', workDir: dir });
			if (!runs.length) return none('No trained run yet: train a backbone to see predictions here.');
			const latest = runs.reduce((a, b) => (b.createdAt > a.createdAt ? b : a));
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
