// Radiograph Viewer protocol (custom editor for .dcm, PNG and JPEG): the host sends the full-resolution stored
// values once; the webview windows them itself, so window/level drags never round-trip to the host.
import type { ClassName, SplitName } from '../engine/types';
import type { VoiWindow } from '../engine/data/voi';
import type { ErrorReportMessage, ReadyMessage } from './common';
import { isInteger, isOneOf, isShortString, unionGuard, type Guard } from './guards';

/** One image at full resolution, as the engine worker decoded it. */
export interface ViewerImage {
	/** File name (display only). */
	name: string;
	/** Position among the images of its folder (0-based) and their count, for next / previous. */
	index: number;
	count: number;
	width: number;
	height: number;
	/** 1: grayscale stored values; 3: RGB bytes, interleaved. */
	samples: 1 | 3;
	pixels: Uint8Array | Uint16Array | Int16Array | Int32Array;
	minStored: number;
	maxStored: number;
	/** Modality LUT: value = stored × slope + intercept. */
	slope: number;
	intercept: number;
	/** MONOCHROME1: inverted after windowing (the invert button toggles on top). */
	monochrome1: boolean;
	/** The file's own windows (DICOM WindowCenter/Width), then computed presets; the first is shown. */
	presets: Array<VoiWindow & { name: string }>;
	/** 'dicom-j2k', 'png', … */
	format: string;
	/** Multi-frame, lossy compression, lateral view, … */
	notes: string[];
	/** DICOM tags as [keyword, value]; for PNG / JPEG the basic facts. */
	tags: Array<[string, string]>;
}

/** The latest run's prediction for this image, if the run saw it. */
export interface ViewerPrediction {
	backbone: string;
	/** Run folder name, e.g. 2026-12-01T10-00-00_vgg16 (display only). */
	run: string;
	predicted: ClassName;
	/** In `classes` order. */
	probs: number[];
	classes: readonly ClassName[];
	/** The correct label (dataset folder / metadata), null when unknown. */
	label: ClassName | null;
	split?: SplitName;
	pretrained: boolean;
}

/** Host → webview: a new image (after ready, and after next / previous). */
export interface ViewerImageMessage {
	type: 'image';
	image: ViewerImage;
}
/** Host → webview: the image could not be decoded; `message` names the file and the reason. */
export interface ViewerErrorMessage {
	type: 'loadError';
	name: string;
	message: string;
}
/** Host → webview: the prediction panel's content; `note` says why there is none. */
export interface ViewerPredictionMessage {
	type: 'prediction';
	prediction: ViewerPrediction | null;
	note?: string;
}

export type ViewerToWebview = ViewerImageMessage | ViewerErrorMessage | ViewerPredictionMessage;

/** Show the next (+1) or previous (−1) image of the folder, in this editor. */
export interface ViewerNavigateMessage {
	type: 'navigate';
	delta: number;
}
/**
 * A control that another feature contributes (Grad-CAM overlay, annotations): the webview asks, the host's
 * `ViewerHooks` answers. Named hooks only; unknown names are rejected by the guard.
 */
export interface ViewerHookMessage {
	type: 'hook';
	name: ViewerHookName;
}
export const VIEWER_HOOKS = ['gradcam', 'annotate'] as const;
export type ViewerHookName = (typeof VIEWER_HOOKS)[number];

export type ViewerFromWebview = ReadyMessage | ErrorReportMessage | ViewerNavigateMessage | ViewerHookMessage;

export const isViewerFromWebview: Guard<ViewerFromWebview> = unionGuard<ViewerFromWebview>({
	ready: {},
	error: { message: isShortString },
	navigate: { delta: (v: unknown): v is number => isInteger(v) && Math.abs(v) === 1 },
	hook: { name: isOneOf(VIEWER_HOOKS) },
});
