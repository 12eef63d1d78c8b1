// What every panel shares: strict CSP with a fresh nonce, narrow resource roots, the ready
// handshake, and host-owned state that is replayed whenever the webview (re)loads or is shown.
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import type { Guard } from '../protocol/guards';
import type { PanelName } from '../protocol/testIds';
import { Disposable } from '../util/dispose';
import { getNonce } from '../util/nonce';

export interface PanelContext {
	extensionUri: vscode.Uri;
	log: vscode.LogOutputChannel;
}

export interface PanelOptions<TFrom> {
	name: PanelName;
	viewType: string;
	title: string;
	/** Extra folders the webview may load from (the dataset root, the workspace data folder). */
	extraRoots: vscode.Uri[];
	isMessage: Guard<TFrom>;
	column?: vscode.ViewColumn;
	/** A panel VS Code restored after a reload (registerWebviewPanelSerializer): adopt it instead of creating one. */
	existing?: vscode.WebviewPanel;
}

export abstract class BasePanel<TTo extends { type: string }, TFrom extends { type: string }> extends Disposable {
	protected readonly panel: vscode.WebviewPanel;
	private ready = false;
	private extraKey: string;
	private readonly onDisposeEmitter = this._register(new vscode.EventEmitter<void>());
	/** Fires once, when the panel is closed. */
	readonly onDidDispose = this.onDisposeEmitter.event;

	protected constructor(
		protected readonly ctx: PanelContext,
		private readonly opts: PanelOptions<TFrom>,
	) {
		super();
		this.extraKey = opts.extraRoots
			.map((u) => u.toString())
			.sort()
			.join('\n');
		this.panel = this._register(
			opts.existing ??
				vscode.window.createWebviewPanel(opts.viewType, opts.title, opts.column ?? vscode.ViewColumn.Active, {
					enableScripts: true,
					// Context retention is only an optimisation: the host replays its state on every ready.
					retainContextWhenHidden: true,
					localResourceRoots: this.roots(opts.extraRoots),
				}),
		);
		if (opts.existing) {
			opts.existing.webview.options = { enableScripts: true, localResourceRoots: this.roots(opts.extraRoots) };
			opts.existing.title = opts.title;
		}
		this.panel.iconPath = vscode.Uri.joinPath(ctx.extensionUri, 'media', 'icon.png');
		this._register(this.panel.onDidDispose(() => this.dispose()));
		this._register(this.panel.webview.onDidReceiveMessage((m: unknown) => this.receive(m)));
		this._register(
			this.panel.onDidChangeViewState((e) => {
				// Hidden webviews drop messages: bring the view up to date when it shows again.
				if (e.webviewPanel.visible && this.ready) this.sendSnapshot();
			}),
		);
		this.panel.webview.html = this.html();
	}

	override dispose(): void {
		if (this.isDisposed) return;
		this.onDisposeEmitter.fire();
		super.dispose();
	}

	reveal(): void {
		this.panel.reveal(undefined, false);
	}

	/** The full state message (sent after ready and on show). */
	protected abstract snapshot(): TTo;
	/** A validated message from the webview (never 'ready': the base handles it). */
	protected abstract onMessage(msg: TFrom): void | Promise<void>;

	/** Send the snapshot now if the webview is ready (otherwise it goes out on ready). */
	protected sendSnapshot(): void {
		this.post(this.snapshot());
	}

	/** Post only once the webview said ready; earlier messages would be lost, and the snapshot covers them. */
	protected post(msg: TTo): void {
		if (!this.ready || this.isDisposed) return;
		void this.panel.webview.postMessage(msg);
	}

	/** Widen the roots (e.g. the dataset changed); takes effect on the next load, so reload the HTML. */
	protected setExtraRoots(extra: vscode.Uri[]): void {
		const key = extra
			.map((u) => u.toString())
			.sort()
			.join('\n');
		if (key === this.extraKey) return;
		this.extraKey = key;
		this.panel.webview.options = { ...this.panel.webview.options, localResourceRoots: this.roots(extra) };
		this.ready = false;
		this.panel.webview.html = this.html();
	}

