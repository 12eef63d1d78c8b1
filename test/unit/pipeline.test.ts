// The pipelined feature pass (decode overlapped with the base) against the sequential one, on real radiographs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CLASS_NAMES } from '../../src/engine/types';
import { initBackend, shutdownBackend } from '../../src/engine/model/tf';
import { buildBackbone, getBackbone } from '../../src/engine/model/backbones';
import { createTfjsExtractor } from '../../src/engine/runtime/tfjsExtractor';
import { scanDataset } from '../../src/engine/data/scan';
import { loadImages } from '../../src/engine/data/cache';
import { computeFeatures, type FeatureKey } from '../../src/engine/train/features';
import { pipelineFeatures, type PipelineEvent } from '../../src/engine/train/pipeline';
import { isCancelled } from '../../src/engine/util/cancel';

const DEV = path.resolve(__dirname, '../../../shared/cxr/dev');
const PER_CLASS = 4;
const SIZE = 64;
let tmp: string;
let data: string;
let bad: string;

before(async () => {
	await initBackend();
	tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-pipeline-'));
	data = path.join(tmp, 'data');
	for (const c of CLASS_NAMES) {
		await fs.mkdir(path.join(data, c), { recursive: true });
		const files = (await fs.readdir(path.join(DEV, c))).sort().slice(0, PER_CLASS);
		for (const f of files) await fs.copyFile(path.join(DEV, c, f), path.join(data, c, f));
	}
	// One duplicate (decoded once) and one file that is a JPEG only by its first bytes.
	const first = (await fs.readdir(path.join(data, 'NORMAL'))).sort()[0];
	await fs.copyFile(path.join(data, 'NORMAL', first), path.join(data, 'NORMAL', `copy-${first}`));
	bad = path.join(data, 'COVID', 'broken.jpg');
	await fs.writeFile(bad, Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(600, 7)]));
});

after(async () => {
	shutdownBackend();
	if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

test('pipelined decode + features equals the sequential pass; the base starts before the last decode ends', async () => {
	const scan = await scanDataset(data);
	const records = scan.images;
	const spec = getBackbone('vgg16');
	const baseShape = spec.outputShape(SIZE);
	const key: FeatureKey = { backbone: 'vgg16', weightsSha: 'random-7', preprocessing: 'caffe', resize: 'stretch', size: SIZE };
	const base = buildBackbone('vgg16', SIZE, { seed: 7 });
	const extractor = async () => createTfjsExtractor(base, SIZE);
	const batchSize = 3;
	const lookahead = 1;

	// Sequential: every image decoded, then the features.
	const seqDir = path.join(tmp, 'seq');
	const loaded = await loadImages(records, { workDir: seqDir, size: SIZE, resize: 'stretch' });
	const seq = await computeFeatures(loaded.images, { workDir: seqDir, key, baseShape, batchSize, extractor });

	const pipeDir = path.join(tmp, 'pipe');
	const events: PipelineEvent[] = [];
	const run = () =>
		pipelineFeatures(records, {
			workDir: pipeDir,
			key,
			baseShape,
			batchSize,
			lookahead,
			extractor,
			pixels: { workDir: pipeDir, size: SIZE, resize: 'stretch' },
			onPipelineEvent: (e) => events.push(e),
		});
	const piped = await run();

	// Same images, same bad file named with its reason, same features bit for bit.
	assert.deepEqual(
		piped.loaded.images.map((i) => i.record.path),
		loaded.images.map((i) => i.record.path),
	);
	assert.equal(piped.loaded.errors.length, 1);
	assert.equal(piped.loaded.errors[0].path, bad);
	assert.deepEqual(piped.loaded.errors, loaded.errors);
	assert.equal(piped.features.dim, seq.dim);
	assert.deepEqual(piped.features.feats, seq.feats);
	assert.equal(piped.features.computed, seq.computed);

	// The duplicate is decoded once: one decode per distinct content (the bad file included).
	const starts = events.filter((e) => e.kind === 'decode-start');
	assert.equal(starts.length, new Set(loaded.images.map((i) => i.sha256)).size + 1);
	const batches = Math.max(...starts.map((e) => e.batch)) + 1;
	assert.ok(batches >= 4, `enough batches to pipeline (${batches})`);

	// Overlap: the base ran batch 0 before the last batch had finished decoding.
	const firstForward = events.findIndex((e) => e.kind === 'forward-start' && e.batch === 0);
	const lastDecodeEnd = events.map((e) => e.kind).lastIndexOf('decode-end');
	assert.ok(firstForward >= 0 && firstForward < lastDecodeEnd, `forward of batch 0 (#${firstForward}) before the last decode ended (#${lastDecodeEnd})`);
	// Bounded look-ahead: no decode of batch b starts before the base has moved to within `lookahead` of it.
	let forwarded = -1;
	for (const e of events) {
		if (e.kind === 'forward-start') forwarded = e.batch;
		if (e.kind === 'decode-start') assert.ok(e.batch <= Math.max(forwarded, 0) + lookahead + 1, `decode of batch ${e.batch} started while the base was at ${forwarded}`);
	}

	// Warm: every good image's feature is cached, so only the bad file is tried again and the base never runs.
	events.length = 0;
	const warm = await run();
	assert.equal(warm.features.computed, 0);
	assert.deepEqual(warm.features.feats, seq.feats);
	assert.equal(warm.loaded.decoded, 0);
	assert.deepEqual(
		events.filter((e) => e.kind === 'decode-start' || e.kind === 'forward-start'),
		[{ kind: 'decode-start', item: 0, batch: 0 }],
	);
	assert.deepEqual(warm.loaded.errors, loaded.errors);
	base.dispose();
});

test('cancelling mid-pass rejects with CancelledError and leaves no decoder waiting', async () => {
	const scan = await scanDataset(data);
	const spec = getBackbone('vgg16');
	const base = buildBackbone('vgg16', SIZE, { seed: 3 });
	const ac = new AbortController();
	const work = path.join(tmp, 'cancel');
	const events: PipelineEvent[] = [];
	await assert.rejects(
		pipelineFeatures(scan.images, {
			workDir: work,
			key: { backbone: 'vgg16', weightsSha: 'random-3', preprocessing: 'caffe', resize: 'stretch', size: SIZE },
			baseShape: spec.outputShape(SIZE),
			batchSize: 2,
			lookahead: 1,
			extractor: async () => createTfjsExtractor(base, SIZE),
			pixels: { workDir: work, size: SIZE, resize: 'stretch' },
			signal: ac.signal,
			onPipelineEvent: (e) => {
				events.push(e);
				if (e.kind === 'forward-end' && e.batch === 1) ac.abort();
			},
		}),
		(e: unknown) => isCancelled(e),
	);
	// Nothing ran past the cancel: no batch after the one in the base, and the hash index was still saved.
	assert.ok(!events.some((e) => e.kind === 'forward-start' && e.batch > 1));
	assert.ok((await fs.stat(path.join(work, 'cache', 'pixels', 'index.json'))).size > 0);
	base.dispose();
});
