// The engine worker through its host-side client, on real radiographs: typed jobs, cached thumbnails,
// cancellation, and a malformed request that must not take the worker down. Needs dist/worker.js (npm test builds it).
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { EngineClient, EngineCrashedError } from '../../src/engine/client';
import { isCancelled } from '../../src/engine/util/cancel';
import { datasetLabels } from '../../src/engine/data/scan';
import { editAnnotations } from '../../src/engine/annotations/store';

const WORKER = path.join(__dirname, '../../dist/worker.js');
const DEV = path.join(__dirname, '../../../shared/cxr/dev');
const tmp = mkdtempSync(path.join(tmpdir(), 'radreview-worker-'));
const data = path.join(tmp, 'data');
const logs: string[] = [];
let client: EngineClient;

before(() => {
	assert.ok(existsSync(WORKER), 'dist/worker.js is missing: run npm run build');
	for (const c of ['COVID', 'NORMAL', 'PNEUMONIA']) {
		mkdirSync(path.join(data, c), { recursive: true });
		for (const f of readdirSync(path.join(DEV, c)).sort().slice(0, 4)) copyFileSync(path.join(DEV, c, f), path.join(data, c, f));
	}
	client = new EngineClient({ workerPath: WORKER, log: (level, message) => logs.push(`${level}: ${message}`) });
});

after(() => {
	client?.dispose();
	rmSync(tmp, { recursive: true, force: true });
});

test('splits: the worker scans real images and returns a seeded split covering every labelled image', async () => {
	const r = await client.run({ type: 'splits', dataDir: data, mode: 'patient', seed: 40, testFraction: 0.25, valFraction: 0.1 });
	assert.equal(r.scan.images.length, 12);
	const all = [...r.split.train, ...r.split.val, ...r.split.test].sort();
	assert.deepEqual(all, r.scan.images.map((i) => i.relPath).sort());
	assert.deepEqual(r.split.leakedPatients, []);
	const again = await client.run({ type: 'splits', dataDir: data, mode: 'patient', seed: 40, testFraction: 0.25, valFraction: 0.1 });
	assert.deepEqual(again.split, r.split, 'same seed, same split');
});

test('thumbs: small JPEGs made once, a bad file reported without stopping the batch', async () => {
	const files = readdirSync(path.join(data, 'COVID')).map((f) => path.join(data, 'COVID', f));
	const bogus = path.join(tmp, 'not-an-image.jpg');
	copyFileSync(path.join(__filename), bogus);
	const outDir = path.join(tmp, 'thumbs');
	const r = await client.run({ type: 'thumbs', paths: [...files, bogus], roots: [tmp], outDir, size: 96 });
	assert.equal(Object.keys(r.thumbs).length, files.length);
	assert.equal(r.errors.length, 1);
	assert.equal(r.errors[0].path, bogus);
	const first = files.map((f) => statSync(r.thumbs[f]).mtimeMs);
	for (const f of files) assert.deepEqual([...readFileSync(r.thumbs[f]).subarray(0, 3)], [0xff, 0xd8, 0xff], 'JPEG');
	const again = await client.run({ type: 'thumbs', paths: files, roots: [tmp], outDir, size: 96 });
	assert.deepEqual(
		files.map((f) => statSync(again.thumbs[f]).mtimeMs),
		first,
		'cached thumbnails are not rewritten',
	);
});

test('thumbs: paths outside the roots (absolute, ../, a symlink out) are refused and never read', async () => {
	const outside = mkdtempSync(path.join(tmpdir(), 'radreview-outside-'));
	try {
		const secret = path.join(outside, 'secret.jpg');
		copyFileSync(readdirSync(path.join(data, 'NORMAL')).map((f) => path.join(data, 'NORMAL', f))[0], secret);
		const link = path.join(data, 'link.jpg');
		symlinkSync(secret, link);
		const dotdot = path.join(data, '..', path.basename(outside), 'secret.jpg');
		const outDir = path.join(tmp, 'thumbs-hostile');
		const r = await client.run({ type: 'thumbs', paths: [secret, link, dotdot, '/etc/hostname'], roots: [data], outDir, size: 64 });
		assert.deepEqual(r.thumbs, {}, 'no thumbnail of anything outside');
		assert.equal(r.errors.length, 4);
		for (const e of r.errors) assert.match(e.reason, /outside the allowed folders|contains '\.\.'|does not exist/, e.path);
		assert.equal(existsSync(outDir) ? readdirSync(outDir).length : 0, 0, 'nothing written');
		rmSync(link);
	} finally {
		rmSync(outside, { recursive: true, force: true });
	}
});

