// Dataset paths: CSV rows that leave the root are refused with a reason, one symlink rule for the folder scanner
// and metadata.csv, and a zero-byte file says so. Real radiographs from ../shared.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { decodeToRgb } from '../../src/engine/data/decode';
import { PATH_LEAVES, SYMLINK_LEAVES, scanDataset } from '../../src/engine/data/scan';

const DEV = path.join(__dirname, '../../../shared/cxr/dev');
const tmp = mkdtempSync(path.join(tmpdir(), 'radreview-dspaths-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const real = (cls: string, i: number): string => path.join(DEV, cls, readdirSync(path.join(DEV, cls)).sort()[i]);

function folderDataset(): { root: string; outside: string } {
	const root = path.join(tmp, 'folders');
	const outside = path.join(tmp, 'outside');
	for (const c of ['COVID', 'NORMAL']) mkdirSync(path.join(root, c), { recursive: true });
	mkdirSync(path.join(outside, 'PNEUMONIA'), { recursive: true });
	copyFileSync(real('COVID', 0), path.join(root, 'COVID', 'a.jpg'));
	copyFileSync(real('NORMAL', 0), path.join(root, 'NORMAL', 'b.jpg'));
	copyFileSync(real('PNEUMONIA', 0), path.join(outside, 'PNEUMONIA', 'secret.jpg'));
	copyFileSync(real('PNEUMONIA', 0), path.join(outside, 'secret.jpg'));
	symlinkSync(path.join(root, 'COVID', 'a.jpg'), path.join(root, 'NORMAL', 'inward.jpg'));
	symlinkSync(path.join(outside, 'secret.jpg'), path.join(root, 'COVID', 'escape.jpg'));
	symlinkSync(path.join(outside, 'PNEUMONIA'), path.join(root, 'PNEUMONIA'));
	writeFileSync(path.join(root, 'COVID', 'zero.png'), new Uint8Array(0));
	writeFileSync(path.join(root, 'NOTES.txt'), '');
	writeFileSync(path.join(root, 'manifest.csv'), 'path,patient_id\nCOVID/a.jpg,p1\n../outside/secret.jpg,p2\n/etc/passwd,p3\nNORMAL/b.jpg,p4\n');
	return { root, outside };
}

test('folder scan: a symlink is followed only inside the root; outside ones are listed as skipped', async () => {
	const { root } = folderDataset();
	const r = await scanDataset(root);
	assert.deepEqual(
		r.images.map((i) => i.relPath),
		['COVID/a.jpg', 'NORMAL/b.jpg', 'NORMAL/inward.jpg'],
	);
	const reasons = Object.fromEntries(r.errors.map((e) => [path.relative(root, e.path), e.reason]));
	assert.equal(reasons['COVID/escape.jpg'], SYMLINK_LEAVES);
	assert.equal(reasons['PNEUMONIA'], SYMLINK_LEAVES, 'a symlinked folder pointing outside');
	assert.ok(!r.images.some((i) => i.path.includes('outside')), 'nothing from outside');
	assert.equal(reasons['COVID/zero.png'], 'empty file (0 bytes)');
	assert.equal(reasons['NOTES.txt'], undefined, 'an empty non-image file is ignored, not reported');
	assert.equal(r.images.find((i) => i.relPath === 'COVID/a.jpg')?.patientId, 'p1', 'the manifest still applies');
	const manifestErrors = r.errors.filter((e) => e.path.endsWith('manifest.csv')).map((e) => e.reason);
	assert.equal(manifestErrors.length, 2);
	assert.match(manifestErrors[0], new RegExp(`row 3: ${PATH_LEAVES} \\('\\.\\./outside/secret\\.jpg'\\)`));
	assert.match(manifestErrors[1], new RegExp(`row 4: ${PATH_LEAVES} \\('/etc/passwd'\\)`));
});

test('metadata.csv: rows whose path leaves the root are refused with a named reason; symlinks follow the same rule', async () => {
	const root = path.join(tmp, 'meta');
	mkdirSync(path.join(root, 'images'), { recursive: true });
	copyFileSync(real('COVID', 1), path.join(root, 'images', 'ok.jpg'));
	copyFileSync(real('NORMAL', 1), path.join(tmp, 'outside-meta.jpg'));
	symlinkSync(path.join(tmp, 'outside-meta.jpg'), path.join(root, 'images', 'link.jpg'));
	writeFileSync(path.join(root, 'images', 'zero.jpg'), new Uint8Array(0));
	writeFileSync(
		path.join(root, 'metadata.csv'),
		[
			'patientid,finding,view,modality,folder,filename',
			'1,COVID-19,PA,X-ray,images,ok.jpg',
			'2,COVID-19,PA,X-ray,images,../../outside-meta.jpg',
			'3,COVID-19,PA,X-ray,/etc,passwd',
			'4,COVID-19,PA,X-ray,images,link.jpg',
			'5,COVID-19,PA,X-ray,images,zero.jpg',
		].join('\n'),
	);
	const r = await scanDataset(root);
	assert.deepEqual(
		r.images.map((i) => i.relPath),
		['images/ok.jpg'],
	);
	const reasons = r.errors.map((e) => `${path.basename(e.path)}: ${e.reason}`);
	assert.ok(
		reasons.some((x) => x.startsWith(`metadata.csv: row 3: ${PATH_LEAVES}`)),
		reasons.join('\n'),
	);
	assert.ok(
		reasons.some((x) => x.startsWith(`metadata.csv: row 4: ${PATH_LEAVES}`)),
		reasons.join('\n'),
	);
	assert.ok(reasons.includes(`link.jpg: ${SYMLINK_LEAVES}`), reasons.join('\n'));
	assert.ok(reasons.includes('zero.jpg: empty file (0 bytes)'), reasons.join('\n'));
});

test('decoding a zero-byte file says "empty file (0 bytes)"', async () => {
	const f = path.join(tmp, 'empty.jpg');
	writeFileSync(f, new Uint8Array(0));
	await assert.rejects(decodeToRgb(f, { size: 32, resize: 'stretch' }), (e: Error) => e.message === `${f}: empty file (0 bytes)`);
});
