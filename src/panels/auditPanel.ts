// Audit panel controller: runs the dataset audit in the engine worker, shows each finding with thumbnails,
// saves the JSON report and Markdown summary beside the caches, and turns findings into review queues.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { CLASS_NAMES, type ClassName } from '../engine/types';
import type { AuditImage, AuditReport, DuplicatePair, OodImage } from '../engine/audit/report';
import { auditMarkdown } from '../engine/audit/run';
import { writeFileAtomic, writeJsonAtomic } from '../engine/util/atomic';
import { isAuditFromWebview, type AuditFindingName, type AuditFromWebview, type AuditItemView, type AuditToWebview, type AuditView } from '../protocol/audit';
import { confinePath } from '../util/pathConfinement';
import { stageText } from '../util/progressText';
import { readSettings } from '../util/settings';
import type { Services } from '../util/services';
import { ensureDatasetRoot, readableRoots, requireTrust, requireWorkDir, UserError } from '../util/workspace';
import { BasePanel } from './basePanel';
import { PredictionsPanel, type ShownImage } from './predictionsPanel';

/** Images listed per finding in the panel (the JSON report has them all). */
const MAX_ITEMS = 60;
const THUMB_SIZE = 128;

export class AuditPanel extends BasePanel<AuditToWebview, AuditFromWebview> {
	static current: AuditPanel | undefined;

	private report: AuditReport | null = null;
	private view: AuditView | null = null;
	private busy: string | null = null;
	private decisions: Record<string, string> = {};

	static show(services: Services): AuditPanel {
		if (AuditPanel.current) AuditPanel.current.reveal();
		else AuditPanel.current = new AuditPanel(services);
		return AuditPanel.current;
	}

	private constructor(private readonly services: Services) {
		super({ extensionUri: services.extensionUri, log: services.log }, { name: 'audit', viewType: 'radiographReview.audit', title: 'Dataset Audit', extraRoots: [], isMessage: isAuditFromWebview });
		this._register({ dispose: () => (AuditPanel.current = undefined) });
	}

