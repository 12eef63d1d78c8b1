// Panels survive a window reload: VS Code restores each open panel of these view types and hands it back here
// (the extension activates on onWebviewPanel:<viewType>); the host re-sends its state as after any reload.
import * as vscode from 'vscode';
import type { Services } from '../util/services';
import { ComparePanel } from './comparePanel';
import { DatasetPanel } from './datasetPanel';
import { PredictionsPanel } from './predictionsPanel';
import { TrainingPanel } from './trainingPanel';

export function registerPanelSerializers(s: Services): vscode.Disposable[] {
	const revive = (viewType: string, fn: (panel: vscode.WebviewPanel, state: unknown) => void | Promise<void>): vscode.Disposable =>
		vscode.window.registerWebviewPanelSerializer(viewType, {
			async deserializeWebviewPanel(panel, state: unknown) {
				try {
					await fn(panel, state);
				} catch (e) {
					// Never a rejected promise: say what failed and keep the window usable.
					s.log.error(`Restoring ${viewType}: ${(e as Error).stack ?? String(e)}`);
					void vscode.window.showWarningMessage(`Radiograph Review: could not restore a panel (${(e as Error).message}).`);
				}
			},
		});
	return [
		revive(TrainingPanel.viewType, (p) => TrainingPanel.revive(s, p)),
		revive(DatasetPanel.viewType, (p) => DatasetPanel.revive(s, p)),
		revive(ComparePanel.viewType, (p) => ComparePanel.revive(s, p)),
		revive(PredictionsPanel.viewType, (p, state) => PredictionsPanel.revive(s, p, state)),
	];
}
