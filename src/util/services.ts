// The services activate() builds once and hands to commands and panels.
import type * as vscode from 'vscode';
import type { EngineClient } from '../engine/client';
import type { AnnotationStore } from './annotationStore';
import type { StatusBar } from './statusBar';
import type { TrainingSessions } from './trainingSessions';

export interface Services {
	context: vscode.ExtensionContext;
	extensionUri: vscode.Uri;
	log: vscode.LogOutputChannel;
	engine: EngineClient;
	status: StatusBar;
	sessions: TrainingSessions;
	/** The dataset's radreview-annotations.csv, shared by panels, Explorer commands and decorations. */
	annotations: AnnotationStore;
}
