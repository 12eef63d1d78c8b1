// Select Compute Backend: store the preference and initialise it in the worker, so the status bar shows
// what actually started (a missing native binding falls back down the ladder). Backends that are not installed
// are listed, marked, with why; picking one explains instead of switching.
import * as vscode from 'vscode';
import type { BackendAvailability } from '../engine/types';
import { backendItems } from '../util/backendItems';
import { readSettings, updateSetting } from '../util/settings';
import type { Services } from '../util/services';

export async function selectBackendCommand(s: Services): Promise<void> {
	const current = readSettings().backend;
	const probe = await s.engine.run({ type: 'probeBackends' }).catch((e: unknown) => {
		s.log.warn(`Backend probe failed: ${(e as Error).message}`);
		return [] as BackendAvailability[];
	});
	const pick = await vscode.window.showQuickPick(backendItems(probe, current, s.engine.backend?.name), {
		title: 'Compute backend for training and classification',
		placeHolder: s.engine.backend ? `Running: ${s.engine.backend.label}` : 'Not started yet',
	});
	if (!pick) return;
	if (pick.unavailable) {
		void vscode.window.showWarningMessage(`${pick.label.replace(/^\$\([^)]*\)\s*/, '')} backend is not available: ${pick.unavailable}. The setting is unchanged.`);
		return;
	}
	await updateSetting('backend', pick.value);
	const report = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Starting ${pick.label} backend…` }, () =>
		s.engine.run({ type: 'backend', preference: pick.value }),
	);
	s.log.info(`Backend: ${report.label}${report.skipped.length ? ` (skipped: ${report.skipped.join('; ')})` : ''}`);
	void vscode.window.showInformationMessage(`Radiograph Review backend: ${report.label}`);
}
