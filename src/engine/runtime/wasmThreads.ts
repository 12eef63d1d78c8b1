// WASM threads patch [perf], applied while model/tf.ts starts the WASM backend.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';

// tfjs 4.22 hard-disables threaded SIMD in Node (tfjs#3830) although it runs: it hands Emscripten its pthread worker
// script and module factory as blob: URLs, which Node's Worker cannot load. We capture both scripts as they are
// created, write them to real files and point the worker at them. Tied to the exact tfjs-backend-wasm version: any
// mismatch or failure falls back to plain SIMD. Opt out with RADREVIEW_WASM_THREADS=0 (or =N to pick a count).

const WASM_THREADS_VERSION = '4.22.0';
// Emscripten preallocates this many pthread workers; more would be spawned later, after our patch is gone.
const WASM_POOL_SIZE = 8;
const WORKER_MARK = '"use strict";var Module={};var ENVIRONMENT_IS_NODE=';
const MAIN_MARK = 'var WasmBackendModuleThreadedSimd = ';
const WORKER_IMPORT =
	'if(typeof e.data.urlOrBlob=="string"){importScripts(e.data.urlOrBlob)}else{var objectUrl=URL.createObjectURL(e.data.urlOrBlob);importScripts(objectUrl);URL.revokeObjectURL(objectUrl)}';

type WasmModule = typeof import('@tensorflow/tfjs-backend-wasm');
/** The few TF.js calls the patch needs, passed in so that model/tf.ts stays the only module importing TF.js. */
export interface TfCore {
	env(): { set(flag: string, value: boolean): void };
	setBackend(name: string): Promise<boolean>;
	ready(): Promise<void>;
	backend(): unknown;
}

/** How many threads to ask for: env override, else the cores (tfjs' own default is cores / 2). */
export function wasmThreadsWanted(): number {
	const env = process.env.RADREVIEW_WASM_THREADS;
	const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
	if (env !== undefined && env !== '') {
		const n = Number(env);
		if (Number.isInteger(n) && n >= 0) return Math.min(n, WASM_POOL_SIZE);
	}
	return Math.min(cores, WASM_POOL_SIZE);
}

/** Starts the threaded-SIMD WASM backend if it can; `started: false` means the caller starts plain SIMD. */
export async function startWasmWithThreads(wasm: WasmModule, tf: TfCore): Promise<{ started: boolean; note?: string }> {
	const threads = wasmThreadsWanted();
	if (threads <= 1) return { started: false };
	let version = '';
	try {
		version = (require('@tensorflow/tfjs-backend-wasm/package.json') as { version: string }).version;
	} catch {
		// fall through: unknown version
	}
	if (version !== WASM_THREADS_VERSION) return { started: false, note: `threads off (patch is for ${WASM_THREADS_VERSION}, found ${version || '?'})` };
	if (typeof SharedArrayBuffer === 'undefined') return { started: false, note: 'threads off (no SharedArrayBuffer)' };

	const RealBlob = globalThis.Blob;
	// eslint-disable-next-line @typescript-eslint/unbound-method -- kept unbound to be put back verbatim below; calls go through .call(URL, …)
	const realCreate = URL.createObjectURL;
	const texts = new WeakMap<object, string>();
	// The scripts get executed: never from a shared, predictable path another user could have planted.
	let dir: string;
	try {
		dir = privateScriptDir();
	} catch (e) {
		return { started: false, note: `threads off (${firstLine(e)})` };
	}
	let mainFile: string | undefined;
	let failure: string | undefined;
	class RecordingBlob extends RealBlob {
		constructor(parts?: BlobPart[], opts?: BlobPropertyBag) {
			super(parts, opts);
			const first = parts && parts.length === 1 ? parts[0] : undefined;
			if (typeof first !== 'string') return;
			if (first.startsWith(WORKER_MARK)) texts.set(this, first);
			else if (first.startsWith(MAIN_MARK)) {
				// The module factory goes to the workers as this Blob, which they cannot load: write it to a file
				// now; the worker script (below) imports that file instead. The factory refers to names the bundle
				// defined around it: give the worker's global scope the same.
				const preamble = "var require$$0=require('fs'),require$$1=require('path'),require$$3=require('perf_hooks'),require$$4=require('os');" + 'var commonjsGlobal=globalThis;\n';
				try {
					mainFile = writePrivateScript(dir, 'main', preamble + first);
				} catch (e) {
					failure = firstLine(e);
				}
			}
		}
	}
	const patchedCreate = (obj: Blob | MediaSource): string => {
		const text = texts.get(obj);
		if (text === undefined) return realCreate.call(URL, obj as Blob);
		try {
			if (!mainFile) throw new Error('worker script requested before the module factory');
			if (!text.includes(WORKER_IMPORT)) throw new Error('worker script differs from the patched version');
			return writePrivateScript(dir, 'worker', text.replace(WORKER_IMPORT, `importScripts(${JSON.stringify(mainFile)});`));
		} catch (e) {
			failure = firstLine(e);
			return realCreate.call(URL, obj as Blob);
		}
	};
	const env = tf.env();
	// The patches below are global to this thread: the engine starts a backend before any job runs, so nothing else
	// creates Blobs or reads os.cpus() meanwhile; all of them are undone as soon as the backend is up (or failed).
	// XNNPACK caps its pool at emscripten_num_logical_cores() / 2, which reads os.cpus() (the same module object
	// the bundle holds): report twice the wanted count while the backend starts.
	const osModule = require('node:os') as { cpus: typeof os.cpus };
	const realCpus = osModule.cpus;
	try {
		const cpus = realCpus();
		osModule.cpus = () => Array.from({ length: 2 * threads }, (_, i) => cpus[i % cpus.length]);
		(globalThis as { Blob: typeof Blob }).Blob = RecordingBlob;
		URL.createObjectURL = patchedCreate;
		env.set('WASM_HAS_MULTITHREAD_SUPPORT', true);
		wasm.setThreadsCount(threads);
		const ok = await withTimeout(tf.setBackend('wasm'), 60_000);
		if (!ok || failure) throw new Error(failure ?? 'the threaded WASM backend did not start');
		await tf.ready();
		unrefPthreads((tf.backend() as { wasm?: { PThread?: PThreadPool } }).wasm?.PThread);
		return { started: true };
	} catch (e) {
		// A failed init leaves the backend registered: the caller's plain setBackend('wasm') starts it afresh.
		env.set('WASM_HAS_MULTITHREAD_SUPPORT', false);
		wasm.setThreadsCount(1);
		return { started: false, note: `threads off (${firstLine(e)})` };
	} finally {
		osModule.cpus = realCpus;
		(globalThis as { Blob: typeof Blob }).Blob = RealBlob;
		URL.createObjectURL = realCreate;
	}
}

