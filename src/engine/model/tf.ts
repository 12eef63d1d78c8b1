// The only module that imports TensorFlow.js. It picks the backend at run time:
// tfjs-node-gpu → tfjs-node → WASM (SIMD) → pure JS, unless told otherwise.
import * as tf from '@tensorflow/tfjs';
import * as path from 'node:path';
import * as fs from 'node:fs';
import type { BackendAvailability, BackendName, BackendPreference } from '../types';
import { startWasmWithThreads } from '../runtime/wasmThreads';

export { tf };
export type Tensor = tf.Tensor;
export type LayersModel = tf.LayersModel;

export interface BackendReport {
	name: BackendName;
	/** Human label, e.g. 'WASM (SIMD, 2 threads)'. */
	label: string;
	/** Why better rungs were skipped. */
	skipped: string[];
	simd?: boolean;
	threads?: number;
}

let current: BackendReport | undefined;
let pending: Promise<BackendReport> | undefined;

const LADDER: BackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** Initialise (once) and report the backend; later calls return the same report. */
export function initBackend(pref: BackendPreference = envPreference()): Promise<BackendReport> {
	if (current && (pref === 'auto' || pref === current.name)) return Promise.resolve(current);
	if (pending && pref === 'auto') return pending;
	pending = pick(pref).then((r) => (current = r));
	return pending;
}

/** The backend in use, if initialised. */
export function backendReport(): BackendReport | undefined {
	return current;
}

function envPreference(): BackendPreference {
	const v = process.env.RADREVIEW_BACKEND as BackendPreference | undefined;
	return v && (v === 'auto' || LADDER.includes(v)) ? v : 'auto';
}

async function pick(pref: BackendPreference): Promise<BackendReport> {
	const rungs = pref === 'auto' ? LADDER : [pref];
	const skipped: string[] = [];
	for (const rung of rungs) {
		try {
			const report = await tryRung(rung);
			return { ...report, skipped };
		} catch (e) {
			skipped.push(`${rung}: ${firstLine(e)}`);
		}
	}
	if (pref !== 'auto') throw new Error(`Backend '${pref}' is not available: ${skipped.join('; ')}`);
	throw new Error(`No TensorFlow.js backend could be initialised: ${skipped.join('; ')}`);
}

async function tryRung(rung: BackendName): Promise<Omit<BackendReport, 'skipped'>> {
	switch (rung) {
		case 'tensorflow-gpu':
		case 'tensorflow': {
			// The native bindings register the 'tensorflow' backend on import; a failed libtensorflow download
			// makes the require throw, which is what we want to catch.
			const pkg = rung === 'tensorflow-gpu' ? '@tensorflow/tfjs-node-gpu' : '@tensorflow/tfjs-node';
			require(pkg);
			if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg} loaded but its backend did not start`);
			await tf.ready();
			return { name: rung, label: rung === 'tensorflow-gpu' ? 'TensorFlow native (GPU)' : 'TensorFlow native (CPU)' };
		}
		case 'wasm': {
			const wasm = require('@tensorflow/tfjs-backend-wasm') as typeof import('@tensorflow/tfjs-backend-wasm');
			// Point at the package's own .wasm files: bundling moves our code away from node_modules.
			const dist = path.join(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist') + path.sep;
			wasm.setWasmPaths(dist);
			const threadNote = await startWasmWithThreads(wasm, tf);
			if (!threadNote.started) {
				if (!(await tf.setBackend('wasm'))) throw new Error('the WASM backend did not start');
				await tf.ready();
			}
			const simd = Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
			const threads = wasm.getThreadsCount ? wasm.getThreadsCount() : 1;
			const label = `WASM (${simd ? 'SIMD' : 'no SIMD'}, ${threads} thread${threads === 1 ? '' : 's'})`;
			return { name: 'wasm', label: threadNote.note ? `${label}; ${threadNote.note}` : label, simd, threads };
		}
		case 'cpu': {
			if (!(await tf.setBackend('cpu'))) throw new Error('the pure-JS backend did not start');
			await tf.ready();
			return { name: 'cpu', label: 'pure JS (slow: last resort)' };
		}
	}
}

/** npm packages of the native rungs; their install script downloads libtensorflow (fails offline). */
const NATIVE_PACKAGES: Record<'tensorflow-gpu' | 'tensorflow', string> = { 'tensorflow-gpu': '@tensorflow/tfjs-node-gpu', tensorflow: '@tensorflow/tfjs-node' };

/**
 * Which rungs are installed, without starting any (the picker shows the others disabled, with why). A native
 * package counts once its binding was built by its install script; whether CUDA then works shows when it starts.
 */
export function probeBackends(resolve: (id: string) => string = require.resolve): BackendAvailability[] {
	const native = (name: 'tensorflow-gpu' | 'tensorflow'): BackendAvailability => {
		const pkg = NATIVE_PACKAGES[name];
		let dir: string;
		try {
			dir = path.dirname(resolve(`${pkg}/package.json`));
		} catch {
			return {
				name,
				installed: false,
				reason: `${pkg} is not installed (optional dependency: its install downloads libtensorflow${name === 'tensorflow-gpu' ? ' for CUDA' : ''}, which needs the internet)`,
			};
		}
		const lib = path.join(dir, 'lib');
		const built = fs.existsSync(lib) && fs.readdirSync(lib).some((d) => fs.existsSync(path.join(lib, d, 'tfjs_binding.node')));
		return built ? { name, installed: true } : { name, installed: false, reason: `${pkg} is present but its native binding was never built (its libtensorflow download failed)` };
	};
	let wasm: BackendAvailability = { name: 'wasm', installed: true };
	try {
		resolve('@tensorflow/tfjs-backend-wasm/package.json');
	} catch {
		wasm = { name: 'wasm', installed: false, reason: '@tensorflow/tfjs-backend-wasm is not installed' };
	}
	return [native('tensorflow-gpu'), native('tensorflow'), wasm, { name: 'cpu', installed: true }];
}

/** Release backend resources (WASM pthread workers keep the process alive otherwise). */
export function shutdownBackend(): void {
	if (current?.name === 'wasm') {
		try {
			tf.removeBackend('wasm');
		} catch {
			// already gone
		}
	}
	current = undefined;
	pending = undefined;
}

function firstLine(e: unknown): string {
	const msg = e instanceof Error ? e.message : String(e);
	return msg.split('\n')[0].slice(0, 200);
}
