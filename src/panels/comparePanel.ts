// Compare panel controller: every finished run of the workspace side by side.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { toCsv } from '../engine/data/csv';
import { runTimes } from '../engine/run/times';
import { withCheckedSources } from '../protocol/common';
import type { NoticeMessage } from '../protocol/common';
import type { CompareFromWebview, CompareRun, CompareToWebview } from '../protocol/compare';
import type { InterruptedRunView } from '../protocol/engine';
import { isCompareFromWebview } from '../protocol/compare';
import { wilson } from '../engine/report/stats';
import type { Services } from '../util/services';
import { DISPLAY_NAMES } from '../util/trainingSessions';
import { workDir } from '../util/workspace';
import { BasePanel } from './basePanel';
import { exportDir, saveExport } from './exportFile';
import { trainCommandFor } from './trainingPanel';

export class ComparePanel extends BasePanel<CompareToWebview, CompareFromWebview> {
	static current: ComparePanel | undefined;
	static readonly viewType = 'radiographReview.compare';

	private runs: CompareRun[] = [];
	private interrupted: InterruptedRunView[] = [];
	private busy: string | null = null;
	/** The last notice (e.g. Train All's summary), replayed after every snapshot so a reload keeps it. */
	private lastNotice: NoticeMessage | undefined;

	static show(services: Services): ComparePanel {
		if (ComparePanel.current) ComparePanel.current.reveal();
		else ComparePanel.current = new ComparePanel(services);
		const panel = ComparePanel.current;
		void panel.refresh().catch((e: unknown) => services.log.warn(`Compare: ${(e as Error).message}`));
		return panel;
	}

	/** Show a line above the table (e.g. what Train All skipped). */
	notice(level: NoticeMessage['level'], message: string): void {
		this.lastNotice = { type: 'notice', level, message };
		this.post(this.lastNotice);
	}

	protected override sendSnapshot(): void {
		super.sendSnapshot();
		if (this.lastNotice) this.post(this.lastNotice);
	}

	/** After a window reload: VS Code hands back the panel it restored. */
	static revive(services: Services, panel: vscode.WebviewPanel): void {
		// Hidden panels are restored only when first shown: a command may have opened a new one meanwhile.
		if (ComparePanel.current) {
			panel.dispose();
			return;
		}
		ComparePanel.current = new ComparePanel(services, panel);
		ComparePanel.show(services);
	}

	private constructor(
		private readonly services: Services,
		existing?: vscode.WebviewPanel,
	) {
		super(
			{ extensionUri: services.extensionUri, log: services.log },
			{ name: 'compare', viewType: ComparePanel.viewType, title: 'Compare Backbones', extraRoots: [], isMessage: isCompareFromWebview, existing },
		);
		this._register({ dispose: () => (ComparePanel.current = undefined) });
		// A finished training changes the table.
		this._register(
			services.sessions.onDidChange((e) => {
				if (e.kind === 'series' && e.series.state === 'done') void this.refresh().catch((err: unknown) => services.log.warn(`Compare: ${(err as Error).message}`));
			}),
		);
	}

	/** Re-read the runs from disk. */
	async refresh(): Promise<void> {
		const wd = workDir();
		if (!wd) return;
		this.busy = 'Reading runs…';
		this.sendSnapshot();
		try {
			await this.services.sessions.recover(wd);
			// One job for every run with its history (not one loadRun per run), one for the interrupted ones.
			const [all, interrupted] = await Promise.all([this.services.engine.run({ type: 'runHistories', workDir: wd }), this.services.engine.run({ type: 'listInterrupted', workDir: wd })]);
			this.interrupted = interrupted;
			const runs: CompareRun[] = all.map(({ summary: s, history, timing: t }) => {
				const timing = stageTimes(t);
				return {
					runDir: s.runDir,
					name: path.basename(s.runDir),
					backbone: s.backbone,
					displayName: DISPLAY_NAMES[s.backbone] ?? s.backbone,
					weights: s.weights,
					backend: s.backend,
					metrics: withCheckedSources(s.metrics),
					createdAt: s.createdAt,
					...(s.testSource ? { testSource: s.testSource } : {}),
					history,
					trainSeconds: history.length ? history.reduce((a, h) => a + h.seconds, 0) : undefined,
					...(timing ? { timing } : {}),
				};
			});
			this.runs = runs;
		} finally {
			this.busy = null;
			this.sendSnapshot();
		}
		await this.addCards(wd);
	}

