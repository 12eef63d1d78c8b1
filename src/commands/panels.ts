// Commands that open panels.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { AuditPanel } from '../panels/auditPanel';
import { ComparePanel } from '../panels/comparePanel';
import { PredictionsPanel } from '../panels/predictionsPanel';
import { ReportPanel } from '../panels/reportPanel';
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

/** A run folder given by a panel (confined to the workspace's runs), else a pick of the workspace's runs. */
async function runArg(s: Services, arg: unknown, prompt: string): Promise<string | undefined> {
	const wd = requireWorkDir();
	const given = arg instanceof vscode.Uri ? arg.fsPath : typeof arg === 'string' ? arg : undefined;
	// Runs live below the workspace data folder; anything else is refused.
	if (given && isInside(path.join(wd, 'runs'), path.resolve(given))) return path.resolve(given);
	return (await pickRun(s, wd, prompt))?.runDir;
}

/** With a run folder (from a panel) or a pick of the workspace's runs. */
export async function openPredictionsCommand(s: Services, arg?: unknown): Promise<void> {
	const runDir = await runArg(s, arg, 'Run to show');
	if (runDir) await PredictionsPanel.showRun(s, runDir);
}

/** The report card of a run (from a panel, or picked). */
export async function showReportCommand(s: Services, arg?: unknown): Promise<void> {
	const runDir = await runArg(s, arg, 'Run to report on');
	if (runDir) await ReportPanel.showRun(s, runDir);
}

/** Opens the Audit panel and runs the audit on the current dataset. */
export async function auditDatasetCommand(s: Services): Promise<void> {
	await AuditPanel.show(s).run();
}
