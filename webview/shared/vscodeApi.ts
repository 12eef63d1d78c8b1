// The one handle on the VS Code webview API, typed against a panel's protocol unions.
// The host owns the state: `setState` here only keeps UI details (filters, scroll) across hide/show.

interface VsCodeApi {
	postMessage(message: unknown): void;
	getState(): unknown;
	setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

let api: VsCodeApi | undefined;

/** acquireVsCodeApi may be called only once per page. */
function vscodeApi(): VsCodeApi {
	api ??= acquireVsCodeApi();
	return api;
}

/** A webview's end of its panel protocol: TTo = host → webview, TFrom = webview → host. */
export class Channel<TTo extends { type: string }, TFrom extends { type: string }> {
	/** Sends a message to the host. */
	post(message: TFrom): void {
		vscodeApi().postMessage(message);
	}

	/**
	 * Calls `handler` for each host message. The host is trusted, but the `message` event also fires for
	 * anything else posted to the window, so only objects with a string `type` get through.
	 */
	onMessage(handler: (message: TTo) => void): void {
		window.addEventListener('message', (event: MessageEvent<unknown>) => {
			const data = event.data;
			if (typeof data === 'object' && data !== null && typeof (data as { type?: unknown }).type === 'string') {
				handler(data as TTo);
			}
		});
	}

	/** UI state saved with the webview (survives hide/show), merged over `defaults`. */
	uiState<T extends object>(defaults: T): T {
		const saved = vscodeApi().getState();
		return typeof saved === 'object' && saved !== null ? { ...defaults, ...(saved as Partial<T>) } : { ...defaults };
	}

	saveUiState(state: object): void {
		vscodeApi().setState(state);
	}
}

/** Message text bounded as the host's guard requires (non-empty, ≤ 4096 chars). */
function bounded(text: string): string {
	const t = text.trim() || 'Unknown error';
	return t.length > 4000 ? `${t.slice(0, 4000)}…` : t;
}

/**
 * Sends `ready` once the script has run, and reports uncaught errors to the host (the webview's
 * console is out of sight). Every panel calls this after wiring its message handler.
 */
export function startPanel(channel: Channel<{ type: string }, { type: 'ready' } | { type: 'error'; message: string }>): void {
	window.addEventListener('error', (e) => channel.post({ type: 'error', message: bounded(`Webview error: ${e.message}`) }));
	window.addEventListener('unhandledrejection', (e) => channel.post({ type: 'error', message: bounded(`Webview error: ${String(e.reason)}`) }));
	channel.post({ type: 'ready' });
}

export { bounded as boundedMessage };
