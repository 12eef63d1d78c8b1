// Typed view of the `radiographReview.*` settings; reread on every use so changes apply at once.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { DICOM_WINDOWS, type DicomWindowName } from '../engine/data/voi';
import { DEFAULT_TRAIN_CONFIG, type BackboneId, type BackendPreference, type BaseRuntimePreference, type ResizeMode, type SplitMode, type TrainConfig } from '../engine/types';

export const SECTION = 'radiographReview';

export interface Settings {
	datasetFolder: string;
	epochs: number;
	batchSize: number;
	learningRate: number;
	minLr: number;
	imageSize: number;
	resize: ResizeMode;
	splitMode: SplitMode;
	seed: number;
	testFraction: number;
	valFraction: number;
	backend: BackendPreference;
	baseRuntime: BaseRuntimePreference;
	weights: Record<BackboneId, string>;
	restoreBestWeights: boolean;
	dicomWindow: DicomWindowSetting;
	/** Leave-one-source-out for every training: the source to test on ('' = the usual split). */
	testSource: string;
}

export type DicomWindowSetting = DicomWindowName;

export function readSettings(scope?: vscode.Uri): Settings {
	const c = vscode.workspace.getConfiguration(SECTION, scope);
	const d = DEFAULT_TRAIN_CONFIG;
	return {
		datasetFolder: c.get<string>('datasetFolder', ''),
		epochs: c.get<number>('epochs', d.epochs),
		batchSize: c.get<number>('batchSize', d.batchSize),
		learningRate: c.get<number>('learningRate', d.learningRate),
		minLr: c.get<number>('minLr', d.reduceLr.minLr),
		imageSize: c.get<number>('imageSize', d.imageSize),
		resize: c.get<ResizeMode>('resize', d.resize),
		splitMode: c.get<SplitMode>('splitMode', d.splitMode),
		seed: c.get<number>('seed', d.seed),
		testFraction: c.get<number>('testFraction', d.testFraction),
		valFraction: c.get<number>('valFraction', d.valFraction),
		backend: c.get<BackendPreference>('backend', d.backend),
		baseRuntime: c.get<BaseRuntimePreference>('baseRuntime', d.baseRuntime),
		weights: {
			vgg16: c.get<string>('weights.vgg16', 'auto'),
			resnet50v2: c.get<string>('weights.resnet50v2', 'auto'),
			xception: c.get<string>('weights.xception', 'auto'),
			resnet50: c.get<string>('weights.resnet50', 'auto'),
		},
		restoreBestWeights: c.get<boolean>('restoreBestWeights', false),
		dicomWindow: c.get<DicomWindowSetting>('dicomWindow', 'first'),
		testSource: c.get<string>('testSource', '').trim(),
	};
}

/** The engine's TrainConfig from the settings. */
export function trainConfigFor(backbone: BackboneId, dataDir: string, workDir: string, s: Settings = readSettings()): TrainConfig {
	return {
		...DEFAULT_TRAIN_CONFIG,
		backbone,
		dataDir,
		workDir,
		weights: resolveWeights(s.weights[backbone]),
		epochs: s.epochs,
		batchSize: s.batchSize,
		learningRate: s.learningRate,
		testFraction: s.testFraction,
		valFraction: s.valFraction,
		seed: s.seed,
		splitMode: s.splitMode,
		resize: s.resize,
		imageSize: s.imageSize,
		reduceLr: { ...DEFAULT_TRAIN_CONFIG.reduceLr, minLr: s.minLr },
		backend: s.backend,
		baseRuntime: s.baseRuntime,
		restoreBestWeights: s.restoreBestWeights,
		...(s.dicomWindow !== 'first' && DICOM_WINDOWS[s.dicomWindow] ? { dicomWindow: { ...DICOM_WINDOWS[s.dicomWindow] } } : {}),
		...(s.testSource ? { testSource: s.testSource } : {}),
	};
}

/** 'auto' / 'none' pass through; a relative file path is resolved against the first workspace folder. */
function resolveWeights(value: string): string {
	const v = value.trim();
	if (v === '' || v === 'auto') return 'auto';
	if (v === 'none') return 'none';
	const ws = vscode.workspace.workspaceFolders?.[0];
	return path.isAbsolute(v) || !ws ? v : path.resolve(ws.uri.fsPath, v);
}

export async function updateSetting(key: string, value: unknown): Promise<void> {
	const target = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
	await vscode.workspace.getConfiguration(SECTION).update(key, value, target);
}
