// Ownership of disposables, as vscode-hexeditor's dispose.ts: an owner registers what it creates
// and disposes it all at once.

export interface IDisposable {
	dispose(): unknown;
}

/** Dispose each item, continuing past failures; the first error is rethrown afterwards. */
export function disposeAll(items: Iterable<IDisposable>): void {
	let first: unknown;
	for (const d of items) {
		try {
			d.dispose();
		} catch (e) {
			first ??= e;
		}
	}
	if (first !== undefined) throw first as Error;
}

export abstract class Disposable implements IDisposable {
	private _isDisposed = false;
	protected _disposables: IDisposable[] = [];

	get isDisposed(): boolean {
		return this._isDisposed;
	}

	dispose(): void {
		if (this._isDisposed) return;
		this._isDisposed = true;
		const items = this._disposables;
		this._disposables = [];
		disposeAll(items);
	}

	/** Take ownership of a disposable; if already disposed, dispose it right away. */
	protected _register<T extends IDisposable>(value: T): T {
		if (this._isDisposed) value.dispose();
		else this._disposables.push(value);
		return value;
	}
}

/** A disposable from a function. */
export function toDisposable(fn: () => void): IDisposable {
	return { dispose: fn };
}
