// The services activate() builds once and hands to commands and panels.
import type * as vscode from 'vscode';
import type { EngineClient } from '../engine/client';
import type { BackboneWeights } from './backboneWeights';
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
	/** Which backbones' weights resolve here (checked in the worker, cached until a weights setting changes). */
	backboneWeights: BackboneWeights;
	/** The dataset's radreview-annotations.csv, shared by panels, Explorer commands and decorations. */
	annotations: AnnotationStore;
}
