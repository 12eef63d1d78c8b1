// Predictions panel protocol: a grid of images with predicted and (when known) true labels.
import type { BackboneId, ClassName, FileError, Metrics, SplitName } from '../engine/types';
import type { OperatingPoint } from '../engine/report/report';
import type { ErrorReportMessage, ExportMessage, ExportResultMessage, NoticeMessage, ReadyMessage, WeightsView } from './common';
import { exportShape, isClassName } from './common';
import { isArrayOf, isBoolean, isInteger, isOptional, isShortString, unionGuard, type Guard } from './guards';
import { isAnnotationEdits, type AnnotateMessage, type AnnotationsMessage, type UndoAnnotationMessage } from './annotations';

export interface PredictionItem {
	/** Path relative to the classified folder / dataset root; the item's id in messages. */
	relPath: string;
	/** null: the image has no known label (an unlabelled folder). */
	label: ClassName | null;
	/** null: no prediction (an audit review queue of images a check flagged, not classified); `note` says why. */
	predicted: ClassName | null;
	/** In CLASS_NAMES order; empty when there is no prediction. */
	probs: number[];
	/** Why the image is listed when it has no prediction, e.g. "audit score 0.41 (flagged above 0.30)". */
	note?: string;
	/** Listed because its prediction disagrees with its label (label-issues queue): no right/wrong, no accuracy. */
	disputed?: boolean;
	split?: SplitName;
	/** webview URI of the cached JPEG thumbnail; absent when it could not be made (show a placeholder). */
	thumbUri?: string;
	/** Source dataset and patient (manifest.csv / metadata.csv); absent when the dataset records none. */
	source?: string;
	patientId?: string;
	/** Not like the run's training radiographs (photo, CT slice, lateral…): the probabilities mean nothing. */
	outOfDistribution?: boolean;
	/** Why, in plain words. */
	oodReasons?: string[];
}

export interface PredictionsView {
	/** Identity of the prediction set (a run's folder, or run + classified folder): one panel and one filter per set. */
	setKey: string;
	/** Panel title, e.g. 'VGG16 — test split' or 'Classified: xrays/'. */
	title: string;
	source: 'run' | 'folder';
	backbone: BackboneId;
	weights: WeightsView;
	backend?: string;
	runDir: string;
	/** Root the relPaths are relative to (display only). */
	root: string;
	items: PredictionItem[];
	/** Present when every item has a label. */
	metrics?: Metrics;
	errors: FileError[];
	/** The written predictions.csv (display only). */
	csvPath?: string;
}

/** Host → webview: everything to draw (after ready, on show, on change). null: nothing loaded yet. */
export interface PredictionsSnapshotMessage {
	type: 'snapshot';
	view: PredictionsView | null;
	busy: string | null;
}

/** One Grad-CAM overlay: a transparent PNG laid out like the letterboxed thumbnail. */
export interface GradcamOverlayView {
	uri: string;
	/** The class the map explains. */
	className: ClassName;
	/** Share of the map's mass in the border band and the flag "looks outside the lungs". */
	border: number;
	outside: boolean;
}

/** Host → webview: overlays for some images (for the predicted class when `className` is null). */
export interface GradcamResultMessage {
	type: 'gradcam';
	className: ClassName | null;
	overlays: Record<string, GradcamOverlayView>;
	/** relPaths that failed, with the reason. */
	errors: FileError[];
}

/** Host → webview: the full-resolution image the large view asked for (or why there is none). */
export interface ImageMessage {
	type: 'image';
	requestId: number;
	relPath: string;
	/** data:image/jpeg;base64,… at screen resolution (long side ≤ 2048). */
	dataUri?: string;
	width?: number;
	height?: number;
	originalWidth?: number;
	originalHeight?: number;
	error?: string;
}

/** Host → webview: the run's operating point (threshold chosen on validation), or why there is none. */
export interface OperatingPointMessage {
	type: 'operatingPoint';
	operatingPoint: OperatingPoint | null;
	error?: string;
}

export type PredictionsToWebview = PredictionsSnapshotMessage | NoticeMessage | ExportResultMessage | ImageMessage | GradcamResultMessage | OperatingPointMessage | AnnotationsMessage;

/** Open the full image in an editor; the host confines relPath to the view's root. */
export interface OpenFileMessage {
	type: 'openFile';
	relPath: string;
}
/** Reveal the predictions.csv in the OS / explorer. */
export interface RevealCsvMessage {
	type: 'revealCsv';
}

/** The run's operating point for the positive class (default COVID), to mark calls at that threshold in the grid. */
export interface OperatingPointRequestMessage {
	type: 'operatingPoint';
	positiveClass?: ClassName;
}

/** Grad-CAM overlays for these images (relPaths of the view), for the predicted class or `className`. */
export interface GradcamRequestMessage {
	type: 'gradcam';
	relPaths: string[];
	className?: ClassName;
}

/** Decode one shown image at full resolution for the large view; answered by an ImageMessage with the same requestId. */
export interface LoadImageMessage {
	type: 'loadImage';
	relPath: string;
	requestId: number;
}

export type PredictionsFromWebview =
	| ReadyMessage
	| ErrorReportMessage
	| OpenFileMessage
	| RevealCsvMessage
	| ExportMessage
	| LoadImageMessage
	| GradcamRequestMessage
	| OperatingPointRequestMessage
	| AnnotateMessage
	| UndoAnnotationMessage;

export const isPredictionsFromWebview: Guard<PredictionsFromWebview> = unionGuard<PredictionsFromWebview>({
	ready: {},
	error: { message: isShortString },
	openFile: { relPath: isShortString },
	revealCsv: {},
	export: exportShape,
	annotate: { edits: isAnnotationEdits },
	undoAnnotation: { redo: isBoolean },
	loadImage: { relPath: isShortString, requestId: isInteger },
	gradcam: { relPaths: isArrayOf(isShortString), className: isOptional(isClassName) },
	operatingPoint: { positiveClass: isOptional(isClassName) },
});
