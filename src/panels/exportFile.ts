// Exports a panel asked for: the webview supplies the bytes (PNG/PDF) or the host its own data
// (CSV/JSON); the user picks the path, and the file is written atomically.
import * as vscode from 'vscode';
import { writeFileAtomic } from '../engine/util/atomic';
import type { ExportFormat, ExportMessage, ExportResultMessage } from '../protocol/common';
import { sanitizeFileName } from '../util/pathConfinement';
import { workspaceFolder } from '../util/workspace';

const FILTERS: Record<ExportFormat, Record<string, string[]>> = {
	csv: { CSV: ['csv'] },
	png: { 'PNG image': ['png'] },
	pdf: { 'PDF document': ['pdf'] },
	json: { JSON: ['json'] },
};

/** Where save dialogs start: the workspace folder, not the hidden `.radreview` data folder the runs live in. */
export function exportDir(): vscode.Uri | undefined {
	const ws = workspaceFolder();
	return ws ? vscode.Uri.file(ws) : undefined;
}

/**
 * @param hostData bytes the host provides for formats it owns (csv/json); undefined → use the webview's base64.
 * @returns the message to post back.
 */
export async function saveExport(msg: ExportMessage, defaultDir: vscode.Uri | undefined, hostData?: string | Uint8Array): Promise<ExportResultMessage> {
	const bytes = hostData ?? (msg.base64 !== undefined ? Buffer.from(msg.base64, 'base64') : undefined);
	if (bytes === undefined || bytes.length === 0) return { type: 'exportResult', format: msg.format, ok: false, error: 'Nothing to export.' };
	let name = sanitizeFileName(msg.suggestedName, `export.${msg.format}`);
	if (!name.toLowerCase().endsWith(`.${msg.format}`)) name += `.${msg.format}`;
	const target = await vscode.window.showSaveDialog({
		defaultUri: defaultDir ? vscode.Uri.joinPath(defaultDir, name) : undefined,
		filters: FILTERS[msg.format],
		saveLabel: 'Export',
	});
	// The user closed the dialog: nothing failed, so nothing to report.
	if (!target) return { type: 'exportResult', format: msg.format, ok: false };
	try {
		await writeFileAtomic(target.fsPath, bytes);
		return { type: 'exportResult', format: msg.format, ok: true, path: target.fsPath };
	} catch (e) {
		return { type: 'exportResult', format: msg.format, ok: false, error: `${target.fsPath}: ${(e as Error).message}` };
	}
}
