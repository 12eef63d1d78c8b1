// Review counts from the dataset's annotation file (`radreview-annotations.csv`), read and summarised by the engine
// (readAnnotations, summarise): a file the engine refuses is refused here too, with the engine's error.
import { readAnnotations, summarise } from '../engine/annotations/store';

export interface ReviewCounts {
	file: string;
	/** Annotated rows. */
	rows: number;
	/** Rows whose corrected label differs from the original one. */
	relabelled: number;
	/** Rows with any flag. */
	flagged: number;
	/** Rows marked reviewed. */
	reviewed: number;
	/** Dataset images not reviewed, when the dataset's size is known. */
	unreviewed?: number;
}

/** undefined when the dataset has no annotation file yet; throws the engine's error (file, line, reason) for a bad one. */
export async function readReviewCounts(datasetRoot: string, totalImages?: number): Promise<ReviewCounts | undefined> {
	const snapshot = await readAnnotations(datasetRoot);
	if (snapshot.sha256 === null) return undefined;
	const { file, rows, relabelled, flagged, reviewed } = summarise(snapshot);
	const unreviewed = totalImages === undefined ? undefined : Math.max(0, totalImages - reviewed);
	return { file, rows, relabelled, flagged, reviewed, unreviewed };
}
