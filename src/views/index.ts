// The Radiograph sidebar (Datasets, Runs, Review), its commands, and the watchers that keep it current.
// Every action reachable from a view is also a palette command (with a picker when no item is given).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { guarded } from '../commands/run';
import { openSamplesCommand } from '../commands/samples';
import type { Services } from '../util/services';
import { SECTION } from '../util/settings';
import { datasetRoot, requireTrust, requireWorkDir, UserError } from '../util/workspace';
import { DatasetsView } from './datasetsView';
import { ReviewView } from './reviewView';
import type { RunEntry } from './runInfo';
import { ANNOTATIONS_FILE, readRuns } from './runInfo';
import { RunsView } from './runsView';

export const enum ViewId {
	Datasets = 'radiographReview.datasets',
	Runs = 'radiographReview.runs',
	Review = 'radiographReview.review',
}

export const enum ViewCommandId {
	/** {@link openSamplesCommand} */
	OpenSamples = 'radiographReview.openSamples',
	/** {@link refreshAll} */
	RefreshViews = 'radiographReview.refreshViews',
	/** {@link revealRun} */
	RevealRun = 'radiographReview.revealRun',
	/** {@link deleteRun} */
	DeleteRun = 'radiographReview.deleteRun',
	/** Opens the predictions of the run given by the Runs view (the palette has Open Predictions). */
	OpenRunPredictions = 'radiographReview.openRunPredictions',
	/** The Runs view's Show Report: the report command with the item's folder, shown once that command exists. */
	ShowRunReport = 'radiographReview.showRunReport',
}

/** The report panel's command (another feature); the Runs view offers it only when it is registered. */
const REPORT_COMMAND = 'radiographReview.showReport';

/** Refreshes come in bursts (a run writes several files): redraw once they settle. */
const DEBOUNCE_MS = 300;

export function registerViews(s: Services): vscode.Disposable[] {
	const datasets = new DatasetsView(s);
	const runs = new RunsView(s);
	const review = new ReviewView(() => datasets.imageCount);
	const debounced = (fn: () => void): (() => void) => {
		let t: NodeJS.Timeout | undefined;
		return () => {
			clearTimeout(t);
			t = setTimeout(fn, DEBOUNCE_MS);
		};
	};
	const refreshRuns = debounced(() => runs.refresh());
	const refreshDataset = debounced(() => {
		datasets.refresh();
		review.refresh();
	});
	const refreshReview = debounced(() => review.refresh());
	const refreshAll = (): void => {
		datasets.refresh();
		runs.refresh();
		review.refresh();
	};
	const reg = (id: ViewCommandId, fn: (...args: unknown[]) => unknown): vscode.Disposable => vscode.commands.registerCommand(id, guarded(s.log, id, fn));
	void offerReport();

	return [
		datasets,
		runs,
		review,
		vscode.window.createTreeView(ViewId.Datasets, { treeDataProvider: datasets, showCollapseAll: false }),
		vscode.window.createTreeView(ViewId.Runs, { treeDataProvider: runs }),
		vscode.window.createTreeView(ViewId.Review, { treeDataProvider: review }),
		datasets.onDidScan(() => review.refresh()),
		...watchRuns(refreshRuns),
		// Annotations change what the Review view counts and which runs are stale.
		new DatasetWatcher(refreshDataset, () => {
			refreshReview();
			refreshRuns();
		}),
		vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration(SECTION) && refreshDataset()),
		// Trust applies the workspace's dataset setting and enables Delete.
		vscode.workspace.onDidGrantWorkspaceTrust(refreshAll),
		reg(ViewCommandId.OpenSamples, () => openSamplesCommand(s)),
		reg(ViewCommandId.RefreshViews, refreshAll),
		reg(ViewCommandId.RevealRun, async (arg) => revealRun(await runArg(arg, runs, 'Run folder to reveal'))),
		reg(ViewCommandId.DeleteRun, async (arg) => deleteRun(s, await runArg(arg, runs, 'Run to delete'), refreshRuns)),
		reg(ViewCommandId.OpenRunPredictions, (arg) => isRunEntry(arg) && vscode.commands.executeCommand('radiographReview.openPredictions', vscode.Uri.file(arg.dir))),
		reg(ViewCommandId.ShowRunReport, (arg) => isRunEntry(arg) && vscode.commands.executeCommand(REPORT_COMMAND, vscode.Uri.file(arg.dir))),
		runs.onDidChangeTreeData(() => void offerReport()),
	];
}

