// Restricted Mode: training and classification refuse with an explanation and touch nothing; a hostile run folder
// committed to the workspace (paths outside it, `../`, dataDir "/") is shown as data, and nothing outside is read.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLASSES, launch, makeDataset, runCommand, shot, until, webview, writeJson, type Harness } from './harness';

let h: Harness;
/** Images outside the workspace that the hostile run points at. */
let outside: string[] = [];
/** Every file outside the workspace the hostile files name or lead to (never opened: atime stays old). */
let outsideFiles: string[] = [];
let annotationsText = '';
/** Images inside the workspace that it also lists (those may be shown). */
let inside: string[] = [];
const OLD = new Date('2000-01-01T00:00:00Z');

/** A run folder as anyone could commit it: valid shapes, hostile paths. */
function hostileRun(ws: string): void {
	const secretDir = path.join(path.dirname(ws), 'outside');
	outside = makeDataset(secretDir, 1, 3);
	// A manifest and an annotations file out there too: a scan of the dataset a run names would open them.
	fs.writeFileSync(path.join(secretDir, 'manifest.csv'), 'path,patient_id\n');
	fs.writeFileSync(path.join(secretDir, 'radreview-annotations.csv'), 'path,sha256,label,original_label,flags,note,reviewer,updated,reviewed\n');
	outsideFiles = [...outside, path.join(secretDir, 'manifest.csv'), path.join(secretDir, 'radreview-annotations.csv')];
	// relatime updates atime on a read when atime < mtime: an old atime shows whether anything opened the file.
	for (const f of outsideFiles) fs.utimesSync(f, OLD, new Date());
	const dir = path.join(ws, '.radreview', 'runs', '20260101-000000-vgg16');
	const report = { precision: 0, recall: 0, f1: 0, support: 0 };
	writeJson(path.join(dir, 'config.json'), {
		backbone: 'vgg16',
		dataDir: '/',
		weights: '/etc/passwd',
		epochs: 1,
		batchSize: 1,
		learningRate: 0.001,
		testFraction: 0.2,
		valFraction: 0.1,
		seed: 1,
		splitMode: 'patient',
		resize: 'stretch',
		imageSize: 64,
		dropout: 0.2,
		reduceLr: { factor: 0.2, patience: 5, cooldown: 5, minLr: 0 },
		backend: 'auto',
		baseRuntime: 'auto',
		workDir: '/',
	});
	writeJson(path.join(dir, 'splits.json'), { mode: 'patient', seed: 1, testFraction: 0.2, valFraction: 0.1, train: [], val: [], test: [], leakedPatients: [] });
	writeJson(path.join(dir, 'history.json'), [{ epoch: 1, loss: 1, acc: 0.3, val_loss: 1, val_acc: 0.3, lr: 0.001, seconds: 1 }]);
	writeJson(path.join(dir, 'weights.json'), { pretrained: false, name: 'random (not pretrained)', sha256: 'random-1', backbone: 'vgg16' });
	writeJson(path.join(dir, 'metrics.json'), {
		loss: 1,
		accuracy: 0,
		confusion: [
			[0, 0, 0],
			[0, 0, 0],
			[0, 0, 0],
		],
		perClass: CLASSES.map((className) => ({ className, ...report })),
		macroAvg: report,
		weightedAvg: report,
		support: 0,
		backbone: 'vgg16',
		backend: 'cpu',
		baseRuntime: 'tfjs',
		weights: { pretrained: false, name: 'random (not pretrained)', sha256: 'random-1' },
		createdAt: '2026-01-01T00:00:00.000Z',
		timing: {},
		counts: { train: 0, val: 0, test: 0, decodeErrors: 0 },
	});
	const rows = [
		...inside.map((f) => [path.relative(ws, f), f]),
		...outside.map((f, i) => [`leak-${i}.jpg`, f]),
		['dotdot.jpg', `${ws}/../outside/${path.relative(path.join(path.dirname(ws), 'outside'), outside[0])}`],
		['passwd.jpg', '/etc/passwd'],
	];
	const csv = ['relPath,path,label,predicted,p_COVID,p_NORMAL,p_PNEUMONIA,correct,split', ...rows.map(([rel, p]) => `${rel},${p},,COVID,0.5,0.25,0.25,,test`)];
	fs.writeFileSync(path.join(dir, 'predictions.csv'), csv.join('\n') + '\n');
}

