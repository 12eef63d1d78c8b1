// Train commands: one handler for every backbone, Train All, and Cancel.
import * as vscode from 'vscode';
import { accuracyWithInterval } from '../engine/infer/metrics';
import { BACKBONE_IDS, type BackboneId, type RunSummary } from '../engine/types';
import { ComparePanel } from '../panels/comparePanel';
import { PredictionsPanel } from '../panels/predictionsPanel';
import { TrainingPanel } from '../panels/trainingPanel';
import { readSettings, trainConfigFor } from '../util/settings';
import type { Services } from '../util/services';
import { DISPLAY_NAMES } from '../util/trainingSessions';
import { ensureDatasetRoot, requireTrust, requireWorkDir, UserError } from '../util/workspace';

/** Train one backbone on the dataset folder; on success shows its test predictions. */
export async function trainCommand(s: Services, backbone: BackboneId): Promise<RunSummary | undefined> {
	requireTrust(`Training ${DISPLAY_NAMES[backbone]}`);
	const wd = requireWorkDir();
	const dataDir = await ensureDatasetRoot();
	if (!dataDir) throw new UserError('Training needs a dataset folder: run "Radiograph: Select Dataset Folder".');
	const config = trainConfigFor(backbone, dataDir, wd, readSettings());
	TrainingPanel.show(s, true);
	const summary = await s.sessions.train(config);
	if (summary) {
		void vscode.window.showInformationMessage(
			`${DISPLAY_NAMES[backbone]}: test accuracy ${accuracyWithInterval(summary.metrics.accuracy, summary.metrics.support, 1)}${summary.weights.pretrained ? '' : ' (not pretrained)'}.`,
		);
		await PredictionsPanel.showRun(s, summary.runDir);
	}
	return summary;
}

/** Train every backbone in turn, then compare. A cancel stops the remaining ones too. */
export async function trainAllCommand(s: Services): Promise<void> {
	requireTrust('Training');
	for (const backbone of BACKBONE_IDS) {
		const wd = requireWorkDir();
		const dataDir = await ensureDatasetRoot();
		if (!dataDir) throw new UserError('Training needs a dataset folder: run "Radiograph: Select Dataset Folder".');
		TrainingPanel.show(s, true);
		const summary = await s.sessions.train(trainConfigFor(backbone, dataDir, wd, readSettings()));
		if (!summary) break; // cancelled
	}
	ComparePanel.show(s);
}

export function cancelTrainingCommand(s: Services): void {
	const n = s.sessions.cancel();
	if (n === 0) void vscode.window.showInformationMessage('No training is running.');
	else s.log.info(`Cancel requested for ${n} training session(s).`);
}