test('an aborted signal cancels a job with CancelledError, and the worker keeps serving', async () => {
	const ac = new AbortController();
	const job = client.run({ type: 'preprocess', dataDir: data, workDir: path.join(tmp, 'work'), imageSize: 64, resize: 'stretch' }, { signal: ac.signal });
	ac.abort();
	await assert.rejects(job, (e: unknown) => isCancelled(e));
	const runs = await client.run({ type: 'listRuns', workDir: path.join(tmp, 'work') });
	assert.deepEqual(runs, []);
});

test('the worker dying mid-job fails that job with a named error, tells the listener once, and the next job gets a fresh worker', async () => {
	const marker = path.join(tmp, 'crashed-once');
	const lines: string[] = [];
	const crashing = new EngineClient({ workerPath: WORKER, env: { RADREVIEW_TEST_WORKER_EXIT: `splits:${marker}` }, log: (level, m) => lines.push(`${level}: ${m}`) });
	const crashes: [EngineCrashedError, number][] = [];
	crashing.onCrash((e, lost) => crashes.push([e, lost]));
	try {
		const job = { type: 'splits', dataDir: data, mode: 'patient', seed: 40, testFraction: 0.25, valFraction: 0.1 } as const;
		await assert.rejects(crashing.run(job), (e: unknown) => e instanceof EngineCrashedError && /exit code 70/.test(e.message));
		assert.ok(existsSync(marker), 'the worker really exited inside the job');
		assert.equal(crashes.length, 1);
		assert.equal(crashes[0][1], 1, 'one job lost');
		assert.ok(
			lines.some((l) => l.startsWith('error: The engine worker stopped unexpectedly')),
			lines.join('\n'),
		);
		assert.equal(crashing.busy, 0);
		// The next job starts a fresh worker (the marker keeps it from exiting again).
		const r = await crashing.run(job);
		assert.equal(r.scan.images.length, 12);
		assert.equal(crashes.length, 1, 'no second report');
	} finally {
		crashing.dispose();
	}
	assert.equal(crashes.length, 1, 'dispose is not a crash');
});

test('a malformed request is refused by the worker with a log line, not a crash', async () => {
	// Talk to a worker directly, bypassing the typed client.
	const w = new Worker(WORKER);
	try {
		const reply = await new Promise<unknown>((resolve, reject) => {
			w.once('message', resolve);
			w.once('error', reject);
			w.postMessage({ type: 'train', id: 1, config: 'rm -rf /' });
		});
		assert.equal((reply as { type: string }).type, 'log');
		assert.match((reply as { message: string }).message, /malformed/);
		const ok = await new Promise<unknown>((resolve) => {
			w.on('message', (m: { type: string }) => m.type === 'result' && resolve(m));
			w.postMessage({ type: 'listRuns', id: 2, workDir: path.join(tmp, 'none') });
		});
		assert.deepEqual(ok, { type: 'result', id: 2, result: [] });
	} finally {
		await w.terminate();
	}
});

/** A minimal Part-10 file (Explicit VR Little Endian header) around one encapsulated frame. */
function encapsulatedDicom(ts: string, width: number, height: number, bitsStored: number, frame: Uint8Array): Buffer {
	const parts: Buffer[] = [Buffer.alloc(128), Buffer.from('DICM')];
	const el = (g: number, e: number, vr: string, value: Buffer) => {
		const h = Buffer.alloc(8);
		h.writeUInt16LE(g, 0);
		h.writeUInt16LE(e, 2);
		h.write(vr, 4, 'latin1');
		h.writeUInt16LE(value.length, 6);
		parts.push(h, value);
	};
	const us = (v: number) => Buffer.from(new Uint16Array([v]).buffer);
	const text = (s: string, pad = ' ') => Buffer.from(s.length % 2 ? s + pad : s, 'latin1');
	const tag = (g: number, e: number, len: number) => {
		const b = Buffer.alloc(8);
		b.writeUInt16LE(g, 0);
		b.writeUInt16LE(e, 2);
		b.writeUInt32LE(len, 4);
		return b;
	};
	el(0x0002, 0x0010, 'UI', text(ts, '\0'));
	el(0x0008, 0x0060, 'CS', text('DX'));
	el(0x0028, 0x0002, 'US', us(1));
	el(0x0028, 0x0004, 'CS', text('MONOCHROME2'));
	el(0x0028, 0x0010, 'US', us(height));
	el(0x0028, 0x0011, 'US', us(width));
	el(0x0028, 0x0100, 'US', us(16));
	el(0x0028, 0x0101, 'US', us(bitsStored));
	el(0x0028, 0x0103, 'US', us(0));
	const padded = Buffer.concat([Buffer.from(frame), Buffer.alloc(frame.length % 2)]);
	// Pixel data of undefined length: an empty offset table, one fragment, the sequence delimiter.
	const pixel = Buffer.alloc(12);
	pixel.writeUInt16LE(0x7fe0, 0);
	pixel.writeUInt16LE(0x0010, 2);
	pixel.write('OB', 4, 'latin1');
	pixel.writeUInt32LE(0xffffffff, 8);
	parts.push(pixel, tag(0xfffe, 0xe000, 0), tag(0xfffe, 0xe000, padded.length), padded, tag(0xfffe, 0xe0dd, 0));
	return Buffer.concat(parts);
}

