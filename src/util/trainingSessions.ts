// Training sessions: the host owns every series (live ones and finished runs read from disk), so the
// training panel can be closed and reopened without losing curves. One AbortController per session
// serves the notification's Cancel, the panel's Stop and the Cancel Training command.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { accuracyWithInterval } from '../engine/infer/metrics';
import type { EngineClient } from '../engine/client';
import { BACKBONE_IDS, type BackboneId, type EpochLog, type ProgressEvent, type RunSummary, type TrainConfig } from '../engine/types';
import { isCancelled } from '../engine/util/cancel';
import type { TrainingSeries } from '../protocol/training';
import { Disposable } from './dispose';
import type { StatusBar } from './statusBar';

export const DISPLAY_NAMES: Record<BackboneId, string> = { vgg16: 'VGG16', resnet50v2: 'ResNet50V2', xception: 'Xception', resnet50: 'ResNet50' };

export type TrainingEvent =
	/** New epochs since the last event, oldest first (batched, see EPOCH_REPORT_MS). */
	| { kind: 'epoch'; id: string; logs: EpochLog[]; epochs: number }
	| { kind: 'series'; series: TrainingSeries }
	| { kind: 'reset' };

/** Finished runs shown in the training panel besides the live ones. */
const MAX_DISK_RUNS = 8;

export class TrainingSessions extends Disposable {
	private readonly series = new Map<string, TrainingSeries>();
	private readonly controllers = new Map<string, AbortController>();
	private readonly emitter = this._register(new vscode.EventEmitter<TrainingEvent>());
	readonly onDidChange = this.emitter.event;
	private nextId = 1;

	constructor(
		private readonly engine: EngineClient,
		private readonly log: vscode.LogOutputChannel,
		private readonly status: StatusBar,
	) {
		super();
		this._register({ dispose: () => this.cancel() });
	}

	/** All series, oldest first. */
	all(): TrainingSeries[] {
		return [...this.series.values()];
	}

	get isTraining(): boolean {
		return this.controllers.size > 0;
	}

	/** Add the newest finished runs of the workspace (their saved history) to the list. */
	async loadFromDisk(workDir: string): Promise<void> {
		let runs: RunSummary[];
		try {
			runs = await this.engine.run({ type: 'listRuns', workDir });
		} catch (e) {
			this.log.warn(`Could not list runs in ${workDir}: ${(e as Error).message}`);
			return;
		}
		const known = new Set(this.all().map((s) => s.runDir));
		const fresh = runs.filter((r) => !known.has(r.runDir)).slice(0, MAX_DISK_RUNS).reverse();
		const loaded: TrainingSeries[] = [];
		for (const r of fresh) {
			try {
				const run = await this.engine.run({ type: 'loadRun', runDir: r.runDir });
				loaded.push({
					id: r.runDir,
					backbone: r.backbone,
					displayName: `${DISPLAY_NAMES[r.backbone] ?? r.backbone} · ${path.basename(r.runDir)}`,
					weights: r.weights,
					backend: r.backend,
					epochs: run.history.length,
					history: run.history,
					state: 'done',
					metrics: r.metrics,
					runDir: r.runDir,
				});
			} catch (e) {
				this.log.warn(`Skipped run ${r.runDir}: ${(e as Error).message}`);
			}
		}
		if (loaded.length === 0) return;
		// Disk runs go first (they are older than anything live in this session).
		const live = this.all();
		this.series.clear();
		for (const s of [...loaded, ...live]) this.series.set(s.id, s);
		this.emitter.fire({ kind: 'reset' });
	}

