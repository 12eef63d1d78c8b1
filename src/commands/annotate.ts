// Explorer context-menu commands on image files (one or many): Set Label…, Flag…, Add Note…, and undo / redo of
// annotation edits. Each acts on the dataset's annotation store; files outside the dataset folder are refused.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { BUILTIN_FLAGS, flagText } from '../engine/annotations/format';
import type { AnnotationEdit } from '../engine/annotations/merge';
import { CLASS_NAMES, type ClassName } from '../engine/types';
import { isInside } from '../util/pathConfinement';
import type { Services } from '../util/services';
import { UserError } from '../util/workspace';

/** The dataset-relative paths of the clicked file and the Explorer's multi-selection. */
async function selectedImages(s: Services, uri: unknown, uris: unknown): Promise<{ root: string; paths: string[] }> {
	const root = await s.annotations.open();
	if (!root) throw new UserError('Set a dataset folder first (Radiograph: Select Dataset Folder): annotations live in <dataset>/radreview-annotations.csv.');
	const picked = Array.isArray(uris) && uris.length ? uris : [uri ?? vscode.window.activeTextEditor?.document.uri];
	const files = picked.filter((u): u is vscode.Uri => u instanceof vscode.Uri && u.scheme === 'file').map((u) => u.fsPath);
	if (files.length === 0) throw new UserError('Select one or more images of the dataset in the Explorer.');
	const outside = files.filter((f) => !isInside(root, f) || f === root);
	if (outside.length) throw new UserError(`${path.basename(outside[0])} is not in the dataset folder ${root}.`);
	return { root, paths: files.map((f) => path.relative(root, f).split(path.sep).join('/')) };
}

const describeSelection = (paths: string[]) => (paths.length === 1 ? path.basename(paths[0]) : `${paths.length} images`);

export async function setLabelCommand(s: Services, uri: unknown, uris: unknown): Promise<void> {
	const { paths } = await selectedImages(s, uri, uris);
	const current = paths.length === 1 ? s.annotations.get(paths[0]) : undefined;
	const items: Array<vscode.QuickPickItem & { label: string; value: ClassName | null }> = [
		...CLASS_NAMES.map((c, i) => ({ label: c, value: c, description: `key ${i + 1}${current?.label === c ? ' · current correction' : current?.originalLabel === c ? ' · original label' : ''}` })),
		{ label: 'Keep the original label', value: null, description: 'remove the correction' },
	];
	const pick = await vscode.window.showQuickPick(items, { title: `Radiograph: Set Label of ${describeSelection(paths)}`, placeHolder: 'Correct label' });
	if (!pick) return;
	await s.annotations.apply(paths.map((p): AnnotationEdit => ({ kind: 'label', path: p, label: pick.value })));
}

export async function flagCommand(s: Services, uri: unknown, uris: unknown): Promise<void> {
	const { paths } = await selectedImages(s, uri, uris);
	const current = paths.length === 1 ? (s.annotations.get(paths[0])?.flags ?? []) : [];
	const OTHER = 'Other reason…';
	const CLEAR = 'Remove all flags';
	const items: vscode.QuickPickItem[] = [
		...Object.entries(BUILTIN_FLAGS).map(([id, text]) => ({
			label: text,
			description: `${id}${['exclude', 'not-frontal', 'duplicate'].includes(id) ? ' · left out of training' : ''}${current.includes(id) ? ' · flagged' : ''}`,
		})),
		{ label: OTHER },
		{ label: CLEAR },
	];
	const pick = await vscode.window.showQuickPick(items, { title: `Radiograph: Flag ${describeSelection(paths)}`, placeHolder: 'Reason' });
	if (!pick) return;
	if (pick.label === CLEAR) {
		const flags = new Set(paths.flatMap((p) => s.annotations.get(p)?.flags ?? []));
		await s.annotations.apply(paths.flatMap((p) => [...flags].map((flag): AnnotationEdit => ({ kind: 'unflag', path: p, flag }))));
		return;
	}
	const reason = pick.label === OTHER ? (await vscode.window.showInputBox({ title: 'Flag reason', prompt: 'Free text (a ";" becomes ",")' }))?.trim() : pick.label;
	if (!reason) return;
	await s.annotations.apply(paths.map((p): AnnotationEdit => ({ kind: 'flag', path: p, flag: reason })));
	void vscode.window.setStatusBarMessage(`Flagged ${describeSelection(paths)}: ${flagText(reason)}`, 4000);
}

export async function addNoteCommand(s: Services, uri: unknown, uris: unknown): Promise<void> {
	const { paths } = await selectedImages(s, uri, uris);
	const note = await vscode.window.showInputBox({
		title: `Radiograph: Note on ${describeSelection(paths)}`,
		prompt: 'Empty removes the note',
		value: paths.length === 1 ? (s.annotations.get(paths[0])?.note ?? '') : '',
	});
	if (note === undefined) return;
	await s.annotations.apply(paths.map((p): AnnotationEdit => ({ kind: 'note', path: p, note })));
}

export function undoAnnotationCommand(s: Services): void {
	if (!s.annotations.undo()) void vscode.window.setStatusBarMessage('No annotation edit to undo', 3000);
}

export function redoAnnotationCommand(s: Services): void {
	if (!s.annotations.redo()) void vscode.window.setStatusBarMessage('No annotation edit to redo', 3000);
}
