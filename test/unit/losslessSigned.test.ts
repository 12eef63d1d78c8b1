// Lossless JPEG (process 14) on signed 16-bit data decodes bit-exactly (issue 19 item 13: WG04 CT2_JPLL lost its
// last pixel, −2048, to the EOI marker). CT-like files derived from a dev radiograph, compressed by dcmtk's
// dcmcjpeg and decoded by us and by dcmdjpeg: the stored values of all three agree.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { padBeforeEoi, readDicomFrame } from '../../src/engine/data/dicom';
import { missingPrereq } from './prereq';

const GRAY_SRC = path.resolve(__dirname, '../../../shared/cxr/dev/NORMAL/00cfd1c1.jpg');
const PYTHON = '/usr/bin/python3';
/** Widths put the last sample's Huffman code at every bit position of the final byte (several hit the bug). */
const WIDTHS = Array.from({ length: 24 }, (_, i) => 48 + i);
const missing = [
	...['dcmcjpeg', 'dcmdjpeg'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0),
	...(spawnSync(PYTHON, ['-c', 'import pydicom, numpy, PIL']).status !== 0 ? ['python3-pydicom (with numpy, PIL)'] : []),
];
let dir: string;

before(async () => {
	if (missing.length) return;
	dir = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-jll-'));
	execFileSync(PYTHON, [path.join(__dirname, 'fixtures/signedLossless.py'), GRAY_SRC, dir, ...WIDTHS.map(String)]);
});
after(async () => dir && fs.rm(dir, { recursive: true, force: true }));

const frameOf = (f: string) => readDicomFrame(readFileSync(path.join(dir, f)));

for (const [mode, flag, uid] of [
	['process 14', '+el', '1.2.840.10008.1.2.4.57'],
	['process 14 SV1', '+e1', '1.2.840.10008.1.2.4.70'],
] as const) {
	test(`lossless JPEG (${mode}, dcmcjpeg ${flag}) of signed 16-bit data: our decode equals the original and dcmdjpeg's, pixel for pixel`, async (t) => {
		if (missing.length) return missingPrereq(t, `needs ${missing.join(', ')}`);
		for (const w of WIDTHS) {
			const [src, jll, ref] = [`s16_${w}.dcm`, `s16_${w}${flag}.dcm`, `s16_${w}${flag}.dcmdjpeg.dcm`];
			execFileSync('dcmcjpeg', [flag, src, jll], { cwd: dir });
			execFileSync('dcmdjpeg', [jll, ref], { cwd: dir });
			const [original, ours, theirs] = [await frameOf(src), await frameOf(jll), await frameOf(ref)];
			assert.equal(ours.transferSyntax, uid);
			assert.equal(ours.signed, true);
			assert.equal(original.minStored, -2048);
			assert.equal(ours.minStored, -2048, `${jll}: the most negative value survives`);
			for (const [name, other] of [
				['the original', original],
				["dcmdjpeg's decode", theirs],
			] as const) {
				assert.equal(ours.pixels.length, other.pixels.length);
				const at = ours.pixels.findIndex((v, i) => v !== other.pixels[i]);
				assert.equal(at, -1, `${jll}: sample ${at} of ${ours.pixels.length} is ${ours.pixels[at]}, ${name} has ${other.pixels[at]}`);
			}
		}
	});
}

test('padBeforeEoi puts 1-bits before the EOI marker (added when absent; fill bytes and trailing pad dropped)', () => {
	const tail = [0xff, 0x00, 0xff, 0x00, 0xff, 0xd9];
	assert.deepEqual([...padBeforeEoi(Uint8Array.from([1, 2, 0xff, 0xd9]))], [1, 2, ...tail]);
	assert.deepEqual([...padBeforeEoi(Uint8Array.from([1, 2, 0xff, 0xd9, 0x00]))], [1, 2, ...tail]);
	assert.deepEqual([...padBeforeEoi(Uint8Array.from([1, 2]))], [1, 2, ...tail]);
	assert.deepEqual([...padBeforeEoi(Uint8Array.from([1, 0xff, 0x00, 0xff, 0xff, 0xd9]))], [1, 0xff, 0x00, ...tail], 'a fill byte goes, a stuffed 0xFF stays');
});
