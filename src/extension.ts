// Radiograph Review: build the services, register commands. Everything heavy runs in the engine worker.
import * as vscode from 'vscode';
import { registerCommands } from './commands';
import { AnnotationDecorations } from './util/annotationDecorations';
import { AnnotationStore } from './util/annotationStore';
import { EngineClient } from './engine/client';
import { proxyEnv } from './util/proxy';
import type { Services } from './util/services';
import { readSettings } from './util/settings';
import { StatusBar } from './util/statusBar';
import { TrainingSessions } from './util/trainingSessions';

export function activate(context: vscode.ExtensionContext): void {
	const log = vscode.window.createOutputChannel('Radiograph Review', { log: true });
	const engine = new EngineClient({ workerPath: context.asAbsolutePath('dist/worker.js'), env: proxyEnv(), log: (level, message) => log[level](message) });
	const status = new StatusBar(() => readSettings().backend);
	const sessions = new TrainingSessions(engine, log, status);
	const annotations = new AnnotationStore(log);
	annotationStore = annotations;
	const services: Services = { context, extensionUri: context.extensionUri, log, engine, status, sessions, annotations };

	context.subscriptions.push(
		log,
		engine,
		status,
		sessions,
		annotations,
		new AnnotationDecorations(annotations, engine, log),
		engine.onBackend((report) => status.setBackend(report)),
		...registerCommands(services),
	);
	log.info(`Radiograph Review ${context.extension.packageJSON.version as string} activated (workspace trusted: ${vscode.workspace.isTrusted}).`);
}

/** Kept for deactivate: pending annotation edits are written before the window goes. */
let annotationStore: AnnotationStore | undefined;

export function deactivate(): Promise<void> | undefined {
	// Disposables in context.subscriptions stop the worker; annotations still pending are flushed first.
	return annotationStore?.flush();
}
