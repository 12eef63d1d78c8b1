// A DICOM header that claims more pixels than the cap is refused by name before any pixel buffer is allocated, in
// every supported transfer syntax. Files made from a real dev radiograph with dcmtk / gdcm (as dicom.test.ts),
// then given Rows = Columns = 40000; a spy on the typed-array constructors and Buffer allocation watches.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { readDicomFrame } from '../../src/engine/data/dicom';

const SHARED = path.resolve(__dirname, '../../../shared/cxr');
const GRAY_SRC = path.join(SHARED, 'dev/NORMAL/00cfd1c1.jpg');
const COLOUR_SRC = path.join(SHARED, 'dev/COVID/1-s2.0-S1341321X20301124-gr3_lrg-d.png');
const PYTHON = '/usr/bin/python3';
const TOOLS = ['dcmcjpeg', 'dcmcjpls', 'dcmcrle', 'dcmconv', 'gdcmconv', 'dcmodify'];
const missing = TOOLS.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
if (spawnSync(PYTHON, ['-c', 'import pydicom, numpy, PIL']).status !== 0) missing.push('python3-pydicom');
const skip = missing.length && process.env.CI !== 'true' ? `needs ${missing.join(', ')} (scripts/setup.sh installs them)` : false;

/** Every supported transfer syntax: [UID, how to make it from a fixture (tool args, source) or by relabelling]. */
const SYNTAXES: Array<[string, string, string[], string]> = [
	['1.2.840.10008.1.2', 'dcmconv', ['+ti'], 'u16'],
	['1.2.840.10008.1.2.1', 'dcmconv', ['+te'], 'u16'],
	['1.2.840.10008.1.2.2', 'dcmconv', ['+tb'], 'u16'],
	['1.2.840.10008.1.2.1.99', 'dcmconv', ['+td'], 'u16'],
	['1.2.840.10008.1.2.5', 'dcmcrle', [], 'u16'],
	['1.2.840.10008.1.2.4.50', 'dcmcjpeg', ['+eb'], 'u8'],
	['1.2.840.10008.1.2.4.51', 'dcmcjpeg', ['+ee'], 'u16'],
	['1.2.840.10008.1.2.4.57', 'dcmcjpeg', ['+el'], 'u16'],
	['1.2.840.10008.1.2.4.70', 'dcmcjpeg', ['+e1'], 'u16'],
	['1.2.840.10008.1.2.4.80', 'dcmcjpls', ['+el'], 'u16'],
	['1.2.840.10008.1.2.4.81', 'dcmcjpls', ['+en'], 'u16'],
	['1.2.840.10008.1.2.4.90', 'gdcmconv', ['--j2k'], 'u16'],
	['1.2.840.10008.1.2.4.91', 'gdcmconv', ['--j2k', '--lossy', '-r', '10'], 'u16'],
	// No Debian tool writes HTJ2K: a JPEG 2000 file relabelled (the size check comes before any codec).
	['1.2.840.10008.1.2.4.201', 'relabel', [], 'u16'],
	['1.2.840.10008.1.2.4.202', 'relabel', [], 'u16'],
	['1.2.840.10008.1.2.4.203', 'relabel', [], 'u16'],
];

/** Rewrites Rows / Columns (and, for a relabel, the transfer syntax) with pydicom, keeping the pixel data. */
const PATCH = `
import sys, pydicom
from pydicom._uid_dict import UID_dictionary
src, out, rows, cols, ts = sys.argv[1:6]
# pydicom 2.3 predates HTJ2K: name the syntax so that it is written as an encapsulated one.
UID_dictionary.setdefault(ts, ('HTJ2K', 'Transfer Syntax', '', '', 'HTJ2K'))
ds = pydicom.dcmread(src)
ds.Rows, ds.Columns = int(rows), int(cols)
if ts != '-':
    ds.file_meta.TransferSyntaxUID = ts
ds.save_as(out)
`;

let dir: string;