	/**
	 * Train one backbone with a cancellable notification. Resolves with the run, or undefined when
	 * cancelled; rejects on failure (after marking the series failed).
	 */
	async train(config: TrainConfig): Promise<RunSummary | undefined> {
		const id = `session-${this.nextId++}`;
		const name = DISPLAY_NAMES[config.backbone];
		const s: TrainingSeries = {
			id,
			backbone: config.backbone,
			displayName: name,
			// Random weights are known up front; pretrained ones are named by the engine when it has loaded them.
			weights: config.weights === 'none' ? { pretrained: false, name: 'random (not pretrained)', sha256: `random-${config.seed}` } : null,
			backend: this.engine.backend?.label ?? null,
			epochs: config.epochs,
			history: [],
			state: 'queued',
		};
		this.series.set(id, s);
		this.update(s);
		const controller = new AbortController();
		this.controllers.set(id, controller);
		void vscode.commands.executeCommand('setContext', 'radiographReview.training', true);
		this.log.info(`[${name}] queued: ${config.epochs} epochs, batch ${config.batchSize}, lr ${config.learningRate}, ${config.imageSize}px ${config.resize}, split ${config.splitMode} seed ${config.seed}, weights ${config.weights}, backend ${config.backend}, data ${config.dataDir}`);

		try {
			return await vscode.window.withProgress(
				{ location: vscode.ProgressLocation.Notification, title: `Training ${name}`, cancellable: true },
				async (progress, token) => {
					const sub = token.onCancellationRequested(() => controller.abort());
					let lastStage = '';
					// A head on cached features runs thousands of epochs a second: one notification, status bar, log line and
					// panel message per epoch flooded the window (a Cancel waited behind the backlog). Report in batches.
					const pending: EpochLog[] = [];
					let lastReport = 0;
					let timer: ReturnType<typeof setTimeout> | undefined;
					const flush = (): void => {
						if (timer) clearTimeout(timer);
						timer = undefined;
						if (pending.length === 0) return;
						lastReport = Date.now();
						const logs = pending.splice(0);
						const l = logs[logs.length - 1];
						const text = `epoch ${l.epoch}/${s.epochs}`;
						const more = logs.length > 1 ? ` (${logs.length} epochs since the last line; all in history.json)` : '';
						this.log.info(`[${name}] ${text}: loss ${fmt(l.loss)} acc ${fmt(l.acc)} val_loss ${fmt(l.val_loss)} val_acc ${fmt(l.val_acc)} lr ${l.lr} (${l.seconds.toFixed(1)}s)${more}`);
						progress.report({ increment: (100 * logs.length) / s.epochs, message: `${text} — acc ${fmt(l.acc)}, val_acc ${fmt(l.val_acc)}` });
						this.status.setActivity(`${name} ${text}`);
						this.emitter.fire({ kind: 'epoch', id, logs, epochs: s.epochs });
					};
					const onProgress = (e: ProgressEvent): void => {
						switch (e.kind) {
							case 'stage': {
								s.state = 'running';
								s.stage = { stage: e.stage, done: e.done, total: e.total, message: e.message };
								s.backend = this.engine.backend?.label ?? s.backend;
								if (e.stage !== lastStage) {
									lastStage = e.stage;
									this.log.info(`[${name}] ${e.stage}${e.message ? `: ${e.message}` : ''}`);
								}
								if (e.stage !== 'train') progress.report({ message: `${e.stage} ${e.done}/${e.total}${e.message ? ` — ${e.message}` : ''}` });
								this.update(s);
								return;
							}
							case 'epoch': {
								s.state = 'running';
								s.history.push(e.log);
								s.epochs = e.epochs;
								pending.push(e.log);
								if (Date.now() - lastReport >= EPOCH_REPORT_MS || e.log.epoch === e.epochs) flush();
								else timer ??= setTimeout(flush, EPOCH_REPORT_MS);
								return;
							}
							case 'fileError':
								this.log.warn(`[${name}] ${e.error.path}: ${e.error.reason}`);
								return;
							case 'log':
								this.log[e.level](`[${name}] ${e.message}`);
								return;
						}
					};
					try {
						this.status.setActivity(`${name} starting`);
						const summary = await this.engine.run({ type: 'train', config }, { signal: controller.signal, onProgress });
						s.state = 'done';
						s.stage = undefined;
						s.metrics = summary.metrics;
						s.runDir = summary.runDir;
						s.weights = summary.weights;
						s.backend = summary.backend;
						this.update(s);
						this.log.info(`[${name}] done: test accuracy ${accuracyWithInterval(summary.metrics.accuracy, summary.metrics.support)}, weights ${summary.weights.name}, backend ${summary.backend}, run ${summary.runDir}`);
						return summary;
					} finally {
						flush();
						sub.dispose();
					}
				},
			);
		} catch (e) {
			s.stage = undefined;
			if (isCancelled(e)) {
				s.state = 'cancelled';
				this.update(s);
				this.log.info(`[${name}] cancelled after ${s.history.length} epoch(s)`);
				void vscode.window.showInformationMessage(`Training ${name} was cancelled after ${s.history.length} epoch(s).`);
				return undefined;
			}
			s.state = 'failed';
			s.error = (e as Error).message;
			this.update(s);
			throw e;
		} finally {
			this.controllers.delete(id);
			if (this.controllers.size === 0) {
				this.status.setActivity(undefined);
				void vscode.commands.executeCommand('setContext', 'radiographReview.training', false);
			}
		}
	}

	/** Cancel one session, or all (queued ones too). */
	cancel(id?: string): number {
		let n = 0;
		for (const [sid, c] of this.controllers) {
			if (id === undefined || sid === id) {
				c.abort();
				n++;
			}
		}
		return n;
	}

	private update(s: TrainingSeries): void {
		this.emitter.fire({ kind: 'series', series: s });
	}
}

/** At most one epoch report (notification, status bar, log line, panel message) per this many ms. */
const EPOCH_REPORT_MS = 250;

export function isBackbone(v: string): v is BackboneId {
	return (BACKBONE_IDS as readonly string[]).includes(v);
}

function fmt(v: number): string {
	return Number.isFinite(v) ? v.toFixed(4) : '–';
}
