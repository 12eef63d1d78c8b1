// Sidebar › Datasets: the current dataset folder with images per class × split and the files it could not read.
// The scan runs in the engine worker when the view first shows the dataset (never at activation).
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CLASS_NAMES, type FileError } from '../engine/types';
import { unsplitText } from '../engine/wording';
import type { SplitsResult } from '../protocol/engine';
import { Disposable } from '../util/dispose';
import type { Services } from '../util/services';
import { readSettings } from '../util/settings';
import { datasetRoot } from '../util/workspace';

const SPLITS = ['train', 'val', 'test'] as const;

export type DatasetNode =
	| { kind: 'dataset'; root: string }
	| { kind: 'status'; text: string; icon: string; tooltip?: string }
	| { kind: 'class'; name: string; counts: Record<(typeof SPLITS)[number], number>; total: number }
	| { kind: 'splits'; counts: Record<(typeof SPLITS)[number], number>; leaked: number }
	| { kind: 'errors'; errors: FileError[] }
	| { kind: 'error'; error: FileError; root: string };

type Scan = { root: string; key: string; result?: SplitsResult; error?: string; pending?: Promise<void> };

export class DatasetsView extends Disposable implements vscode.TreeDataProvider<DatasetNode> {
	private readonly emitter = this._register(new vscode.EventEmitter<DatasetNode | undefined>());
	readonly onDidChangeTreeData = this.emitter.event;
	private readonly changed = this._register(new vscode.EventEmitter<void>());
	/** Fires when a scan finished (the Review view needs the image count). */
	readonly onDidScan = this.changed.event;
	private scan: Scan | undefined;

	constructor(private readonly s: Services) {
		super();
	}

	/** Number of images of the current dataset, once scanned. */
	get imageCount(): number | undefined {
		return this.scan?.result?.scan.images.length;
	}

	/** Forget the scan and redraw (dataset or settings changed on disk). */
	refresh(): void {
		this.scan = undefined;
		this.emitter.fire(undefined);
	}

	getTreeItem(n: DatasetNode): vscode.TreeItem {
		switch (n.kind) {
			case 'dataset': {
				const item = new vscode.TreeItem(path.basename(n.root) || n.root, vscode.TreeItemCollapsibleState.Expanded);
				const r = this.scan?.root === n.root ? this.scan.result : undefined;
				item.description = r ? `${r.scan.images.length} images` : undefined;
				item.tooltip = `${n.root}\nSplit: ${readSettings().splitMode}, seed ${readSettings().seed}`;
				item.iconPath = new vscode.ThemeIcon('database');
				item.resourceUri = vscode.Uri.file(n.root);
				item.contextValue = 'dataset';
				item.command = { command: 'radiographReview.showDataset', title: 'Show Dataset Splits' };
				return item;
			}
			case 'status': {
				const item = new vscode.TreeItem(n.text);
				item.iconPath = new vscode.ThemeIcon(n.icon);
				item.tooltip = n.tooltip;
				return item;
			}
			case 'class': {
				const item = new vscode.TreeItem(`${n.name}: ${n.total}`);
				item.description = SPLITS.map((sp) => `${sp} ${n.counts[sp]}`).join(' · ');
				item.iconPath = new vscode.ThemeIcon('symbol-class');
				item.tooltip = `${n.total} ${n.name} images — ${item.description}`;
				return item;
			}
			case 'splits': {
				const item = new vscode.TreeItem('All classes');
				item.description = SPLITS.map((sp) => `${sp} ${n.counts[sp]}`).join(' · ') + (n.leaked ? ` · ${n.leaked} patients in two splits` : '');
				item.iconPath = new vscode.ThemeIcon('split-horizontal');
				return item;
			}
			case 'errors': {
				const item = new vscode.TreeItem(`Unreadable files: ${n.errors.length}`, vscode.TreeItemCollapsibleState.Collapsed);
				item.iconPath = new vscode.ThemeIcon('warning');
				item.contextValue = 'unreadable';
				return item;
			}
			case 'error': {
				const item = new vscode.TreeItem(path.relative(n.root, n.error.path) || n.error.path);
				item.description = n.error.reason;
				item.tooltip = `${n.error.path}\n${n.error.reason}`;
				item.resourceUri = vscode.Uri.file(n.error.path);
				item.iconPath = new vscode.ThemeIcon('error');
				return item;
			}
		}
	}

