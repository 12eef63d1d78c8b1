// Fuzzing with a fixed seed and a time budget (fast-check): the boundary guards against random and mutated messages,
// and the decoders against mutated real files (truncations, bit flips, absurd header dimensions, DICOM lying
// lengths). Every input is decoded or rejected with a named reason: no crash, no hang, bounded memory.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import dicomParser from 'dicom-parser';
import fc from 'fast-check';
import { DecodeError, decodeBytes, decodePixels } from '../../src/engine/data/decode';
import { setDecodeTimeout } from '../../src/engine/data/decodePool';
import { isCompareFromWebview } from '../../src/protocol/compare';
import { isDatasetFromWebview } from '../../src/protocol/dataset';
import { isEngineEvent, isEngineRequest } from '../../src/protocol/engine';
import type { Guard } from '../../src/protocol/guards';
import { isPredictionsFromWebview } from '../../src/protocol/predictions';
import { isTrainingFromWebview } from '../../src/protocol/training';

const SEED = 20260101;
const SHARED = path.resolve(__dirname, '../../../shared/cxr');

/** Valid messages of each boundary: the starting points of the mutations. */
const VALID: [string, Guard<unknown>, Record<string, unknown>[]][] = [
	[
		'dataset webview',
		isDatasetFromWebview,
		[{ type: 'ready' }, { type: 'computeSplits', mode: 'patient', seed: 40, testFraction: 0.2, valFraction: 0.1 }, { type: 'openImage', relPath: 'COVID/a.jpg' }],
	],
	['training webview', isTrainingFromWebview, [{ type: 'ready' }, { type: 'train', backbone: 'vgg16' }, { type: 'stop', id: 's1' }]],
	[
		'predictions webview',
		isPredictionsFromWebview,
		[
			{ type: 'openFile', relPath: 'COVID/a.jpg' },
			{ type: 'export', format: 'png', suggestedName: 'grid.png', base64: 'iVBORw0KGgo=' },
		],
	],
	['compare webview', isCompareFromWebview, [{ type: 'openRun', runDir: '/w/.radreview/runs/x' }, { type: 'refresh' }]],
	[
		'worker → host',
		isEngineEvent,
		[
			{ type: 'progress', id: 1, event: { kind: 'stage', stage: 'decode', done: 1, total: 2 } },
			{ type: 'error', id: 1, error: { name: 'Error', message: 'x' } },
			{ type: 'backend', report: { name: 'wasm', label: 'WASM', skipped: [] } },
			{ type: 'log', level: 'warn', message: 'x' },
		],
	],
	[
		'host → worker',
		isEngineRequest,
		[
			{ type: 'cancel', id: 3 },
			{ type: 'thumbs', id: 3, paths: ['/a.jpg'], roots: ['/w'], outDir: '/t', size: 160 },
			{ type: 'splits', id: 1, dataDir: '/d', mode: 'patient', seed: 1, testFraction: 0.2, valFraction: 0.1 },
			{ type: 'loadRun', id: 2, runDir: '/w/.radreview/runs/x' },
		],
	],
];

/** A valid message with one field deleted, replaced by anything, or one unknown field added. */
function mutated(valid: Record<string, unknown>[]): fc.Arbitrary<{ msg: Record<string, unknown>; added: boolean }> {
	return fc.tuple(fc.constantFrom(...valid), fc.nat(), fc.anything(), fc.constantFrom('delete', 'replace', 'add'), fc.string({ minLength: 1 })).map(([base, k, value, op, extra]) => {
		const msg: Record<string, unknown> = structuredClone(base);
		const keys = Object.keys(msg);
		const key = keys[k % keys.length];
		if (op === 'delete') delete msg[key];
		else if (op === 'replace') msg[key] = value;
		else if (!(extra in msg) && extra !== '__proto__') {
			msg[extra] = value;
			return { msg, added: true };
		}
		return { msg, added: false };
	});
}

for (const [name, guard, valid] of VALID) {
	test(`fuzz: the ${name} guard never throws, and refuses any message with an unknown field`, () => {
		for (const v of valid) assert.ok(guard(v), `${name}: a valid example is accepted: ${JSON.stringify(v)}`);
		fc.assert(
			fc.property(fc.anything({ withObjectString: true, withNullPrototype: true, withBigInt: true, withDate: true, withTypedArray: true, withSparseArray: true }), (v) => {
				const r = guard(v);
				assert.equal(typeof r, 'boolean');
			}),
			{ seed: SEED, numRuns: 3000, interruptAfterTimeLimit: 10_000 },
		);
		fc.assert(
			fc.property(mutated(valid), ({ msg, added }) => {
				const r = guard(msg);
				assert.equal(typeof r, 'boolean');
				if (added) assert.equal(r, false, `accepted a smuggled field: ${JSON.stringify(msg)}`);
				// Whatever passes is plain data the other side can clone.
				if (r) structuredClone(msg);
			}),
			{ seed: SEED, numRuns: 3000, interruptAfterTimeLimit: 10_000 },
		);
	});
}

