// Commands that open panels.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { AuditPanel } from '../panels/auditPanel';
import { ComparePanel } from '../panels/comparePanel';
import { PredictionsPanel } from '../panels/predictionsPanel';
import { TrainingPanel } from '../panels/trainingPanel';
import { isInside } from '../util/pathConfinement';
import type { Services } from '../util/services';
import { requireWorkDir } from '../util/workspace';
import { pickRun } from './classifyFolder';

export function showTrainingCommand(s: Services): void {
	TrainingPanel.show(s);
}

export function compareCommand(s: Services): void {
	ComparePanel.show(s);
}

/** With a run folder (from a panel) or a pick of the workspace's runs. */
export async function openPredictionsCommand(s: Services, arg?: unknown): Promise<void> {
	const wd = requireWorkDir();
	let runDir: string | undefined;
	const given = arg instanceof vscode.Uri ? arg.fsPath : typeof arg === 'string' ? arg : undefined;
	// Runs live below the workspace data folder; anything else is refused.
	if (given && isInside(path.join(wd, 'runs'), path.resolve(given))) runDir = path.resolve(given);
	else runDir = (await pickRun(s, wd, 'Run to show'))?.runDir;
	if (!runDir) return;
	await PredictionsPanel.showRun(s, runDir);
}

/** Opens the Audit panel and runs the audit on the current dataset. */
export async function auditDatasetCommand(s: Services): Promise<void> {
	await AuditPanel.show(s).run();
}
