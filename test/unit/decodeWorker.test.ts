// The DICOM decode thread: a frame that never finishes decoding (RADREVIEW_TEST_SLOW_DECODE makes the decode worker
// spin on it, as a pathological file would) is stopped at the time limit and named, while real files of every
// worker-decoded transfer syntax around it, made by dcmtk / gdcm from a dev radiograph, still decode; the engine
// thread stays free meanwhile.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DecodeError, decodeBytes } from '../../src/engine/data/decode';
import { setDecodeTimeout } from '../../src/engine/data/decodePool';

const SHARED = path.resolve(__dirname, '../../../shared/cxr');
const GRAY_SRC = path.join(SHARED, 'dev/NORMAL/00cfd1c1.jpg');
const COLOUR_SRC = path.join(SHARED, 'dev/COVID/1-s2.0-S1341321X20301124-gr3_lrg-d.png');
const PYTHON = '/usr/bin/python3';
const TOOLS = ['dcmcjpeg', 'dcmcjpls', 'dcmcrle', 'gdcmconv'];
const missing = TOOLS.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
if (spawnSync(PYTHON, ['-c', 'import pydicom, numpy, PIL']).status !== 0) missing.push('python3-pydicom');
const skip = missing.length && process.env.CI !== 'true' ? `needs ${missing.join(', ')} (scripts/setup.sh installs them)` : false;

/** Generous: the other files must decode within it on a busy machine; the spinning one never ends at all. */
const LIMIT_S = 20;
const MADE: Array<[string, string, string[]]> = [
	['rle.dcm', 'dcmcrle', []],
	['jpeg-lossless.dcm', 'dcmcjpeg', ['+e1']],
	['jpeg12.dcm', 'dcmcjpeg', ['+ee']],
	['jpeg-ls.dcm', 'dcmcjpls', ['+el']],
	['j2k.dcm', 'gdcmconv', ['--j2k']],
];

let dir: string;

describe('DICOM decode thread: a time limit per frame', { skip }, () => {
	before(async () => {
		assert.deepEqual(missing, [], `missing prerequisites: ${missing.join(', ')} (run scripts/setup.sh)`);
		dir = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-decodeworker-'));
		execFileSync(PYTHON, [path.join(__dirname, 'fixtures/dicomFixtures.py'), GRAY_SRC, COLOUR_SRC, dir]);
		for (const [name, tool, args] of MADE) execFileSync(tool, [...args, 'u16.dcm', name], { cwd: dir, stdio: 'ignore' });
		// The spinning one is a real RLE file too: only its name sets it apart.
		await fs.copyFile(path.join(dir, 'rle.dcm'), path.join(dir, 'slow.dcm'));
		process.env.RADREVIEW_TEST_SLOW_DECODE = 'slow.dcm';
		setDecodeTimeout(LIMIT_S * 1000);
	});
	after(async () => {
		delete process.env.RADREVIEW_TEST_SLOW_DECODE;
		await (dir && fs.rm(dir, { recursive: true, force: true }));
	});

	test('the spinning file is stopped and named; the batch around it decodes; the engine thread stays free', { timeout: 10 * 60_000 }, async () => {
		const decode = (name: string) => {
			const file = path.join(dir, name);
			return decodeBytes(readFileSync(file), file, { size: 64, resize: 'stretch' }).then(
				(img) => ({ name, ok: img.rgb.length === 64 * 64 * 3, format: img.format }),
				(e: unknown) => ({ name, error: e }),
			);
		};
		// As the batch loader does: several in flight at once, the slow one among them.
		const names = ['rle.dcm', 'jpeg-lossless.dcm', 'slow.dcm', 'jpeg12.dcm', 'jpeg-ls.dcm', 'j2k.dcm'];
		let settled = false;
		const batch = Promise.all(names.map(decode)).finally(() => (settled = true));
		// While the decode thread spins, this thread still answers (timers, other messages, cancel).
		let ticks = 0;
		while (ticks < 5 && !settled) {
			await new Promise((r) => setTimeout(r, 20));
			ticks++;
		}
		assert.equal(ticks, 5, 'the event loop ran while the batch was decoding');
		const results = await batch;
		for (const r of results) {
			if (r.name === 'slow.dcm') {
				assert.ok('error' in r && r.error instanceof DecodeError, `slow.dcm fails with a DecodeError: ${String((r as { error?: unknown }).error)}`);
				assert.ok(r.error.message.startsWith(path.join(dir, 'slow.dcm')), `the error names the file: ${r.error.message}`);
				assert.match(r.error.reason, new RegExp(`took longer than ${LIMIT_S} s to decode`));
			} else assert.ok('ok' in r && r.ok, `${r.name} decodes: ${'error' in r ? String(r.error) : ''}`);
		}
		// A fresh thread took over: the same files decode again, the slow one named again.
		const again = await Promise.all(['slow.dcm', 'j2k.dcm', 'rle.dcm'].map(decode));
		assert.ok('error' in again[0] && /took longer than/.test(String(again[0].error)));
		assert.ok('ok' in again[1] && again[1].ok && 'ok' in again[2] && again[2].ok, 'the files after it decode on the fresh thread');
	});
});
