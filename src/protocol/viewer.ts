// Radiograph Viewer protocol (custom editor for .dcm, PNG and JPEG): the host sends the full-resolution stored
// values once; the webview windows them itself, so window/level drags never round-trip to the host.
import type { ClassName, SplitName } from '../engine/types';
import type { VoiWindow } from '../engine/data/voi';
import { isAnnotationEdits, type AnnotateMessage, type AnnotationView } from './annotations';
import type { ErrorReportMessage, ReadyMessage } from './common';
import { isInteger, isShortString, unionGuard, type Guard } from './guards';

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

/**
 * Host → webview: the Grad-CAM map of the image on screen under the latest run (the Predictions panel's overlay PNG:
 * transparent, square, the image centred in it at its longer side), or why there is none.
 */
export interface ViewerGradcamMessage {
	type: 'gradcam';
	/** The file the map belongs to (a reply may arrive after next / previous). */
	name: string;
	png?: Uint8Array;
	className?: ClassName;
	run?: string;
	/** Share of the map's mass in the border band, and "looks outside the lungs". */
	border?: number;
	outside?: boolean;
	error?: string;
}

/** Host → webview: this image's row of radreview-annotations.csv (null: none yet), or why annotating is off. */
export interface ViewerAnnotationMessage {
	type: 'annotation';
	/** The image's path relative to the dataset folder, as edits name it; null outside the dataset. */
	path: string | null;
	row: AnnotationView | null;
	disabled?: string;
}

export type ViewerToWebview = ViewerImageMessage | ViewerErrorMessage | ViewerPredictionMessage | ViewerGradcamMessage | ViewerAnnotationMessage;

/** Show the next (+1) or previous (−1) image of the folder, in this editor. */
export interface ViewerNavigateMessage {
	type: 'navigate';
	delta: number;
}
/** Ask for the Grad-CAM map of the image on screen (answered by a `gradcam` message). */
export interface ViewerGradcamRequest {
	type: 'gradcam';
}

export type ViewerFromWebview = ReadyMessage | ErrorReportMessage | ViewerNavigateMessage | ViewerGradcamRequest | AnnotateMessage;

export const isViewerFromWebview: Guard<ViewerFromWebview> = unionGuard<ViewerFromWebview>({
	ready: {},
	error: { message: isShortString },
	navigate: { delta: (v: unknown): v is number => isInteger(v) && Math.abs(v) === 1 },
	gradcam: {},
	annotate: { edits: isAnnotationEdits },
});
