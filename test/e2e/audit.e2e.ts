// The dataset audit in a real VS Code (code-server): Radiograph: Audit Dataset on real dev radiographs (two
// sources, ResNet50 offline weights) plus a photograph planted among them. The panel shows the source warning,
// flags the photograph, opens a finding as a review queue in the Predictions grid (its images shown with their audit
// score, not a made-up prediction), and its Exclude action writes the flag into radreview-annotations.csv.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseCsvRecords } from '../../src/engine/data/csv';
import { launch, panelFrame, runCommand, shot, until, writeJson, type Harness } from './harness';

const DEV = path.resolve(__dirname, '../../../shared/cxr/dev');
const SKIMAGE = ['/usr/lib/python3/dist-packages/skimage/data', '/usr/share/python3-skimage/data'].find((d) => fs.existsSync(path.join(d, 'astronaut.png')));
const PHOTO = 'NORMAL/zz-astronaut.png';
/** Images per class and source, in the dev set's proportions (COVID only from ieee8023, NORMAL mostly Kermany). */
const PICK: Record<string, number> = { 'COVID|ieee8023': 8, 'NORMAL|Kermany2018': 8, 'NORMAL|ieee8023': 1, 'PNEUMONIA|Kermany2018': 5, 'PNEUMONIA|ieee8023': 3 };

let h: Harness;

describe('Dataset audit panel', { timeout: 20 * 60_000 }, () => {
	before(async () => {
		if (!SKIMAGE) assert.fail('python3-skimage is missing (apt-get install python3-skimage): its photographs are the planted non-radiographs');
		h = await launch((ws) => {
			const data = path.join(ws, 'data');
			const lines = fs.readFileSync(path.join(DEV, 'manifest.csv'), 'utf8').split(/\r?\n/);
			const rows = parseCsvRecords(lines.join('\n'));
			const seen = new Map<string, number>();
			const keep: string[] = [lines[0]];
			rows.forEach((r, i) => {
				const k = `${r.label}|${r.source_dataset}`;
				seen.set(k, (seen.get(k) ?? 0) + 1);
				if (seen.get(k)! > (PICK[k] ?? 0)) return;
				fs.mkdirSync(path.dirname(path.join(data, r.path)), { recursive: true });
				fs.copyFileSync(path.join(DEV, r.path), path.join(data, r.path));
				keep.push(lines[i + 1]);
			});
			fs.writeFileSync(path.join(data, 'manifest.csv'), keep.join('\n') + '\n');
			fs.copyFileSync(path.join(SKIMAGE!, 'astronaut.png'), path.join(data, PHOTO));
			writeJson(path.join(ws, '.vscode', 'settings.json'), { 'radiographReview.datasetFolder': 'data' });
		});
	});

	after(async () => {
		if (h) {
			await shot(h.page, 'audit-99-end');
			await h.stop();
		}
	});

	test('the audit finds the photograph and the source confound; a finding opens as a review queue; Exclude writes the annotation', async () => {
		const { page } = h;
		await runCommand(page, 'Radiograph: Audit Dataset');
		const view = await panelFrame(page, 'audit');
		// Cold: the ResNet50 features of 26 images are computed in the engine worker first.
		const ood = view.locator('[data-testid="audit-section"][data-finding="outOfDistribution"]');
		await ood.waitFor({ state: 'visible', timeout: 12 * 60_000 });
		await shot(page, 'audit-01-panel');
		const item = ood.locator(`[data-testid="audit-item"][data-rel-path="${PHOTO}"]`);
		assert.equal(await item.count(), 1, 'the planted photograph is listed as not a chest X-ray');
		assert.match((await item.textContent()) ?? '', /colour image|far from every training radiograph/);
		const warning = view.locator('[data-testid="audit-warning"]').first();
		assert.match((await warning.textContent()) ?? '', /COVID is nearly determined by the source/);
		for (const f of ['labelIssues', 'outOfDistribution', 'duplicates', 'sources']) assert.equal(await view.locator(`[data-testid="audit-section"][data-finding="${f}"]`).count(), 1, f);

		// The finding as a review queue in the grid.
		const count = Number(await ood.getAttribute('data-count'));
		await ood.locator('[data-testid="audit-queue"]').click();
		const grid = await panelFrame(page, 'predictions', 90_000);
		await until('review queue items', async () => Number(await grid.locator('[data-testid="grid-count"]').first().textContent({ timeout: 2000 })) === count, 90_000);
		await shot(page, 'audit-02-review-queue');
		// These images were flagged, not classified: no made-up prediction, no "100 %" accuracy, the audit score instead.
		const tile = grid.locator(`[data-testid="grid-item"][data-rel-path="${PHOTO}"]`);
		assert.equal(await tile.locator('[data-testid="pred-label"]').textContent(), 'none');
		assert.match((await tile.textContent()) ?? '', /audit score \d\.\d\d \(threshold \d\.\d\d\)/);
		assert.doesNotMatch((await tile.textContent()) ?? '', /right|wrong|\(1\.00\)/);
		assert.equal(await grid.locator('[data-testid="metrics-accuracy"]').count(), 0, 'no accuracy for a queue without predictions');
		assert.equal(await grid.locator('[data-testid="confusion-matrix"]').count(), 0, 'no confusion matrix either');
		assert.equal(await grid.locator('p', { hasText: 'flagged by a check, not classified' }).count(), 1);

		// Exclude: the flag lands in radreview-annotations.csv (written shortly after, by the annotation store).
		// The queue opened over the audit in the same editor group: back to the audit's tab.
		await page.locator('.tabs-container .tab', { hasText: 'Dataset Audit' }).first().click();
		const audit = await panelFrame(page, 'audit');
		await audit.locator(`[data-testid="audit-item"][data-rel-path="${PHOTO}"] vscode-button`).first().click();
		const file = path.join(h.workspace, 'data', 'radreview-annotations.csv');
		const row = await until('annotation row', async () => (fs.existsSync(file) ? parseCsvRecords(fs.readFileSync(file, 'utf8')).find((r) => r.path === PHOTO) : undefined), 30_000);
		assert.match(JSON.stringify(row), /not-frontal/);
		await shot(page, 'audit-03-excluded');
	});
});
