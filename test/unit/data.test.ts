// Data engine on real radiographs: ../shared/cxr/dev (small subsets) and ../shared/cxr/awkward.
import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { decodeCached, loadImages, pixelCacheDir } from '../../src/engine/data/cache';
import { parseCsv, parseCsvRecords } from '../../src/engine/data/csv';
import { DecodeError, decodeBytes, decodeToRgb } from '../../src/engine/data/decode';
import { normaliseLabel } from '../../src/engine/data/labels';
import { normalise } from '../../src/engine/data/preprocess';
import { LABELS_FILE, kermanyPatientId, scanDataset } from '../../src/engine/data/scan';
import type { ImageRecord, ProgressEvent } from '../../src/engine/types';
import { isCancelled } from '../../src/engine/util/cancel';
import { sha256 } from '../../src/engine/util/hash';

const SHARED = path.resolve(__dirname, '../../../shared/cxr');
const DEV = path.join(SHARED, 'dev');
const AWK = path.join(SHARED, 'awkward');
const manifest = parseCsvRecords(readFileSync(path.join(DEV, 'manifest.csv'), 'utf8'));
const opts = { size: 64, resize: 'stretch' as const };

const mean = (x: Uint8Array) => x.reduce((a, b) => a + b, 0) / x.length;
/** A few dev images of every kind (L/RGB JPEG, RGB/RGBA/palette PNG, PNG named .jpg). */
const devSample = () => {
	const picked = new Map<string, Record<string, string>>();
	for (const r of manifest) {
		const kind = `${r.format}/${r.mode}/${path.extname(r.path)}`;
		if (!picked.has(kind)) picked.set(kind, r);
	}
	return [...picked.values()];
};

/** A minimal Part-10 DICOM (explicit VR little endian body) around given pixels: a derived fixture for 16-bit paths. */
function makeDicom(ts: string, tags: Array<[number, number, string, string | number]>, pixels: Uint8Array): Uint8Array {
	const parts: Uint8Array[] = [new Uint8Array(128), new TextEncoder().encode('DICM')];
	const el = (g: number, e: number, vr: string, value: Uint8Array) => {
		const long = vr === 'OW' || vr === 'OB';
		const h = new DataView(new ArrayBuffer(long ? 12 : 8));
		h.setUint16(0, g, true);
		h.setUint16(2, e, true);
		h.setUint8(4, vr.charCodeAt(0));
		h.setUint8(5, vr.charCodeAt(1));
		if (long) h.setUint32(8, value.length, true);
		else h.setUint16(6, value.length, true);
		parts.push(new Uint8Array(h.buffer), value);
	};
	const str = (v: string, pad: string) => new TextEncoder().encode(v.length % 2 ? v + pad : v);
	el(0x0002, 0x0010, 'UI', str(ts, '\0'));
	for (const [g, e, vr, v] of tags) {
		if (vr === 'US') el(g, e, vr, new Uint8Array(new Uint16Array([Number(v)]).buffer));
		else el(g, e, vr, str(String(v), ' '));
	}
	el(0x7fe0, 0x0010, 'OW', pixels);
	return Buffer.concat(parts);
}

