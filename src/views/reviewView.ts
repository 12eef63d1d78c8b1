// Sidebar › Review: how far the review of the current dataset has come (unreviewed, flagged, relabelled images),
// from its `radreview-annotations.csv` once the annotations feature has written one.
import * as vscode from 'vscode';
import { Disposable } from '../util/dispose';
import { datasetRoot } from '../util/workspace';
import { readReviewCounts, type ReviewCounts } from './reviewInfo';

type ReviewNode = { label: string; count: number; icon: string; tooltip: string; file: string } | { label: string; icon: string; tooltip: string };

export class ReviewView extends Disposable implements vscode.TreeDataProvider<ReviewNode> {
	private readonly emitter = this._register(new vscode.EventEmitter<ReviewNode | undefined>());
	readonly onDidChangeTreeData = this.emitter.event;

	/** @param imageCount the dataset's size once the Datasets view has scanned it */
	constructor(private readonly imageCount: () => number | undefined) {
		super();
	}

	refresh(): void {
		this.emitter.fire(undefined);
	}

	getTreeItem(n: ReviewNode): vscode.TreeItem {
		const item = new vscode.TreeItem('count' in n ? `${n.label}: ${n.count}` : n.label);
		item.iconPath = new vscode.ThemeIcon(n.icon);
		item.tooltip = n.tooltip;
		if ('file' in n) item.command = { command: 'vscode.open', title: 'Open Annotations', arguments: [vscode.Uri.file(n.file)] };
		return item;
	}

	async getChildren(n?: ReviewNode): Promise<ReviewNode[]> {
		if (n) return [];
		const root = datasetRoot();
		if (!root) return [];
		let counts: ReviewCounts | undefined;
		try {
			counts = await readReviewCounts(root, this.imageCount());
		} catch (e) {
			// The engine's own error (file, line, reason): training refuses the same file.
			return [{ label: `Annotations unreadable: ${(e as Error).message}`, icon: 'error', tooltip: (e as Error).message }];
		}
		// No file yet: the view's welcome content explains where review state comes from.
		if (!counts) return [];
		const file = counts.file;
		const unreviewed: ReviewNode =
			counts.unreviewed === undefined
				? { label: 'Reviewed', count: counts.reviewed, icon: 'eye', tooltip: 'Images marked reviewed (the dataset is not scanned yet, so the unreviewed count is unknown).', file }
				: { label: 'Unreviewed', count: counts.unreviewed, icon: 'eye-closed', tooltip: `${counts.reviewed} of ${counts.reviewed + counts.unreviewed} images reviewed.`, file };
		return [
			unreviewed,
			{ label: 'Flagged', count: counts.flagged, icon: 'flag', tooltip: 'Images with a flag (exclude, not frontal, duplicate, poor quality, label doubtful, …).', file },
			{ label: 'Relabelled', count: counts.relabelled, icon: 'tag', tooltip: 'Images whose corrected label differs from the original one.', file },
		];
	}
}
