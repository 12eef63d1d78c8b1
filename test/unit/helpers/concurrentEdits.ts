// Child process for the two-writer test: applies one edit at a time, through the engine's store, to every image
// of its half of the dataset. Prints 'ready' after scanning and starts on a line from stdin, so both writers
// start together.
import { scanDataset } from '../../../src/engine/data/scan';
import { editAnnotations } from '../../../src/engine/annotations/store';

async function main(root: string, half: number): Promise<void> {
	const scan = await scanDataset(root);
	const images = new Map(scan.images.map((r) => [r.relPath, r.label]));
	const mine = scan.images
		.map((r) => r.relPath)
		.sort()
		.filter((_, i) => i % 2 === half);
	process.stdout.write('ready\n');
	await new Promise((r) => process.stdin.once('data', r));
	for (const p of mine) {
		const { conflicts } = await editAnnotations(root, images, [{ kind: 'note', path: p, note: `writer ${half}, "quoted", with a comma` }], {
			reviewer: `writer ${half}`,
			updated: '2026-01-01T00:00:00Z',
		});
		if (conflicts.length) throw new Error(`unexpected conflict on ${p}`);
	}
	process.stdout.write('done\n');
	process.exit(0);
}

void main(process.argv[2], Number(process.argv[3]));
