// Training panel protocol: live epoch curves of one or more backbones, overlaid.
import type { BackboneId, EpochLog, Metrics, Stage } from '../engine/types';
import type { BackboneChoice, ErrorReportMessage, NoticeMessage, ReadyMessage, WeightsView, ExportMessage, ExportResultMessage } from './common';
import { exportShape, isBackboneId } from './common';
import { isOptional, isShortString, unionGuard, type Guard } from './guards';

/** 'interrupted': the window was reloaded or crashed mid-training; its history so far was kept (no model). */
export type SessionState = 'queued' | 'running' | 'done' | 'cancelled' | 'failed' | 'interrupted';

/** One training session (live) or finished run (from its history on disk). */
export interface TrainingSeries {
	/** Stable id: the run folder when known, else a session id. */
	id: string;
	backbone: BackboneId;
	/** e.g. 'VGG16'. */
	displayName: string;
	/** null until the worker reports which weights were loaded. */
	weights: WeightsView | null;
	/** Backend label, e.g. 'WASM (SIMD, 2 threads)'. */
	backend: string | null;
	/** Planned epochs. */
	epochs: number;
	history: EpochLog[];
	state: SessionState;
	/** Current stage while running (features, train, evaluate…). */
	stage?: { stage: Stage; done: number; total: number; message?: string };
	/** Test metrics once evaluated. */
	metrics?: Metrics;
	runDir?: string;
	error?: string;
	/** The user's name for this run (shown after the time-based name). */
	label?: string;
	/** ISO time the run started; names runs ("ResNet50 · 14:03"). */
	startedAt?: string;
}

/** Host → webview: the full list of series (after ready, on show, after a run finishes). */
export interface TrainingSnapshotMessage {
	type: 'snapshot';
	series: TrainingSeries[];
	/** The Train picker: every backbone, marked when its weights do not resolve here. */
	backbones?: BackboneChoice[];
	/** What the one-click Train button trains (last trained, else one with weights). */
	defaultBackbone?: BackboneId;
}

/**
 * Host → webview: new epochs of a running series, oldest first (append to its history). Batched: a head on
 * cached features can finish thousands of epochs a second, far more than messages the UI can take.
 * `epoch` is 1-based, as the engine counts and logs it ("epoch 3/80"); history.json uses the same numbers.
 */
export interface EpochMessage {
	type: 'epoch';
	id: string;
	logs: EpochLog[];
	epochs: number;
}

/** Host → webview: series-level change (stage progress, state, weights, backend, metrics). */
export interface SeriesUpdateMessage {
	type: 'seriesUpdate';
	series: Omit<TrainingSeries, 'history'>;
}

export type TrainingToWebview = TrainingSnapshotMessage | EpochMessage | SeriesUpdateMessage | NoticeMessage | ExportResultMessage;

/** Stop a running series (absent id: stop all). Same abort chain as the notification's Cancel. */
export interface StopMessage {
	type: 'stop';
	id?: string;
}
/** Start training another backbone. */
export interface TrainAgainMessage {
	type: 'train';
	backbone: BackboneId;
}
/** Open the predictions of a finished run. */
export interface OpenPredictionsMessage {
	type: 'openPredictions';
	runDir: string;
}

/** Stop and keep: end after the current epoch, evaluate and save the model as it is. */
export interface StopKeepMessage {
	type: 'stopKeep';
	id: string;
}
/** Remove a finished, failed, cancelled or interrupted card from the panel (files stay on disk). */
export interface DismissMessage {
	type: 'dismiss';
	id: string;
}
/** Ask the host for a label for this run (it shows an input box). */
export interface LabelMessage {
	type: 'label';
	id: string;
}

export type TrainingFromWebview = ReadyMessage | ErrorReportMessage | StopMessage | StopKeepMessage | DismissMessage | LabelMessage | TrainAgainMessage | OpenPredictionsMessage | ExportMessage;

export const isTrainingFromWebview: Guard<TrainingFromWebview> = unionGuard<TrainingFromWebview>({
	ready: {},
	error: { message: isShortString },
	stop: { id: isOptional(isShortString) },
	stopKeep: { id: isShortString },
	dismiss: { id: isShortString },
	label: { id: isShortString },
	train: { backbone: isBackboneId },
	openPredictions: { runDir: isShortString },
	export: exportShape,
});
