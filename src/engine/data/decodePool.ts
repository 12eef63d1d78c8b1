// The decode worker's client: one thread, started on first use and kept, that decodes one frame at a time. Each
// frame has a time limit; past it the thread is ended (a synchronous codec loop cannot be interrupted any other
// way), the frame fails with a named reason, and the next frame gets a fresh thread.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { CodecJob, CodecResult } from './pixelCodecs';

/** Default time one frame may take to decode. */
export const DECODE_TIMEOUT_MS = 30_000;
/** Heap of the decode thread: a 100 MP frame of 32-bit samples and its copies fit; the WebAssembly heaps are apart. */
const DECODE_HEAP_MB = 2048;

const options = { timeoutMs: DECODE_TIMEOUT_MS };

/** Change the per-frame time limit (tests; a CLI flag could too). */
export function setDecodeTimeout(ms: number): void {
	if (!(ms > 0)) throw new Error(`decode timeout must be positive (got ${ms})`);
	options.timeoutMs = ms;
}

/**
 * Bundled: dist/decodeWorker.js beside this bundle. From source (tests under tsx, whose loader hooks a worker does
 * not inherit): the .ts beside this file, through tsx's require hook.
 */
function newWorker(): Worker {
	const resourceLimits = { maxOldGenerationSizeMb: DECODE_HEAP_MB };
	const js = path.join(__dirname, 'decodeWorker.js');
	if (existsSync(js)) return new Worker(js, { resourceLimits });
	// Names as data, not require() calls: the bundle never loads tsx (a dev dependency) and the package check sees no require.
	const [hook, ts] = ['tsx/cjs', path.join(__dirname, 'decodeWorker.ts')].map((s) => JSON.stringify(s));
	return new Worker(`require(${hook}); require(${ts});`, { eval: true, resourceLimits });
}

interface Pending {
	id: number;
	job: CodecJob;
	resolve: (r: CodecResult) => void;
	reject: (e: Error) => void;
}

let worker: Worker | undefined;
let current: (Pending & { timer: NodeJS.Timeout }) | undefined;
const queue: Pending[] = [];
let nextId = 1;

/** Decode one frame in the decode thread. Rejects with the codec's reason, or "took longer than N s to decode". */
export function decodeInWorker(job: CodecJob): Promise<CodecResult> {
	return new Promise((resolve, reject) => {
		queue.push({ id: nextId++, job, resolve, reject });
		pump();
	});
}

function start(): Worker {
	const w = newWorker();
	w.on('message', (m: { id: number; result?: CodecResult; error?: string }) => {
		if (!current || current.id !== m.id) return;
		const done = finish();
		if (m.result) done.resolve(m.result);
		else done.reject(new Error(m.error ?? 'the decoder gave no result'));
	});
	w.on('error', (e) => fail(w, /OUT_OF_MEMORY/.test((e as NodeJS.ErrnoException).code ?? '') ? 'ran out of memory while decoding' : `decoder crashed (${e.message})`));
	w.on('exit', (code) => fail(w, `decoder thread ended (exit code ${code})`));
	return w;
}

/** The thread `w` failed or ended: the frame in flight fails with `reason`, the next one gets a fresh thread. */
function fail(w: Worker, reason: string): void {
	if (worker !== w) return;
	worker = undefined;
	if (current) finish().reject(new Error(reason));
	pump();
}

function finish(): Pending {
	const done = current!;
	clearTimeout(done.timer);
	current = undefined;
	queueMicrotask(pump);
	return done;
}

function pump(): void {
	if (current) return;
	const next = queue.shift();
	if (!next) {
		worker?.unref(); // idle: the thread never keeps the process alive
		return;
	}
	const w = (worker ??= start());
	w.ref();
	const limit = options.timeoutMs;
	const timer = setTimeout(() => {
		if (current?.id !== next.id) return;
		worker = undefined;
		finish().reject(new Error(`took longer than ${limit / 1000} s to decode`));
		void w.terminate();
	}, limit);
	current = { ...next, timer };
	const data = next.job.data;
	// The frame's own buffer moves to the thread; a view into a larger buffer (the file) is copied first.
	const own = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
	w.postMessage({ id: next.id, job: { ...next.job, data: own } }, [own.buffer as ArrayBuffer]);
}
