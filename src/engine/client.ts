// Host-side handle on the engine worker: one long-lived worker thread, started on first use.
// Each job: post a request with an id → progress events → one result or error. No vscode import,
// so the client is usable from tests and the CLI too.
import { Worker } from 'node:worker_threads';
import { isEngineEvent, type BackendResult, type EngineEvent, type EngineJobInput, type EngineJobType, type EngineRequest, type EngineResults, type SerializedError } from '../protocol/engine';
import { CancelledError } from './util/cancel';
import type { ProgressSink } from './types';

export interface EngineClientOptions {
	/** Absolute path of the bundled worker (dist/worker.js). */
	workerPath: string;
	/** Lines the worker logs outside a job, and boundary problems. */
	log?: (level: 'info' | 'warn' | 'error', message: string) => void;
	/** Extra environment for the worker (e.g. RADREVIEW_BACKEND). */
	env?: NodeJS.ProcessEnv;
	/** How long a cancelled job may take to end before it is reported cancelled anyway (default {@link CANCEL_GRACE_MS}). */
	cancelGraceMs?: number;
	/** What workspace files may make the worker read (sent before a job whenever it changed); none: anything. */
	scope?: () => { roots: string[]; trusted: boolean };
}

/**
 * A job checks its signal between steps, but some steps are one long synchronous call (building a base, exporting it
 * to ONNX) during which the worker cannot even read the cancel: on a busy machine that took minutes. A cancelled job
 * that has not ended within this time is reported as cancelled anyway (see release).
 */
export const CANCEL_GRACE_MS = 3000;

export interface RunOptions {
	signal?: AbortSignal;
	onProgress?: ProgressSink;
	/** Stop and keep (training): finish the current epoch, then evaluate and save; the job resolves as usual. */
	stopSignal?: AbortSignal;
}

interface PendingJob {
	type: EngineJobType;
	resolve(value: unknown): void;
	reject(error: Error): void;
	onProgress?: ProgressSink;
	cleanup(): void;
	/** Set once a cancel was sent: reports the job cancelled if it outlives the grace time. */
	watchdog?: ReturnType<typeof setTimeout>;
}

/** A job failed because the engine worker died under it (a crash, or process.exit inside it). */
export class EngineCrashedError extends Error {
	constructor(readonly reason: string) {
		super(`The engine worker stopped unexpectedly (${reason}); the next command starts a fresh one.`);
		this.name = 'EngineCrashedError';
	}
}

/** A job's input with its type picked by K. */
export type JobInput<K extends EngineJobType> = Extract<EngineJobInput, { type: K }>;

export class EngineClient {
	private worker: Worker | undefined;
	private nextId = 1;
	private readonly jobs = new Map<number, PendingJob>();
	private readonly backendListeners = new Set<(report: BackendResult) => void>();
	private readonly crashListeners = new Set<(error: EngineCrashedError, jobsLost: number) => void>();
	private disposed = false;
	/** The scope the current worker was last sent (JSON). */
	private sentScope: string | undefined;
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

	/** Listen for the worker dying unexpectedly (not on dispose); returns an unsubscribe disposable. */
	onCrash(listener: (error: EngineCrashedError, jobsLost: number) => void): { dispose(): void } {
		this.crashListeners.add(listener);
		return { dispose: () => this.crashListeners.delete(listener) };
	}

	/** Start a job; the promise settles with its result, or rejects (CancelledError on abort). */
	run<K extends EngineJobType>(input: JobInput<K>, opts: RunOptions = {}): Promise<EngineResults[K]> {
		if (this.disposed) return Promise.reject(new Error('The engine has been shut down'));
		if (opts.signal?.aborted) return Promise.reject(new CancelledError());
		const id = this.nextId++;
		const worker = this.ensureWorker();
		const scope = this.options.scope?.();
		if (scope && JSON.stringify(scope) !== this.sentScope) {
			this.sentScope = JSON.stringify(scope);
			worker.postMessage({ type: 'scope', id: 0, roots: scope.roots, trusted: scope.trusted });
		}
		return new Promise<EngineResults[K]>((resolve, reject) => {
			const onAbort = (): void => this.cancel(id);
			const onStop = (): void => this.post({ type: 'stop', id });
			opts.signal?.addEventListener('abort', onAbort, { once: true });
			opts.stopSignal?.addEventListener('abort', onStop, { once: true });
			this.jobs.set(id, {
				type: input.type,
				resolve: resolve,
				reject,
				onProgress: opts.onProgress,
				cleanup: () => {
					clearTimeout(this.jobs.get(id)?.watchdog);
					opts.signal?.removeEventListener('abort', onAbort);
					opts.stopSignal?.removeEventListener('abort', onStop);
				},
			});
			worker.postMessage({ ...input, id });
		});
	}

	/** Cancel every job in flight (each rejects with CancelledError once the worker stops it). */
	cancelAll(): void {
		for (const id of this.jobs.keys()) this.cancel(id);
	}

	/** Ask the worker to stop job `id`; if it has not ended within the grace time, report it cancelled (see CANCEL_GRACE_MS). */
	private cancel(id: number): void {
		const job = this.jobs.get(id);
		if (!job || job.watchdog) return;
		this.post({ type: 'cancel', id });
		job.watchdog = setTimeout(() => this.release(id), this.options.cancelGraceMs ?? CANCEL_GRACE_MS);
		job.watchdog.unref?.();
	}

	/**
	 * The cancelled job `id` has not ended in time: it rejects as cancelled now. The worker is left alone (ending a
	 * worker inside a native addon's call aborts the whole process): the job stops at its next check, and its late
	 * answer is ignored.
	 */
	private release(id: number): void {
		const job = this.take(id);
		if (!job) return;
		const grace = this.options.cancelGraceMs ?? CANCEL_GRACE_MS;
		this.options.log?.('info', `The cancelled ${job.type} job is inside a long step (over ${grace / 1000} s): reported as cancelled now; it stops at its next check.`);
		job.reject(new CancelledError());
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
		this.sentScope = undefined;
		this.options.log?.('info', 'Engine worker started.');
		// The worker must not keep the extension host (or a test) alive on its own.
		worker.unref();
		worker.on('message', (msg: unknown) => {
			if (this.worker === worker) this.onMessage(msg);
		});
		// An uncaught error is followed by 'exit': report once, at whichever comes first; the next run starts afresh.
		let reported = false;
		const died = (reason: string): void => {
			if (this.worker === worker) this.worker = undefined;
			if (reported || this.disposed) return;
			reported = true;
			const error = new EngineCrashedError(reason);
			const lost = this.jobs.size;
			this.options.log?.('error', `${error.message}${lost ? ` ${lost} job(s) failed.` : ''}`);
			this.failAll(error);
			for (const l of this.crashListeners) l(error, lost);
		};
		worker.on('error', (err) => died(`uncaught ${err.name}: ${err.message}`));
		worker.on('exit', (code) => died(`exit code ${code}`));
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