// ---- decoders ---------------------------------------------------------------------------------------------------

const SIZE = 32;
const PER_FILE_MS = 20_000;
const MAX_RSS = 3 * 1024 ** 3;

const SOURCES = [
	path.join(SHARED, 'awkward', 'rgb_jpeg_of_grayscale_xray_kermany.jpeg'),
	path.join(SHARED, 'awkward', 'dicom_CR_chest_PA_8bit_jpeg-baseline.dcm'),
	path.join(SHARED, 'awkward', 'dicom_DX_chest_NIH-nofinding_8bit_uncompressed.dcm'),
	path.join(SHARED, 'awkward', 'rgba_png_nih.png'),
].map((f) => ({ name: path.basename(f), bytes: new Uint8Array(readFileSync(f)) }));

function indexOf(hay: Uint8Array, needle: number[], from = 0): number {
	outer: for (let i = from; i <= hay.length - needle.length; i++) {
		for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
		return i;
	}
	return -1;
}

/** Header edits that lie about the image: huge or zero dimensions, element lengths past the end. */
function headerLies(name: string, src: Uint8Array): Uint8Array[] {
	const out: Uint8Array[] = [];
	const edit = (at: number, bytes: number[], fixPngCrc = false): void => {
		if (at < 0 || at + bytes.length > src.length) return;
		const b = src.slice();
		b.set(bytes, at);
		if (fixPngCrc) {
			// IHDR's CRC covers type + data (bytes 12..29): recompute it so only the dimensions lie.
			const crc = zlib.crc32(b.subarray(12, 29));
			new DataView(b.buffer).setUint32(29, crc >>> 0);
		}
		out.push(b);
	};
	if (name.endsWith('.png')) {
		edit(16, [0x7f, 0xff, 0xff, 0xff], true); // width 2^31-1
		edit(20, [0x7f, 0xff, 0xff, 0xff], true); // height 2^31-1
		edit(16, [0, 0, 0, 0], true); // width 0
	} else if (name.endsWith('.jpeg')) {
		const sof = indexOf(src, [0xff, 0xc0]);
		edit(sof + 5, [0xff, 0xff, 0xff, 0xff]); // 65535 × 65535
		edit(sof + 5, [0, 0]); // height 0
	} else {
		// Where the elements really are, from the parser; then lie about them.
		const ds = dicomParser.parseDicom(src, { untilTag: 'x7fe00010' });
		const el = (tag: string) => ds.elements[tag];
		const rows = el('x00280010');
		const cols = el('x00280011');
		const pixel = el('x7fe00010');
		assert.ok(rows && cols && pixel, `${name}: has Rows, Columns and Pixel Data`);
		edit(rows.dataOffset, [0xff, 0xff]); // 65535 rows
		edit(cols.dataOffset, [0xff, 0xff]); // 65535 columns
		edit(rows.dataOffset, [0, 0]); // 0 rows
		// The length field sits just before the value (4 bytes for OB/OW in explicit VR and for implicit VR).
		if (pixel.length > 0) {
			edit(pixel.dataOffset - 4, [0xf0, 0xff, 0xff, 0x7f]); // pixel data far past the end
			edit(pixel.dataOffset - 4, [0x10, 0, 0, 0]); // 16 bytes of pixel data
		}
		edit(rows.dataOffset - 2, [0xff, 0xff]); // a US element claiming 65535 bytes (explicit VR: 2-byte length)
	}
	return out;
}

let calls = 0;

/** Decodes with a per-file time limit; returns 'ok' or the reason it was refused. */
async function decodeOrReason(bytes: Uint8Array, name: string): Promise<string> {
	let timer: NodeJS.Timeout | undefined;
	const hang = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`hang: ${name} took over ${PER_FILE_MS / 1000} s`)), PER_FILE_MS)));
	// Every other file goes the batch loader's way (no dimension probe before the decode).
	const decode = calls++ % 2 ? decodePixels : decodeBytes;
	try {
		const img = await Promise.race([decode(bytes, name, { size: SIZE, resize: 'stretch' }), hang]);
		assert.equal(img.rgb.length, SIZE * SIZE * 3, `${name}: decoded to the requested size`);
		return 'ok';
	} catch (e) {
		assert.ok(e instanceof DecodeError, `${name}: not a DecodeError: ${(e as Error)?.stack ?? String(e)}`);
		assert.ok(e.reason.length > 0 && e.message.startsWith(name), `${name}: the error names the file and a reason: ${e.message}`);
		return e.reason;
	} finally {
		clearTimeout(timer);
		assert.ok(process.memoryUsage().rss < MAX_RSS, `${name}: memory stays bounded (rss ${(process.memoryUsage().rss / 1e6).toFixed(0)} MB)`);
	}
}

