// Architecture checks (part of `npm run lint`): no import cycles under src/ (type-only imports included, as madge
// counts them), and nothing under src/engine imports 'vscode'. Imports are read and resolved with TypeScript itself.
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';

const root = path.resolve(import.meta.dirname, '..');
const src = path.join(root, 'src');
const files = fs
	.readdirSync(src, { recursive: true })
	.map((f) => path.join(src, String(f)))
	.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
const options = { module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, resolveJsonModule: true };

/** file → the src/ files it imports (static imports and re-exports, type-only ones too). */
const graph = new Map();
const problems = [];
for (const file of files) {
	const info = ts.preProcessFile(fs.readFileSync(file, 'utf8'), true, true);
	const deps = [];
	for (const { fileName: spec } of info.importedFiles) {
		if (spec === 'vscode' && file.startsWith(path.join(src, 'engine') + path.sep)) problems.push(`${path.relative(root, file)} imports 'vscode' (the engine must not)`);
		const r = ts.resolveModuleName(spec, file, options, ts.sys).resolvedModule;
		if (r && !r.isExternalLibraryImport && r.resolvedFileName.startsWith(src + path.sep)) deps.push(path.resolve(r.resolvedFileName));
	}
	graph.set(path.resolve(file), deps);
}

// Depth-first search with colours; each back edge is a cycle.
const state = new Map();
const stack = [];
const seen = new Set();
function visit(f) {
	state.set(f, 1);
	stack.push(f);
	for (const d of graph.get(f) ?? []) {
		if (state.get(d) === 1) {
			const cycle = stack.slice(stack.indexOf(d)).concat(d).map((x) => path.relative(root, x));
			const key = [...cycle].sort().join('|');
			if (!seen.has(key)) {
				seen.add(key);
				problems.push(`import cycle: ${cycle.join(' → ')}`);
			}
		} else if (!state.has(d)) visit(d);
	}
	stack.pop();
	state.set(f, 2);
}
for (const f of graph.keys()) if (!state.has(f)) visit(f);

if (problems.length) {
	for (const p of problems) console.error(p);
	process.exit(1);
}
console.log(`checkArch: ${graph.size} modules under src/, no import cycles, no 'vscode' import under src/engine.`);
