// DICOM as hospitals send it: files made from real dev radiographs with Debian's DICOM tools (dcmtk, gdcm) in every
// supported transfer syntax, decoded and compared with the uncompressed original (exact when lossless, a PSNR floor
// when lossy); rescale, windows, SIGMOID and MONOCHROME1 compared with pydicom (Debian python3-pydicom).
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { decodeBytes } from '../../src/engine/data/decode';
import { LABELS_FILE, scanDataset } from '../../src/engine/data/scan';
import { chooseWindow, decodeRle, dicomFlag, readDicomFrame, readDicomTags, toDisplayBytes, type DicomFrame } from '../../src/engine/data/dicom';
import { viewImage } from '../../src/engine/data/view';
import { voi } from '../../src/engine/data/voi';
import openjph from '@cornerstonejs/codec-openjph';

const SHARED = path.resolve(__dirname, '../../../shared/cxr');
const AWK = path.join(SHARED, 'awkward');
/** A pediatric normal (CC BY 4.0) and an RGB figure panel from the dev set. */
const GRAY_SRC = path.join(SHARED, 'dev/NORMAL/00cfd1c1.jpg');
const COLOUR_SRC = path.join(SHARED, 'dev/COVID/1-s2.0-S1341321X20301124-gr3_lrg-d.png');
const PYTHON = '/usr/bin/python3';
const TOOLS = ['dcmcjpeg', 'dcmcjpls', 'dcmcrle', 'dcmconv', 'gdcmconv', 'dcmdump', 'dcmodify'];

/** Missing DICOM tools fail under CI (setup.sh installs them); locally the suite says what to install. */
function missingPrerequisites(): string[] {
	const missing = TOOLS.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
	if (spawnSync(PYTHON, ['-c', 'import pydicom, numpy, PIL']).status !== 0) missing.push('python3-pydicom (with numpy, PIL)');
	return missing;
}
const missing = missingPrerequisites();
const skip = missing.length && process.env.CI !== 'true' ? `needs ${missing.join(', ')} (scripts/setup.sh installs them)` : false;

