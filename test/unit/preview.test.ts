// The large view's image: decoded by the engine at full resolution and scaled to the screen, on real files
// (the 15 MP JPEG, DICOM, palette PNG); through the worker, paths outside the allowed roots are refused.
// The worker part needs dist/worker.js (npm run build).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import sharp from 'sharp';
import { decodePreview } from '../../src/engine/data/decode';
import { EngineClient } from '../../src/engine/client';
import { isEngineRequest } from '../../src/protocol/engine';
import { isPredictionsFromWebview } from '../../src/protocol/predictions';

const SHARED = path.resolve(__dirname, '../../../shared/cxr');
const AWK = path.join(SHARED, 'awkward');
const WORKER = path.join(__dirname, '../../dist/worker.js');
const tmp = mkdtempSync(path.join(tmpdir(), 'radreview-preview-'));
let client: EngineClient | undefined;
after(() => {
	client?.dispose();
	rmSync(tmp, { recursive: true, force: true });
});

test('the 15 MP radiograph comes back at 2048 px on its long side (not a stretched thumbnail), aspect kept, grey', async () => {
	const file = path.join(AWK, 'very_large_4280x3520_gray.jpeg');
	const p = await decodePreview(file, 2048);
	assert.deepEqual([p.originalWidth, p.originalHeight], [4280, 3520]);
	assert.equal(p.width, 2048);
	assert.equal(p.height, Math.round((3520 * 2048) / 4280));
	const meta = await sharp(Buffer.from(p.jpeg)).metadata();
	assert.equal(meta.format, 'jpeg');
	assert.deepEqual([meta.width, meta.height, meta.channels], [p.width, p.height, 1]);
});

test('small images are not enlarged; DICOM (MONOCHROME1 inverted) and palette PNG decode', async () => {
	const kermany = await decodePreview(path.join(AWK, 'gray_L_jpeg_kermany.jpeg'), 2048);
	assert.deepEqual([kermany.width, kermany.height], [1422, 1152]);
	const dcm = await decodePreview(path.join(AWK, 'dicom_CR_chest_PA_8bit_jpeg-baseline.dcm'), 512);
	const mono1 = await decodePreview(path.join(AWK, 'dicom_CR_chest_PA_MONOCHROME1-header_modified.dcm'), 512);
	assert.deepEqual([dcm.width, dcm.height, dcm.originalWidth], [512, 512, 1024]);
	const mean = async (b: Uint8Array) => (await sharp(Buffer.from(b)).stats()).channels[0].mean;
	// Same pixels, MONOCHROME1 flag: the rendition is the negative (means mirror around 127.5).
	assert.ok(Math.abs((await mean(dcm.jpeg)) + (await mean(mono1.jpeg)) - 255) < 3);
	const pal = await decodePreview(path.join(AWK, 'palette_png_covid.png'), 1024);
	assert.ok(Math.max(pal.width, pal.height) <= 1024);
	await assert.rejects(decodePreview(path.join(AWK, 'README.txt'), 512), /README\.txt: not an image/);
});

test('through the worker: a preview inside the roots, a path outside them refused', async () => {
	assert.ok(existsSync(WORKER), 'dist/worker.js is missing: run npm run build');
	client = new EngineClient({ workerPath: WORKER, log: () => undefined });
	const ok = await client.run({ type: 'preview', path: path.join(AWK, 'gray_L_jpeg_kermany.jpeg'), roots: [AWK], maxSide: 1024 });
	assert.equal(ok.width, 1024);
	assert.deepEqual([...Buffer.from(ok.base64, 'base64').subarray(0, 3)], [0xff, 0xd8, 0xff]);
	await assert.rejects(client.run({ type: 'preview', path: path.join(SHARED, 'dev', 'manifest.csv'), roots: [AWK], maxSide: 1024 }), /outside the allowed folders/);
	await assert.rejects(client.run({ type: 'preview', path: `${AWK}/../dev/manifest.csv`, roots: [AWK], maxSide: 1024 }), /contains '\.\.'/);
});

test('guards: the large view asks by relPath and request id only; preview requests carry bounded sizes', () => {
	assert.ok(isPredictionsFromWebview({ type: 'loadImage', relPath: 'NORMAL/a_b_1.png', requestId: 3 }));
	assert.equal(isPredictionsFromWebview({ type: 'loadImage', relPath: 'a.png', requestId: 1.5 }), false);
	assert.equal(isPredictionsFromWebview({ type: 'loadImage', relPath: 'a.png', requestId: 1, path: '/etc/passwd' }), false);
	assert.ok(isEngineRequest({ type: 'preview', id: 1, path: '/d/a.png', roots: ['/d'], maxSide: 2048 }));
	assert.equal(isEngineRequest({ type: 'preview', id: 1, path: '/d/a.png', roots: ['/d'], maxSide: 1e6 }), false);
	assert.equal(isEngineRequest({ type: 'preview', id: 1, path: '/d/a.png', maxSide: 2048 }), false);
});
