// A photograph classified with the radiographs: its tile carries the out-of-distribution badge and the large view
// says why, so it is never silently given a COVID probability. The run is trained in the editor (VGG16, random
// weights, 64 px: quick); the colour check flags a colour photo whatever the features.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseCsvRecords } from '../../src/engine/data/csv';
import { contextMenuAction, intoView, launch, makeDataset, makeUnlabelled, predictionPanels, runCommand, shot, until, writeJson, type Harness } from './harness';
import { missingPrereq } from '../unit/prereq';

const SKIMAGE = ['/usr/lib/python3/dist-packages/skimage/data', '/usr/share/python3-skimage/data'].find((d) => existsSync(path.join(d, 'astronaut.png')));
const PHOTO = 'zz-astronaut.png';

let h: Harness | undefined;

describe('Out-of-distribution badge on classified images', { timeout: 12 * 60_000 }, () => {
	before(async () => {
		if (!SKIMAGE) return;
		h = await launch((ws) => {
			makeDataset(path.join(ws, 'data'), 8);
			const incoming = path.join(ws, 'incoming');
			makeUnlabelled(incoming, 1, 20);
			fs.copyFileSync(path.join(SKIMAGE, 'astronaut.png'), path.join(incoming, PHOTO));
			writeJson(path.join(ws, '.vscode', 'settings.json'), {
				'radiographReview.datasetFolder': 'data',
				'radiographReview.epochs': 1,
				'radiographReview.batchSize': 8,
				'radiographReview.imageSize': 64,
				'radiographReview.weights.vgg16': 'none',
			});
		});
	});

	after(async () => {
		if (h) await h.stop();
	});

	test('a colour photograph among classified radiographs gets the badge, and the large view gives the reasons', async (t) => {
		if (!h) return missingPrereq(t, 'python3-skimage (apt-get install python3-skimage)');
		const { page, workspace } = h;
		await runCommand(page, 'Radiograph: Train VGG16');
		await until('the run’s predictions panel', async () => ((await predictionPanels(page)).length === 1 ? true : undefined), 300_000, 500);
		await contextMenuAction(page, 'incoming', 'Classify Radiographs', async () => (await predictionPanels(page)).length === 2);
		const folder = await until(
			'classified folder panel with its 4 tiles',
			async () => {
				const p = (await predictionPanels(page)).find((x) => x.title.includes('incoming'));
				return p && (await p.frame.locator('[data-testid="grid-item"]').count()) === 4 ? p : undefined;
			},
			240_000,
		);
		const view = folder.frame;
		// The grid shows exactly what the CSV says.
		const csvDir = path.join(workspace, '.radreview', 'classifications');
		const csv = parseCsvRecords(
			fs.readFileSync(
				path.join(
					csvDir,
					fs.readdirSync(csvDir).find((f) => f.endsWith('.csv'))!,
				),
				'utf8',
			),
		);
		const oodInCsv = csv.filter((r) => r.outofdistribution === 'true').map((r) => r.relpath);
		assert.ok(oodInCsv.includes(PHOTO), `the photo is flagged in the CSV (${oodInCsv.join(', ')})`);
		const tiles = await view
			.locator('[data-testid="grid-item"]')
			.evaluateAll((els) => els.map((el) => ({ relPath: (el as HTMLElement).dataset.relPath ?? '', badge: el.querySelector('[data-testid="grid-ood"]') !== null })));
		assert.deepEqual(
			tiles
				.filter((x) => x.badge)
				.map((x) => x.relPath)
				.sort(),
			[...oodInCsv].sort(),
		);
		const photo = view.locator(`[data-testid="grid-item"][data-rel-path="${PHOTO}"]`);
		assert.ok(await photo.locator('[data-testid="grid-ood"]').isVisible(), 'the badge is visible on the photo’s tile');
		assert.match((await photo.getAttribute('aria-label')) ?? '', /not like a chest X-ray/);
		await intoView(photo);
		await shot(page, 'ood-01-badge-on-tile');
		await photo.click();
		const note = view.locator('[data-testid="detail-ood"]');
		await note.waitFor({ state: 'visible', timeout: 30_000 });
		assert.match((await note.textContent()) ?? '', /colour image \(mean chroma \d+; radiographs are gray\)/);
		await shot(page, 'ood-02-large-view-warning');
	});
});