	/** Report cards (intervals) for the listed runs, after the table is up: they queue behind any training. */
	private async addCards(wd: string): Promise<void> {
		for (const r of this.runs) {
			if (r.card) continue;
			try {
				r.card = await this.services.engine.run({ type: 'report', runDir: r.runDir, workDir: wd, positiveClass: 'COVID', gradcam: false });
				this.sendSnapshot();
			} catch (e) {
				this.services.log.warn(`Compare: report card of ${r.runDir}: ${(e as Error).message}`);
			}
		}
	}

	protected snapshot(): CompareToWebview {
		return { type: 'snapshot', runs: this.runs, busy: this.busy, interrupted: this.interrupted };
	}

	protected async onMessage(msg: CompareFromWebview): Promise<void> {
		switch (msg.type) {
			case 'ready':
			case 'error':
				return;
			case 'refresh':
				await this.refresh();
				return;
			case 'openRun':
				// Only runs we listed may be opened.
				if (!this.runs.some((r) => r.runDir === msg.runDir)) {
					this.services.log.warn(`Compare: refused to open unknown run '${msg.runDir}'`);
					return;
				}
				await vscode.commands.executeCommand('radiographReview.openPredictions', msg.runDir);
				return;
			case 'comparePaired': {
				const known = (d: string) => this.runs.some((r) => r.runDir === d);
				if (!known(msg.runA) || !known(msg.runB)) {
					this.services.log.warn(`Compare: refused to compare unknown runs '${msg.runA}', '${msg.runB}'`);
					return;
				}
				try {
					const result = await this.services.engine.run({ type: 'comparePaired', runA: msg.runA, runB: msg.runB });
					this.post({ type: 'paired', runA: msg.runA, runB: msg.runB, result });
				} catch (e) {
					this.post({ type: 'paired', runA: msg.runA, runB: msg.runB, result: null, error: (e as Error).message });
				}
				return;
			}
			case 'trainAll':
				await vscode.commands.executeCommand('radiographReview.trainAll');
				return;
			case 'train':
				await vscode.commands.executeCommand(trainCommandFor(msg.backbone));
				return;
			case 'export': {
				const json = msg.format === 'json' ? JSON.stringify(this.runs, null, 2) : msg.format === 'csv' ? this.csv() : undefined;
				this.post(await saveExport(msg, exportDir(), json));
				return;
			}
		}
	}

	private csv(): string {
		const head = [
			'run',
			'backbone',
			'weights',
			'pretrained',
			'backend',
			'accuracy',
			'accuracy_lo95',
			'accuracy_hi95',
			'n_test',
			'loss',
			'macro_f1',
			'weighted_f1',
			'epochs',
			'train_seconds',
			'feature_seconds',
			'head_seconds',
			'total_seconds',
		];
		const num = (v: number) => (Number.isFinite(v) ? v : '');
		return toCsv(
			head,
			this.runs.map((r) => {
				const t = runTimes(r.timing, r.history);
				// The run's patient-level bootstrap interval when its card is in, else Wilson.
				const iv = r.card?.accuracy ?? wilson(Math.round(r.metrics.accuracy * r.metrics.support), r.metrics.support);
				return [
					r.name,
					r.backbone,
					r.weights.name,
					r.weights.pretrained,
					r.backend,
					r.metrics.accuracy,
					num(iv.lo),
					num(iv.hi),
					r.metrics.support,
					r.metrics.loss,
					r.metrics.macroAvg?.f1 ?? '',
					r.metrics.weightedAvg?.f1 ?? '',
					r.history.length,
					r.trainSeconds ?? '',
					num(t.features),
					num(t.head),
					num(t.total),
				];
			}),
		);
	}
}

/** The finite numbers of a metrics.json `timing` object (it is read from disk: anything else is dropped). */
function stageTimes(v: unknown): Record<string, number> | undefined {
	if (typeof v !== 'object' || v === null) return undefined;
	const out = Object.fromEntries(Object.entries(v).filter(([, s]) => typeof s === 'number' && Number.isFinite(s)));
	return Object.keys(out).length ? out : undefined;
}
