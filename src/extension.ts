// Radiograph Review: build the services, register commands. Everything heavy runs in the engine worker.
import * as vscode from 'vscode';
import { registerCommands } from './commands';
import { EngineClient } from './engine/client';
import { proxyEnv } from './util/proxy';
import type { Services } from './util/services';
import { readSettings } from './util/settings';
import { StatusBar } from './util/statusBar';
import { TrainingSessions } from './util/trainingSessions';
import { registerViews } from './views';

export function activate(context: vscode.ExtensionContext): void {
	const started = performance.now();
	const log = vscode.window.createOutputChannel('Radiograph Review', { log: true });
	const engine = new EngineClient({ workerPath: context.asAbsolutePath('dist/worker.js'), env: proxyEnv(), log: (level, message) => log[level](message) });
	const status = new StatusBar(() => readSettings().backend);
	const sessions = new TrainingSessions(engine, log, status);
	const services: Services = { context, extensionUri: context.extensionUri, log, engine, status, sessions };

	context.subscriptions.push(
		log,
		engine,
		status,
		sessions,
		engine.onBackend((report) => status.setBackend(report)),
		...registerCommands(services),
		...registerViews(services),
	);
	log.info(`Radiograph Review ${context.extension.packageJSON.version as string} activated in ${(performance.now() - started).toFixed(0)} ms (workspace trusted: ${vscode.workspace.isTrusted}).`);
}

export function deactivate(): void {
	// Disposables in context.subscriptions stop the worker.
}
