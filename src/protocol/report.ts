// Report panel protocol: one run's report card (intervals, curves, calibration, operating point, provenance).
import { CLASS_NAMES, type ClassName } from '../engine/types';
import type { ReportCard } from '../engine/report/report';
import type { ErrorReportMessage, ExportResultMessage, NoticeMessage, ReadyMessage } from './common';
import { isNumber, isOneOf, isOptional, isShortString, unionGuard, type Guard } from './guards';

/** How the operating point is chosen on the validation split. */
export interface OperatingOptions {
	positiveClass: ClassName;
	/** Target sensitivity; absent: Youden's J. */
	targetSensitivity?: number;
}

/** Host → webview: the card (null until computed) and what is being done. */
export interface ReportSnapshotMessage {
	type: 'snapshot';
	runDir: string | null;
	card: ReportCard | null;
	options: OperatingOptions;
	busy: string | null;
}

export type ReportToWebview = ReportSnapshotMessage | NoticeMessage | ExportResultMessage;

/** Recompute with another operating point (positive class, target sensitivity or Youden's J). */
export interface SetOptionsMessage {
	type: 'setOptions';
	positiveClass: ClassName;
	targetSensitivity?: number;
}
/** Run Grad-CAM on every test image for the where-it-looks table (one forward pass each). */
export interface ComputeGradcamMessage {
	type: 'computeGradcam';
}
/** Save the card as a document; the host picks the path with a save dialog. */
export interface ExportReportMessage {
	type: 'exportReport';
	format: 'pdf' | 'html' | 'json';
}
/** Open the run's predictions grid. */
export interface OpenGridMessage {
	type: 'openGrid';
}

export type ReportFromWebview = ReadyMessage | ErrorReportMessage | SetOptionsMessage | ComputeGradcamMessage | ExportReportMessage | OpenGridMessage;

const isTarget = (v: unknown): v is number => isNumber(v) && v > 0 && v <= 1;

export const isReportFromWebview: Guard<ReportFromWebview> = unionGuard<ReportFromWebview>({
	ready: {},
	error: { message: isShortString },
	setOptions: { positiveClass: isOneOf(CLASS_NAMES), targetSensitivity: isOptional(isTarget) },
	computeGradcam: {},
	exportReport: { format: isOneOf(['pdf', 'html', 'json'] as const) },
	openGrid: {},
});

export type { ReportCard };