let dir: string;
const file = (name: string) => path.join(dir, name);
const frame = async (name: string) => readDicomFrame(readFileSync(file(name)));
const run = (cmd: string, ...args: string[]) => execFileSync(cmd, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

function compare(a: DicomFrame, b: DicomFrame): { maxDiff: number; psnr: number } {
	assert.deepEqual([b.width, b.height, b.samples, b.pixels.length], [a.width, a.height, a.samples, a.pixels.length]);
	let maxDiff = 0;
	let se = 0;
	for (let i = 0; i < a.pixels.length; i++) {
		const d = Math.abs(a.pixels[i] - b.pixels[i]);
		se += d * d;
		if (d > maxDiff) maxDiff = d;
	}
	const peak = a.samples === 3 ? 255 : 2 ** a.bitsStored - 1;
	return { maxDiff, psnr: se ? 10 * Math.log10((peak * peak * a.pixels.length) / se) : Infinity };
}

/** Transfer syntax UID of a file, as dcmtk reads it. */
const tsOf = (name: string) => /\(0002,0010\) UI =?\[?([\w.]+)/.exec(run('dcmdump', '-Un', '-M', '+P', '0002,0010', name).toString())?.[1];

describe('DICOM transfer syntaxes (files made by dcmtk / gdcm from dev radiographs)', { skip }, () => {
	before(async () => {
		assert.deepEqual(missing, [], `missing prerequisites: ${missing.join(', ')} (run scripts/setup.sh)`);
		dir = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-dicom-'));
		execFileSync(PYTHON, [path.join(__dirname, 'fixtures/dicomFixtures.py'), GRAY_SRC, COLOUR_SRC, dir]);
	});
	after(async () => dir && fs.rm(dir, { recursive: true, force: true }));

	// [output, tool, args, source, expected transfer syntax UID, PSNR floor (dB) or 'exact'; JPEG-LS near-lossless: max deviation]
	const cases: Array<[string, string, string[], string, string, number | 'exact']> = [
		['u16.jll14.dcm', 'dcmcjpeg', ['+el'], 'u16', '1.2.840.10008.1.2.4.57', 'exact'],
		['u16.jllsv1.dcm', 'dcmcjpeg', ['+e1'], 'u16', '1.2.840.10008.1.2.4.70', 'exact'],
		['u16.jls.dcm', 'dcmcjpls', ['+el'], 'u16', '1.2.840.10008.1.2.4.80', 'exact'],
		['u16.jlsnear.dcm', 'dcmcjpls', ['+en', '+md', '3'], 'u16', '1.2.840.10008.1.2.4.81', 55],
		['u16.rle.dcm', 'dcmcrle', [], 'u16', '1.2.840.10008.1.2.5', 'exact'],
		['u16.j2k.dcm', 'gdcmconv', ['--j2k'], 'u16', '1.2.840.10008.1.2.4.90', 'exact'],
		['u16.j2klossy.dcm', 'gdcmconv', ['--j2k', '--lossy', '-r', '10'], 'u16', '1.2.840.10008.1.2.4.91', 40],
		['u16.deflated.dcm', 'dcmconv', ['+td'], 'u16', '1.2.840.10008.1.2.1.99', 'exact'],
		['u16.bigendian.dcm', 'dcmconv', ['+tb'], 'u16', '1.2.840.10008.1.2.2', 'exact'],
		['s16.jllsv1.dcm', 'dcmcjpeg', ['+e1'], 's16', '1.2.840.10008.1.2.4.70', 'exact'],
		['s16.jls.dcm', 'dcmcjpls', ['+el'], 's16', '1.2.840.10008.1.2.4.80', 'exact'],
		['s16.rle.dcm', 'dcmcrle', [], 's16', '1.2.840.10008.1.2.5', 'exact'],
		['s16.j2k.dcm', 'gdcmconv', ['--j2k'], 's16', '1.2.840.10008.1.2.4.90', 'exact'],
		['u8.jpeg.dcm', 'dcmcjpeg', ['+eb'], 'u8', '1.2.840.10008.1.2.4.50', 38],
		['u8.jext.dcm', 'dcmcjpeg', ['+ee'], 'u8', '1.2.840.10008.1.2.4.51', 38],
		['u8.j2k.dcm', 'gdcmconv', ['--j2k'], 'u8', '1.2.840.10008.1.2.4.90', 'exact'],
		['rgb.jpeg.dcm', 'dcmcjpeg', ['+eb'], 'rgb', '1.2.840.10008.1.2.4.50', 35],
		['rgb.jllsv1.dcm', 'dcmcjpeg', ['+e1'], 'rgb', '1.2.840.10008.1.2.4.70', 'exact'],
		['rgb.jls.dcm', 'dcmcjpls', ['+el'], 'rgb', '1.2.840.10008.1.2.4.80', 'exact'],
		['rgb.rle.dcm', 'dcmcrle', [], 'rgb', '1.2.840.10008.1.2.5', 'exact'],
		['rgb.j2k.dcm', 'gdcmconv', ['--j2k'], 'rgb', '1.2.840.10008.1.2.4.90', 'exact'],
	];
	for (const [out, tool, args, src, uid, quality] of cases) {
		test(`${out}: ${tool} ${args.join(' ')} → ${uid}, ${quality === 'exact' ? 'identical stored values' : `PSNR ≥ ${quality} dB`}`, async () => {
			run(tool, ...args, `${src}.dcm`, out);
			assert.equal(tsOf(out), uid, 'the tool wrote the transfer syntax under test');
			const original = await frame(`${src}.dcm`);
			const decoded = await frame(out);
			assert.equal(decoded.transferSyntax, uid);
			const { maxDiff, psnr } = compare(original, decoded);
			if (quality === 'exact') assert.equal(maxDiff, 0, `lossless: max difference ${maxDiff}`);
			else {
				assert.ok(psnr >= quality, `PSNR ${psnr.toFixed(1)} dB < ${quality} dB`);
				assert.ok(maxDiff > 0 || psnr === Infinity, 'lossy');
				assert.ok(
					decoded.notes.some((n) => /lossy/.test(n)),
					'lossy compression is noted',
				);
			}
			// The model's input path (decode.ts) takes the same file.
			const d = await decodeBytes(readFileSync(file(out)), out, { size: 32, resize: 'stretch' });
			assert.equal(d.rgb.length, 32 * 32 * 3);
		});
	}

	test('HTJ2K lossless: OpenJPH-encoded frame, wrapped by pydicom → identical stored values (after the other codecs loaded)', async () => {
		// No Debian tool writes HTJ2K: the codestream comes from OpenJPH's encoder, so this checks our DICOM
		// plumbing and that the three WebAssembly codecs coexist in one thread, not OpenJPH against itself.
		const original = await frame('u16.dcm');
		const mod = await (openjph as unknown as (o: object) => Promise<Record<string, new () => Record<string, (...a: unknown[]) => unknown>>>)({ print: () => undefined, printErr: () => undefined });
		const enc = new mod.HTJ2KEncoder();
		const input = enc.getDecodedBuffer({ width: original.width, height: original.height, bitsPerSample: 12, componentCount: 1, isSigned: false, isUsingColorTransform: false }) as Uint8Array;
		input.set(new Uint8Array(original.pixels.buffer, original.pixels.byteOffset, original.pixels.byteLength));
		enc.setQuality(true, 0);
		enc.encode();
		await fs.writeFile(file('u16.jph'), enc.getEncodedBuffer() as Uint8Array);
		enc.delete();
		execFileSync(PYTHON, [path.join(__dirname, 'fixtures/encapsulate.py'), file('u16.dcm'), file('u16.jph'), file('u16.htj2k.dcm'), '1.2.840.10008.1.2.4.201']);
		assert.equal(tsOf('u16.htj2k.dcm'), '1.2.840.10008.1.2.4.201');
		const decoded = await frame('u16.htj2k.dcm');
		assert.equal(decoded.transferSyntaxName, 'HTJ2K Lossless');
		assert.equal(compare(original, decoded).maxDiff, 0);
	});

	test('JPEG-LS near-lossless keeps every value within NEAR', async () => {
		run('dcmcjpls', '+en', '+md', '3', 'u16.dcm', 'near3.dcm');
		assert.ok(compare(await frame('u16.dcm'), await frame('near3.dcm')).maxDiff <= 3);
	});

	test('12-bit extended JPEG (dcmcjpeg +ee): identical to dcmdjpeg, within a PSNR floor of the original in modality units', async () => {
		// +rm keeps the modality units through a rescale; the default (+ri) rescales values and windows. The signed
		// source is made unsigned by dcmcjpeg with its own scaling (not the modality units): checked against dcmdjpeg.
		for (const [src, args, sameUnits] of [
			['u16', ['+rm'], true],
			['u16', [], false],
			['s16', ['+rm'], false],
		] as const) {
			const out = `${src}.jext12${args.join('')}.dcm`;
			run('dcmcjpeg', '+ee', ...args, `${src}.dcm`, out);
			assert.equal(tsOf(out), '1.2.840.10008.1.2.4.51');
			const decoded = await frame(out);
			assert.deepEqual([decoded.bitsStored, decoded.transferSyntaxName], [12, 'JPEG Extended (Process 2 & 4, 12-bit)']);
			assert.ok(
				decoded.notes.some((n) => /lossy/.test(n)),
				'lossy compression is noted',
			);
			// dcmtk's own decoder (dcmdjpeg, native IJG 12-bit) gives the same stored values.
			run('dcmdjpeg', out, `${out}.ref.dcm`);
			assert.equal(compare(await frame(`${out}.ref.dcm`), decoded).maxDiff, 0, `${out}: ours vs dcmdjpeg`);
			const original = await frame(`${src}.dcm`);
			if (sameUnits) {
				// Same modality values as the original, up to the lossy error.
				let se = 0;
				for (let i = 0; i < original.pixels.length; i++) {
					const d = original.pixels[i] * original.slope + original.intercept - (decoded.pixels[i] * decoded.slope + decoded.intercept);
					se += d * d;
				}
				const peak = (original.maxStored - original.minStored) * original.slope;
				const psnr = 10 * Math.log10((peak * peak * original.pixels.length) / se);
				assert.ok(psnr >= 50 && se > 0, `${out}: PSNR ${psnr.toFixed(1)} dB in modality units`);
			}
			assert.equal(decoded.monochrome1, original.monochrome1);
			const d = await decodeBytes(readFileSync(file(out)), out, { size: 32, resize: 'stretch' });
			assert.equal(d.rgb.length, 32 * 32 * 3);
			if (src === 's16') continue;
			// What a reader sees: the first window of each file (dcmtk moves the windows with the values).
			const a = toDisplayBytes(original).data;
			const b = toDisplayBytes(decoded).data;
			let se8 = 0;
			for (let i = 0; i < a.length; i++) se8 += (a[i] - b[i]) ** 2;
			const psnr8 = 10 * Math.log10((255 * 255 * a.length) / se8);
			assert.ok(psnr8 >= 45, `${out}: displayed PSNR ${psnr8.toFixed(1)} dB`);
		}
	});

	test('a corrupt 12-bit JPEG frame is a named per-file error, not a crash', async () => {
		run('dcmcjpeg', '+ee', 'u16.dcm', 'u16.jext12cut.dcm');
		const bytes = new Uint8Array(readFileSync(file('u16.jext12cut.dcm')));
		// Break the stream's start-of-image marker: libjpeg refuses the frame.
		const soi = Buffer.from(bytes).indexOf(Buffer.from([0xff, 0xd8, 0xff]), 132);
		assert.ok(soi > 132);
		bytes[soi + 1] = 0;
		await assert.rejects(decodeBytes(bytes, 'cut.dcm', { size: 32, resize: 'stretch' }), /cut\.dcm: cannot decode JPEG Extended \(Process 2 & 4, 12-bit\) pixel data \(.+\)/);
		// The codec still works for the next file.
		assert.equal((await frame('u16.jext12cut.dcm')).width, (await frame('u16.dcm')).width);
	});

	test('files without the 128-byte preamble and meta header (dcmconv -F) decode', async () => {
		run('dcmconv', '-F', '+ti', 'u16.dcm', 'u16.bare.dcm');
		const bytes = readFileSync(file('u16.bare.dcm'));
		assert.notEqual(bytes.subarray(128, 132).toString('latin1'), 'DICM');
		assert.equal(compare(await frame('u16.dcm'), await frame('u16.bare.dcm')).maxDiff, 0);
		// A meta header without the preamble: the file's bytes from offset 132.
		const cut = readFileSync(file('u16.dcm')).subarray(132);
		assert.equal(compare(await frame('u16.dcm'), await readDicomFrame(cut)).maxDiff, 0);
	});

	test('multi-frame: the first frame, with a note', async () => {
		const f = await frame('mf.dcm');
		const single = await frame('u8.dcm');
		assert.equal(f.frames, 2);
		assert.equal(compare(single, f).maxDiff, 0);
		assert.ok(f.notes.some((n) => /first frame/.test(n)));
	});

	test('rescale + first window (LINEAR) and signed + SIGMOID match pydicom; MONOCHROME1 inverted after windowing', async () => {
		for (const name of ['u16', 's16']) {
			const f = await frame(`${name}.dcm`);
			const py = new Float32Array(new Uint8Array(readFileSync(file(`${name}.voi.f32`))).buffer);
			assert.equal(py.length, f.width * f.height);
			// pydicom maps into [ymin, ymax] of the stored range after rescale; ours into [0, 1].
			const bits = f.bitsStored;
			const [smin, smax] = f.signed ? [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1] : [0, 2 ** bits - 1];
			const [ymin, ymax] = [smin * f.slope + f.intercept, smax * f.slope + f.intercept];
			const w = chooseWindow(f);
			assert.equal(w.fn, name === 'u16' ? 'LINEAR' : 'SIGMOID');
			let worst = 0;
			for (let i = 0; i < py.length; i++) {
				const ours = voi(f.pixels[i] * f.slope + f.intercept, w);
				worst = Math.max(worst, Math.abs(ours - (py[i] - ymin) / (ymax - ymin)));
			}
			assert.ok(worst < 1e-4, `${name}: max |ours − pydicom| = ${worst}`);
			const shown = toDisplayBytes(f).data;
			for (let i = 0; i < py.length; i += 97) {
				const expected = Math.round(((py[i] - ymin) / (ymax - ymin)) * 255);
				assert.ok(Math.abs(shown[i] - (f.monochrome1 ? 255 - expected : expected)) <= 1, `${name} pixel ${i}`);
			}
		}
		const u16 = await frame('u16.dcm');
		assert.deepEqual(
			u16.windows.map((w) => [w.center, w.width, w.explanation]),
			[
				[2000, 4000, 'WIDE'],
				[3000, 1500, 'NARROW'],
			],
		);
		// The second window and a percentile window are other choices, not the default.
		assert.equal(chooseWindow(u16, { kind: 'file', index: 1 }).width, 1500);
		const p = chooseWindow(u16, { kind: 'percentile', low: 1, high: 99 });
		assert.ok(p.center - p.width / 2 >= u16.minStored * 2 - 1024 && p.center + p.width / 2 <= u16.maxStored * 2 - 1024);
	});

	test('tags: PatientID, age from birth and study dates, view, modality, body part', async () => {
		const f = await frame('u16.dcm');
		assert.deepEqual(f.tags, { patientId: 'derived-fixture-1', patientAge: 60.1, studyDate: '20200412', viewPosition: 'PA', modality: 'DX', bodyPart: 'CHEST' });
		assert.ok(
			f.table.some(([k, v]) => k === 'WindowCenter' && /^2000(\.0)?\\3000/.test(v)),
			'tag table has both windows',
		);
		assert.deepEqual(readDicomTags(readFileSync(file('u16.dcm'))), f.tags);
	});
	test('scan: PatientID groups, age read, lateral views and CT left out (and kept on request), each reported', async () => {
		const root = file('dataset');
		await fs.mkdir(path.join(root, 'NORMAL'), { recursive: true });
		await fs.mkdir(path.join(root, 'COVID'), { recursive: true });
		await fs.copyFile(file('u16.dcm'), path.join(root, 'NORMAL', 'pa.dcm'));
		await fs.copyFile(file('u16.j2k.dcm'), path.join(root, 'NORMAL', 'lateral.dcm'));
		await fs.copyFile(file('u8.dcm'), path.join(root, 'COVID', 'ct.dcm'));
		run('dcmodify', '-nb', '-m', '(0018,5101)=LL', path.join(root, 'NORMAL', 'lateral.dcm'));
		run('dcmodify', '-nb', '-m', '(0008,0060)=CT', '-m', '(0010,0020)=other-patient', path.join(root, 'COVID', 'ct.dcm'));
		const r = await scanDataset(root);
		assert.deepEqual(
			r.images.map((i) => [i.relPath, i.patientId, i.age, i.view]),
			[['NORMAL/pa.dcm', 'dicom-derived-fixture-1', 60.1, 'PA']],
		);
		const reasons = Object.fromEntries(r.errors.map((e) => [path.relative(root, e.path), e.reason]));
		assert.match(reasons['NORMAL/lateral.dcm'], /left out: lateral or oblique view \(ViewPosition LL\)/);
		assert.match(reasons['COVID/ct.dcm'], /left out: not a radiograph \(Modality CT\)/);
		await fs.writeFile(path.join(root, LABELS_FILE), JSON.stringify({ keepFlagged: true }));
		const kept = await scanDataset(root);
		assert.deepEqual(
			kept.images.map((i) => [i.relPath, i.patientId, i.flag ?? '']),
			[
				['COVID/ct.dcm', 'dicom-other-patient', 'not a radiograph (Modality CT)'],
				['NORMAL/lateral.dcm', 'dicom-derived-fixture-1', 'lateral or oblique view (ViewPosition LL)'],
				['NORMAL/pa.dcm', 'dicom-derived-fixture-1', ''],
			],
		);
	});
});

describe('DICOM without external tools', () => {
	test('the DICOM files in ../shared/cxr/awkward decode, with their tags', async () => {
		const names = (await fs.readdir(AWK)).filter((n) => n.endsWith('.dcm'));
		assert.equal(names.length, 3);
		for (const n of names) {
			const f = await readDicomFrame(readFileSync(path.join(AWK, n)));
			assert.deepEqual([f.width, f.height, f.samples], [1024, 1024, 1], n);
			assert.ok(f.maxStored > f.minStored, `${n} has contrast`);
		}
		const jpeg = await readDicomFrame(readFileSync(path.join(AWK, 'dicom_CR_chest_PA_8bit_jpeg-baseline.dcm')));
		assert.deepEqual([jpeg.tags.modality, jpeg.tags.viewPosition, jpeg.tags.bodyPart], ['CR', 'PA', 'CHEST']);
		const m1 = await readDicomFrame(readFileSync(path.join(AWK, 'dicom_CR_chest_PA_MONOCHROME1-header_modified.dcm')));
		assert.ok(m1.monochrome1);
		const a = toDisplayBytes(jpeg).data;
		const b = toDisplayBytes(m1).data;
		assert.ok(
			a.every((v, i) => v + b[i] === 255),
			'the MONOCHROME1 twin displays inverted',
		);
		const dx = await readDicomFrame(readFileSync(path.join(AWK, 'dicom_DX_chest_NIH-nofinding_8bit_uncompressed.dcm')));
		assert.deepEqual([dx.tags.patientId, dx.tags.modality, dx.tags.patientAge], ['Covid0000', 'DX', 81]);
	});

	test('non-radiograph modalities and lateral views are flagged', () => {
		assert.equal(dicomFlag({ modality: 'DX', viewPosition: 'PA', bodyPart: 'CHEST' }), undefined);
		assert.equal(dicomFlag({ modality: 'CR' }), undefined);
		assert.match(dicomFlag({ modality: 'CT' }) ?? '', /not a radiograph \(Modality CT\)/);
		assert.match(dicomFlag({ modality: 'CR', viewPosition: 'LL' }) ?? '', /lateral/);
		assert.match(dicomFlag({ modality: 'DX', bodyPart: 'KNEE' }) ?? '', /not a chest/);
	});

	test('viewer data: stored values at full resolution (16-bit PNG stays 16-bit), presets, tags, named errors', async () => {
		const m1 = await viewImage(path.join(AWK, 'dicom_CR_chest_PA_MONOCHROME1-header_modified.dcm'));
		assert.deepEqual([m1.width, m1.height, m1.samples, m1.monochrome1, m1.pixels.length], [1024, 1024, 1, true, 1024 * 1024]);
		assert.deepEqual(
			m1.presets.map((p) => p.name),
			['Full range', 'Percentile 1–99 %', 'Percentile 5–95 % (soft tissue)'],
		);
		assert.ok(m1.tags.some(([k, v]) => k === 'TransferSyntax' && /JPEG Baseline/.test(v)));
		assert.ok(m1.tags.some(([k, v]) => k === 'ViewPosition' && v === 'PA'));

		const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-view-'));
		try {
			// A derived 16-bit PNG (the 8-bit radiograph scaled to 16 bits): the viewer gets the 16-bit values.
			const png16 = path.join(tmp, 'derived16.png');
			const { data, info } = await sharp(path.join(AWK, 'gray_L_jpeg_kermany.jpeg')).greyscale().resize(200).raw().toBuffer({ resolveWithObject: true });
			const wide = Uint16Array.from(data, (x) => x * 257);
			await sharp(wide, { raw: { width: info.width, height: info.height, channels: 1 } })
				.toColourspace('grey16')
				.png()
				.toFile(png16);
			const v = await viewImage(png16);
			assert.ok(v.pixels instanceof Uint16Array, v.pixels.constructor.name);
			assert.equal(v.samples, 1);
			assert.ok(v.maxStored > 255, `16-bit range kept (max ${v.maxStored})`);
			const rgb = await viewImage(path.join(AWK, 'rgb_jpeg_of_grayscale_xray_kermany.jpeg'));
			assert.deepEqual([rgb.samples, rgb.pixels.length], [3, 836 * 521 * 3]);
			const junk = path.join(tmp, 'junk.dcm');
			await fs.writeFile(junk, 'not a radiograph');
			await assert.rejects(viewImage(junk), (e: Error) => e.message.startsWith(`${junk}: `));
		} finally {
			await fs.rm(tmp, { recursive: true, force: true });
		}
	});

	test('RLE: literal runs, repeats and a truncated segment', () => {
		// One 8-bit segment for a 2×3 image: literal [1, 2], then 4 × 9.
		const seg = [1, 1, 2, -3 & 0xff, 9];
		const header = new Uint8Array(64);
		new DataView(header.buffer).setUint32(0, 1, true);
		new DataView(header.buffer).setUint32(4, 64, true);
		const data = Uint8Array.from([...header, ...seg]);
		assert.deepEqual([...decodeRle(data, 3, 2, 1, 8)], [1, 2, 9, 9, 9, 9]);
		assert.throws(() => decodeRle(data, 4, 2, 1, 8), /RLE segment 1 is truncated/);
		assert.throws(() => decodeRle(data, 3, 2, 1, 16), /2 segments|expected 2/);
	});

	test('a corrupt compressed frame is a named per-file error, not a crash', async () => {
		const src = readFileSync(path.join(AWK, 'dicom_CR_chest_PA_8bit_jpeg-baseline.dcm'));
		// Break the JPEG stream's start-of-image marker: libjpeg refuses the frame.
		const bad = new Uint8Array(src);
		const soi = Buffer.from(src).indexOf(Buffer.from([0xff, 0xd8, 0xff]));
		assert.ok(soi > 132);
		bad[soi + 1] = 0;
		await assert.rejects(decodeBytes(bad, 'bad.dcm', { size: 32, resize: 'stretch' }), /bad\.dcm: cannot decode JPEG Baseline \(Process 1\) pixel data/);
		const asJ2k = Buffer.from(src).toString('latin1').replace('1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.90');
		await assert.rejects(decodeBytes(Buffer.from(asJ2k, 'latin1'), 'j2k.dcm', { size: 32, resize: 'stretch' }), /j2k\.dcm: cannot decode JPEG 2000 Lossless pixel data/);
	});
});
