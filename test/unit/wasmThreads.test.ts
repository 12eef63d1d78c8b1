// Threaded SIMD WASM (tf.ts' patch): same numbers as one thread, and the process still exits after shutdown.
// A backend is chosen once per process, so each variant runs as a child process of this file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { privateScriptDir, writePrivateScript } from '../../src/engine/runtime/wasmThreads';
import type { tf as TF } from '../../src/engine/model/tf';

const CHILD = 'RADREVIEW_THREADS_TEST_CHILD';

interface ChildResult {
	label: string;
	threads: number;
	values: string;
}

async function child(): Promise<void> {
	const { initBackend, shutdownBackend, tf } = await import('../../src/engine/model/tf');
	const report = await initBackend('wasm');
	const out = tf.tidy(() => {
		const x = tf.randomNormal([2, 59, 59, 32], 0, 1, 'float32', 1) as TF.Tensor4D;
		const w = tf.randomNormal([3, 3, 32, 48], 0, 0.2, 'float32', 2) as TF.Tensor4D;
		const y = tf.relu(tf.conv2d(x, w, [2, 2], 'same'));
		const dw = tf.randomNormal([3, 3, 48, 1], 0, 0.2, 'float32', 3) as TF.Tensor4D;
		return tf.depthwiseConv2d(y as TF.Tensor4D, dw, 1, 'same');
	});
	const values = out.dataSync() as Float32Array;
	out.dispose();
	const result: ChildResult = { label: report.label, threads: report.threads ?? 1, values: Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('base64') };
	process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
	// Without this, Emscripten's pthread workers keep the process alive and the parent's timeout fails the test.
	shutdownBackend();
}

function run(env: Record<string, string>): Promise<ChildResult> {
	return new Promise((resolve, reject) => {
		const p = spawn(process.execPath, [...process.execArgv, __filename], { env: { ...process.env, ...env, [CHILD]: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
		let out = '';
		let err = '';
		p.stdout.on('data', (d) => (out += d));
		p.stderr.on('data', (d) => (err += d));
		const timer = setTimeout(() => p.kill('SIGKILL'), 120_000);
		p.on('close', (code) => {
			clearTimeout(timer);
			const line = out.split('\n').find((l) => l.startsWith('RESULT '));
			if (code !== 0 || !line) reject(new Error(`child exited ${code}${code === null ? ' (killed: did not exit after shutdownBackend)' : ''}: ${err.slice(-500)}`));
			else resolve(JSON.parse(line.slice(7)) as ChildResult);
		});
	});
}

if (process.env[CHILD]) {
	void child();
} else {
	test('the scripts the shim executes live in a private mkdtemp folder (0700) and are checked by content hash', () => {
		const dir = privateScriptDir();
		assert.ok(dir.startsWith(path.join(os.tmpdir(), 'radreview-wasm-')));
		assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
		assert.equal(privateScriptDir(), dir, 'one folder per process');
		const file = writePrivateScript(dir, 'test', 'var x = 1;');
		assert.equal(fs.statSync(file).mode & 0o777, 0o600);
		assert.equal(writePrivateScript(dir, 'test', 'var x = 1;'), file, 'the same content is reused');
		// A file swapped under the expected name is refused, not executed.
		fs.writeFileSync(file, 'process.exit(1)');
		assert.throws(() => writePrivateScript(dir, 'test', 'var x = 1;'), /content differs/);
	});

	test('WASM with threads computes exactly what one thread does, and the process exits', { timeout: 300_000 }, async () => {
		const one = await run({ RADREVIEW_WASM_THREADS: '0' });
		const many = await run({ RADREVIEW_WASM_THREADS: '' });
		console.log(`# ${one.label} vs ${many.label}`);
		assert.equal(one.threads, 1);
		const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
		if (cores > 1) {
			assert.ok(many.threads > 1, `threads were not enabled: ${many.label}`);
			assert.doesNotMatch(many.label, /threads off/);
		}
		const a = new Float32Array(Buffer.from(one.values, 'base64').buffer.slice(0));
		const b = new Float32Array(Buffer.from(many.values, 'base64').buffer.slice(0));
		assert.equal(a.length, 30 * 30 * 48 * 2);
		assert.ok(a.some((v) => v !== 0));
		let maxDiff = 0;
		for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
		assert.ok(maxDiff <= 1e-5, `max difference ${maxDiff}`);
	});
}