test('fuzz: absurd header dimensions and DICOM lying lengths are refused with a reason, never a crash or a hang', { timeout: 10 * 60_000 }, async () => {
	const reasons: string[] = [];
	for (const { name, bytes } of SOURCES) {
		const lies = headerLies(name, bytes);
		assert.ok(lies.length >= 2, `${name}: header edits were made`);
		for (const [i, b] of lies.entries()) reasons.push(`${name}#${i}: ${await decodeOrReason(b, name)}`);
	}
	console.log(`# ${reasons.join('\n# ')}`);
	assert.ok(
		reasons.some((r) => /too large/.test(r)),
		'absurd dimensions are named as such',
	);
});

test('fuzz: truncated and bit-flipped real files decode or are refused with a named reason', { timeout: 10 * 60_000 }, async () => {
	const mutation = fc.record({
		source: fc.nat(SOURCES.length - 1),
		kind: fc.constantFrom('truncate', 'flip', 'both'),
		cut: fc.double({ min: 0, max: 1, noNaN: true }),
		flips: fc.array(fc.tuple(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 16 }),
	});
	let runs = 0;
	await fc.assert(
		fc.asyncProperty(mutation, async (m) => {
			const { name, bytes } = SOURCES[m.source];
			let b = bytes.slice();
			if (m.kind !== 'flip') b = b.subarray(0, Math.floor(m.cut * b.length));
			if (m.kind !== 'truncate') for (const [at, x] of m.flips) if (b.length) b[Math.floor(at * b.length)] ^= x;
			await decodeOrReason(b, name);
			runs++;
		}),
		{ seed: SEED, numRuns: 120, interruptAfterTimeLimit: 120_000 },
	);
	assert.ok(runs >= 20, `enough mutated files were tried in the time budget (${runs})`);
});

// ---- every supported DICOM transfer syntax, made by dcmtk / gdcm / pydicom from a dev radiograph, then mutated --------

const PYTHON = '/usr/bin/python3';
const DICOM_TOOLS = ['dcmcjpeg', 'dcmcjpls', 'dcmcrle', 'dcmconv', 'gdcmconv'];
const missingDicom = DICOM_TOOLS.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
if (spawnSync(PYTHON, ['-c', 'import pydicom, numpy, PIL']).status !== 0) missingDicom.push('python3-pydicom');
const skipDicom = missingDicom.length && process.env.CI !== 'true' ? `needs ${missingDicom.join(', ')} (scripts/setup.sh installs them)` : false;

/** [file, tool, args, source fixture]; 'relabel' renames a JPEG 2000 file's syntax (no Debian tool writes HTJ2K). */
const SYNTAX_FILES: Array<[string, string, string[], string]> = [
	['implicit.dcm', 'dcmconv', ['+ti'], 'u16'],
	['explicit-le.dcm', 'dcmconv', ['+te'], 'u16'],
	['explicit-be.dcm', 'dcmconv', ['+tb'], 'u16'],
	['deflate.dcm', 'dcmconv', ['+td'], 'u16'],
	['rle.dcm', 'dcmcrle', [], 'u16'],
	['rle-rgb.dcm', 'dcmcrle', [], 'rgb'],
	['jpeg-baseline.dcm', 'dcmcjpeg', ['+eb'], 'u8'],
	['jpeg12.dcm', 'dcmcjpeg', ['+ee'], 'u16'],
	['jpeg-lossless-p14.dcm', 'dcmcjpeg', ['+el'], 'u16'],
	['jpeg-lossless-sv1.dcm', 'dcmcjpeg', ['+e1'], 'u16'],
	['jpeg-ls.dcm', 'dcmcjpls', ['+el'], 'u16'],
	['jpeg-ls-near.dcm', 'dcmcjpls', ['+en'], 'u16'],
	['j2k.dcm', 'gdcmconv', ['--j2k'], 'u16'],
	['j2k-lossy.dcm', 'gdcmconv', ['--j2k', '--lossy', '-r', '10'], 'u16'],
	['htj2k.dcm', 'relabel', ['1.2.840.10008.1.2.4.201'], 'j2k'],
];
const RELABEL = `
import sys, pydicom
from pydicom._uid_dict import UID_dictionary
src, out, ts = sys.argv[1:4]
UID_dictionary.setdefault(ts, ('HTJ2K', 'Transfer Syntax', '', '', 'HTJ2K'))
ds = pydicom.dcmread(src)
ds.file_meta.TransferSyntaxUID = ts
ds.save_as(out)
`;

