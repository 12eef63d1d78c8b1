// Dataset panel controller: class counts, the seeded split and per-file problems of the dataset folder.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { classSourceTable } from '../engine/data/sources';
import { CLASS_NAMES, type BackboneId, type ClassName, type SplitName } from '../engine/types';
import type { BackboneChoice } from '../protocol/common';
import { emptyClassCounts, isDatasetFromWebview, type DatasetFromWebview, type DatasetImageView, type DatasetToWebview, type DatasetView, type SplitCounts } from '../protocol/dataset';
import type { SplitsResult } from '../protocol/engine';
import { confinePath } from '../util/pathConfinement';
import { readSettings, updateSetting } from '../util/settings';
import type { Services } from '../util/services';
import { datasetRoot, pickDatasetFolder, readableRoots, workDir } from '../util/workspace';
import { AnnotationBridge } from './annotationBridge';
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
	static readonly viewType = 'radiographReview.dataset';

	private dataset: DatasetView | null = null;
	private busy: string | null = null;
	/** Why the chosen folder shows no dataset (shown instead of a stale one). */
	private problem: string | null = null;
	/** The Train picker (backbones marked by whether their weights resolve) and its default. */
	private picker: { choices: BackboneChoice[]; defaultBackbone: BackboneId } | undefined;
	/** Aborts the thumbnails of the previous scan when the dataset is scanned again. */
	private thumbsAbort: AbortController | undefined;
	private readonly annotations: AnnotationBridge;

	static show(services: Services): DatasetPanel {
		if (DatasetPanel.current) DatasetPanel.current.reveal();
		else DatasetPanel.current = new DatasetPanel(services);
		void DatasetPanel.current.refresh().catch((e: unknown) => {
			services.log.error(`Dataset: ${(e as Error).message}`);
			void vscode.window.showErrorMessage(`Radiograph Review: ${(e as Error).message}`);
		});
		return DatasetPanel.current;
	}

	/** After a window reload: VS Code hands back the panel it restored. */
	static revive(services: Services, panel: vscode.WebviewPanel): void {
		// Hidden panels are restored only when first shown: a command may have opened a new one meanwhile.
		if (DatasetPanel.current) {
			panel.dispose();
			return;
		}
		DatasetPanel.current = new DatasetPanel(services, panel);
		DatasetPanel.show(services);
	}

	private constructor(
		private readonly services: Services,
		existing?: vscode.WebviewPanel,
	) {
		super(
			{ extensionUri: services.extensionUri, log: services.log },
			// The webview sees thumbnails only (never the dataset itself).
			{ name: 'dataset', viewType: DatasetPanel.viewType, title: 'Radiograph Dataset', extraRoots: thumbRoots(), isMessage: isDatasetFromWebview, existing },
		);
		this._register({ dispose: () => (DatasetPanel.current = undefined) });
		this._register({ dispose: () => this.thumbsAbort?.abort() });
		this._register(services.backboneWeights.onDidChange(() => void this.refreshPicker()));
		void this.refreshPicker();
		this._register(
			vscode.workspace.onDidChangeConfiguration((e) => {
				if (e.affectsConfiguration('radiographReview.datasetFolder')) void this.refresh();
			}),
		);
		// Relabels and exclusions change the counts and the split: rescan shortly after the last edit, and again once
		// it is on disk (the scan reads the file; a write can come after the first rescan).
		let timer: NodeJS.Timeout | undefined;
		const rescan = (): void => {
			clearTimeout(timer);
			timer = setTimeout(() => void this.refresh().catch((e: unknown) => services.log.warn(`Dataset: ${(e as Error).message}`)), 1500);
		};
		this._register(services.annotations.onDidChange(rescan));
		this._register(services.annotations.onDidWrite(rescan));
		this._register({ dispose: () => clearTimeout(timer) });
		this.annotations = new AnnotationBridge(services.annotations, () => (this.dataset ? { root: this.dataset.root, paths: new Set(this.dataset.images.map((i) => i.relPath)) } : undefined));
		this._register(this.annotations.watch((m) => this.post(m)));
	}

	/** Recheck the Train picker in the worker; never rejects. */
	private async refreshPicker(): Promise<void> {
		try {
			this.picker = await this.services.backboneWeights.choices(this.services.sessions.lastTrained());
			this.sendSnapshot();
		} catch (e) {
			this.services.log.warn(`Dataset panel: backbone check failed: ${(e as Error).message}`);
		}
	}

	/** Scan and split the configured dataset in the worker. */
	async refresh(): Promise<void> {
		const root = datasetRoot();
		this.problem = null;
		if (!root) {
			this.dataset = null;
			this.sendSnapshot();
			return;
		}
		this.thumbsAbort?.abort();
		const thumbDir = thumbsDir();
		this.setExtraRoots(thumbRoots());
		const s = readSettings();
		this.busy = `Scanning ${root}…`;
		this.sendSnapshot();
		try {
			const r = await this.services.engine.run(
				{ type: 'splits', dataDir: root, mode: s.splitMode, seed: s.seed, testFraction: s.testFraction, valFraction: s.valFraction },
				{ onProgress: (e) => e.kind === 'stage' && this.setBusy(`${e.stage} ${e.done}/${e.total}`) },
			);
			this.dataset = toView(r);
			this.services.log.info(
				`Dataset ${root}: ${r.scan.images.length} images, ${r.scan.errors.length} problem(s); split ${r.split.train.length}/${r.split.val.length}/${r.split.test.length} (${r.split.mode}, seed ${r.split.seed})`,
			);
		} catch (e) {
			// Never keep showing the previous folder, and never leave the rejection unhandled (the listener voids this).
			this.dataset = null;
			this.problem = (e as Error).message;
			this.services.log.warn(`Dataset: ${this.problem}`);
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
				const r = await this.services.engine.run({ type: 'thumbs', paths: [...abs.keys()], roots: readableRoots(), outDir, size: THUMB_SIZE }, { signal: ctl.signal });
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
			problem: this.problem,
			backbones: this.picker?.choices,
			defaultBackbone: this.picker?.defaultBackbone,
			settings: { splitMode: s.splitMode, seed: s.seed, testFraction: s.testFraction, valFraction: s.valFraction, imageSize: s.imageSize },
		};
	}

	/** The snapshot, then the annotations of the thumbnails. */
	protected override sendSnapshot(): void {
		super.sendSnapshot();
		void this.annotations.message().then((m) => this.post(m));
	}

	protected async onMessage(msg: DatasetFromWebview): Promise<void> {
		switch (msg.type) {
			case 'annotate':
			case 'undoAnnotation':
				try {
					await this.annotations.handle(msg);
				} catch (e) {
					this.post({ type: 'notice', level: 'error', message: (e as Error).message });
				}
				return;
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

function thumbRoots(): vscode.Uri[] {
	const dir = thumbsDir();
	return dir ? [vscode.Uri.file(dir)] : [];
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
		...(r.annotations ? { annotations: { ...r.annotations, excludedImages: (r.split.excluded ?? []).slice(0, MAX_IMAGES) } } : {}),
	};
}