test('viewImage: the bundled worker loads the WebAssembly codecs and returns full-resolution stored values', async () => {
	// A real radiograph as 12-bit values, compressed by OpenJPH (HTJ2K lossless) and wrapped as DICOM: the worker
	// bundle must find the codec's .wasm at run time, as the packaged extension does.
	const { default: sharp } = await import('sharp');
	const src = path.join(DEV, 'NORMAL', readdirSync(path.join(DEV, 'NORMAL')).sort()[0]);
	const { data: px, info } = await sharp(src).greyscale().resize(256).raw().toBuffer({ resolveWithObject: true });
	const values = Uint16Array.from(px, (v) => v * 16 + (v & 15));
	const openjph = (await import('@cornerstonejs/codec-openjph')).default as unknown as (o: object) => Promise<Record<string, new () => Record<string, (...a: unknown[]) => unknown>>>;
	const enc = new (await openjph({ print: () => undefined, printErr: () => undefined })).HTJ2KEncoder();
	(enc.getDecodedBuffer({ width: info.width, height: info.height, bitsPerSample: 12, componentCount: 1, isSigned: false, isUsingColorTransform: false }) as Uint8Array).set(
		new Uint8Array(values.buffer),
	);
	enc.setQuality(true, 0);
	enc.encode();
	const file = path.join(tmp, 'htj2k.dcm');
	writeFileSync(file, encapsulatedDicom('1.2.840.10008.1.2.4.201', info.width, info.height, 12, enc.getEncodedBuffer() as Uint8Array));
	enc.delete();
	const v = await client.run({ type: 'viewImage', path: file });
	assert.deepEqual([v.width, v.height, v.samples, v.format], [info.width, info.height, 1, 'dicom (HTJ2K Lossless)']);
	assert.ok(v.pixels instanceof Uint16Array);
	assert.deepEqual([...v.pixels], [...values], 'lossless through the worker');
	await assert.rejects(client.run({ type: 'viewImage', path: path.join(tmp, 'missing.dcm') }), /missing\.dcm: cannot read \(ENOENT\)/);
});

test('datasetLabels: new annotation rows get the label the scan resolved (metadata.csv), not the folder name, as in the CLI', async () => {
	// Images kept in a folder named NORMAL whose metadata.csv says COVID-19: training reads COVID.
	const root = path.join(tmp, 'meta');
	mkdirSync(path.join(root, 'NORMAL'), { recursive: true });
	const files = readdirSync(path.join(DEV, 'COVID')).sort().slice(0, 2);
	for (const f of files) copyFileSync(path.join(DEV, 'COVID', f), path.join(root, 'NORMAL', f));
	writeFileSync(path.join(root, 'metadata.csv'), ['patientid,finding,view,folder,filename', ...files.map((f, i) => `p${i},COVID-19,PA,NORMAL,${f}`)].join('\n') + '\n');
	const labels = await client.run({ type: 'datasetLabels', dataDir: root });
	assert.deepEqual(labels, Object.fromEntries(files.map((f) => [`NORMAL/${f}`, 'COVID'])));
	// The CLI's rows come from the same scan: both sides record COVID as original_label.
	const images = await datasetLabels(root);
	const rel = `NORMAL/${files[0]}`;
	const { snapshot } = await editAnnotations(root, images, [{ kind: 'label', path: rel, label: 'PNEUMONIA' }], { reviewer: 't', updated: '2026-12-02T00:00:00.000Z' });
	assert.equal(snapshot.set.get(rel)?.originalLabel, labels[rel]);
	assert.equal(snapshot.set.get(rel)?.originalLabel, 'COVID');
});
