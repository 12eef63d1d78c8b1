// Classify Radiographs: every image of a folder through a trained run; grid + predictions.csv.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { accuracyWithInterval } from '../engine/infer/metrics';
import type { RunSummary } from '../engine/types';
import { PredictionsPanel } from '../panels/predictionsPanel';
import type { Services } from '../util/services';
import { DISPLAY_NAMES } from '../util/trainingSessions';
import { allowChosenFolder, requireTrust, requireWorkDir, UserError } from '../util/workspace';

/** From the explorer menu (a folder Uri) or the palette (no argument: a folder picker). */
export async function classifyFolderCommand(s: Services, arg?: unknown): Promise<void> {
	requireTrust('Classifying radiographs');
	const wd = requireWorkDir();
	let folder: string | undefined;
	if (arg instanceof vscode.Uri) {
		folder = arg.fsPath;
	} else {
		const picked = await vscode.window.showOpenDialog({
			canSelectFolders: true,
			canSelectFiles: false,
			canSelectMany: false,
			title: 'Folder of radiographs to classify',
			openLabel: 'Classify',
			defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
		});
		folder = picked?.[0]?.fsPath;
	}
	if (!folder) return;
	allowChosenFolder(folder);
	const run = await pickRun(s, wd);
	if (!run) return;
	const result = await PredictionsPanel.showFolder(s, run, folder);
	const ood = result.predictions.filter((p) => p.outOfDistribution).length;
	void vscode.window.showInformationMessage(
		`Classified ${result.predictions.length} image(s)${result.errors.length ? `, ${result.errors.length} could not be read` : ''}${ood ? `; ${ood} ${ood === 1 ? 'does' : 'do'} not look like a frontal chest X-ray (badge in the grid)` : ''}. Wrote ${result.csvPath}.`,
	);
	// Where the run's accuracy does not carry over: unseen sources by name, and a shift from the training split.
	for (const w of result.shift?.warnings ?? []) void vscode.window.showWarningMessage(w);
}

/** The run to classify with: the only one, or a pick (newest first). */
export async function pickRun(s: Services, wd: string, title = 'Model to classify with'): Promise<RunSummary | undefined> {
	const runs = await s.engine.run({ type: 'listRuns', workDir: wd });
	if (runs.length === 0) throw new UserError('No trained model in this workspace yet: run "Radiograph: Train VGG16" (or another backbone) first.');
	if (runs.length === 1) return runs[0];
	const pick = await vscode.window.showQuickPick(
		runs.map((r) => ({
			label: `${DISPLAY_NAMES[r.backbone] ?? r.backbone} — ${accuracyWithInterval(r.metrics.accuracy, r.metrics.support, 1)}`,
			description: path.basename(r.runDir),
			detail: `${r.weights.pretrained ? r.weights.name : 'not pretrained'} · ${r.backend} · ${r.createdAt}`,
			run: r,
		})),
		{ title, placeHolder: 'Newest first' },
	);
	return pick?.run;
}
