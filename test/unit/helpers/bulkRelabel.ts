// Child process for the kill -9 test: relabels every image of a dataset back and forth, as fast as it can,
// printing 'ready' after the first complete write. The parent kills it at a random moment.
import { scanDataset } from '../../../src/engine/data/scan';
import { editAnnotations } from '../../../src/engine/annotations/store';
import type { AnnotationEdit } from '../../../src/engine/annotations/merge';

async function main(root: string): Promise<void> {
	const scan = await scanDataset(root);
	const images = new Map(scan.images.map((r) => [r.relPath, r.label]));
	for (let round = 0; ; round++) {
		const label = round % 2 === 0 ? 'NORMAL' : 'PNEUMONIA';
		const edits: AnnotationEdit[] = scan.images.flatMap((r): AnnotationEdit[] => [
			{ kind: 'label', path: r.relPath, label },
			{ kind: 'note', path: r.relPath, note: `round ${label}, "quoted", with a comma` },
		]);
		await editAnnotations(root, images, edits, { reviewer: 'kill test', updated: '2026-01-01T00:00:00Z' });
		if (round === 0) process.stdout.write('ready\n');
	}
}

void main(process.argv[2]);
