// Where things live: the workspace data folder (`.radreview`) and the dataset root.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { readSettings, updateSetting } from './settings';

/** `<first workspace folder>/.radreview`, or undefined without a folder open. */
export function workDir(): string | undefined {
	const ws = vscode.workspace.workspaceFolders?.[0];
	return ws ? path.join(ws.uri.fsPath, '.radreview') : undefined;
}

/** The first workspace folder: where exports are offered (the user's files, not the hidden `.radreview`). */
export function workspaceFolder(): string | undefined {
	return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

/** The work dir or an error the user can act on. */
export function requireWorkDir(): string {
	const w = workDir();
	if (!w) throw new UserError('Open a folder first: Radiograph Review keeps its runs and caches in <folder>/.radreview.');
	return w;
}

/** The configured dataset folder as an absolute path, if set. */
export function datasetRoot(): string | undefined {
	const v = readSettings().datasetFolder.trim();
	if (!v) return undefined;
	if (path.isAbsolute(v)) return v;
	const ws = vscode.workspace.workspaceFolders?.[0];
	return ws ? path.resolve(ws.uri.fsPath, v) : undefined;
}

/** Store a dataset folder (relative to the workspace when inside it). */
export async function setDatasetRoot(folder: string): Promise<void> {
	const ws = vscode.workspace.workspaceFolders?.[0];
	let value = folder;
	if (ws) {
		const rel = path.relative(ws.uri.fsPath, folder);
		if (!rel.startsWith('..') && !path.isAbsolute(rel)) value = rel === '' ? '.' : rel.split(path.sep).join('/');
	}
	await updateSetting('datasetFolder', value);
}

/** The dataset root, asking the user to pick one when none is set or it vanished. */
export async function ensureDatasetRoot(): Promise<string | undefined> {
	const current = datasetRoot();
	if (current && fs.existsSync(current)) return current;
	return pickDatasetFolder(current ? `Dataset folder '${current}' does not exist. Pick one` : 'Pick the dataset folder');
}

/** Folder dialog → setting. */
export async function pickDatasetFolder(title = 'Select the dataset folder'): Promise<string | undefined> {
	const picked = await vscode.window.showOpenDialog({
		canSelectFolders: true,
		canSelectFiles: false,
		canSelectMany: false,
		title,
		openLabel: 'Use as Dataset',
		defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
	});
	const folder = picked?.[0]?.fsPath;
	if (!folder) return undefined;
	await setDatasetRoot(folder);
	return folder;
}

/** An error whose message is meant for the user as is (no stack, no "failed:" prefix). */
export class UserError extends Error {
	constructor(message: string) {
		super(message);
		this.name = 'UserError';
	}
}

/** Training and classification execute workspace content: refuse in Restricted Mode. */
export function requireTrust(action: string): void {
	if (!vscode.workspace.isTrusted) {
		throw new UserError(
			`${action} is disabled in Restricted Mode: it reads model files and images from paths in this workspace's settings. Trust the workspace to enable it (Workspaces: Manage Workspace Trust).`,
		);
	}
}
