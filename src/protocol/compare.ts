// Compare panel protocol: finished runs side by side (metrics, confusion, curves).
import type { BackboneId, EpochLog, Metrics } from '../engine/types';
import type { PairedComparison, ReportCard } from '../engine/report/report';
import type { ErrorReportMessage, ExportMessage, ExportResultMessage, NoticeMessage, ReadyMessage, WeightsView } from './common';
import { exportShape, isBackboneId } from './common';
import { isShortString, unionGuard, type Guard } from './guards';
import type { InterruptedRunView } from './engine';

export interface CompareRun {
	runDir: string;
	/** Folder name of the run, shown as its id. */
	name: string;
	backbone: BackboneId;
	displayName: string;
	weights: WeightsView;
	backend: string;
	metrics: Metrics;
	createdAt: string;
	/** May be empty when the run has no saved history. */
	history: EpochLog[];
	/** Leave-one-source-out: the source the run was tested on (its numbers are on that source only). */
	testSource?: string;
	/** Total training seconds (sum of epoch times), when known. */
	trainSeconds?: number;
	/** metrics.json's `timing`: seconds per stage (scan, decode, weights, features, train, evaluate, total). */
	timing?: Record<string, number>;
	/** The run's report card (intervals), once computed; absent while it is being computed or if it failed. */
	card?: ReportCard;
}

/** Host → webview: "is A really better than B on this test set?". */
export interface PairedResultMessage {
	type: 'paired';
	runA: string;
	runB: string;
	result: PairedComparison | null;
	error?: string;
}

/** Host → webview: all runs of the workspace, newest first. */
export interface CompareSnapshotMessage {
	type: 'snapshot';
	runs: CompareRun[];
	busy: string | null;
	/** Runs cut off mid-training (window reload, crash): history only, no test metrics. */
	interrupted?: InterruptedRunView[];
}

export type CompareToWebview = CompareSnapshotMessage | NoticeMessage | ExportResultMessage | PairedResultMessage;

/** Reload runs from disk. */
export interface RefreshMessage {
	type: 'refresh';
}
/** Open one run's predictions. */
export interface OpenRunMessage {
	type: 'openRun';
	runDir: string;
}
/** Train every backbone and compare. */
export interface TrainAllMessage {
	type: 'trainAll';
}
/** Train one backbone. */
export interface CompareTrainMessage {
	type: 'train';
	backbone: BackboneId;
}

/** Paired comparison of two listed runs on their shared test images. */
export interface ComparePairedMessage {
	type: 'comparePaired';
	runA: string;
	runB: string;
}

export type CompareFromWebview = ReadyMessage | ErrorReportMessage | RefreshMessage | OpenRunMessage | TrainAllMessage | CompareTrainMessage | ExportMessage | ComparePairedMessage;

export const isCompareFromWebview: Guard<CompareFromWebview> = unionGuard<CompareFromWebview>({
	ready: {},
	error: { message: isShortString },
	refresh: {},
	openRun: { runDir: isShortString },
	trainAll: {},
	train: { backbone: isBackboneId },
	export: exportShape,
	comparePaired: { runA: isShortString, runB: isShortString },
});
