// WebAssembly text → binary with wabt, for `npm run build`: every src/**/*.wat becomes dist/<name>.wasm, which the
// bundles (and the sources run under tsx) read at run time. wabt is a build-time dependency only.
import * as fs from 'node:fs';
import * as path from 'node:path';
import wabtInit from 'wabt';

const root = path.resolve(import.meta.dirname, '..');

/** The .wat files under src/, relative to the repository root. */
export function watSources() {
	return fs
		.readdirSync(path.join(root, 'src'), { recursive: true })
		.map((f) => path.join('src', String(f)))
		.filter((f) => f.endsWith('.wat'))
		.sort();
}

/** Compiles each .wat (SIMD on, as the kernels need) into outDir; a parse or validation error names the file and line. */
export async function compileWat(files = watSources(), outDir = path.join(root, 'dist')) {
	const wabt = await wabtInit();
	fs.mkdirSync(outDir, { recursive: true });
	for (const file of files) {
		const mod = wabt.parseWat(file, fs.readFileSync(path.join(root, file), 'utf8'), { simd: true });
		try {
			mod.validate();
			const { buffer } = mod.toBinary({});
			// Written whole then renamed: a worker starting meanwhile never reads half a module.
			const out = path.join(outDir, `${path.basename(file, '.wat')}.wasm`);
			fs.writeFileSync(`${out}.tmp`, buffer);
			fs.renameSync(`${out}.tmp`, out);
		} finally {
			mod.destroy();
		}
	}
}
