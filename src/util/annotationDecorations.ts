// Explorer decorations on the dataset's images: the latest run's predicted class initial as the badge, a colour for
// flagged / relabelled / wrong, and a tooltip with the probabilities, the label and the note. Live: annotation
// edits and new runs redraw them; the setting radiographReview.explorerDecorations turns them off.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { flagText } from '../engine/annotations/format';
import { CLASS_NAMES, type Prediction, type TrainConfig } from '../engine/types';
import type { EngineClient } from '../engine/client';
import type { AnnotationStore } from './annotationStore';
import { Disposable } from './dispose';
import { SECTION } from './settings';
import { workDir } from './workspace';

const SETTING = 'explorerDecorations';
/** Runs looked at (newest first) to find the latest one trained on the dataset. */
const RUNS_TO_SEARCH = 10;

export class AnnotationDecorations extends Disposable implements vscode.FileDecorationProvider {
	private readonly changed = this._register(new vscode.EventEmitter<vscode.Uri | vscode.Uri[] | undefined>());
	readonly onDidChangeFileDecorations = this.changed.event;
	private predictions = new Map<string, Prediction>();
	private predictionsRoot: string | undefined;
	private loading: Promise<void> | undefined;
	private reloadTimer: NodeJS.Timeout | undefined;

	constructor(
		private readonly store: AnnotationStore,
		private readonly engine: EngineClient,
		private readonly log: vscode.LogOutputChannel,
	) {
		super();
		this._register(vscode.window.registerFileDecorationProvider(this));
		this._register(store.onDidChange(({ root, paths }) => this.changed.fire(paths ? paths.map((p) => vscode.Uri.file(path.join(root, p))) : undefined)));
		this._register(
			vscode.workspace.onDidChangeConfiguration((e) => {
				if (e.affectsConfiguration(`${SECTION}.${SETTING}`)) this.changed.fire(undefined);
				if (e.affectsConfiguration(`${SECTION}.datasetFolder`)) this.reloadRuns();
			}),
		);
		const wd = workDir();
		if (wd) {
			// A finished run writes metrics.json last.
			const w = this._register(vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(wd), 'runs/*/metrics.json')));
			this._register(w.onDidCreate(() => this.reloadRuns()));
			this._register(w.onDidChange(() => this.reloadRuns()));
		}
		this._register({ dispose: () => clearTimeout(this.reloadTimer) });
		this.reloadRuns();
	}

	/** Reload the latest run's predictions (debounced: a run folder appears as a burst of file events). */
	reloadRuns(): void {
		clearTimeout(this.reloadTimer);
		this.reloadTimer = setTimeout(() => {
			this.loading = this.loadLatestRun().catch((e: unknown) => this.log.warn(`Explorer decorations: ${(e as Error).message}`));
		}, 300);
	}

	private async loadLatestRun(): Promise<void> {
		const root = await this.store.open();
		const wd = workDir();
		if (!root || !wd) return;
		const runs = await this.engine.run({ type: 'listRuns', workDir: wd });
		for (const r of runs.slice(0, RUNS_TO_SEARCH)) {
			const run = await this.engine.run({ type: 'loadRun', runDir: r.runDir });
			const config = (run.extra as { config?: TrainConfig } | undefined)?.config;
			if (config && path.resolve(config.dataDir) !== path.resolve(root)) continue;
			this.predictions = new Map(run.predictions.map((p) => [p.relPath, p]));
			this.predictionsRoot = root;
			this.changed.fire(undefined);
			return;
		}
	}

	/** Resolves once the latest run's predictions are loaded (for tests and the first paint). */
	ready(): Promise<void> {
		return this.loading ?? Promise.resolve();
	}

	provideFileDecoration(uri: vscode.Uri): vscode.FileDecoration | undefined {
		if (uri.scheme !== 'file' || !vscode.workspace.getConfiguration(SECTION).get<boolean>(SETTING, true)) return undefined;
		const root = this.store.datasetRoot;
		if (!root) return undefined;
		const rel = path.relative(root, uri.fsPath);
		if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
		const relPath = rel.split(path.sep).join('/');
		const a = this.store.get(relPath);
		const p = this.predictionsRoot === root ? this.predictions.get(relPath) : undefined;
		if (!a && !p) return undefined;
		const label = a?.label ?? a?.originalLabel ?? p?.label ?? null;
		const wrong = p && label ? p.predicted !== label : false;
		const lines: string[] = [];
		if (p) lines.push(`Predicted ${p.predicted} — ${CLASS_NAMES.map((c, i) => `${c} ${(p.probs[i] ?? 0).toFixed(2)}`).join(', ')}`);
		if (a?.label) lines.push(`Label ${a.label} (relabelled from ${a.originalLabel ?? 'none'})`);
		else if (label) lines.push(`Label ${label}`);
		if (a?.flags.length) lines.push(`Flagged: ${a.flags.map(flagText).join('; ')}`);
		if (a?.note) lines.push(`Note: ${a.note}`);
		if (a?.reviewed) lines.push('Reviewed');
		const color = a?.flags.length
			? new vscode.ThemeColor('list.warningForeground')
			: a?.label
				? new vscode.ThemeColor('charts.blue')
				: wrong
					? new vscode.ThemeColor('list.errorForeground')
					: undefined;
		const badge = p ? p.predicted[0] : a?.flags.length ? '!' : a?.label ? a.label[0] : '✎';
		return { badge, tooltip: lines.join('\n'), color, propagate: false };
	}
}