let tmp: string;
before(async () => (tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-data-'))));
after(async () => fs.rm(tmp, { recursive: true, force: true }));

describe('labels', () => {
	test('aliases, case and diacritics', () => {
		for (const n of ['COVID', 'COVID-19', 'covid19', 'covid_19', 'SARS-CoV-2', 'Pneumonia/Viral/COVID-19', 'COVID-19, ARDS']) assert.equal(normaliseLabel(n), 'COVID', n);
		for (const n of ['NORMAL', 'normal', 'No Finding']) assert.equal(normaliseLabel(n), 'NORMAL', n);
		for (const n of [
			'PNEUMONIA',
			'Infections',
			'INFECÇÕES',
			'other',
			'bacteria',
			'viral pneumonia',
			'Pneumonia/Bacterial/Streptococcus',
			'SARS',
			'Pneumocystis',
			'Klebsiella',
			'E.Coli',
			'Mycoplasma Bacterial Pneumonia',
		]) {
			assert.equal(normaliseLabel(n), 'PNEUMONIA', n);
		}
		for (const n of ['Unknown', 'todo', 'ARDS', 'images', 'non-COVID', '']) assert.equal(normaliseLabel(n), null, n);
		assert.equal(normaliseLabel('Saudável', { saudavel: 'NORMAL' }), 'NORMAL');
	});
	test('every dev finding maps to its manifest label', () => {
		for (const r of manifest) assert.equal(normaliseLabel(r.finding), r.label, r.finding);
	});
});

describe('csv', () => {
	test('quoted fields with commas, quotes and newlines; CRLF; BOM', () => {
		const rows = parseCsv('\ufeffa,b,c\r\n1,"x, y","he said ""hi""\nbye"\r\n\r\n2,,\n');
		assert.deepEqual(rows, [
			['a', 'b', 'c'],
			['1', 'x, y', 'he said "hi"\nbye'],
			['2', '', ''],
		]);
	});
});

describe('scan', () => {
	test('dev: 600 images, 200 per class, patient ids as in the manifest', async () => {
		const r = await scanDataset(DEV);
		assert.equal(r.layout, 'folders');
		assert.equal(r.images.length, 600);
		assert.deepEqual(r.errors, []);
		for (const c of ['COVID', 'NORMAL', 'PNEUMONIA']) assert.equal(r.images.filter((i) => i.label === c).length, 200);
		const byPath = new Map(manifest.map((m) => [m.path, m]));
		for (const i of r.images) {
			assert.equal(i.patientId, byPath.get(i.relPath)?.patient_id, i.relPath);
			assert.equal(i.label, byPath.get(i.relPath)?.label);
			assert.equal(i.source, byPath.get(i.relPath)?.source_dataset, `${i.relPath}: source from the manifest`);
		}
		assert.deepEqual(
			r.images.map((i) => i.relPath),
			[...r.images.map((i) => i.relPath)].sort(),
		);
	});
	test('Kermany file names give the manifest patient ids', () => {
		const kermany = manifest.filter((m) => m.source_dataset === 'Kermany2018');
		assert.ok(kermany.length > 300);
		for (const m of kermany) assert.equal(kermanyPatientId(m.path), m.patient_id, m.path);
		assert.equal(kermanyPatientId('00870a9c.jpg'), null);
	});
	test('awkward: flat layout, every file sniffed as an image, README ignored', async () => {
		const r = await scanDataset(AWK);
		assert.equal(r.layout, 'flat');
		assert.equal(r.images.length, 9);
		assert.ok(r.images.every((i) => i.label === null));
		// Patients: the file itself, except DICOM, whose PatientID groups the JPEG-baseline CR with its MONOCHROME1 twin.
		assert.ok(r.images.filter((i) => !i.relPath.endsWith('.dcm')).every((i) => i.patientId === i.relPath));
		const dcm = r.images.filter((i) => i.relPath.endsWith('.dcm'));
		assert.equal(dcm.length, 3);
		assert.ok(dcm.every((i) => i.patientId.startsWith('dicom-')));
		assert.equal(new Set(dcm.map((i) => i.patientId)).size, 2, dcm.map((i) => `${i.relPath}: ${i.patientId}`).join('; '));
	});
	test("radreview-labels.json maps a dataset's own folder names; a broken one is named", async () => {
		const root = path.join(tmp, 'own-labels');
		const src = devSample();
		for (const [dir, k] of [
			['grupo 1', 0],
			['grupo 2', 1],
			['Viral Pneumonia', 2],
		] as const) {
			await fs.mkdir(path.join(root, dir), { recursive: true });
			await fs.copyFile(path.join(DEV, src[k].path), path.join(root, dir, `x${k}.jpg`));
		}
		const before = await scanDataset(root);
		assert.equal(before.images.filter((i) => i.label).length, 1, 'only "Viral Pneumonia" is known without the file');
		const file = path.join(root, LABELS_FILE);
		await fs.writeFile(file, JSON.stringify({ aliases: { 'Grupo 1': 'COVID', 'grupo 2': 'NORMAL' } }));
		const r = await scanDataset(root);
		assert.deepEqual(Object.fromEntries(r.images.map((i) => [path.dirname(i.relPath), i.label])), { 'grupo 1': 'COVID', 'grupo 2': 'NORMAL', 'Viral Pneumonia': 'PNEUMONIA' });
		await fs.writeFile(file, JSON.stringify({ aliases: { 'grupo 2': 'HEALTHY' } }));
		await assert.rejects(scanDataset(root), (e: Error) => e.message.includes(file) && e.message.includes('HEALTHY'));
		await fs.writeFile(file, '{ not json');
		await assert.rejects(scanDataset(root), (e: Error) => e.message.includes(file) && /JSON/.test(e.message));
	});
	test('folders: nested class folders, aliases, unknown folders and fake images reported', async () => {
		const root = path.join(tmp, 'folders');
		const src = devSample();
		const put = async (rel: string, from: string) => {
			await fs.mkdir(path.dirname(path.join(root, rel)), { recursive: true });
			await fs.copyFile(path.join(DEV, from), path.join(root, rel));
		};
		await put('train/COVID-19/a.jpg', src[0].path);
		await put('train/Infecções/deep/b.png', src[1].path);
		await put('test/Normal/c.img', src[2].path); // no image extension: content decides
		await put('misc/d.jpg', src[3].path);
		await put('.radreview/cache/e.jpg', src[3].path);
		await put('train/COVID-19/masks/a.png', src[1].path);
		await fs.writeFile(path.join(root, 'train/COVID-19/fake.jpg'), 'not a jpeg');
		await fs.writeFile(path.join(root, 'notes.txt'), 'hello');
		const r = await scanDataset(root);
		assert.equal(r.layout, 'folders');
		assert.deepEqual(
			r.images.map((i) => [i.relPath, i.label]),
			[
				['test/Normal/c.img', 'NORMAL'],
				['train/COVID-19/a.jpg', 'COVID'],
				['train/Infecções/deep/b.png', 'PNEUMONIA'],
			],
		);
		assert.deepEqual(
			r.errors.map((e) => [path.relative(root, e.path), e.reason.split(' (')[0].split(';')[0]]),
			[
				['misc', '1 image(s) not under a class folder'],
				['train/COVID-19/fake.jpg', 'not an image'],
			],
		);
	});
	test('metadata.csv layout: frontal X-rays only, findings mapped, missing files reported', async () => {
		const root = path.join(tmp, 'meta');
		await fs.mkdir(path.join(root, 'images'), { recursive: true });
		const src = devSample();
		for (let k = 0; k < 4; k++) await fs.copyFile(path.join(DEV, src[k].path), path.join(root, 'images', `img${k}.jpg`));
		await fs.writeFile(
			path.join(root, 'metadata.csv'),
			[
				'patientid,offset,sex,finding,view,modality,folder,filename,clinical_notes',
				'7,0,M,Pneumonia/Viral/COVID-19,PA,X-ray,images,img0.jpg,"fever, cough\nday 3"',
				'7,2,M,Pneumonia/Viral/COVID-19,L,X-ray,images,img1.jpg,lateral',
				'8,,F,No Finding,AP Supine,X-ray,images,img2.jpg,',
				'9,,F,Pneumonia/Bacterial/Streptococcus,AP semi erect,X-ray,images,img3.jpg,',
				'9,,F,Pneumonia/Bacterial/Streptococcus,Axial,CT,images,img3.jpg,',
				'10,,M,Unknown,PA,X-ray,images,img1.jpg,',
				'11,,M,SARS,PA,X-ray,images,gone.jpg,',
			].join('\n'),
		);
		const r = await scanDataset(root);
		assert.equal(r.layout, 'metadata');
		assert.deepEqual(
			r.images.map((i) => [i.relPath, i.label, i.patientId]),
			[
				['images/img0.jpg', 'COVID', '7'],
				['images/img2.jpg', 'NORMAL', '8'],
				['images/img3.jpg', 'PNEUMONIA', '9'],
			],
		);
		assert.deepEqual(r.errors, [{ path: path.join(root, 'images/gone.jpg'), reason: 'listed in metadata.csv but missing' }]);
	});
});

describe('decode', () => {
	test('every awkward file decodes to size×size×3', async () => {
		for (const f of (await fs.readdir(AWK)).filter((f) => f !== 'README.txt')) {
			const file = path.join(AWK, f);
			const d = await decodeToRgb(file, opts);
			assert.equal(d.rgb.length, 64 * 64 * 3, f);
			assert.equal(d.sha256, sha256(readFileSync(file)), f);
			assert.ok((d.width >= 512 && d.height >= 512) || f.startsWith('rgb_'), `${f}: ${d.width}×${d.height}`);
			const m = mean(d.rgb);
			assert.ok(m > 20 && m < 235, `${f}: mean ${m}`);
		}
	});
	test('formats: PNG named .jpg is PNG; DICOM flavours; the 15 MP JPEG keeps its size', async () => {
		assert.equal((await decodeToRgb(path.join(AWK, 'png_data_with_jpg_extension.jpg'), opts)).format, 'png');
		assert.equal((await decodeToRgb(path.join(AWK, 'dicom_DX_chest_NIH-nofinding_8bit_uncompressed.dcm'), opts)).format, 'dicom');
		assert.equal((await decodeToRgb(path.join(AWK, 'dicom_CR_chest_PA_8bit_jpeg-baseline.dcm'), opts)).format, 'dicom-jpeg');
		const big = await decodeToRgb(path.join(AWK, 'very_large_4280x3520_gray.jpeg'), opts);
		assert.deepEqual([big.width, big.height], [4280, 3520]);
	});
	test('grayscale inputs give three equal channels', async () => {
		for (const f of ['gray_L_jpeg_kermany.jpeg', 'png_data_with_jpg_extension.jpg', 'rgba_png_nih.png', 'dicom_DX_chest_NIH-nofinding_8bit_uncompressed.dcm']) {
			const { rgb } = await decodeToRgb(path.join(AWK, f), opts);
			for (let i = 0; i < rgb.length; i += 3) assert.ok(rgb[i] === rgb[i + 1] && rgb[i] === rgb[i + 2], `${f} pixel ${i / 3}`);
		}
	});
	test('MONOCHROME1 is inverted relative to its MONOCHROME2 twin', async () => {
		const m2 = await decodeToRgb(path.join(AWK, 'dicom_CR_chest_PA_8bit_jpeg-baseline.dcm'), opts);
		const m1 = await decodeToRgb(path.join(AWK, 'dicom_CR_chest_PA_MONOCHROME1-header_modified.dcm'), opts);
		assert.ok(Math.abs(mean(m1.rgb) - (255 - mean(m2.rgb))) < 1, `${mean(m1.rgb)} vs 255 - ${mean(m2.rgb)}`);
		assert.ok(Math.abs(mean(m1.rgb) - mean(m2.rgb)) > 30);
	});
	test('letterbox pads the short side with black; stretch fills the square', async () => {
		const file = path.join(AWK, 'rgb_jpeg_of_grayscale_xray_kermany.jpeg'); // 836×521: wide
		const s = await decodeToRgb(file, { size: 64, resize: 'stretch' });
		const l = await decodeToRgb(file, { size: 64, resize: 'letterbox' });
		const row = (rgb: Uint8Array, y: number) => rgb.subarray(y * 64 * 3, (y + 1) * 64 * 3);
		assert.equal(Math.max(...row(l.rgb, 0)), 0, 'letterbox top row is black');
		assert.equal(Math.max(...row(l.rgb, 63)), 0, 'letterbox bottom row is black');
		assert.ok(mean(row(l.rgb, 32)) > 20, 'letterbox middle row has content');
		assert.ok(mean(row(s.rgb, 0)) > 20 && mean(row(s.rgb, 63)) > 10, 'stretch has content edge to edge');
		const content = 64 * (521 / 836); // ≈ 40 rows of image, the rest black
		const blackRows = Array.from({ length: 64 }, (_, y) => Math.max(...row(l.rgb, y)) === 0).filter(Boolean).length;
		assert.ok(Math.abs(64 - blackRows - content) <= 2, `${blackRows} black rows`);
	});
	test('dev images of every format/mode decode', async () => {
		for (const r of devSample()) {
			const d = await decodeToRgb(path.join(DEV, r.path), opts);
			assert.equal(d.format, r.format.toLowerCase(), r.path);
			assert.deepEqual([d.width, d.height], [Number(r.width), Number(r.height)], r.path);
		}
	});
	test('16-bit PNG is scaled to 8 bits, EXIF orientation applied, CMYK converted (derived fixtures)', async () => {
		const src = readFileSync(path.join(AWK, 'gray_L_jpeg_kermany.jpeg'));
		const { data, info } = await sharp(src).greyscale().raw().toBuffer({ resolveWithObject: true });
		const png8 = await sharp(data, { raw: { width: info.width, height: info.height, channels: 1 } })
			.png()
			.toBuffer();
		const wide = Uint16Array.from(data, (v) => v * 257);
		const png16 = await sharp(wide, { raw: { width: info.width, height: info.height, channels: 1 } })
			.toColourspace('grey16')
			.png()
			.toBuffer();
		assert.equal(png16[24], 16, 'fixture is a 16-bit PNG');
		const a = await decodeBytes(png8, 'png8', opts);
		const b = await decodeBytes(png16, 'png16', opts);
		assert.ok(
			a.rgb.every((v, i) => Math.abs(v - b.rgb[i]) <= 1),
			'16-bit matches 8-bit within 1',
		);
		const rotated = await decodeBytes(await sharp(src).withMetadata({ orientation: 6 }).jpeg().toBuffer(), 'rot', opts);
		assert.deepEqual([rotated.width, rotated.height], [info.height, info.width]);
		const cmyk = await decodeBytes(await sharp(png8).toColourspace('cmyk').jpeg().toBuffer(), 'cmyk', opts);
		assert.equal(cmyk.rgb.length, 64 * 64 * 3);
		let cov = 0;
		const [ma, mc] = [mean(a.rgb), mean(cmyk.rgb)];
		for (let i = 0; i < a.rgb.length; i++) cov += (a.rgb[i] - ma) * (cmyk.rgb[i] - mc);
		assert.ok(cov > 0, 'CMYK decode keeps the picture (positively correlated)');
	});
	test('16-bit DICOM: BitsStored, signed values, rescale, window, MONOCHROME1; other codecs named (derived fixtures)', async () => {
		const src = readFileSync(path.join(AWK, 'gray_L_jpeg_kermany.jpeg'));
		const { data, info } = await sharp(src).greyscale().resize(300, 240).raw().toBuffer({ resolveWithObject: true });
		const [w, h] = [info.width, info.height];
		let [lo, hi] = [255, 0];
		for (const v of data) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
		const stretched = Uint8Array.from(data, (v) => Math.round(((v - lo) / (hi - lo)) * 255));
		const png = async (px: Uint8Array) =>
			decodeBytes(
				await sharp(px, { raw: { width: w, height: h, channels: 1 } })
					.png()
					.toBuffer(),
				'ref',
				opts,
			);
		const geometry: Array<[number, number, string, number | string]> = [
			[0x0028, 0x0010, 'US', h],
			[0x0028, 0x0011, 'US', w],
			[0x0028, 0x0100, 'US', 16],
		];
		const explicitLE = '1.2.840.10008.1.2.1';
		const close = (a: Uint8Array, b: Uint8Array, tol: number, what: string) =>
			assert.ok(
				a.every((v, i) => Math.abs(v - b[i]) <= tol),
				what,
			);

		// 12 bits stored in 16, no window: min–max to 8 bits.
		const u12 = new Uint8Array(new Uint16Array(Array.from(data, (v) => v * 16)).buffer);
		const mono = (pi: string) => makeDicom(explicitLE, [...geometry, [0x0028, 0x0101, 'US', 12], [0x0028, 0x0004, 'CS', pi]], u12);
		const m2 = await decodeBytes(mono('MONOCHROME2'), 'm2.dcm', opts);
		assert.equal(m2.format, 'dicom');
		assert.deepEqual([m2.width, m2.height], [w, h]);
		close(m2.rgb, (await png(stretched)).rgb, 1, '12-bit min–max');
		const m1 = await decodeBytes(mono('MONOCHROME1'), 'm1.dcm', opts);
		close(
			m1.rgb,
			m2.rgb.map((v) => 255 - v),
			2,
			'MONOCHROME1 inverted (±2 for rounding and clipped ringing)',
		);

		// Signed values shifted by −2048 and RescaleIntercept +2048 back, then a full-range window.
		const s16 = new Uint8Array(new Int16Array(Array.from(data, (v) => v * 16 - 2048)).buffer);
		const windowed = makeDicom(
			explicitLE,
			[
				...geometry,
				[0x0028, 0x0101, 'US', 16],
				[0x0028, 0x0103, 'US', 1],
				[0x0028, 0x0004, 'CS', 'MONOCHROME2'],
				[0x0028, 0x1050, 'DS', '2048\\40'],
				[0x0028, 0x1051, 'DS', '4096\\400'],
				[0x0028, 0x1052, 'DS', '2048'],
				[0x0028, 0x1053, 'DS', '1'],
			],
			s16,
		);
		close((await decodeBytes(windowed, 'win.dcm', opts)).rgb, (await png(data)).rgb, 2, 'signed + rescale + window');

		// A compressed transfer syntax over native pixels, and one still rejected: named per-file errors.
		const j2k = makeDicom('1.2.840.10008.1.2.4.90', [...geometry, [0x0028, 0x0004, 'CS', 'MONOCHROME2']], u12);
		await assert.rejects(decodeBytes(j2k, 'j2k.dcm', opts), /j2k\.dcm: compressed DICOM without encapsulated pixel data/);
		const jxl = makeDicom('1.2.840.10008.1.2.4.110', [...geometry, [0x0028, 0x0004, 'CS', 'MONOCHROME2']], u12);
		await assert.rejects(decodeBytes(jxl, 'jxl.dcm', opts), /jxl\.dcm: unsupported DICOM transfer syntax JPEG XL Lossless \(1\.2\.840\.10008\.1\.2\.4\.110\)/);
	});
	test('WebP and TIFF decode too (derived fixtures)', async () => {
		const src = readFileSync(path.join(AWK, 'gray_L_jpeg_kermany.jpeg'));
		for (const fmt of ['webp', 'tiff'] as const) {
			const d = await decodeBytes(await sharp(src).resize(200).toFormat(fmt).toBuffer(), `x.${fmt}`, opts);
			assert.equal(d.format, fmt);
			assert.equal(d.rgb.length, 64 * 64 * 3);
		}
	});
	test('garbage, empty and truncated files give a DecodeError naming the file', async () => {
		const jpeg = readFileSync(path.join(AWK, 'gray_L_jpeg_kermany.jpeg'));
		const cases: Array<[string, Uint8Array, RegExp]> = [
			['garbage.jpg', new TextEncoder().encode('this is not an image at all'), /not an image/],
			['empty.png', new Uint8Array(0), /empty file/],
			['truncated.jpeg', jpeg.subarray(0, jpeg.length >> 1), /truncated JPEG/],
			['truncated.png', readFileSync(path.join(AWK, 'rgba_png_nih.png')).subarray(0, 5000), /PNG/],
			['broken.dcm', readFileSync(path.join(AWK, 'dicom_DX_chest_NIH-nofinding_8bit_uncompressed.dcm')).subarray(0, 4000), /DICOM/],
		];
		for (const [name, bytes, reason] of cases) {
			const file = path.join(tmp, name);
			await fs.writeFile(file, bytes);
			await assert.rejects(decodeToRgb(file, opts), (e: unknown) => {
				assert.ok(e instanceof DecodeError, String(e));
				assert.equal(e.path, file);
				assert.match(e.reason, reason);
				assert.ok(e.message.startsWith(`${file}: `));
				return true;
			});
		}
	});
});

describe('preprocess', () => {
	const px = new Uint8Array([10, 20, 30, 255, 0, 128]);
	test('caffe: RGB→BGR minus ImageNet means', () => {
		const f = Math.fround;
		assert.deepEqual([...normalise(px, 'caffe')], [30 - 103.939, 20 - 116.779, 10 - 123.68, 128 - 103.939, 0 - 116.779, 255 - 123.68].map(f));
	});
	test('tf: x/127.5 − 1; unit: x/255', () => {
		assert.deepEqual(
			[...normalise(px, 'tf')],
			[10, 20, 30, 255, 0, 128].map((v) => Math.fround(v / 127.5 - 1)),
		);
		assert.deepEqual(
			[...normalise(px, 'unit')],
			[10, 20, 30, 255, 0, 128].map((v) => Math.fround(v / 255)),
		);
		assert.equal(normalise(px, 'tf')[3], 1);
		assert.equal(normalise(px, 'tf')[4], -1);
	});
	test('writes into a batch buffer at an offset without touching the rest', () => {
		const out = new Float32Array(12).fill(7);
		const r = normalise(px, 'unit', out, 6);
		assert.equal(r, out);
		assert.deepEqual([...out.subarray(0, 6)], [7, 7, 7, 7, 7, 7]);
		assert.equal(out[6], Math.fround(10 / 255));
		assert.throws(() => normalise(px, 'unit', out, 8), RangeError);
	});
});

describe('cache', () => {
	const records = (): ImageRecord[] => {
		const rows = devSample().slice(0, 5);
		return rows.map((r) => ({ path: path.join(DEV, r.path), relPath: r.path, label: r.label as ImageRecord['label'], patientId: r.patient_id }));
	};
	test('second load decodes nothing and returns identical bytes; bad files do not stop the batch', async () => {
		const workDir = path.join(tmp, 'work');
		const bad = path.join(tmp, 'bad.jpg');
		await fs.writeFile(bad, 'garbage');
		const recs = records();
		recs.splice(2, 0, { path: bad, relPath: 'bad.jpg', label: 'COVID', patientId: 'x' });
		const events: ProgressEvent[] = [];
		const cold = await loadImages(recs, { workDir, size: 32, resize: 'stretch', onProgress: (e) => events.push(e) });
		assert.equal(cold.decoded, 5);
		assert.equal(cold.cached, 0);
		assert.deepEqual(cold.errors, [{ path: bad, reason: 'not an image (unrecognised content)' }]);
		assert.deepEqual(
			cold.images.map((i) => i.record.relPath),
			recs.filter((r) => r.path !== bad).map((r) => r.relPath),
		);
		assert.ok(events.some((e) => e.kind === 'fileError' && e.error.path === bad));
		assert.deepEqual(events.at(-1), { kind: 'stage', stage: 'decode', done: 6, total: 6 });
		// The loader skips decodeToRgb's dimension probe: same pixels for every kind of file.
		for (const img of cold.images) assert.deepEqual(img.rgb, (await decodeToRgb(img.record.path, { size: 32, resize: 'stretch' })).rgb, img.record.relPath);
		const direct = await decodeToRgb(recs[0].path, { size: 32, resize: 'stretch' });
		assert.equal(cold.images[0].sha256, direct.sha256);

		const warm = await loadImages(recs, { workDir, size: 32, resize: 'stretch', concurrency: 1 });
		assert.equal(warm.decoded, 0);
		assert.equal(warm.cached, 5);
		warm.images.forEach((img, i) => assert.deepEqual(img.rgb, cold.images[i].rgb));
		assert.ok((await fs.readdir(pixelCacheDir(workDir))).includes('index.json'));

		// Another size or resize mode is another cache entry.
		const other = await loadImages(recs.slice(0, 1), { workDir, size: 32, resize: 'letterbox' });
		assert.equal(other.decoded, 1);
		const one = await decodeCached(recs[0].path, { workDir, size: 32, resize: 'stretch' });
		assert.ok(one.cached);
		assert.deepEqual(one.rgb, direct.rgb);
	});
	test('a changed file is re-hashed and re-decoded', async () => {
		const workDir = path.join(tmp, 'work3');
		const file = path.join(tmp, 'changing.img');
		const [a, b] = devSample();
		await fs.copyFile(path.join(DEV, a.path), file);
		const rec: ImageRecord = { path: file, relPath: 'changing.img', label: 'COVID', patientId: 'p' };
		const first = await loadImages([rec], { workDir, size: 32, resize: 'stretch' });
		await fs.copyFile(path.join(DEV, b.path), file);
		await fs.utimes(file, new Date(), new Date(Date.now() + 5000));
		const second = await loadImages([rec], { workDir, size: 32, resize: 'stretch' });
		assert.equal(second.decoded, 1);
		assert.equal(second.images[0].sha256, b.sha256_file);
		assert.notDeepEqual(second.images[0].rgb, first.images[0].rgb);
	});
	test('a cache entry that cannot be written makes that file an error; the rest of the batch loads', async () => {
		const workDir = path.join(tmp, 'work4');
		const recs = records();
		const blocked = devSample()[1];
		// A file where the entry's folder should be: mkdir fails for this image only.
		await fs.mkdir(pixelCacheDir(workDir), { recursive: true });
		await fs.writeFile(path.join(pixelCacheDir(workDir), blocked.sha256_file.slice(0, 2)), 'not a folder');
		const r = await loadImages(recs, { workDir, size: 32, resize: 'stretch', concurrency: 1 });
		assert.deepEqual(
			r.errors.map((e) => e.path),
			[path.join(DEV, blocked.path)],
		);
		assert.match(r.errors[0].reason, /EEXIST|ENOTDIR/);
		assert.equal(r.decoded, recs.length - 1);
		assert.deepEqual(
			r.images.map((i) => i.record.path),
			recs.filter((x) => x.path !== path.join(DEV, blocked.path)).map((x) => x.path),
		);
	});
	test('abort stops the batch with CancelledError', async () => {
		const ac = new AbortController();
		ac.abort();
		await assert.rejects(loadImages(records(), { workDir: path.join(tmp, 'work2'), size: 32, resize: 'stretch', signal: ac.signal }), isCancelled);
	});
});

describe('bundled samples', () => {
	const SAMPLES = path.resolve(__dirname, '../../media/samples');
	test('60 real radiographs, 20 per class, one patient each, redistributable, small', async () => {
		const r = await scanDataset(SAMPLES);
		assert.equal(r.layout, 'folders');
		assert.deepEqual(r.errors, []);
		for (const c of ['COVID', 'NORMAL', 'PNEUMONIA']) assert.equal(r.images.filter((i) => i.label === c).length, 20, c);
		const rows = parseCsvRecords(readFileSync(path.join(SAMPLES, 'manifest.csv'), 'utf8'));
		const byPath = new Map(rows.map((m) => [m.path, m]));
		for (const i of r.images) assert.equal(i.patientId, byPath.get(i.relPath)?.patient_id, i.relPath);
		assert.equal(new Set(r.images.map((i) => i.patientId)).size, 60);
		for (const m of rows) assert.match(m.license, /^(CC BY( \d\.\d)?( \(Kermany|$)|CC BY-SA|CC0|Apache)/, m.path);
		const attribution = readFileSync(path.join(SAMPLES, 'ATTRIBUTION.md'), 'utf8');
		for (const m of rows) assert.ok(attribution.includes(`\`${m.path}\``), m.path);
		let bytes = 0;
		for (const i of r.images) {
			bytes += (await fs.stat(i.path)).size;
			const meta = await sharp(i.path).metadata();
			assert.ok(Math.max(meta.width ?? 0, meta.height ?? 0) <= 512, i.relPath);
		}
		assert.ok(bytes < 3e6, `${bytes} bytes`);
	});
});