	/** Runs the audit with a cancellable notification; the panel shows progress in its busy line. */
	async run(): Promise<void> {
		requireTrust('The audit');
		const wd = requireWorkDir();
		const dataDir = await ensureDatasetRoot();
		if (!dataDir) throw new UserError('Pick a dataset folder first.');
		const seed = readSettings().seed;
		this.setBusy(`Auditing ${path.basename(dataDir)}…`);
		try {
			const report = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: 'Auditing the dataset', cancellable: true }, async (progress, token) => {
				const controller = new AbortController();
				const sub = token.onCancellationRequested(() => controller.abort());
				try {
					return await this.services.engine.run(
						{ type: 'audit', dataDir, workDir: wd, backbone: 'resnet50', seed },
						{
							signal: controller.signal,
							onProgress: (e) => {
								if (e.kind === 'stage') {
									const text = stageText(e);
									progress.report({ message: text });
									this.setBusy(`Auditing: ${text}`);
								} else if (e.kind === 'fileError') this.services.log.warn(`${e.error.path}: ${e.error.reason}`);
								else if (e.kind === 'log') this.services.log[e.level](e.message);
							},
						},
					);
				} finally {
					sub.dispose();
				}
			});
			const { linked: _linked, ...stored } = report;
			const dir = path.join(wd, 'audit');
			await writeJsonAtomic(path.join(dir, 'audit.json'), stored);
			await writeFileAtomic(path.join(dir, 'audit.md'), auditMarkdown(stored));
			for (const w of stored.sources.warnings) this.services.log.warn(`Audit: ${w.message}`);
			await this.setReport(stored, path.join(dir, 'audit.json'));
		} finally {
			this.setBusy(null);
		}
	}

	private setBusy(text: string | null): void {
		this.busy = text;
		this.sendSnapshot();
	}

	private async setReport(r: AuditReport, reportPath: string): Promise<void> {
		this.report = r;
		const abs = (rel: string) => path.join(r.dataDir, rel);
		const li = r.labelIssues.issues.slice(0, MAX_ITEMS);
		const od = r.outOfDistribution.flagged.slice(0, MAX_ITEMS);
		const pairs = r.duplicates.pairs.slice(0, MAX_ITEMS / 2);
		const shown = [...li, ...od, ...pairs.flatMap((p) => [p.a, p.b])].map((x) => abs(x.relPath));
		let thumbs: Record<string, string> = {};
		const thumbDir = path.join(requireWorkDir(), 'cache', 'thumbs');
		try {
			// The report's paths are data: the worker thumbnails only those inside the readable roots.
			thumbs = (await this.services.engine.run({ type: 'thumbs', paths: [...new Set(shown)], roots: readableRoots(), outDir: thumbDir, size: THUMB_SIZE })).thumbs;
		} catch (e) {
			this.services.log.warn(`Audit thumbnails: ${(e as Error).message}`);
		}
		this.setExtraRoots([vscode.Uri.file(thumbDir)]);
		const item = (x: AuditImage, detail: string): AuditItemView => {
			const t = thumbs[abs(x.relPath)];
			return { relPath: x.relPath, label: x.label, split: x.split, ...(x.source ? { source: x.source } : {}), detail, ...(t ? { thumbUri: this.asWebviewUri(t) } : {}) };
		};
		const pct = (p: number) => `${(100 * p).toFixed(0)} %`;
		this.view = {
			dataDir: r.dataDir,
			backbone: r.backbone,
			weights: r.weights,
			images: r.images,
			createdAt: r.createdAt,
			seconds: r.timing.total ?? 0,
			labelIssues: {
				count: r.labelIssues.issues.length,
				outOfFoldAccuracy: r.labelIssues.outOfFoldAccuracy,
				items: li.map((x) => ({
					...item(x, `given ${x.label}, looks ${x.suggested} (${CLASS_NAMES.map((c, i) => `${c[0]} ${pct(x.probs[i])}`).join(', ')})`),
					suggested: x.suggested,
					probs: x.probs,
				})),
			},
			outOfDistribution: { count: r.outOfDistribution.flagged.length, threshold: r.outOfDistribution.threshold, items: od.map((x) => item(x, x.details.join('; '))) },
			duplicates: {
				count: r.duplicates.pairs.length,
				crossSplit: r.duplicates.crossSplitPairs,
				crossSplitAfterLinking: r.duplicates.crossSplitAfterLinking,
				pairs: pairs.map((p) => ({ a: item(p.a, p.a.split), b: item(p.b, p.b.split), kind: p.kind, crossSplit: p.crossSplit, cosine: p.cosine, hamming: p.hamming })),
			},
			sources: r.sources,
			mitigations: r.mitigations,
			decisions: this.decisions,
			reportPath,
		};
		this.sendSnapshot();
	}

	protected snapshot(): AuditToWebview {
		return { type: 'snapshot', view: this.view && { ...this.view, decisions: this.decisions }, busy: this.busy };
	}

	protected async onMessage(msg: AuditFromWebview): Promise<void> {
		switch (msg.type) {
			case 'ready':
			case 'error':
				return;
			case 'run':
				return this.run();
			case 'openQueue':
				return this.openQueue(msg.finding);
			case 'exclude':
			case 'relabel': {
				const x = this.known(msg.relPath);
				const decision = msg.type === 'exclude' ? 'excluded' : `relabelled ${msg.label}`;
				await this.annotate(x.relPath, msg.type === 'exclude' ? { action: 'exclude' } : { action: 'relabel', label: msg.label });
				this.decisions[x.relPath] = decision;
				this.sendSnapshot();
				return;
			}
			case 'openFile': {
				const x = this.known(msg.relPath);
				const real = await confinePath(path.join(this.report!.dataDir, x.relPath), [this.report!.dataDir]);
				await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(real), { preview: true, viewColumn: vscode.ViewColumn.Beside });
				return;
			}
		}
	}

	/** Only images of the current report may be acted on. */
	private known(relPath: string): AuditImage {
		const r = this.report;
		const x = r && [...r.labelIssues.issues, ...r.outOfDistribution.flagged, ...r.duplicates.pairs.flatMap((p) => [p.a, p.b])].find((i) => i.relPath === relPath);
		if (!x) throw new UserError(`'${relPath}' is not an image of the current audit`);
		return x;
	}

	/** Writes the decision to the dataset's radreview-annotations.csv (the shared annotation store: undo, decorations, training). */
	private async annotate(relPath: string, edit: { action: 'exclude' } | { action: 'relabel'; label: ClassName }): Promise<void> {
		const r = this.report!;
		if ((await this.services.annotations.open()) !== r.dataDir) throw new UserError(`The dataset folder changed since the audit of ${r.dataDir}: run the audit again.`);
		// The flag says why: training leaves out 'exclude', 'not-frontal' and 'duplicate' alike.
		const flag = r.outOfDistribution.flagged.some((x) => x.relPath === relPath)
			? 'not-frontal'
			: r.duplicates.pairs.some((p) => p.a.relPath === relPath || p.b.relPath === relPath)
				? 'duplicate'
				: 'exclude';
		await this.services.annotations.apply([edit.action === 'exclude' ? { kind: 'flag', path: relPath, flag } : { kind: 'label', path: relPath, label: edit.label }]);
	}

	/** A finding's images in the Predictions grid, worst first: the reviewer relabels, flags or keeps each. */
	private async openQueue(finding: AuditFindingName): Promise<void> {
		const r = this.report;
		if (!r) return;
		const base = (x: AuditImage) => ({
			relPath: x.relPath,
			path: path.join(r.dataDir, x.relPath),
			label: x.label,
			split: x.split,
			patientId: x.patientId,
			...(x.source ? { source: x.source } : {}),
		});
		// Only label issues come with a prediction (out-of-fold); the other checks flag an image without
		// classifying it, so their queues show what flagged it instead of a made-up prediction.
		const flagged = (x: AuditImage, note: string): ShownImage => ({ ...base(x), predicted: null, probs: [], note });
		const predictions: ShownImage[] =
			finding === 'labelIssues'
				? r.labelIssues.issues.map((x) => ({ ...base(x), predicted: x.suggested, probs: x.probs, disputed: true }))
				: finding === 'outOfDistribution'
					? r.outOfDistribution.flagged.map((x) => flagged(x, oodNote(x, r.outOfDistribution.threshold)))
					: duplicateNotes(r.duplicates.pairs).map(([x, note]) => flagged(x, note));
		const titles: Record<AuditFindingName, string> = { labelIssues: 'label issues', outOfDistribution: 'unusual images', duplicates: 'duplicates' };
		const setKey = `audit:${r.dataDir}:${finding}`;
		const panel = PredictionsPanel.forSet(this.services, setKey);
		await panel.setInput({
			setKey,
			title: `Audit — ${titles[finding]} (${predictions.length})`,
			source: 'folder',
			backbone: r.backbone,
			weights: { pretrained: true, name: r.weights, sha256: '' },
			runDir: '',
			root: r.dataDir,
			predictions,
			errors: [],
		});
	}
}

/** An out-of-distribution image's note: its audit score against the threshold, and what else flagged it. */
export function oodNote(x: OodImage, threshold: number): string {
	const score = `audit score ${x.score.toFixed(2)} (threshold ${threshold.toFixed(2)})`;
	return x.details.length ? `${score}: ${x.details.join('; ')}` : score;
}

/** Each image of the duplicate pairs once, with the image it duplicates (its closest partner). */
export function duplicateNotes(pairs: readonly DuplicatePair[]): [AuditImage, string][] {
	const out = new Map<string, [AuditImage, string]>();
	for (const p of pairs) {
		const what = `${p.kind} duplicate, cosine ${p.cosine.toFixed(3)}`;
		if (!out.has(p.a.relPath)) out.set(p.a.relPath, [p.a, `${what} of ${p.b.relPath}`]);
		if (!out.has(p.b.relPath)) out.set(p.b.relPath, [p.b, `${what} of ${p.a.relPath}`]);
	}
	return [...out.values()];
}
