// Open Sample Radiographs: copy the bundled 60 samples (with their attribution) into a folder the user picks and
// make the copy the dataset, so the walkthrough runs on files the user owns (the extension folder stays read-only).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { isInside } from '../util/pathConfinement';
import type { Services } from '../util/services';
import { setDatasetRoot, UserError } from '../util/workspace';

export const SAMPLES_FOLDER = 'radiograph-samples';

export async function openSamplesCommand(s: Services): Promise<void> {
	const picked = await vscode.window.showOpenDialog({
		canSelectFolders: true,
		canSelectFiles: false,
		canSelectMany: false,
		title: `Copy the 60 sample radiographs into a new '${SAMPLES_FOLDER}' folder inside…`,
		openLabel: 'Copy Samples Here',
		defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
	});
	const parent = picked?.[0]?.fsPath;
	if (!parent) return;
	const target = await copySamples(vscode.Uri.joinPath(s.extensionUri, 'media', 'samples').fsPath, parent);
	s.log.info(`Copied the sample radiographs to ${target}`);
	const ws = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
	if (ws === undefined || !isInside(ws, target)) {
		// Runs and caches live in <workspace>/.radreview: the samples need a workspace around them.
		const open = await vscode.window.showInformationMessage(`Copied 60 sample radiographs to ${target}. Open that folder, then choose it with Select Dataset Folder, to train on them.`, 'Open Folder');
		if (open) await vscode.commands.executeCommand('vscode.openFolder', vscode.Uri.file(target));
		return;
	}
	await setDatasetRoot(target);
	void vscode.window
		.showInformationMessage(`60 sample radiographs copied to ${path.relative(ws, target)} and selected as the dataset (licences in ATTRIBUTION.md).`, 'Show Dataset Splits')
		.then((pick) => pick && vscode.commands.executeCommand('radiographReview.showDataset'));
}

/** Copies `samples` to `<parent>/radiograph-samples` (or `-2`, `-3`… if taken); returns the new folder. */
export async function copySamples(samples: string, parent: string): Promise<string> {
	try {
		await fs.access(path.join(samples, 'ATTRIBUTION.md'));
	} catch {
		throw new UserError(`The bundled samples are missing from ${samples}: reinstall the extension.`);
	}
	for (let i = 1; i < 100; i++) {
		const target = path.join(parent, i === 1 ? SAMPLES_FOLDER : `${SAMPLES_FOLDER}-${i}`);
		try {
			await fs.mkdir(target); // fails when the name is taken: never copy over the user's files
		} catch (e) {
			if ((e as NodeJS.ErrnoException).code === 'EEXIST') continue;
			throw new UserError(`Cannot create ${target}: ${(e as Error).message}`);
		}
		await fs.cp(samples, target, { recursive: true, errorOnExist: true, force: false });
		return target;
	}
	throw new UserError(`${parent} already holds ${SAMPLES_FOLDER} … ${SAMPLES_FOLDER}-99: pick another folder.`);
}