/** Lies inside the pixel data: truncated fragments, item lengths and offsets past the end, codec headers that lie. */
function pixelLies(src: Uint8Array): Uint8Array[] {
	const out: Uint8Array[] = [];
	const edit = (at: number, bytes: number[]): void => {
		if (at < 0 || at + bytes.length > src.length) return;
		const b = src.slice();
		b.set(bytes, at);
		out.push(b);
	};
	const le32 = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];
	// A Buffer for the parser: its deflate path needs one, as the engine's files (fs.readFile) are.
	const ds = dicomParser.parseDicom(Buffer.from(src));
	const pixel = ds.elements.x7fe00010;
	if (!pixel) return out;
	const frag = pixel.fragments?.[0];
	if (!frag) {
		// Native (or deflated, where offsets are past the inflation): cut the pixel data short.
		out.push(src.slice(0, Math.max(0, src.length - 1000)), src.slice(0, pixel.dataOffset + 10));
		return out;
	}
	const start = frag.position; // the first fragment's first byte
	out.push(src.slice(0, start + Math.floor(frag.length / 2))); // the fragment cut in half
	out.push(src.slice(0, start + 8)); // only the stream's first bytes
	edit(start - 4, le32(0x7ffffff0)); // fragment length past the end
	edit(start - 4, le32(16)); // fragment length shorter than the stream
	edit(pixel.dataOffset + 4, le32(0xfffffff0)); // offset table item length past the end
	if (pixel.basicOffsetTable?.length) edit(pixel.dataOffset + 8, le32(0x7fffffff)); // offset of frame 1 past the end
	// RLE: segment count and segment offsets that lie; other codecs: the stream's own header bytes inverted.
	edit(start, le32(15));
	edit(start + 4, le32(0xffffff00));
	edit(start + 8, le32(8));
	for (let i = 2; i < 48; i += 6) edit(start + i, [src[start + i] ^ 0xff, src[start + i + 1] ^ 0xff]);
	return out;
}

test('fuzz: every supported DICOM transfer syntax, mutated inside its pixel data, decodes or fails named; the decode thread stops any hang', { skip: skipDicom, timeout: 15 * 60_000 }, async () => {
	assert.deepEqual(missingDicom, [], `missing prerequisites: ${missingDicom.join(', ')} (run scripts/setup.sh)`);
	const dir = mkdtempSync(path.join(os.tmpdir(), 'radreview-fuzz-dicom-'));
	// The hang detector is the decode thread's own limit (a timer here could not fire during a synchronous codec loop
	// on this thread); decodeOrReason's timer stays behind it as a backstop.
	setDecodeTimeout(PER_FILE_MS / 2);
	try {
		const gray = path.join(SHARED, 'dev/NORMAL/00cfd1c1.jpg');
		const colour = path.join(SHARED, 'dev/COVID/1-s2.0-S1341321X20301124-gr3_lrg-d.png');
		execFileSync(PYTHON, [path.join(__dirname, 'fixtures/dicomFixtures.py'), gray, colour, dir]);
		execFileSync('gdcmconv', ['--j2k', 'u16.dcm', 'j2k.dcm'], { cwd: dir });
		const reasons: string[] = [];
		let decoded = 0;
		for (const [name, tool, args, from] of SYNTAX_FILES) {
			if (tool === 'relabel') execFileSync(PYTHON, ['-c', RELABEL, `${from}.dcm`, name, ...args], { cwd: dir });
			else if (name !== 'j2k.dcm') execFileSync(tool, [...args, `${from}.dcm`, name], { cwd: dir, stdio: 'ignore' });
			const bytes = new Uint8Array(readFileSync(path.join(dir, name)));
			const lies = pixelLies(bytes);
			assert.ok(lies.length >= 2, `${name}: pixel-data edits were made`);
			for (const [i, b] of lies.entries()) {
				const reason = await decodeOrReason(Buffer.from(b), `${name}#${i}`);
				if (reason === 'ok') decoded++;
				reasons.push(`${name}#${i}: ${reason}`);
			}
			// Random byte flips in the pixel data, a fixed seed per syntax.
			const at = dicomParser.parseDicom(Buffer.from(bytes), { untilTag: 'x7fe00010' }).elements.x7fe00010?.dataOffset ?? 0;
			await fc.assert(
				fc.asyncProperty(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 24 }), async (flips) => {
					const b = bytes.slice();
					for (const [k, x] of flips) b[at + (k % (b.length - at))] ^= x;
					reasons.push(`${name}~flip: ${await decodeOrReason(Buffer.from(b), `${name}~flip`)}`);
				}),
				{ seed: SEED, numRuns: 8 },
			);
		}
		console.log(`# ${reasons.join('\n# ')}`);
		const hung = reasons.filter((r) => /took longer than|hang:/.test(r));
		assert.deepEqual(hung, [], 'no mutated file hangs');
		assert.ok(decoded < reasons.length, 'the lies were noticed by some decoder');
	} finally {
		rmSync(dir, { recursive: true, force: true });
	}
});
