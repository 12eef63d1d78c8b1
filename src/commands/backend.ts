// Select Compute Backend: store the preference and initialise it in the worker, so the status bar shows
// what actually started (a missing native binding falls back down the ladder).
import * as vscode from 'vscode';
import type { BackendPreference } from '../engine/types';
import { readSettings, updateSetting } from '../util/settings';
import type { Services } from '../util/services';

const CHOICES: { value: BackendPreference; label: string; detail: string }[] = [
	{ value: 'auto', label: 'Auto', detail: 'Best available: GPU, native CPU, WASM, then pure JavaScript' },
	{ value: 'tensorflow-gpu', label: 'GPU', detail: 'TensorFlow native with CUDA (@tensorflow/tfjs-node-gpu)' },
	{ value: 'tensorflow', label: 'Native CPU', detail: 'TensorFlow native (@tensorflow/tfjs-node)' },
	{ value: 'wasm', label: 'WASM', detail: 'WebAssembly with SIMD and threads' },
	{ value: 'cpu', label: 'JS', detail: 'Pure JavaScript (slow, always available)' },
];

export async function selectBackendCommand(s: Services): Promise<void> {
	const current = readSettings().backend;
	const pick = await vscode.window.showQuickPick(
		CHOICES.map((c) => ({ ...c, description: c.value === current ? '(current)' : s.engine.backend?.name === c.value ? '(running)' : undefined })),
		{ title: 'Compute backend for training and classification', placeHolder: s.engine.backend ? `Running: ${s.engine.backend.label}` : 'Not started yet' },
	);
	if (!pick) return;
	await updateSetting('backend', pick.value);
	const report = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Starting ${pick.label} backend…` }, () =>
		s.engine.run({ type: 'backend', preference: pick.value }),
	);
	s.log.info(`Backend: ${report.label}${report.skipped.length ? ` (skipped: ${report.skipped.join('; ')})` : ''}`);
	void vscode.window.showInformationMessage(`Radiograph Review backend: ${report.label}`);
}
