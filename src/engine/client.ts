// Host-side handle on the engine worker: one long-lived worker thread, started on first use.
// Each job: post a request with an id → progress events → one result or error. No vscode import,
// so the client is usable from tests and the CLI too.
import { Worker } from 'node:worker_threads';
import {
	isEngineEvent,
	type BackendResult,
	type EngineEvent,
	type EngineJobInput,
	type EngineJobType,
	type EngineRequest,
	type EngineResults,
	type SerializedError,
} from '../protocol/engine';
import { CancelledError } from './util/cancel';
import type { ProgressSink } from './types';

export interface EngineClientOptions {
	/** Absolute path of the bundled worker (dist/worker.js). */
	workerPath: string;
	/** Lines the worker logs outside a job, and boundary problems. */
	log?: (level: 'info' | 'warn' | 'error', message: string) => void;
	/** Extra environment for the worker (e.g. RADREVIEW_BACKEND). */
	env?: NodeJS.ProcessEnv;
}

export interface RunOptions {
	signal?: AbortSignal;
	onProgress?: ProgressSink;
}

interface PendingJob {
	type: EngineJobType;
	resolve(value: unknown): void;
	reject(error: Error): void;
	onProgress?: ProgressSink;
	cleanup(): void;
}

/** A job's input with its type picked by K. */
export type JobInput<K extends EngineJobType> = Extract<EngineJobInput, { type: K }>;

export class EngineClient {
	private worker: Worker | undefined;
	private nextId = 1;
	private readonly jobs = new Map<number, PendingJob>();
	private readonly backendListeners = new Set<(report: BackendResult) => void>();
	private disposed = false;
	/** Last backend the worker reported. */
	backend: BackendResult | undefined;

	constructor(private readonly options: EngineClientOptions) {}

	/** Number of jobs in flight. */
	get busy(): number {
		return this.jobs.size;
	}

	/** Listen for backend reports; returns an unsubscribe disposable. */
	onBackend(listener: (report: BackendResult) => void): { dispose(): void } {
		this.backendListeners.add(listener);
		return { dispose: () => this.backendListeners.delete(listener) };
	}

	/** Start a job; the promise settles with its result, or rejects (CancelledError on abort). */
	run<K extends EngineJobType>(input: JobInput<K>, opts: RunOptions = {}): Promise<EngineResults[K]> {
		if (this.disposed) return Promise.reject(new Error('The engine has been shut down'));
		if (opts.signal?.aborted) return Promise.reject(new CancelledError());
		const id = this.nextId++;
		const worker = this.ensureWorker();
		return new Promise<EngineResults[K]>((resolve, reject) => {
			const onAbort = (): void => this.post({ type: 'cancel', id });
			opts.signal?.addEventListener('abort', onAbort, { once: true });
			this.jobs.set(id, {
				type: input.type,
				resolve: resolve as (v: unknown) => void,
				reject,
				onProgress: opts.onProgress,
				cleanup: () => opts.signal?.removeEventListener('abort', onAbort),
			});
			worker.postMessage({ ...input, id } as EngineRequest);
		});
	}

	/** Cancel every job in flight (each rejects with CancelledError once the worker stops it). */
	cancelAll(): void {
		for (const id of this.jobs.keys()) this.post({ type: 'cancel', id });
	}

	/** Terminate the worker; pending jobs reject as cancelled. */
	dispose(): void {
		if (this.disposed) return;
		this.disposed = true;
		this.failAll(new CancelledError('The engine was shut down'));
		const w = this.worker;
		this.worker = undefined;
		void w?.terminate();
	}

	private post(msg: EngineRequest): void {
		this.worker?.postMessage(msg);
	}

	private ensureWorker(): Worker {
		if (this.worker) return this.worker;
		const worker = new Worker(this.options.workerPath, { env: { ...process.env, ...this.options.env } });
		this.options.log?.('info', 'Engine worker started.');
		// The worker must not keep the extension host (or a test) alive on its own.
		worker.unref();
		worker.on('message', (msg: unknown) => this.onMessage(msg));
		worker.on('error', (err) => {
			this.options.log?.('error', `Engine worker crashed: ${err.stack ?? err.message}`);
			this.failAll(err);
			if (this.worker === worker) this.worker = undefined;
		});
		worker.on('exit', (code) => {
			if (this.worker === worker) this.worker = undefined;
			if (this.jobs.size > 0) this.failAll(new Error(`Engine worker exited (code ${code})`));
		});
		this.worker = worker;
		return worker;
	}

	private onMessage(msg: unknown): void {
		if (!isEngineEvent(msg)) {
			this.options.log?.('warn', `Ignored a malformed message from the engine worker: ${safeJson(msg)}`);
			return;
		}
		this.handle(msg);
	}

	private handle(msg: EngineEvent): void {
		switch (msg.type) {
			case 'progress':
				this.jobs.get(msg.id)?.onProgress?.(msg.event);
				return;
			case 'result': {
				const job = this.take(msg.id);
				job?.resolve(msg.result);
				return;
			}
			case 'error': {
				const job = this.take(msg.id);
				job?.reject(deserializeError(msg.error));
				return;
			}
			case 'backend':
				this.backend = msg.report;
				for (const l of this.backendListeners) l(msg.report);
				return;
			case 'log':
				this.options.log?.(msg.level, msg.message);
				return;
			default:
				assertNever(msg);
		}
	}

	private take(id: number): PendingJob | undefined {
		const job = this.jobs.get(id);
		if (!job) return undefined;
		this.jobs.delete(id);
		job.cleanup();
		return job;
	}

	private failAll(err: Error): void {
		for (const id of [...this.jobs.keys()]) this.take(id)?.reject(err);
	}
}

function deserializeError(e: SerializedError): Error {
	const err = e.name === 'CancelledError' ? new CancelledError(e.message) : new Error(e.message);
	if (e.name !== 'CancelledError') err.name = e.name;
	if (e.stack) err.stack = e.stack;
	return err;
}

function safeJson(v: unknown): string {
	try {
		return JSON.stringify(v).slice(0, 200);
	} catch {
		return String(v);
	}
}

function assertNever(v: never): never {
	throw new Error(`Unhandled engine event ${safeJson(v)}`);
}