/** Sets `radiographReview.canReport` when the report command is registered (it is another feature's). */
async function offerReport(): Promise<void> {
	const has = (await vscode.commands.getCommands(true)).includes(REPORT_COMMAND);
	await vscode.commands.executeCommand('setContext', 'radiographReview.canReport', has);
}

/** `.radreview/runs` of the workspace: a run appears, finishes (partial → final rename), or is deleted. */
function watchRuns(refresh: () => void): vscode.Disposable[] {
	const ws = vscode.workspace.workspaceFolders?.[0];
	if (!ws) return [];
	const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(ws, '.radreview/runs/**'));
	return [w, w.onDidCreate(refresh), w.onDidChange(refresh), w.onDidDelete(refresh)];
}

/** Watches the current dataset folder (re-aimed when the setting changes): images for Datasets, the annotation file for Review. */
class DatasetWatcher implements vscode.Disposable {
	private watcher: vscode.FileSystemWatcher | undefined;
	private root: string | undefined;
	private readonly config: vscode.Disposable;

	constructor(
		private readonly onImages: () => void,
		private readonly onAnnotations: () => void,
	) {
		this.aim();
		this.config = vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration(`${SECTION}.datasetFolder`) && this.aim());
	}

	private aim(): void {
		const root = datasetRoot();
		if (root === this.root) return;
		this.watcher?.dispose();
		this.watcher = undefined;
		this.root = root;
		if (!root) return;
		const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(root), '**/*'));
		const on = (uri: vscode.Uri): void => (path.basename(uri.fsPath) === ANNOTATIONS_FILE ? this.onAnnotations() : this.onImages());
		w.onDidCreate(on);
		w.onDidDelete(on);
		w.onDidChange((uri) => path.basename(uri.fsPath) === ANNOTATIONS_FILE && this.onAnnotations());
		this.watcher = w;
	}

	dispose(): void {
		this.config.dispose();
		this.watcher?.dispose();
	}
}

function isRunEntry(v: unknown): v is RunEntry {
	return typeof v === 'object' && v !== null && typeof (v as RunEntry).dir === 'string' && typeof (v as RunEntry).state === 'string';
}

/** The run a command acts on: the view's item, else a pick of the workspace's runs (palette, keyboard). */
async function runArg(arg: unknown, view: RunsView, title: string): Promise<RunEntry | undefined> {
	const wd = requireWorkDir();
	const root = path.join(wd, 'runs');
	if (isRunEntry(arg)) {
		// Only folders directly under .radreview/runs, whatever the caller passes.
		if (path.dirname(path.resolve(arg.dir)) !== root) throw new UserError(`${arg.dir} is not a run folder of this workspace.`);
		return arg;
	}
	const runs = view.runs.length ? view.runs : await readRuns(wd);
	if (!runs.length) throw new UserError('No runs in this workspace yet.');
	const pick = await vscode.window.showQuickPick(
		runs.map((r) => ({ label: r.name, description: r.state === 'complete' && r.accuracy !== undefined ? `${(r.accuracy * 100).toFixed(1)} % (n=${r.n ?? '?'})` : r.state, run: r })),
		{ title, placeHolder: 'Newest first' },
	);
	return pick?.run;
}

async function revealRun(run: RunEntry | undefined): Promise<void> {
	if (!run) return;
	await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(run.dir));
}

async function deleteRun(s: Services, run: RunEntry | undefined, refresh: () => void): Promise<void> {
	if (!run) return;
	requireTrust('Deleting runs');
	if (run.state === 'incomplete' && s.sessions.isTraining) throw new UserError('A training is running: cancel it before deleting its folder.');
	const answer = await vscode.window.showWarningMessage(
		`Delete run ${run.name}?`,
		{ modal: true, detail: `This removes ${run.dir} with its model, history and predictions. It cannot be undone.` },
		'Delete',
	);
	if (answer !== 'Delete') return;
	await fs.rm(run.dir, { recursive: true, force: true });
	s.log.info(`Deleted run ${run.dir}`);
	refresh();
}
