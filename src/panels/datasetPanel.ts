// Dataset panel controller: class counts, the seeded split and per-file problems of the dataset folder.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { classSourceTable } from '../engine/data/sources';
import { CLASS_NAMES, type ClassName, type SplitName } from '../engine/types';
import { emptyClassCounts, isDatasetFromWebview, type DatasetFromWebview, type DatasetImageView, type DatasetToWebview, type DatasetView, type SplitCounts } from '../protocol/dataset';
import type { SplitsResult } from '../protocol/engine';
import { confinePath } from '../util/pathConfinement';
import { readSettings, updateSetting } from '../util/settings';
import type { Services } from '../util/services';
import { datasetRoot, pickDatasetFolder, workDir } from '../util/workspace';
import { BasePanel } from './basePanel';
import { trainCommandFor } from './trainingPanel';

/** The table is for browsing; thousands of rows are enough, counts cover the rest. */
const MAX_IMAGES = 5000;
/** Thumbnail edge in pixels (shown at 96 px); the same cache as the predictions grid, which uses 160. */
const THUMB_SIZE = 128;
/** Thumbnails are made in chunks so the first page of every split shows up quickly. */
const THUMB_CHUNK = 30;

export class DatasetPanel extends BasePanel<DatasetToWebview, DatasetFromWebview> {
	static current: DatasetPanel | undefined;

	private dataset: DatasetView | null = null;
	private busy: string | null = null;
	/** Aborts the thumbnails of the previous scan when the dataset is scanned again. */
	private thumbsAbort: AbortController | undefined;

	static show(services: Services): DatasetPanel {
		if (DatasetPanel.current) DatasetPanel.current.reveal();
		else DatasetPanel.current = new DatasetPanel(services);
		void DatasetPanel.current.refresh().catch((e: unknown) => {
			services.log.error(`Dataset: ${(e as Error).message}`);
			void vscode.window.showErrorMessage(`Radiograph Review: ${(e as Error).message}`);
		});
		return DatasetPanel.current;
	}

	private constructor(private readonly services: Services) {
		const root = datasetRoot();
		super(
			{ extensionUri: services.extensionUri, log: services.log },
			{ name: 'dataset', viewType: 'radiographReview.dataset', title: 'Radiograph Dataset', extraRoots: root ? [vscode.Uri.file(root)] : [], isMessage: isDatasetFromWebview },
		);
		this._register({ dispose: () => (DatasetPanel.current = undefined) });
		this._register({ dispose: () => this.thumbsAbort?.abort() });
		this._register(
			vscode.workspace.onDidChangeConfiguration((e) => {
				if (e.affectsConfiguration('radiographReview.datasetFolder')) void this.refresh();
			}),
		);
	}

	/** Scan and split the configured dataset in the worker. */
	async refresh(): Promise<void> {
		const root = datasetRoot();
		if (!root) {
			this.dataset = null;
			this.sendSnapshot();
			return;
		}
		this.thumbsAbort?.abort();
		const thumbDir = thumbsDir();
		// Both roots up front: changing them later reloads the webview.
		this.setExtraRoots(thumbDir ? [vscode.Uri.file(root), vscode.Uri.file(thumbDir)] : [vscode.Uri.file(root)]);
		const s = readSettings();
		this.busy = `Scanning ${root}…`;
		this.sendSnapshot();
		try {
			const r = await this.services.engine.run(
				{ type: 'splits', dataDir: root, mode: s.splitMode, seed: s.seed, testFraction: s.testFraction, valFraction: s.valFraction },
				{ onProgress: (e) => e.kind === 'stage' && this.setBusy(`${e.stage} ${e.done}/${e.total}`) },
			);
			this.dataset = toView(r);
			this.services.log.info(`Dataset ${root}: ${r.scan.images.length} images, ${r.scan.errors.length} problem(s); split ${r.split.train.length}/${r.split.val.length}/${r.split.test.length} (${r.split.mode}, seed ${r.split.seed})`);
		} finally {
			this.busy = null;
			this.sendSnapshot();
		}
		if (thumbDir && this.dataset) void this.makeThumbs(this.dataset, thumbDir);
	}

