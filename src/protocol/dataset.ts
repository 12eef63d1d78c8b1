// Dataset panel protocol: the scanned dataset, its class counts and the seeded split.
import type { ClassSourceTable } from '../engine/data/sources';
import { CLASS_NAMES, type BackboneId, type ClassName, type Exclusion, type FileError, type SplitMode, type SplitName } from '../engine/types';
import type { BackboneChoice, ErrorReportMessage, NoticeMessage, ReadyMessage } from './common';
import { isAnnotationEdits, type AnnotateMessage, type AnnotationsMessage, type UndoAnnotationMessage } from './annotations';
import { isBackboneId } from './common';
import { isBoolean, isInteger, isNumber, isOneOf, isShortString, unionGuard, type Guard } from './guards';

/** One image as the dataset panel shows it. */
export interface DatasetImageView {
	relPath: string;
	label: ClassName | null;
	patientId: string;
	/** Source dataset (manifest.csv / metadata.csv), absent when none is recorded. */
	source?: string;
	split?: SplitName;
	/** webview URI of a small thumbnail (may be absent until thumbnails are made). */
	thumbUri?: string;
}

export interface SplitCounts {
	train: number;
	val: number;
	test: number;
}

export interface DatasetView {
	root: string;
	layout: 'folders' | 'metadata' | 'flat';
	/** Per class, in CLASS_NAMES order; key 'unlabelled' for images without a label. */
	classCounts: Record<ClassName | 'unlabelled', number>;
	/** Per class and split (only when splits are known). */
	splitCounts?: Record<ClassName, SplitCounts>;
	total: number;
	patients: number;
	/** Labelled images per class × source, with confound warnings (engine/data/sources.ts). */
	sources?: ClassSourceTable;
	split?: {
		mode: SplitMode;
		seed: number;
		testFraction: number;
		valFraction: number;
		counts: SplitCounts;
		/** Patients found in more than one split (always empty in patient mode). */
		leakedPatients: string[];
	};
	/** Capped list (the host sends at most a few thousand) for the table. */
	images: DatasetImageView[];
	errors: FileError[];
	/** Whether preprocessed caches exist for the current image size. */
	preprocessed?: boolean;
	/** What radreview-annotations.csv does to training: counts, and the images it leaves out with their reason. */
	annotations?: DatasetAnnotationsView;
}

export interface DatasetAnnotationsView {
	file: string;
	rows: number;
	relabelled: number;
	excluded: number;
	flagged: number;
	noted: number;
	reviewed: number;
	moved: number;
	/** Capped list of the excluded images. */
	excludedImages: Exclusion[];
}

/** Host → webview: full state; sent after ready, on show and whenever it changes. */
export interface DatasetSnapshotMessage {
	type: 'snapshot';
	/** null: no dataset folder chosen yet. */
	dataset: DatasetView | null;
	/** Work in progress ('Scanning…', 'Preprocessing 120/600'), or null when idle. */
	busy: string | null;
	/** Why the chosen folder shows no dataset (e.g. no labelled images, with the layouts expected). */
	problem?: string | null;
	/** The Train picker: every backbone, marked when its weights do not resolve here, and the default. */
	backbones?: BackboneChoice[];
	defaultBackbone?: BackboneId;
	/** Current settings the form starts from. */
	settings: { splitMode: SplitMode; seed: number; testFraction: number; valFraction: number; imageSize: number };
}

/** Host → webview: thumbnails made since the snapshot (relPath → webview URI); the snapshot carries them too. */
export interface DatasetThumbsMessage {
	type: 'thumbs';
	thumbs: Record<string, string>;
}

export type DatasetToWebview = DatasetSnapshotMessage | DatasetThumbsMessage | NoticeMessage | AnnotationsMessage;

/** Pick a different dataset folder (host shows the folder dialog). */
export interface SelectFolderMessage {
	type: 'selectFolder';
}
/** Recompute the split with these parameters (host persists them to settings). */
export interface ComputeSplitsMessage {
	type: 'computeSplits';
	mode: SplitMode;
	seed: number;
	testFraction: number;
	valFraction: number;
}
/** Decode + resize the whole dataset into the cache. */
export interface PreprocessMessage {
	type: 'preprocess';
}
/** Open one image of the dataset in an editor; relPath is confined to the dataset root by the host. */
export interface OpenImageMessage {
	type: 'openImage';
	relPath: string;
}
/** Start training a backbone on this dataset. */
export interface TrainMessage {
	type: 'train';
	backbone: BackboneId;
}

export type DatasetFromWebview =
	ReadyMessage | ErrorReportMessage | SelectFolderMessage | ComputeSplitsMessage | PreprocessMessage | OpenImageMessage | TrainMessage | AnnotateMessage | UndoAnnotationMessage;

const isFraction = (v: unknown): v is number => isNumber(v) && v >= 0 && v < 1;

export const isDatasetFromWebview: Guard<DatasetFromWebview> = unionGuard<DatasetFromWebview>({
	ready: {},
	error: { message: isShortString },
	selectFolder: {},
	computeSplits: { mode: isOneOf(['patient', 'image'] as const), seed: isInteger, testFraction: isFraction, valFraction: isFraction },
	preprocess: {},
	openImage: { relPath: isShortString },
	train: { backbone: isBackboneId },
	annotate: { edits: isAnnotationEdits },
	undoAnnotation: { redo: isBoolean },
});

export function emptyClassCounts(): Record<ClassName | 'unlabelled', number> {
	const out = { unlabelled: 0 } as Record<ClassName | 'unlabelled', number>;
	for (const c of CLASS_NAMES) out[c] = 0;
	return out;
}
