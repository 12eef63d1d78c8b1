// Radiograph Review: build the services, register commands. Everything heavy runs in the engine worker.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { registerCommands } from './commands';
import { registerPanelSerializers } from './panels/serializers';
import { ViewerProvider } from './panels/viewerProvider';
import { AnnotationDecorations } from './util/annotationDecorations';
import { AnnotationStore } from './util/annotationStore';
import { EngineClient } from './engine/client';
import { BackboneWeights } from './util/backboneWeights';
import { proxyEnv } from './util/proxy';
import type { Services } from './util/services';
import { readSettings } from './util/settings';
import { readableRoots, workDir } from './util/workspace';
import { StatusBar } from './util/statusBar';
import { TrainingSessions } from './util/trainingSessions';
import { registerViews } from './views';
import { ortMissingWarning } from './engine/runtime/ortInstall';

export function activate(context: vscode.ExtensionContext): void {
	const started = performance.now();
	const log = vscode.window.createOutputChannel('Radiograph Review', { log: true });
	const engine = new EngineClient({
		workerPath: context.asAbsolutePath('dist/worker.js'),
		env: proxyEnv(),
		log: (level, message) => log[level](message),
		scope: () => ({ roots: readableRoots(), trusted: vscode.workspace.isTrusted }),
	});
	const status = new StatusBar(() => readSettings().backend);
	const sessions = new TrainingSessions(engine, log, status, context.workspaceState);
	const backboneWeights = new BackboneWeights(engine, log);
	const annotations = new AnnotationStore(log, (dataDir) => engine.run({ type: 'datasetLabels', dataDir }));
	annotationStore = annotations;
	const services: Services = { context, extensionUri: context.extensionUri, log, engine, status, sessions, backboneWeights, annotations };

	context.subscriptions.push(
		log,
		engine,
		status,
		sessions,
		backboneWeights,
		annotations,
		new AnnotationDecorations(annotations, engine, log),
		engine.onBackend((report) => status.setBackend(report)),
		engine.onCrash((error) => reportEngineCrash(log, error)),
		...registerCommands(services),
		...registerPanelSerializers(services),
		ViewerProvider.register(services),
		...registerViews(services),
	);
	recoverInterruptedRuns(services);
	warnIfNoOnnxRuntime(log);
	log.info(
		`Radiograph Review ${(context.extension.packageJSON as { version: string }).version} activated in ${(performance.now() - started).toFixed(0)} ms (workspace trusted: ${vscode.workspace.isTrusted}).`,
	);
}

/** The host stays up when the worker dies: say what happened (the client has logged it and failed its jobs). */
function reportEngineCrash(log: vscode.LogOutputChannel, error: Error): void {
	void vscode.window.showErrorMessage(`Radiograph Review: ${error.message}`, 'Show Log').then((pick) => {
		if (pick) log.show();
	});
}

/** Without onnxruntime-node every base runs on TensorFlow.js, several times slower: say so at start-up, with the fix. */
function warnIfNoOnnxRuntime(log: vscode.LogOutputChannel): void {
	const warning = ortMissingWarning();
	if (!warning) return;
	log.warn(warning);
	void vscode.window.showWarningMessage(`Radiograph Review: ${warning}`, 'Show Log').then((pick) => {
		if (pick) log.show();
	});
}

/** A reload mid-training leaves a partial run: record it as interrupted now, not when a panel opens. */
function recoverInterruptedRuns(s: Services): void {
	const wd = workDir();
	// Only a leftover partial run is worth starting the worker for (activation stays light); recovery writes, so
	// it waits for a trusted workspace.
	if (!wd || !vscode.workspace.isTrusted) return;
	void fs.readdir(path.join(wd, 'runs')).then(
		(names) => {
			if (names.some((n) => n.startsWith('.') && n.endsWith('.partial'))) void s.sessions.recover(wd); // never rejects: problems go to the log
		},
		() => undefined,
	);
}

/** Kept for deactivate: pending annotation edits are written before the window goes. */
let annotationStore: AnnotationStore | undefined;

export function deactivate(): Promise<void> | undefined {
	// Disposables in context.subscriptions stop the worker; annotations still pending are flushed first.
	return annotationStore?.flush();
}