	/** Thumbnails in the worker (cached on disk), first page of each split first; each chunk goes to the webview as it is made. */
	private async makeThumbs(d: DatasetView, outDir: string): Promise<void> {
		const ctl = new AbortController();
		this.thumbsAbort = ctl;
		const order = thumbOrder(d.images);
		let failed = 0;
		try {
			for (let i = 0; i < order.length; i += THUMB_CHUNK) {
				const chunk = order.slice(i, i + THUMB_CHUNK);
				const abs = new Map(chunk.map((im) => [path.join(d.root, im.relPath), im]));
				const r = await this.services.engine.run({ type: 'thumbs', paths: [...abs.keys()], outDir, size: THUMB_SIZE }, { signal: ctl.signal });
				if (ctl.signal.aborted || this.isDisposed) return;
				failed += r.errors.length;
				const made: Record<string, string> = {};
				for (const [p, t] of Object.entries(r.thumbs)) {
					const im = abs.get(p);
					if (!im) continue;
					im.thumbUri = this.asWebviewUri(t);
					made[im.relPath] = im.thumbUri;
				}
				this.post({ type: 'thumbs', thumbs: made });
			}
			if (failed) this.services.log.warn(`Dataset thumbnails: ${failed} image(s) could not be read (listed under Unreadable files after a scan).`);
		} catch (e) {
			if (!ctl.signal.aborted) this.services.log.warn(`Dataset thumbnails failed: ${(e as Error).message}`);
		}
	}

	private setBusy(text: string): void {
		this.busy = text;
		this.sendSnapshot();
	}

	protected snapshot(): DatasetToWebview {
		const s = readSettings();
		return {
			type: 'snapshot',
			dataset: this.dataset,
			busy: this.busy,
			settings: { splitMode: s.splitMode, seed: s.seed, testFraction: s.testFraction, valFraction: s.valFraction, imageSize: s.imageSize },
		};
	}

	protected async onMessage(msg: DatasetFromWebview): Promise<void> {
		switch (msg.type) {
			case 'ready':
			case 'error':
				return;
			case 'selectFolder':
				// The configuration listener refreshes.
				await pickDatasetFolder();
				return;
			case 'computeSplits':
				await updateSetting('splitMode', msg.mode);
				await updateSetting('seed', msg.seed);
				await updateSetting('testFraction', msg.testFraction);
				await updateSetting('valFraction', msg.valFraction);
				await this.refresh();
				return;
			case 'preprocess':
				await vscode.commands.executeCommand('radiographReview.preprocessDataset');
				return;
			case 'openImage': {
				const root = datasetRoot();
				if (!root) return;
				const real = await confinePath(msg.relPath, [root]);
				await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(real), { preview: true, viewColumn: vscode.ViewColumn.Beside });
				return;
			}
			case 'train':
				await vscode.commands.executeCommand(trainCommandFor(msg.backbone));
				return;
		}
	}
}

function thumbsDir(): string | undefined {
	const wd = workDir();
	return wd ? path.join(wd, 'cache', 'thumbs') : undefined;
}

/** The order the panel shows images in: round-robin over the splits, so every split's first page comes first. */
export function thumbOrder(images: DatasetImageView[]): DatasetImageView[] {
	const groups = new Map<string, DatasetImageView[]>();
	for (const im of images) {
		const k = im.split ?? 'none';
		let g = groups.get(k);
		if (!g) groups.set(k, (g = []));
		g.push(im);
	}
	const out: DatasetImageView[] = [];
	const lists = [...groups.values()];
	for (let i = 0; out.length < images.length; i++) for (const g of lists) if (i < g.length) out.push(g[i]);
	return out;
}

function toView(r: SplitsResult): DatasetView {
	const splitOf = new Map<string, SplitName>();
	for (const name of ['train', 'val', 'test'] as const) for (const rel of r.split[name]) splitOf.set(rel, name);
	const classCounts = emptyClassCounts();
	const splitCounts = Object.fromEntries(CLASS_NAMES.map((c) => [c, { train: 0, val: 0, test: 0 }])) as Record<ClassName, SplitCounts>;
	const patients = new Set<string>();
	const images: DatasetImageView[] = [];
	for (const img of r.scan.images) {
		classCounts[img.label ?? 'unlabelled']++;
		patients.add(img.patientId);
		const split = splitOf.get(img.relPath);
		if (img.label && split) splitCounts[img.label][split]++;
		if (images.length < MAX_IMAGES) {
			const v: DatasetImageView = { relPath: img.relPath, label: img.label, patientId: img.patientId };
			if (img.source) v.source = img.source;
			if (split) v.split = split;
			images.push(v);
		}
	}
	return {
		root: r.scan.root,
		layout: r.scan.layout,
		classCounts,
		splitCounts,
		total: r.scan.images.length,
		patients: patients.size,
		sources: classSourceTable(r.scan.images),
		split: {
			mode: r.split.mode,
			seed: r.split.seed,
			testFraction: r.split.testFraction,
			valFraction: r.split.valFraction,
			counts: { train: r.split.train.length, val: r.split.val.length, test: r.split.test.length },
			leakedPatients: r.split.leakedPatients,
		},
		images,
		errors: r.scan.errors,
	};
}
