// Issue 8, item 16: no noise at activation or on every npm command. The worker bundle must load one copy of
// tfjs-core (two copies each registered the 'node' platform: "Platform node has already been set"), and the
// project's .npmrc must not carry keys npm does not know (npm 11 warns about them on every command).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';

const REPO = path.join(__dirname, '../..');
const WORKER = path.join(REPO, 'dist/worker.js');

test('the engine worker starts the WASM backend without a second tfjs platform registration', async () => {
	assert.ok(existsSync(WORKER), 'dist/worker.js is missing: run npm run build');
	const worker = new Worker(WORKER, { stdout: true, stderr: true });
	let out = '';
	worker.stdout.on('data', (d: Buffer) => (out += d.toString()));
	worker.stderr.on('data', (d: Buffer) => (out += d.toString()));
	try {
		const result = await new Promise<{ type: string; result?: { name: string } }>((resolve, reject) => {
			worker.on('message', (m: { type: string; id?: number }) => {
				if (m.id === 1 && (m.type === 'result' || m.type === 'error')) resolve(m as { type: string; result?: { name: string } });
			});
			worker.on('error', reject);
			worker.postMessage({ type: 'backend', id: 1, preference: 'wasm' });
		});
		assert.equal(result.type, 'result', JSON.stringify(result));
		assert.equal(result.result?.name, 'wasm');
		// Let the streams drain.
		await new Promise((r) => setTimeout(r, 200));
		assert.doesNotMatch(out, /Platform \w+ has already been set/);
		assert.doesNotMatch(out, /backend .* was already registered/i);
	} finally {
		await worker.terminate();
	}
});

test('.npmrc holds no key npm does not know (onnxruntime-node-install moved to the environment)', () => {
	const npmrc = path.join(REPO, '.npmrc');
	const text = existsSync(npmrc) ? readFileSync(npmrc, 'utf8') : '';
	assert.doesNotMatch(text, /onnxruntime-node-install/);
	const setup = readFileSync(path.join(REPO, 'scripts/setup.sh'), 'utf8');
	assert.match(setup, /ONNXRUNTIME_NODE_INSTALL=skip npm ci/, 'setup.sh installs with the CUDA download skipped');
});