describe('Radiograph Review in an untrusted workspace', { timeout: 5 * 60_000 }, () => {
	before(async () => {
		h = await launch(
			(ws) => {
				inside = makeDataset(path.join(ws, 'data'), 2).slice(0, 1);
				// A committed annotations file with a formula cell: shown as text, never evaluated or rewritten.
				const rel = path.relative(path.join(ws, 'data'), inside[0]).split(path.sep).join('/');
				annotationsText = `path,sha256,label,original_label,flags,note,reviewer,updated,reviewed\n${rel},,,,,"=HYPERLINK(""http://x"")",@evil,,\n`;
				fs.writeFileSync(path.join(ws, 'data', 'radreview-annotations.csv'), annotationsText);
				hostileRun(ws);
				writeJson(path.join(ws, '.vscode', 'settings.json'), { 'radiographReview.datasetFolder': 'data', 'radiographReview.epochs': 1 });
			},
			{ untrusted: true },
		);
	});

	after(async () => {
		if (h) await h.stop();
	});

	test('Train VGG16 refuses and explains Restricted Mode', async () => {
		await runCommand(h.page, 'Radiograph: Train VGG16');
		await h.page.locator('.notifications-toasts', { hasText: 'Restricted Mode' }).first().waitFor({ state: 'visible', timeout: 60_000 });
		await shot(h.page, 'trust-01-train-refused');
		assert.deepEqual(fs.readdirSync(path.join(h.workspace, '.radreview', 'runs')), ['20260101-000000-vgg16'], 'no new run folder');
	});

	test('Classify Radiographs refuses before asking for a folder', async () => {
		await runCommand(h.page, 'Radiograph: Classify Radiographs');
		await h.page.locator('.notifications-toasts', { hasText: 'Classifying radiographs is disabled in Restricted Mode' }).first().waitFor({ state: 'visible', timeout: 60_000 });
		assert.equal(await h.page.locator('.quick-input-widget').isVisible(), false, 'no folder picker');
		await shot(h.page, 'trust-02-classify-refused');
	});

	test('a hostile run folder opens as data: nothing outside the workspace is read, thumbnailed or loadable', async () => {
		await runCommand(h.page, 'Radiograph: Open Predictions');
		const view = webview(h.page);
		const total = inside.length + outside.length + 2;
		await until('the hostile run in the predictions grid', async () => (await view.locator('[data-testid="grid-item"]').count()) === total, 90_000);
		// The one image inside the workspace gets its thumbnail; everything else is refused in the worker.
		const thumbs = await until('the inside thumbnail', async () => {
			const srcs = await view.locator('[data-testid="grid-thumb"][src]').evaluateAll((imgs) => imgs.map((i) => (i as HTMLImageElement).src));
			return srcs.length > 0 ? srcs : undefined;
		});
		await h.page.waitForTimeout(2000);
		assert.equal(await view.locator('[data-testid="grid-thumb"][src]').count(), inside.length, 'thumbnails only for images inside the workspace');
		const made = fs.readdirSync(path.join(h.workspace, '.radreview', 'cache', 'thumbs')).filter((f) => f.endsWith('.jpg'));
		assert.equal(made.length, inside.length, 'no thumbnail file of an outside image');
		for (const f of outsideFiles) assert.equal(fs.statSync(f).atimeMs, OLD.getTime(), `${f} was never opened`);
		// The committed annotations file (a formula cell in its note) is data: never rewritten, never "fixed".
		assert.equal(fs.readFileSync(path.join(h.workspace, 'data', 'radreview-annotations.csv'), 'utf8'), annotationsText);
		// The webview may load the thumbnail cache, but not the run's dataDir ("/") nor any file outside.
		const probe = async (file: string): Promise<number> => {
			const u = new URL(thumbs[0]);
			u.pathname = file.split(path.sep).map(encodeURIComponent).join('/');
			// An <img> (the CSP allows images from the webview's resource origin, not fetch): 1 = loaded, 0 = refused.
			return view.locator('body').evaluate(
				(_b: Element, url: string) =>
					new Promise<number>((resolve) => {
						const img = new Image();
						img.onload = () => resolve(img.naturalWidth > 0 ? 1 : 0);
						img.onerror = () => resolve(0);
						img.src = url;
					}),
				u.toString(),
			);
		};
		assert.ok((await probe(new URL(thumbs[0]).pathname)) > 0, 'the thumbnail cache itself is loadable (the probe works)');
		for (const f of [outside[0], '/etc/hostname', inside[0]]) assert.ok((await probe(f)) <= 0, `the webview must not load ${f}`);
		await shot(h.page, 'trust-03-hostile-run');
	});
});