interface PThreadPool {
	unusedWorkers?: Array<{ unref?: () => void }>;
	runningWorkers?: Array<{ unref?: () => void }>;
	allocateUnusedWorker?: () => void;
}

/**
 * Emscripten's pthread workers are ref'd Node workers: a process (a test file, the CLI) that forgot
 * shutdownBackend() would never exit. The main thread blocks on them synchronously while computing, so unref'd
 * workers lose nothing.
 */
function unrefPthreads(pool: PThreadPool | undefined): void {
	if (!pool) return;
	for (const w of [...(pool.unusedWorkers ?? []), ...(pool.runningWorkers ?? [])]) w.unref?.();
	const allocate = pool.allocateUnusedWorker;
	if (typeof allocate !== 'function') return;
	pool.allocateUnusedWorker = () => {
		allocate.call(pool);
		pool.unusedWorkers?.at(-1)?.unref?.();
	};
}

let scriptDir: string | undefined;

/**
 * A folder only this process writes: `mkdtemp` creates it with a fresh random name and mode 0700, so no other user
 * can have placed or swapped a file in it. Removed when the process exits.
 */
export function privateScriptDir(): string {
	if (scriptDir) return scriptDir;
	const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'radreview-wasm-'));
	fs.chmodSync(dir, 0o700);
	const st = fs.lstatSync(dir);
	if (!st.isDirectory() || (st.mode & 0o077) !== 0 || (typeof process.getuid === 'function' && st.uid !== process.getuid())) {
		throw new Error(`${dir} is not a private folder`);
	}
	process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
	scriptDir = dir;
	return dir;
}

/**
 * Writes a script into the private folder with an exclusive create (never over an existing file) and returns its path;
 * its name carries the content hash, which is checked again on the way out.
 */
export function writePrivateScript(dir: string, kind: string, text: string): string {
	const hash = createHash('sha256').update(text).digest('hex');
	const file = path.join(dir, `${kind}-${hash.slice(0, 16)}.js`);
	try {
		fs.writeFileSync(file, text, { flag: 'wx', mode: 0o600 });
	} catch (e) {
		if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
	}
	if (createHash('sha256').update(fs.readFileSync(file)).digest('hex') !== hash) throw new Error(`${file}: content differs from what was written`);
	return file;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
	let timer: NodeJS.Timeout | undefined;
	const t = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new Error(`timed out after ${ms / 1000} s`)), ms);
		timer.unref();
	});
	return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function firstLine(e: unknown): string {
	const msg = e instanceof Error ? e.message : String(e);
	return msg.split('\n')[0].slice(0, 200);
}
