// How every command reports failure: user errors as warnings, cancellations silently, the rest as errors
// with the details in the log.
import * as vscode from 'vscode';
import { EngineCrashedError } from '../engine/client';
import { isCancelled } from '../engine/util/cancel';
import { UserError } from '../util/workspace';

export function guarded<A extends unknown[]>(log: vscode.LogOutputChannel, id: string, fn: (...args: A) => unknown): (...args: A) => Promise<void> {
	return async (...args: A) => {
		try {
			await fn(...args);
		} catch (e) {
			if (isCancelled(e)) return;
			// The client's crash listener has told the user once already.
			if (e instanceof EngineCrashedError) return;
			if (e instanceof UserError) {
				log.warn(`${id}: ${e.message}`);
				void vscode.window.showWarningMessage(e.message);
				return;
			}
			const err = e as Error;
			log.error(`${id}: ${err.stack ?? String(e)}`);
			void vscode.window.showErrorMessage(`Radiograph Review: ${err.message}`, 'Show Log').then((pick) => {
				if (pick) log.show();
			});
		}
	};
}
