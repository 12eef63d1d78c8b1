// Where the ONNX base runs (issue 14's GPU path): RADREVIEW_BASE_DEVICE, the CUDA provider lookup, the provider
// choice, and the fallback to the CPU with its reason. No GPU here: CUDA is asked for and must fall back, with the
// features equal to the CPU's, on real radiographs.
import assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { buildBackbone, getBackbone } from '../../src/engine/model/backbones/index';
import { initBackend, shutdownBackend } from '../../src/engine/model/tf';
import { normalise } from '../../src/engine/data/preprocess';
import { baseDeviceFromEnv, chooseProviders, cudaProvider } from '../../src/engine/runtime/device';
import { createOnnxExtractor, onnxAvailable } from '../../src/engine/runtime/onnx';
import { missingPrereq } from './prereq';

const DEV = path.resolve(__dirname, '../../../shared/cxr/dev');
const SIZE = 64;

test('RADREVIEW_BASE_DEVICE: auto by default, case-insensitive, an unknown value named', () => {
	assert.equal(baseDeviceFromEnv({}), 'auto');
	assert.equal(baseDeviceFromEnv({ RADREVIEW_BASE_DEVICE: ' CUDA ' }), 'cuda');
	assert.equal(baseDeviceFromEnv({ RADREVIEW_BASE_DEVICE: 'cpu' }), 'cpu');
	assert.throws(() => baseDeviceFromEnv({ RADREVIEW_BASE_DEVICE: 'gpu' }), /RADREVIEW_BASE_DEVICE=gpu: expected one of auto, cpu, cuda/);
});

test('the CUDA provider counts as installed only when its library sits beside the binding', async () => {
	const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-cuda-'));
	try {
		const absent = cudaProvider(dir);
		assert.equal(absent.installed, process.platform === 'linux' ? false : absent.installed);
		if (process.platform === 'linux') {
			assert.match(absent.reason ?? '', /libonnxruntime_providers_cuda\.so is missing .*ONNXRUNTIME_NODE_INSTALL=cuda12/);
			await fs.writeFile(path.join(dir, 'libonnxruntime_providers_cuda.so'), '');
			assert.deepEqual(cudaProvider(dir), { installed: true });
		}
	} finally {
		await fs.rm(dir, { recursive: true, force: true });
	}
});

test('provider choice: CPU when asked, for int8, or without the provider (a reason only when CUDA was asked for)', () => {
	const yes = { installed: true };
	const no = { installed: false, reason: 'x.so is missing' };
	assert.deepEqual(chooseProviders('cpu', { int8: false, cuda: yes }), { providers: ['cpu'] });
	assert.deepEqual(chooseProviders('auto', { int8: false, cuda: yes }), { providers: ['cuda', 'cpu'] });
	assert.deepEqual(chooseProviders('cuda', { int8: false, cuda: yes }), { providers: ['cuda', 'cpu'] });
	assert.deepEqual(chooseProviders('auto', { int8: false, cuda: no }), { providers: ['cpu'], note: undefined });
	assert.deepEqual(chooseProviders('cuda', { int8: false, cuda: no }), { providers: ['cpu'], note: 'CUDA execution provider not used: x.so is missing' });
	assert.match(chooseProviders('cuda', { int8: true, cuda: yes }).note ?? '', /int8 base runs on the CPU/);
});

test('CUDA asked for on a machine without it: the CPU serves, says why, and gives the same features', { timeout: 10 * 60_000 }, async (t) => {
	if (!(await onnxAvailable())) return missingPrereq(t, 'onnxruntime-node (optional dependency) is not installed');
	await initBackend();
	const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-device-'));
	const spec = getBackbone('vgg16');
	const model = buildBackbone('vgg16', SIZE, { seed: 3 });
	try {
		const files = [path.join(DEV, 'NORMAL', (await fs.readdir(path.join(DEV, 'NORMAL'))).sort()[0]), path.join(DEV, 'COVID', (await fs.readdir(path.join(DEV, 'COVID'))).sort()[0])];
		const rgb = await Promise.all(files.map(async (f) => new Uint8Array(await sharp(f).removeAlpha().toColourspace('srgb').resize(SIZE, SIZE, { fit: 'fill' }).raw().toBuffer())));
		const batch = new Float32Array(rgb.length * SIZE * SIZE * 3);
		rgb.forEach((im, i) => normalise(im, spec.preprocessing, batch, i * im.length));
		const cpu = await createOnnxExtractor(model, spec, { cacheDir: tmp, weightsSha: 'device-test', device: 'cpu' });
		const want = await cpu.extract(batch, rgb.length);
		await cpu.dispose();
		assert.equal(cpu.deviceNote, undefined);
		assert.match(cpu.runtime, /\(CPU, /);

		// The provider is said to be installed but this build cannot start it: the CPU takes over with the reason.
		const cases = [
			{ name: 'provider absent', cuda: cudaProvider() },
			{ name: 'provider present but not startable', cuda: { installed: true } },
		];
		for (const c of cases) {
			const fx = await createOnnxExtractor(model, spec, { cacheDir: tmp, weightsSha: 'device-test', device: 'cuda', cuda: c.cuda });
			try {
				if (fx.runtime.includes('(CUDA)')) {
					// A machine with a working CUDA provider: no fallback to explain.
					assert.equal(fx.deviceNote, undefined, c.name);
				} else {
					assert.match(fx.runtime, /\(CPU, /, c.name);
					assert.match(fx.deviceNote ?? '', c.cuda.installed ? /CUDA execution provider did not start \(.+\); the base runs on the CPU/ : /CUDA execution provider not used: /, c.name);
				}
				const got = await fx.extract(batch, rgb.length);
				assert.equal(got.length, want.length);
				let maxDiff = 0;
				for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
				const scale = Math.max(...want.map(Math.abs));
				assert.ok(scale > 0 && maxDiff <= 1e-4 * scale, `${c.name}: max diff ${maxDiff} against the CPU's features (scale ${scale})`);
			} finally {
				await fx.dispose();
			}
		}
	} finally {
		model.dispose();
		shutdownBackend();
		await fs.rm(tmp, { recursive: true, force: true });
	}
});
