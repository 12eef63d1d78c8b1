// Pieces shared by all panel protocols and their guards. Types + guards only: no vscode, no tfjs.
import { BACKBONE_IDS, CLASS_NAMES, type BackboneId, type ClassName, type Metrics, type SourceMetrics, type WeightsInfo } from '../engine/types';
import { isArrayOf, isInteger, isNumber, isOneOf, isOptional, isRecord, isShortString, isString, shape, type Guard } from './guards';

export const isBackboneId: Guard<BackboneId> = isOneOf(BACKBONE_IDS);
export const isClassName: Guard<ClassName> = isOneOf(CLASS_NAMES);

/** Every webview sends this once its script has run; the host then sends a snapshot (never before). */
export interface ReadyMessage {
	type: 'ready';
}

/** Webview asks the host to report a problem to the user (and the log). */
export interface ErrorReportMessage {
	type: 'error';
	message: string;
}

/** Host → webview: a toast-like notice the panel may show inline. */
export interface NoticeMessage {
	type: 'notice';
	level: 'info' | 'warn' | 'error';
	message: string;
}

/** What the UI shows about a model's weights; `pretrained: false` must be labelled "not pretrained". */
export type WeightsView = WeightsInfo;

const isRecall = (v: unknown): v is number | null => v === null || isNumber(v);
/** One row of the per-source table; accuracy may be NaN-free only (JSON has no NaN). */
export const isSourceMetrics: Guard<SourceMetrics> = shape<SourceMetrics>({
	source: isShortString,
	n: isInteger,
	accuracy: isNumber,
	recall: isArrayOf(isRecall),
	support: isArrayOf(isInteger),
});

/** Loose check for Metrics (it comes from our own worker, so shape-level sanity is enough); bySource, when present, is checked row by row. */
export function isMetrics(v: unknown): v is Metrics {
	return isRecord(v) && isNumber(v.accuracy) && Array.isArray(v.confusion) && Array.isArray(v.perClass) && (v.bySource === undefined || isArrayOf(isSourceMetrics)(v.bySource));
}

/** Metrics for a panel: a malformed per-source table (a hand-edited or foreign metrics.json) is dropped, not the metrics. */
export function withCheckedSources(m: Metrics): Metrics {
	if (m.bySource === undefined || isArrayOf(isSourceMetrics)(m.bySource)) return m;
	const { bySource: _dropped, ...rest } = m;
	return rest;
}

/** Export formats a panel can ask the host to save. */
export type ExportFormat = 'csv' | 'png' | 'pdf' | 'json';
export const isExportFormat: Guard<ExportFormat> = isOneOf(['csv', 'png', 'pdf', 'json'] as const);

/**
 * Webview → host: save an export. `base64` carries the bytes the webview rendered (PNG/PDF);
 * for csv/json the host writes its own data and `base64` is omitted. The host shows a save dialog
 * and writes atomically; the webview never chooses the path.
 */
export interface ExportMessage {
	type: 'export';
	format: ExportFormat;
	/** Suggested file name only (no folders); the host sanitises it. */
	suggestedName: string;
	base64?: string;
}

/** Host → webview: outcome of an export. */
export interface ExportResultMessage {
	type: 'exportResult';
	format: ExportFormat;
	ok: boolean;
	/** Where it was written (display only). */
	path?: string;
	error?: string;
}

/** 64 MiB of base64 is far above any chart export; larger payloads are rejected as nonsense. */
const MAX_BASE64 = 64 * 1024 * 1024;
export const isBase64 = (v: unknown): v is string => isString(v) && v.length <= MAX_BASE64 && /^[A-Za-z0-9+/]*={0,2}$/.test(v);
/** A bare file name: no separators, no `..`. */
export const isFileName = (v: unknown): v is string => isShortString(v) && v.length <= 255 && !/[\\/]/.test(v) && v !== '.' && v !== '..' && !v.includes('\0');

export const exportShape = { format: isExportFormat, suggestedName: isFileName, base64: isOptional(isBase64) };

/** A backbone as the Train pickers show it: whether its weights resolve here, and if not why and the fix. */
export interface BackboneChoice {
	id: BackboneId;
	/** e.g. 'ResNet50'. */
	label: string;
	available: boolean;
	/** 'imagenet (…)' when available; else the reason and the fix. */
	detail: string;
}
