// Training sessions: the host owns every series (live ones and finished runs read from disk), so the
// training panel can be closed and reopened without losing curves. One AbortController per session
// serves the notification's Cancel, the panel's Stop and the Cancel Training command.
import * as vscode from 'vscode';
import { accuracyWithInterval } from '../engine/infer/metrics';
import type { EngineClient } from '../engine/client';
import type { RunHistory } from '../protocol/engine';
import { type BackboneId, type EpochLog, type ProgressEvent, type RunSummary, type TrainConfig } from '../engine/types';
import { isCancelled } from '../engine/util/cancel';
import type { InterruptedRunView } from '../protocol/engine';
import type { TrainingSeries } from '../protocol/training';
import { Disposable } from './dispose';
import { runName } from './backboneChoices';
import type { StatusBar } from './statusBar';

export const DISPLAY_NAMES: Record<BackboneId, string> = { vgg16: 'VGG16', resnet50v2: 'ResNet50V2', xception: 'Xception', resnet50: 'ResNet50' };

export type TrainingEvent =
	/** New epochs since the last event, oldest first (batched, see EPOCH_REPORT_MS). */
	{ kind: 'epoch'; id: string; logs: EpochLog[]; epochs: number } | { kind: 'series'; series: TrainingSeries } | { kind: 'reset' };

/** Finished runs shown in the training panel besides the live ones. */
const MAX_DISK_RUNS = 8;

/** workspaceState keys: run labels, and the cards the user dismissed. */
const LABELS_KEY = 'radiographReview.runLabels';
const DISMISSED_KEY = 'radiographReview.dismissedRuns';

export class TrainingSessions extends Disposable {
	private readonly series = new Map<string, TrainingSeries>();
	private readonly controllers = new Map<string, AbortController>();
	/** Stop-and-keep signals, one per running session. */
	private readonly stoppers = new Map<string, AbortController>();
	private readonly emitter = this._register(new vscode.EventEmitter<TrainingEvent>());
	readonly onDidChange = this.emitter.event;
	private nextId = 1;

	constructor(
		private readonly engine: EngineClient,
		private readonly log: vscode.LogOutputChannel,
		private readonly status: StatusBar,
		private readonly state?: vscode.Memento,
	) {
		super();
		this._register({ dispose: () => this.cancel() });
	}

	/** Backbone of the newest run that finished, if any. */
	lastTrained(): BackboneId | undefined {
		const done = this.all().filter((s) => s.state === 'done');
		return done.sort((a, b) => (a.startedAt ?? '').localeCompare(b.startedAt ?? '')).at(-1)?.backbone;
	}

	/** Stop and keep one session (or all): each ends after its current epoch and is evaluated and saved. */
	stopAndKeep(id?: string): number {
		let n = 0;
		for (const [sid, c] of this.stoppers) {
			if (id === undefined || sid === id) {
				c.abort();
				n++;
			}
		}
		return n;
	}

	/** Remove a card that is not running; a run folder stays on disk and stays hidden from this panel. */
	async dismiss(id: string): Promise<void> {
		const s = this.series.get(id);
		if (!s || s.state === 'running' || s.state === 'queued') return;
		this.series.delete(id);
		if (s.runDir) await this.state?.update(DISMISSED_KEY, [...this.dismissed(), s.runDir]);
		this.emitter.fire({ kind: 'reset' });
	}

	async setLabel(id: string, label: string): Promise<void> {
		const s = this.series.get(id);
		if (!s) return;
		s.label = label.trim() || undefined;
		const labels = { ...this.labels() };
		const key = s.runDir ?? s.id;
		if (s.label) labels[key] = s.label;
		else delete labels[key];
		await this.state?.update(LABELS_KEY, labels);
		this.update(s);
	}

	private labels(): Record<string, string> {
		return this.state?.get<Record<string, string>>(LABELS_KEY) ?? {};
	}

	private dismissed(): string[] {
		return this.state?.get<string[]>(DISMISSED_KEY) ?? [];
	}

