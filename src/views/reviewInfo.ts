// Review counts from the dataset's annotation file (`radreview-annotations.csv`, one row per annotated image).
// Read tolerantly: the file is written by the annotations feature, and any of its columns may be absent.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseCsvRecords } from '../engine/data/csv';
import { ANNOTATIONS_FILE } from './runInfo';

export interface ReviewCounts {
	file: string;
	/** Annotated rows. */
	rows: number;
	/** Rows whose `label` is set and differs from `original_label`. */
	relabelled: number;
	/** Rows with any `flags`. */
	flagged: number;
	/** Rows marked reviewed: the `reviewed` column when the file has one, else rows with an `updated` time. */
	reviewed: number;
	/** Dataset images not reviewed, when the dataset's size is known. */
	unreviewed?: number;
}

const TRUE = new Set(['1', 'true', 'yes', 'y', 'x', 'reviewed']);

/** undefined when the dataset has no annotation file yet; throws with the file name when it cannot be read. */
export async function readReviewCounts(datasetRoot: string, totalImages?: number): Promise<ReviewCounts | undefined> {
	const file = path.join(datasetRoot, ANNOTATIONS_FILE);
	let text: string;
	try {
		text = await fs.readFile(file, 'utf8');
	} catch (e) {
		if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
		throw new Error(`${file}: cannot read (${(e as Error).message})`);
	}
	return countReview(file, text, totalImages);
}

export function countReview(file: string, text: string, totalImages?: number): ReviewCounts {
	const records = parseCsvRecords(text).filter((r) => (r.path ?? '').trim() !== '');
	const hasReviewed = records.length > 0 && 'reviewed' in records[0];
	let relabelled = 0;
	let flagged = 0;
	let reviewed = 0;
	for (const r of records) {
		const label = (r.label ?? '').trim();
		if (label && label !== (r.original_label ?? '').trim()) relabelled++;
		if ((r.flags ?? '').trim()) flagged++;
		if (hasReviewed ? TRUE.has((r.reviewed ?? '').trim().toLowerCase()) : (r.updated ?? '').trim() !== '') reviewed++;
	}
	const unreviewed = totalImages === undefined ? undefined : Math.max(0, totalImages - reviewed);
	return { file, rows: records.length, relabelled, flagged, reviewed, unreviewed };
}
