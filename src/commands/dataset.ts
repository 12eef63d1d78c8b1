// Dataset commands: choose the folder, preprocess it into the cache, show its splits.
import * as vscode from 'vscode';
import { DatasetPanel } from '../panels/datasetPanel';
import { readSettings } from '../util/settings';
import type { Services } from '../util/services';
import { ensureDatasetRoot, pickDatasetFolder, requireTrust, requireWorkDir, setDatasetRoot, UserError } from '../util/workspace';

/** Palette: a folder picker; explorer: the folder right-clicked. */
export async function selectDatasetCommand(s: Services, arg?: unknown): Promise<void> {
	let folder: string | undefined;
	if (arg instanceof vscode.Uri) {
		folder = arg.fsPath;
		await setDatasetRoot(folder);
	} else {
		folder = await pickDatasetFolder();
	}
	if (!folder) return;
	s.log.info(`Dataset folder: ${folder}`);
	DatasetPanel.show(s);
}

export async function preprocessDatasetCommand(s: Services): Promise<void> {
	requireTrust('Preprocessing');
	const wd = requireWorkDir();
	const dataDir = await ensureDatasetRoot();
	if (!dataDir) throw new UserError('Pick a dataset folder first.');
	const set = readSettings();
	s.log.info(`Preprocess ${dataDir} at ${set.imageSize}px (${set.resize})`);
	const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Preprocessing radiographs', cancellable: true }, async (progress, token) => {
		const controller = new AbortController();
		const sub = token.onCancellationRequested(() => controller.abort());
		let last = 0;
		try {
			return await s.engine.run(
				{ type: 'preprocess', dataDir, workDir: wd, imageSize: set.imageSize, resize: set.resize },
				{
					signal: controller.signal,
					onProgress: (e) => {
						if (e.kind === 'stage') {
							const pct = e.total > 0 ? (100 * e.done) / e.total : 0;
							progress.report({ increment: Math.max(0, pct - last), message: `${e.stage} ${e.done}/${e.total}` });
							last = pct;
						} else if (e.kind === 'fileError') s.log.warn(`${e.error.path}: ${e.error.reason}`);
						else if (e.kind === 'log') s.log[e.level](e.message);
					},
				},
			);
		} finally {
			sub.dispose();
		}
	});
	s.log.info(`Preprocessed: ${JSON.stringify(result.summary)}`);
	void vscode.window.showInformationMessage('Radiograph Review: the dataset is preprocessed and cached.');
}

/**
 * Records the current split in the dataset's radreview-splits.csv: from then on every run keeps those images in
 * their split and new images are dealt by the same rule. Freezing again adds the images that came since.
 */
export async function freezeSplitCommand(s: Services): Promise<void> {
	requireTrust('Freezing the split');
	const dataDir = await ensureDatasetRoot();
	if (!dataDir) throw new UserError('Pick a dataset folder first.');
	const set = readSettings();
	const r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Freezing the split', cancellable: true }, async (_p, token) => {
		const controller = new AbortController();
		const sub = token.onCancellationRequested(() => controller.abort());
		try {
			return await s.engine.run(
				{ type: 'splits', dataDir, mode: set.splitMode, seed: set.seed, testFraction: set.testFraction, valFraction: set.valFraction, freeze: true },
				{ signal: controller.signal },
			);
		} finally {
			sub.dispose();
		}
	});
	const msg = `Split frozen in ${r.frozenFile ?? 'radreview-splits.csv'}: train ${r.split.train.length}, val ${r.split.val.length}, test ${r.split.test.length}. Every run now keeps these images in their split; new images are added by the same rule.`;
	s.log.info(msg);
	void vscode.window.showInformationMessage(`Radiograph Review: ${msg}`);
}

export function showDatasetCommand(s: Services): void {
	DatasetPanel.show(s);
}
