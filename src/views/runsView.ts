// Sidebar › Runs: every run folder of the workspace with backbone, weights, test accuracy (with n) and date,
// read from its JSON files (works in Restricted Mode; the engine is not needed to list runs).
import * as vscode from 'vscode';
import { Disposable } from '../util/dispose';
import type { Services } from '../util/services';
import { DISPLAY_NAMES } from '../util/trainingSessions';
import { workDir } from '../util/workspace';
import { readRuns, type RunEntry } from './runInfo';

export class RunsView extends Disposable implements vscode.TreeDataProvider<RunEntry> {
	private readonly emitter = this._register(new vscode.EventEmitter<RunEntry | undefined>());
	readonly onDidChangeTreeData = this.emitter.event;
	private last: RunEntry[] = [];

	constructor(private readonly s: Services) {
		super();
		// A finished or cancelled training changes what the partial folder means.
		this._register(s.sessions.onDidChange((e) => e.kind !== 'epoch' && this.refresh()));
	}

	/** Runs as last listed (for the palette's pickers). */
	get runs(): RunEntry[] {
		return this.last;
	}

	refresh(): void {
		this.emitter.fire(undefined);
	}

	getTreeItem(r: RunEntry): vscode.TreeItem {
		const name = r.backbone ? (DISPLAY_NAMES[r.backbone as keyof typeof DISPLAY_NAMES] ?? r.backbone) : r.name;
		const item = new vscode.TreeItem(name);
		item.id = r.dir;
		item.resourceUri = vscode.Uri.file(r.dir);
		const tooltip = new vscode.MarkdownString(undefined, true);
		tooltip.appendText(`${r.name}\n`);
		if (r.state === 'complete') {
			const acc = r.accuracy === undefined ? 'accuracy ?' : `${(r.accuracy * 100).toFixed(1)} %${r.n === undefined ? '' : ` (n=${r.n})`}`;
			const weights = r.pretrained === false ? 'not pretrained' : (r.weightsName ?? 'weights ?');
			item.label = `${name} — ${acc}`;
			// Weights in short (the tooltip has the file or package): pretrained ones are ImageNet's in every backbone.
			const short = r.pretrained === false ? 'not pretrained' : r.pretrained ? 'ImageNet' : undefined;
			item.description = [short, r.staleLabels ? 'labels changed since' : undefined, formatDate(r.createdAt)].filter(Boolean).join(' · ');
			item.iconPath = new vscode.ThemeIcon(r.staleLabels ? 'warning' : r.pretrained === false ? 'circle-large-outline' : 'pass');
			item.contextValue = r.staleLabels ? 'run.complete.stale' : 'run.complete';
			item.command = { command: 'radiographReview.openPredictions', title: 'Open Predictions', arguments: [vscode.Uri.file(r.dir)] };
			tooltip.appendText(`Weights: ${weights}\nTest accuracy: ${acc}\n${r.createdAt ?? ''}`);
			if (r.staleLabels) tooltip.appendText(`\n${r.staleReason ?? 'labels are stale'}: its accuracy is against the old labels.`);
		} else if (r.state === 'interrupted') {
			item.label = `${name} — interrupted`;
			item.description = [`${r.epochs ?? '?'}/${r.plannedEpochs ?? '?'} epochs`, formatDate(r.createdAt)].filter(Boolean).join(' · ');
			item.iconPath = new vscode.ThemeIcon('debug-disconnect');
			item.contextValue = 'run.interrupted';
			tooltip.appendText(`Training was cut off after ${r.epochs ?? '?'} of ${r.plannedEpochs ?? '?'} epochs (window closed, crash or kill): its history is kept, there is no model.`);
		} else if (r.state === 'incomplete') {
			const running = this.s.sessions.isTraining;
			item.label = `${name} — ${running ? 'training…' : 'interrupted'}`;
			item.description = r.name;
			item.iconPath = new vscode.ThemeIcon(running ? 'loading~spin' : 'debug-disconnect');
			item.contextValue = 'run.incomplete';
			tooltip.appendText(running ? 'A training is writing this folder.' : 'The training stopped before it finished (window closed or crash): this folder holds no usable model.');
		} else {
			item.label = `${r.name} — unreadable`;
			item.description = r.problem;
			item.iconPath = new vscode.ThemeIcon('error');
			item.contextValue = 'run.unreadable';
			tooltip.appendText(r.problem ?? '');
		}
		item.tooltip = tooltip;
		item.accessibilityInformation = { label: `${String(item.label)}, ${item.description ?? ''}` };
		return item;
	}

	async getChildren(r?: RunEntry): Promise<RunEntry[]> {
		if (r) return [];
		const wd = workDir();
		this.last = wd ? await readRuns(wd) : [];
		return this.last;
	}
}

function formatDate(iso?: string): string {
	if (!iso) return '';
	const d = new Date(iso);
	return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}
