/** Thrown when a job is cancelled; callers treat it as a clean stop, not a failure. */
export class CancelledError extends Error {
	constructor(message = 'Cancelled') {
		super(message);
		this.name = 'CancelledError';
	}
}

export function throwIfAborted(signal?: AbortSignal): void {
	if (signal?.aborted) throw new CancelledError();
}

export function isCancelled(e: unknown): e is CancelledError {
	return e instanceof CancelledError || (e instanceof Error && e.name === 'CancelledError');
}
