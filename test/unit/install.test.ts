// Issue 8, item 16: no noise at activation. The worker bundle must load one copy of tfjs-core (two copies each
// registered the 'node' platform: "Platform node has already been set").
// Issue 18, item 4: the install command is the one people type. A plain `npm ci` keeps onnxruntime-node (the
// repo's .npmrc tells its installer to skip only the CUDA download; ONNXRUNTIME_NODE_INSTALL=cuda12 still wins),
// the demo then says its base ran on onnxruntime-node, and a missing ORT is a loud warning at start-up with the fix.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
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

const tmp = mkdtempSync(path.join(tmpdir(), 'radreview-install-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** What onnxruntime-node's own install script decides, run with npm's environment for this repo (its .npmrc). */
function ortInstallFlag(env: NodeJS.ProcessEnv): string {
	const probe = `node -e "console.log(JSON.stringify(require('onnxruntime-node/script/install-utils.js').parseInstallFlag()) ?? 'default')"`;
	const r = spawnSync('npm', ['exec', '--offline', '-c', probe], { cwd: REPO, encoding: 'utf8', env });
	assert.equal(r.status, 0, r.stderr);
	return r.stdout.trim();
}

test('a plain npm ci skips only onnxruntime-node’s CUDA download (.npmrc); ONNXRUNTIME_NODE_INSTALL=cuda12 still downloads it', () => {
	const env = { ...process.env };
	delete env.ONNXRUNTIME_NODE_INSTALL;
	delete env.ONNXRUNTIME_NODE_INSTALL_CUDA;
	for (const k of Object.keys(env)) if (k.toLowerCase().startsWith('npm_config_onnxruntime')) delete env[k];
	assert.equal(ortInstallFlag(env), 'false', 'the installer skips its download under a plain npm ci');
	assert.equal(ortInstallFlag({ ...env, ONNXRUNTIME_NODE_INSTALL: 'cuda12' }), 'default', 'the GPU install is not overridden by .npmrc');
	assert.doesNotMatch(readFileSync(path.join(REPO, 'scripts/setup.sh'), 'utf8'), /ONNXRUNTIME_NODE_INSTALL=skip npm ci/, 'setup.sh installs as users do');
	assert.match(readFileSync(path.join(REPO, 'README.md'), 'utf8'), /^npm ci && npm run demo/m, "README's first command has no prefix");
});

const cli = (bin: string, args: string[]) => spawnSync(process.execPath, [bin, ...args], { cwd: tmp, encoding: 'utf8', timeout: 600_000 });

test('after the install, the demo says its base ran on onnxruntime-node, and no ORT warning', () => {
	assert.ok(existsSync(path.join(REPO, 'node_modules/onnxruntime-node/package.json')), 'npm ci kept onnxruntime-node');
	const r = cli(path.join(REPO, 'bin/radreview.js'), ['demo', '--backbone', 'vgg16', '--image-size', '64', '--epochs', '1', '--workdir', path.join(tmp, 'demo')]);
	assert.equal(r.status, 0, r.stderr.slice(-2000));
	assert.match(r.stdout, /backend .*base on onnxruntime-node \d/);
	assert.doesNotMatch(r.stderr, /onnxruntime-node is not installed/);
});

test('without onnxruntime-node, the CLI warns loudly at start-up and names the fix', () => {
	// The built CLI beside a node_modules that has everything but onnxruntime-node: an install that dropped it.
	const app = path.join(tmp, 'app');
	for (const d of ['bin', 'dist', 'node_modules']) mkdirSync(path.join(app, d), { recursive: true });
	copyFileSync(path.join(REPO, 'bin/radreview.js'), path.join(app, 'bin/radreview.js'));
	for (const f of ['cli.js', 'headKernels.wasm']) copyFileSync(path.join(REPO, 'dist', f), path.join(app, 'dist', f));
	for (const name of readdirSync(path.join(REPO, 'node_modules'))) {
		if (name !== 'onnxruntime-node' && name !== '.bin') symlinkSync(path.join(REPO, 'node_modules', name), path.join(app, 'node_modules', name));
	}
	const data = path.join(REPO, 'media/samples');
	const r = cli(path.join(app, 'bin/radreview.js'), ['features', '--data', data, '--backbone', 'vgg16', '--weights', 'none', '--image-size', '64', '--workdir', path.join(tmp, 'noort')]);
	assert.equal(r.status, 0, r.stderr.slice(-2000));
	assert.match(r.stderr, /\*\*\* WARNING: onnxruntime-node is not installed .*Fix: run `npm ci` again/);
	assert.match(r.stdout, /on tfjs/, 'the base ran on TensorFlow.js');
});