	getChildren(n?: DatasetNode): Promise<DatasetNode[]> {
		// The executor runs now and turns a throw into a rejection, as the async method did.
		return new Promise((resolve) => resolve(this.childrenOf(n)));
	}

	private childrenOf(n?: DatasetNode): DatasetNode[] {
		if (!n) {
			const root = datasetRoot();
			// No dataset: the view's welcome content offers Select Dataset / Open Sample Radiographs.
			return root ? [{ kind: 'dataset', root }] : [];
		}
		if (n.kind === 'errors') return n.errors.map((error) => ({ kind: 'error', error, root: this.scan?.root ?? '' }));
		if (n.kind !== 'dataset') return [];
		const scan = this.ensureScan(n.root);
		if (scan.pending) {
			void scan.pending.then(() => this.emitter.fire(undefined));
			return [{ kind: 'status', text: 'Scanning…', icon: 'loading~spin' }];
		}
		if (scan.error) return [{ kind: 'status', text: 'Could not scan the dataset', icon: 'error', tooltip: scan.error }];
		return nodesOf(scan.result!);
	}

	private ensureScan(root: string): Scan {
		const set = readSettings();
		const key = JSON.stringify([root, set.splitMode, set.seed, set.testFraction, set.valFraction]);
		if (this.scan?.key === key) return this.scan;
		const scan: Scan = { root, key };
		this.s.log.info(`Datasets view: scanning ${root}`);
		scan.pending = this.s.engine
			.run({ type: 'splits', dataDir: root, mode: set.splitMode, seed: set.seed, testFraction: set.testFraction, valFraction: set.valFraction })
			.then(
				(result) => {
					scan.result = result;
					this.s.log.info(`Datasets view: ${result.scan.images.length} images, ${result.scan.errors.length} unreadable in ${root}`);
				},
				(e: Error) => {
					scan.error = e.message;
					this.s.log.warn(`Datasets view: ${root}: ${e.message}`);
				},
			)
			.finally(() => {
				scan.pending = undefined;
				if (this.scan === scan) this.changed.fire();
			});
		this.scan = scan;
		return scan;
	}
}

/** Class × split counts from a scan and its split. */
export function nodesOf(r: SplitsResult): DatasetNode[] {
	const labelOf = new Map(r.scan.images.map((i) => [i.relPath, i.label]));
	const zero = (): Record<(typeof SPLITS)[number], number> => ({ train: 0, val: 0, test: 0 });
	const perClass = new Map<string, Record<(typeof SPLITS)[number], number>>(CLASS_NAMES.map((c) => [c, zero()]));
	for (const sp of SPLITS) {
		for (const rel of r.split[sp]) {
			const label = labelOf.get(rel) ?? 'unlabelled';
			if (!perClass.has(label)) perClass.set(label, zero());
			perClass.get(label)![sp]++;
		}
	}
	const nodes: DatasetNode[] = [...perClass].map(([name, counts]) => ({ kind: 'class', name, counts, total: counts.train + counts.val + counts.test }));
	const unsplit = r.scan.images.length - SPLITS.reduce((a, sp) => a + r.split[sp].length, 0);
	nodes.push({ kind: 'splits', counts: { train: r.split.train.length, val: r.split.val.length, test: r.split.test.length }, leaked: r.split.leakedPatients.length });
	if (unsplit > 0) nodes.push({ kind: 'status', text: unsplitText(unsplit), icon: 'info' });
	if (r.scan.errors.length) nodes.push({ kind: 'errors', errors: r.scan.errors });
	return nodes;
}