/** Sizes (in elements or bytes) of every typed array and Buffer made while `fn` runs. */
async function allocations(fn: () => Promise<unknown>): Promise<{ sizes: number[]; error: unknown }> {
	const sizes: number[] = [];
	const g = globalThis as unknown as Record<string, unknown>;
	const names = ['Uint8Array', 'Uint8ClampedArray', 'Uint16Array', 'Int16Array', 'Uint32Array', 'Int32Array', 'Float32Array', 'Float64Array', 'ArrayBuffer'];
	const saved = names.map((n) => g[n]);
	const B = Buffer as unknown as Record<string, unknown>;
	const savedBuffer = { alloc: B.alloc, allocUnsafe: B.allocUnsafe, allocUnsafeSlow: B.allocUnsafeSlow };
	names.forEach((n, i) => {
		const spy = new Proxy(saved[i] as new (...a: unknown[]) => object, {
			construct(target, args, newTarget) {
				if (typeof args[0] === 'number') sizes.push(args[0]);
				return Reflect.construct(target, args, newTarget) as object;
			},
		});
		g[n] = spy;
		// Libraries compare `x.constructor === Uint8Array`: both sides must be the spy meanwhile.
		Object.defineProperty((saved[i] as { prototype: object }).prototype, 'constructor', { value: spy, writable: true, configurable: true });
	});
	for (const k of Object.keys(savedBuffer) as (keyof typeof savedBuffer)[]) {
		const orig = savedBuffer[k];
		(Buffer as unknown as Record<string, unknown>)[k] = (size: number, ...rest: unknown[]) => {
			sizes.push(size);
			return (orig as (...a: unknown[]) => Buffer).call(Buffer, size, ...rest);
		};
	}
	let error: unknown;
	try {
		await fn();
	} catch (e) {
		error = e;
	} finally {
		names.forEach((n, i) => {
			g[n] = saved[i];
			Object.defineProperty((saved[i] as { prototype: object }).prototype, 'constructor', { value: saved[i], writable: true, configurable: true });
		});
		Object.assign(Buffer, savedBuffer);
	}
	return { sizes, error };
}

describe('DICOM size limits before allocation, every transfer syntax', { skip }, () => {
	before(async () => {
		assert.deepEqual(missing, [], `missing prerequisites: ${missing.join(', ')} (run scripts/setup.sh)`);
		dir = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-dicomlimits-'));
		execFileSync(PYTHON, [path.join(__dirname, 'fixtures/dicomFixtures.py'), GRAY_SRC, COLOUR_SRC, dir]);
		execFileSync('gdcmconv', ['--j2k', 'u16.dcm', 'j2k-for-relabel.dcm'], { cwd: dir });
	});
	after(async () => dir && fs.rm(dir, { recursive: true, force: true }));

	for (const [uid, tool, args, src] of SYNTAXES) {
		test(`${uid}: a header claiming 40000×40000 is refused by name, no pixel buffer allocated`, async () => {
			const made = path.join(dir, `${uid}.dcm`);
			if (tool === 'relabel') await fs.copyFile(path.join(dir, 'j2k-for-relabel.dcm'), made);
			else execFileSync(tool, [...args, `${src}.dcm`, made], { cwd: dir, stdio: 'ignore' });
			const real = readFileSync(made);
			// The spy sees a decode's buffers: the real file (HTJ2K relabelled aside) allocates at least its pixels.
			if (tool !== 'relabel') {
				const ok = await allocations(() => readDicomFrame(real));
				assert.equal(ok.error, undefined, String(ok.error));
				assert.ok(Math.max(...ok.sizes) >= 320 * 320, `the spy saw the decode's buffers (largest ${Math.max(...ok.sizes)})`);
			}
			const liar = path.join(dir, `${uid}.liar.dcm`);
			execFileSync(PYTHON, ['-c', PATCH, made, liar, '40000', '40000', tool === 'relabel' ? uid : '-']);
			const bytes = readFileSync(liar);
			const { sizes, error } = await allocations(() => readDicomFrame(bytes));
			assert.match(String((error as Error)?.message), /image too large \(40000×40000 in the DICOM header; the limit is 100 MP\)/);
			const largest = Math.max(0, ...sizes);
			assert.ok(largest <= 4 * bytes.length, `an allocation of ${largest} (the file is ${bytes.length} bytes)`);
		});
	}

	test('a compressed stream whose own header disagrees with the DICOM header is refused before decoding', async () => {
		const liar = path.join(dir, 'small-header.dcm');
		execFileSync('gdcmconv', ['--j2k', 'u16.dcm', 'j2k-small.dcm'], { cwd: dir });
		execFileSync(PYTHON, ['-c', PATCH, path.join(dir, 'j2k-small.dcm'), liar, '32', '32', '-']);
		const { sizes, error } = await allocations(() => readDicomFrame(readFileSync(liar)));
		assert.match(String((error as Error)?.message), /compressed frame is 320×\d+, the header says 32×32/);
		assert.ok(Math.max(0, ...sizes) < 320 * 320, 'refused before the codec decoded it');
	});
});