	protected asWebviewUri(fsPath: string): string {
		return this.panel.webview.asWebviewUri(vscode.Uri.file(fsPath)).toString();
	}

	private roots(extra: vscode.Uri[]): vscode.Uri[] {
		const ext = this.ctx.extensionUri;
		return [vscode.Uri.joinPath(ext, 'dist'), vscode.Uri.joinPath(ext, 'media'), vscode.Uri.joinPath(ext, 'node_modules', '@vscode', 'codicons', 'dist'), ...extra];
	}

	private async receive(raw: unknown): Promise<void> {
		if (!this.opts.isMessage(raw)) {
			this.ctx.log.warn(`[${this.opts.name}] rejected a malformed webview message: ${preview(raw)}`);
			return;
		}
		const msg = raw;
		if (msg.type === 'ready') {
			this.ready = true;
			this.sendSnapshot();
			return;
		}
		if (msg.type === 'error' && 'message' in msg) {
			this.ctx.log.error(`[${this.opts.name}] webview: ${String(msg.message)}`);
			return;
		}
		try {
			await this.onMessage(msg);
		} catch (e) {
			this.ctx.log.error(`[${this.opts.name}] ${msg.type}: ${(e as Error).stack ?? String(e)}`);
			void vscode.window.showErrorMessage(`Radiograph Review: ${(e as Error).message}`);
		}
	}

	private html(): string {
		return webviewHtml(this.panel.webview, this.ctx.extensionUri, this.opts.name, this.opts.title);
	}
}

/** A panel's page: strict CSP with a fresh nonce, codicons, media/webview.css + media/<name>.css, dist/webview/<name>.js. */
export function webviewHtml(webview: vscode.Webview, ext: vscode.Uri, name: string, title: string): string {
	const nonce = getNonce();
	const uri = (...p: string[]): string => webview.asWebviewUri(vscode.Uri.joinPath(ext, ...p)).toString();
	const csp = [
		"default-src 'none'",
		`img-src ${webview.cspSource} blob: data:`,
		`font-src ${webview.cspSource}`,
		// vscode-elements uses constructable stylesheets (no 'unsafe-inline' needed for them); style attributes
		// set from script (e.g. chart sizes) are covered by CSSOM and not blocked by style-src.
		`style-src ${webview.cspSource}`,
		`script-src 'nonce-${nonce}'`,
	].join('; ');
	const stylesheets = ['webview.css', `${name}.css`].filter((f) => fs.existsSync(vscode.Uri.joinPath(ext, 'media', f).fsPath));
	return `<!DOCTYPE html>
<html lang="en">
<head>
	<meta charset="UTF-8">
	<meta http-equiv="Content-Security-Policy" content="${csp}">
	<meta name="viewport" content="width=device-width, initial-scale=1.0">
	<link rel="stylesheet" href="${uri(...codiconCss(ext))}" id="vscode-codicon-stylesheet">
${stylesheets.map((css) => `	<link rel="stylesheet" href="${uri('media', css)}">`).join('\n')}
	<title>${escapeHtml(title)}</title>
</head>
<body data-panel="${name}">
	<div id="app"></div>
	<script nonce="${nonce}" src="${uri('dist', 'webview', `${name}.js`)}"></script>
</body>
</html>`;
}

/** The packaged extension carries a copy of codicons in dist/codicons (see the package script); a source checkout uses node_modules. */
function codiconCss(ext: vscode.Uri): string[] {
	const copy = ['dist', 'codicons', 'codicon.css'];
	return fs.existsSync(vscode.Uri.joinPath(ext, ...copy).fsPath) ? copy : ['node_modules', '@vscode', 'codicons', 'dist', 'codicon.css'];
}

function escapeHtml(s: string): string {
	return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function preview(v: unknown): string {
	try {
		return JSON.stringify(v).slice(0, 200);
	} catch {
		return typeof v;
	}
}