	/**
	 * Stale `.partial` folders (a reload or crash mid-training) become interrupted runs; never rejects. Right after
	 * a reload the old extension host may still be exiting: folders held by another process are checked again a
	 * few times, and the panel reloads when one turned out to be interrupted.
	 */
	async recover(workDir: string, retries = RECOVER_RETRIES): Promise<void> {
		try {
			const r = await this.engine.run({ type: 'recoverRuns', workDir });
			for (const d of r.interrupted) this.log.warn(`Interrupted run recorded: ${d} (its training was cut off; history so far kept, no model).`);
			for (const d of r.removed) this.log.info(`Removed an unfinished run folder with no epoch: ${d}`);
			const others = r.live.length - this.controllers.size;
			if (others > 0) this.log.info(`Left ${others} run folder(s) being written by another window alone.`);
			if (r.interrupted.length && retries < RECOVER_RETRIES) void this.loadFromDisk(workDir);
			if (others > 0 && retries > 0 && !this.isDisposed) {
				const t = setTimeout(() => void this.recover(workDir, retries - 1), RECOVER_RETRY_MS);
				this._register({ dispose: () => clearTimeout(t) });
			}
		} catch (e) {
			this.log.warn(`Could not check for interrupted runs in ${workDir}: ${(e as Error).message}`);
		}
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
		await this.recover(workDir);
		let runs: RunHistory[];
		let interrupted: InterruptedRunView[];
		try {
			// One job: the runs with their history; one more for the interrupted ones.
			[runs, interrupted] = await Promise.all([this.engine.run({ type: 'runHistories', workDir }), this.engine.run({ type: 'listInterrupted', workDir })]);
		} catch (e) {
			this.log.warn(`Could not list runs in ${workDir}: ${(e as Error).message}`);
			return;
		}
		const known = new Set([...this.all().map((s) => s.runDir), ...this.dismissed()]);
		const labels = this.labels();
		const fresh = runs
			.filter((r) => !known.has(r.summary.runDir))
			.slice(0, MAX_DISK_RUNS)
			.reverse();
		const loaded: TrainingSeries[] = [];
		for (const r of interrupted
			.filter((i) => !known.has(i.runDir))
			.slice(0, MAX_DISK_RUNS)
			.reverse()) {
			loaded.push({
				id: r.runDir,
				backbone: r.backbone,
				displayName: runName(r.backbone, r.createdAt),
				weights: r.weights ?? null,
				backend: null,
				epochs: r.plannedEpochs,
				history: r.history,
				state: 'interrupted',
				runDir: r.runDir,
				startedAt: r.createdAt,
				label: labels[r.runDir],
				error: `Interrupted after epoch ${r.history.length} of ${r.plannedEpochs} (the window was reloaded or closed): history kept, no model.`,
			});
		}
		for (const { summary: r, history } of fresh) {
			loaded.push({
				id: r.runDir,
				backbone: r.backbone,
				displayName: runName(r.backbone, r.createdAt),
				weights: r.weights,
				backend: r.backend,
				epochs: history.length,
				history,
				state: 'done',
				metrics: r.metrics,
				runDir: r.runDir,
				startedAt: r.createdAt,
				label: labels[r.runDir],
			});
		}
		loaded.sort((a, b) => (a.startedAt ?? '').localeCompare(b.startedAt ?? ''));
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
		const startedAt = new Date().toISOString();
		const s: TrainingSeries = {
			id,
			backbone: config.backbone,
			displayName: runName(config.backbone, startedAt),
			startedAt,
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
		const stopper = new AbortController();
		this.stoppers.set(id, stopper);
		void vscode.commands.executeCommand('setContext', 'radiographReview.training', true);
		this.log.info(
			`[${name}] queued: ${config.epochs} epochs, batch ${config.batchSize}, lr ${config.learningRate}, ${config.imageSize}px ${config.resize}, split ${config.splitMode} seed ${config.seed}, weights ${config.weights}, backend ${config.backend}, data ${config.dataDir}`,
		);

		try {
			return await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Training ${name}`, cancellable: true }, async (progress, token) => {
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
						case 'weights':
							// Known as soon as the engine resolved them, long before the first epoch.
							s.weights = e.weights;
							this.update(s);
							return;
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
					const summary = await this.engine.run({ type: 'train', config }, { signal: controller.signal, stopSignal: stopper.signal, onProgress });
					s.state = 'done';
					s.stage = undefined;
					s.metrics = summary.metrics;
					s.runDir = summary.runDir;
					s.weights = summary.weights;
					// The run folder is the series' lasting identity: carry a label given while it ran.
					if (s.label) void this.setLabel(id, s.label);
					s.backend = summary.backend;
					this.update(s);
					this.log.info(
						`[${name}] done: test accuracy ${accuracyWithInterval(summary.metrics.accuracy, summary.metrics.support)}, weights ${summary.weights.name}, backend ${summary.backend}, run ${summary.runDir}`,
					);
					return summary;
				} finally {
					flush();
					sub.dispose();
				}
			});
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
			// A weights error is a page of instructions: the card says what, the log (and the error's actions) say how.
			const err = e as Error;
			s.error = err.name === 'WeightsNotFoundError' ? `${err.message.split('\n')[0]} The log says where to put them.` : err.message;
			if (err.name === 'WeightsNotFoundError') this.log.warn(`[${name}] ${err.message}`);
			this.update(s);
			throw e;
		} finally {
			this.controllers.delete(id);
			this.stoppers.delete(id);
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

/** Re-checks of run folders held by another process (an extension host still exiting after a reload). */
const RECOVER_RETRIES = 4;
const RECOVER_RETRY_MS = 5000;

/** At most one epoch report (notification, status bar, log line, panel message) per this many ms. */
const EPOCH_REPORT_MS = 250;

function fmt(v: number): string {
	return Number.isFinite(v) ? v.toFixed(4) : '–';
}
