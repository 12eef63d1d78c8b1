// Blinded read protocol: the webview gets pixels and an opaque token, never the image's path, file name, folder,
// label, prediction or anyone's read (folder names are class names: `COVID/…` would give the answer away).
import { CLASS_NAMES, type ClassName } from '../engine/types';
import type { ErrorReportMessage, ReadyMessage } from './common';
import { isInteger, isNumber, isOneOf, unionGuard, type Guard } from './guards';

/** One image as decoded for display: pixels and windowing only (no tags, no notes, no name). */
export interface BlindImage {
	width: number;
	height: number;
	/** 1: grayscale stored values; 3: RGB bytes, interleaved. */
	samples: 1 | 3;
	pixels: Uint8Array | Uint16Array | Int16Array | Int32Array;
	minStored: number;
	maxStored: number;
	slope: number;
	intercept: number;
	monochrome1: boolean;
	/** Window presets (modality values); the first is shown. */
	windows: Array<{ center: number; width: number }>;
}

/** Host → webview: where the reader is, and the image to read (null when the set is done). */
export interface BlindedStateMessage {
	type: 'state';
	reader: string;
	/** The choices, in the dataset's class order (keys 1, 2, 3). */
	classes: readonly ClassName[];
	done: number;
	total: number;
	/** Opaque: the host's count of images shown, echoed back with the read. */
	token: number | null;
	image: BlindImage | null;
	/** Why the image could not be shown (the host names the file only in its own log). */
	problem: string | null;
}

export type BlindedToWebview = BlindedStateMessage;

/** Webview → host: the reader's decision on the image shown under `token`. */
export interface BlindedReadMessage {
	type: 'read';
	token: number;
	label: ClassName;
	confidence: number;
	flagged: boolean;
	/** Seconds the image was on screen before the decision. */
	seconds: number;
}
/** Webview → host: take back this session's last read and show its image again. */
export interface BlindedUndoMessage {
	type: 'undo';
}
export type BlindedFromWebview = ReadyMessage | ErrorReportMessage | BlindedReadMessage | BlindedUndoMessage;

const isConfidence = (v: unknown): v is number => isInteger(v) && v >= 1 && v <= 5;
const isSeconds = (v: unknown): v is number => isNumber(v) && v >= 0 && v <= 7 * 86400;
const isToken = (v: unknown): v is number => isInteger(v) && v >= 0;
const isMessage = (v: unknown): v is string => typeof v === 'string' && v.length > 0 && v.length <= 4096;

export const isBlindedFromWebview: Guard<BlindedFromWebview> = unionGuard<BlindedFromWebview>({
	ready: {},
	error: { message: isMessage },
	read: { token: isToken, label: isOneOf(CLASS_NAMES), confidence: isConfidence, flagged: (v): v is boolean => typeof v === 'boolean', seconds: isSeconds },
	undo: {},
});
