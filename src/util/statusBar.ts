// One status-bar item: the compute backend in use and, while training, "epoch n/N".
import * as vscode from 'vscode';
import type { BackendResult } from '../protocol/engine';
import { Disposable } from './dispose';

const SHORT: Record<string, string> = { 'tensorflow-gpu': 'GPU', tensorflow: 'native CPU', wasm: 'WASM', cpu: 'JS' };

export class StatusBar extends Disposable {
	private readonly item = this._register(vscode.window.createStatusBarItem('radiographReview.status', vscode.StatusBarAlignment.Left, 10));
	private backend: BackendResult | undefined;
	private activity: string | undefined;

	constructor(private readonly preference: () => string) {
		super();
		this.item.name = 'Radiograph Review';
		this.item.command = 'radiographReview.selectBackend';
		this.render();
		this.item.show();
	}

	setBackend(report: BackendResult): void {
		this.backend = report;
		this.render();
	}

	/** e.g. 'VGG16 epoch 3/80'; undefined when idle. */
	setActivity(text: string | undefined): void {
		this.activity = text;
		this.render();
	}

	private render(): void {
		const backend = this.backend ? (SHORT[this.backend.name] ?? this.backend.name) : `${this.preference()} (not started)`;
		this.item.text = this.activity ? `$(sync~spin) ${this.activity} · ${backend}` : `$(pulse) ${backend}`;
		const md = new vscode.MarkdownString(undefined, true);
		md.appendMarkdown('**Radiograph Review**\n\n');
		md.appendMarkdown(this.backend ? `Backend: ${this.backend.label}` : 'Backend: not initialised yet');
		if (this.backend?.skipped.length) md.appendMarkdown(`\n\nSkipped: ${this.backend.skipped.map((s) => `\n- ${s}`).join('')}`);
		if (this.activity) md.appendMarkdown(`\n\n${this.activity}`);
		md.appendMarkdown('\n\nClick to select the compute backend.');
		this.item.tooltip = md;
	}
}
