// Bundles the extension host, the engine worker, the CLI and the webviews.
// Native and WASM-backed packages stay external: their .node / .wasm files cannot be bundled.
// Our own WebAssembly (src/**/*.wat) is compiled by wabt into dist/*.wasm beside the bundles (scripts/wat.mjs).
import * as esbuild from 'esbuild';
import { existsSync, readdirSync, watch as watchFile } from 'node:fs';
import { compileWat, watSources } from './scripts/wat.mjs';

const external = [
	'vscode',
	'sharp',
	'h5wasm',
	'h5wasm/node',
	'onnxruntime-node',
	'@tensorflow/tfjs-node',
	'@tensorflow/tfjs-node-gpu',
	'@tensorflow/tfjs-backend-wasm',
	// One copy of tfjs-core (and its CPU kernels) for the bundle and the WASM backend alike: a bundled second copy
	// registered the 'node' platform twice ("Platform node has already been set").
	'@tensorflow/tfjs-core',
	'@tensorflow/tfjs-backend-cpu',
	// DICOM codecs: Emscripten glue that loads its .wasm from beside itself.
	'@cornerstonejs/codec-openjpeg/decodewasmjs',
	'@cornerstonejs/codec-charls/decodewasmjs',
	'@cornerstonejs/codec-openjph',
	// 12-bit JPEG: reads its .wasm from beside its own script.
	'dcmjs-codecs',
];
const watch = process.argv.includes('--watch');
const node = { bundle: true, platform: 'node', target: 'node20', format: 'cjs', sourcemap: true, external, logLevel: 'warning' };

const entries = [
	{ in: 'src/extension.ts', out: 'dist/extension.js' },
	{ in: 'src/engine/worker.ts', out: 'dist/worker.js' },
	// The DICOM decode thread (src/engine/data/decodePool.ts starts it from beside dist/worker.js and dist/cli.js).
	{ in: 'src/engine/data/decodeWorker.ts', out: 'dist/decodeWorker.js' },
	{ in: 'src/cli.ts', out: 'dist/cli.js' },
].filter((e) => existsSync(e.in));

const builds = entries.map((e) => ({ ...node, entryPoints: [e.in], outfile: e.out }));

// Each webview/<panel>/main.ts becomes dist/webview/<panel>.js for the browser.
if (existsSync('webview')) {
	for (const dir of readdirSync('webview', { withFileTypes: true })) {
		const main = `webview/${dir.name}/main.ts`;
		if (dir.isDirectory() && existsSync(main)) {
			builds.push({
				bundle: true, platform: 'browser', target: 'es2022', format: 'iife', sourcemap: true,
				entryPoints: [main], outfile: `dist/webview/${dir.name}.js`, logLevel: 'warning',
				loader: { '.css': 'text', '.ttf': 'file' },
				// jspdf's optional html()/svg() helpers (never used by the panels) would add ~1 MB; minify keeps panels small.
				external: ['html2canvas', 'dompurify', 'canvg'], minify: true,
			});
		}
	}
}

await compileWat();
if (watch) {
	for (const f of watSources()) watchFile(f, () => compileWat([f]).catch((e) => console.error(e.message)));
	await Promise.all(builds.map(async (b) => (await esbuild.context(b)).watch()));
} else {
	await Promise.all(builds.map((b) => esbuild.build(b)));
}
