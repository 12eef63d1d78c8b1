// Annotation messages shared by the panels that review images (the Predictions grid, the Dataset thumbnails).
import type { AnnotationEdit } from '../engine/annotations/merge';
import type { ClassName } from '../engine/types';
import { isClassName } from './common';
import { isBoolean, isRecord, isShortString, isString, type Guard } from './guards';

export type { AnnotationEdit } from '../engine/annotations/merge';

/** One image's annotation as a panel shows it. */
export interface AnnotationView {
	/** The corrected label, or null when the original stands. */
	label: ClassName | null;
	originalLabel: ClassName | null;
	/** Built-in flag ids (exclude, not-frontal, duplicate, poor-quality, label-doubtful) or free text. */
	flags: string[];
	note: string;
	reviewed: boolean;
}

/** Host → webview: the dataset's annotation rows: all of them (replacing what the panel had), or only those that changed. */
export interface AnnotationsMessage {
	type: 'annotations';
	/** relPath (relative to the view's root) → row. */
	rows: Record<string, AnnotationView>;
	/** Present: only these paths changed, and `rows` holds just them (a path without a row has none now). */
	paths?: string[];
	canUndo: boolean;
	canRedo: boolean;
	/** Why annotating is off here: a malformed file, or images outside the dataset folder. */
	disabled?: string;
}

/** Webview → host: apply these edits (paths are checked against the shown images). */
export interface AnnotateMessage {
	type: 'annotate';
	edits: AnnotationEdit[];
}
/** Webview → host: undo / redo the last annotation edit (shared with the Explorer commands). */
export interface UndoAnnotationMessage {
	type: 'undoAnnotation';
	redo: boolean;
}

const MAX_EDITS = 20_000;
const isLabelOrNull = (v: unknown): v is ClassName | null => v === null || isClassName(v);

/** An edit as sent by a webview: known kind, exactly its fields, bounded text. */
export const isAnnotationEdit: Guard<AnnotationEdit> = (v: unknown): v is AnnotationEdit => {
	if (!isRecord(v) || !isShortString(v.path)) return false;
	const keys = Object.keys(v).sort().join(',');
	switch (v.kind) {
		case 'label':
			return keys === 'kind,label,path' && isLabelOrNull(v.label);
		case 'flag':
		case 'unflag':
			return keys === 'flag,kind,path' && isShortString(v.flag) && v.flag.length <= 200;
		case 'note':
			return keys === 'kind,note,path' && isString(v.note) && v.note.length <= 10_000;
		case 'reviewed':
			return keys === 'kind,path,reviewed' && isBoolean(v.reviewed);
		case 'clear':
			return keys === 'kind,path';
		default:
			return false;
	}
};

export const isAnnotationEdits: Guard<AnnotationEdit[]> = (v: unknown): v is AnnotationEdit[] => Array.isArray(v) && v.length > 0 && v.length <= MAX_EDITS && v.every(isAnnotationEdit);
