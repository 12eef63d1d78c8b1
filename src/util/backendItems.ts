// The backend picker's rows (pure, so unit-tested): installed backends as usual, the others marked "not
// installed" with the reason from the worker's probe.
import type * as vscode from 'vscode';
import type { BackendAvailability, BackendPreference } from '../engine/types';

export const BACKEND_CHOICES: { value: BackendPreference; label: string; detail: string }[] = [
	{ value: 'auto', label: 'Auto', detail: 'Best available: GPU, native CPU, WASM, then pure JavaScript' },
	{ value: 'tensorflow-gpu', label: 'GPU', detail: 'TensorFlow native with CUDA (@tensorflow/tfjs-node-gpu)' },
	{ value: 'tensorflow', label: 'Native CPU', detail: 'TensorFlow native (@tensorflow/tfjs-node)' },
	{ value: 'wasm', label: 'WASM', detail: 'WebAssembly with SIMD and threads' },
	{ value: 'cpu', label: 'JS', detail: 'Pure JavaScript (slow, always available)' },
];

export interface BackendItem extends vscode.QuickPickItem {
	value: BackendPreference;
	/** Why it cannot be chosen (not installed); undefined when it can. */
	unavailable?: string;
}

/** The picker's rows: installed backends as usual, the others with a "not installed" mark and the reason. */
export function backendItems(probe: readonly BackendAvailability[], current: BackendPreference, running?: string): BackendItem[] {
	return BACKEND_CHOICES.map((c) => {
		const p = probe.find((b) => b.name === c.value);
		if (p && !p.installed) {
			return { value: c.value, label: `$(circle-slash) ${c.label}`, description: 'not installed', detail: p.reason ?? c.detail, unavailable: p.reason ?? 'not installed' };
		}
		return { value: c.value, label: c.label, detail: c.detail, description: c.value === current ? '(current)' : running === c.value ? '(running)' : undefined };
	});
}
