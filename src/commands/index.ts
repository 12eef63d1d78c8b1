// Every command of the extension: each id named once, linked to its handler, and registered here.
import * as vscode from 'vscode';
import type { BackboneId } from '../engine/types';
import type { Services } from '../util/services';
import { addNoteCommand, flagCommand, redoAnnotationCommand, setLabelCommand, undoAnnotationCommand } from './annotate';
import { selectBackendCommand } from './backend';
import { adjudicateReadsCommand, startBlindedReadCommand } from './blindedRead';
import { classifyFolderCommand } from './classifyFolder';
import { freezeSplitCommand, preprocessDatasetCommand, selectDatasetCommand, showDatasetCommand } from './dataset';
import { auditDatasetCommand, compareCommand, openPredictionsCommand, showReportCommand, showTrainingCommand } from './panels';
import { guarded } from './run';
import { cancelTrainingCommand, stopAndKeepCommand, trainAllCommand, trainCommand, trainHeldOutSourceCommand } from './train';

export const enum CommandId {
	/** {@link trainCommand} */
	TrainVgg16 = 'radiographReview.trainVgg16',
	/** {@link trainCommand} */
	TrainResnet50v2 = 'radiographReview.trainResnet50v2',
	/** {@link trainCommand} */
	TrainXception = 'radiographReview.trainXception',
	/** {@link trainCommand} */
	TrainResnet50 = 'radiographReview.trainResnet50',
	/** {@link trainAllCommand} */
	TrainAll = 'radiographReview.trainAll',
	/** {@link trainHeldOutSourceCommand} */
	TrainHeldOutSource = 'radiographReview.trainHeldOutSource',
	/** {@link cancelTrainingCommand} */
	CancelTraining = 'radiographReview.cancelTraining',
	/** {@link stopAndKeepCommand} */
	StopAndKeep = 'radiographReview.stopAndKeep',
	/** {@link preprocessDatasetCommand} */
	PreprocessDataset = 'radiographReview.preprocessDataset',
	/** {@link showDatasetCommand} */
	ShowDataset = 'radiographReview.showDataset',
	/** {@link freezeSplitCommand} */
	FreezeSplit = 'radiographReview.freezeSplit',
	/** {@link openPredictionsCommand} */
	OpenPredictions = 'radiographReview.openPredictions',
	/** {@link selectDatasetCommand} */
	SelectDataset = 'radiographReview.selectDataset',
	/** {@link selectDatasetCommand} (explorer context menu; hidden from the palette) */
	SelectDatasetExplorerFolder = 'radiographReview.selectDatasetExplorerFolder',
	/** {@link selectBackendCommand} */
	SelectBackend = 'radiographReview.selectBackend',
	/** {@link classifyFolderCommand} (palette: folder picker) */
	ClassifyFolder = 'radiographReview.classifyFolder',
	/** {@link classifyFolderCommand} (explorer context menu on folders; hidden from the palette) */
	ClassifyExplorerFolder = 'radiographReview.classifyExplorerFolder',
	/** {@link showTrainingCommand} */
	ShowTraining = 'radiographReview.showTraining',
	/** {@link compareCommand} */
	Compare = 'radiographReview.compare',
	/** {@link auditDatasetCommand} */
	AuditDataset = 'radiographReview.auditDataset',
	/** {@link setLabelCommand} (explorer context menu on image files) */
	SetLabel = 'radiographReview.setLabel',
	/** {@link flagCommand} (explorer context menu on image files) */
	Flag = 'radiographReview.flag',
	/** {@link addNoteCommand} (explorer context menu on image files) */
	AddNote = 'radiographReview.addNote',
	/** {@link undoAnnotationCommand} */
	UndoAnnotation = 'radiographReview.undoAnnotation',
	/** {@link redoAnnotationCommand} */
	RedoAnnotation = 'radiographReview.redoAnnotation',
	/** {@link showReportCommand} */
	ShowReport = 'radiographReview.showReport',
	/** {@link startBlindedReadCommand} */
	StartBlindedRead = 'radiographReview.startBlindedRead',
	/** {@link adjudicateReadsCommand} */
	AdjudicateReads = 'radiographReview.adjudicateReads',
}

/** The four train commands share one handler over the backbone. */
export const TRAIN_COMMANDS: Record<BackboneId, CommandId> = {
	vgg16: CommandId.TrainVgg16,
	resnet50v2: CommandId.TrainResnet50v2,
	xception: CommandId.TrainXception,
	resnet50: CommandId.TrainResnet50,
};

export function registerCommands(s: Services): vscode.Disposable[] {
	const reg = (id: CommandId, fn: (...args: unknown[]) => unknown): vscode.Disposable => vscode.commands.registerCommand(id, guarded(s.log, id, fn));
	return [
		...(Object.entries(TRAIN_COMMANDS) as [BackboneId, CommandId][]).map(([backbone, id]) => reg(id, () => trainCommand(s, backbone))),
		reg(CommandId.TrainAll, () => trainAllCommand(s)),
		reg(CommandId.TrainHeldOutSource, () => trainHeldOutSourceCommand(s)),
		reg(CommandId.CancelTraining, () => cancelTrainingCommand(s)),
		reg(CommandId.StopAndKeep, () => stopAndKeepCommand(s)),
		reg(CommandId.PreprocessDataset, () => preprocessDatasetCommand(s)),
		reg(CommandId.ShowDataset, () => showDatasetCommand(s)),
		reg(CommandId.FreezeSplit, () => freezeSplitCommand(s)),
		reg(CommandId.OpenPredictions, (arg) => openPredictionsCommand(s, arg)),
		reg(CommandId.SelectDataset, () => selectDatasetCommand(s)),
		reg(CommandId.SelectDatasetExplorerFolder, (arg) => (arg instanceof vscode.Uri ? selectDatasetCommand(s, arg) : undefined)),
		reg(CommandId.SelectBackend, () => selectBackendCommand(s)),
		reg(CommandId.ClassifyFolder, () => classifyFolderCommand(s)),
		reg(CommandId.ClassifyExplorerFolder, (arg) => classifyFolderCommand(s, arg instanceof vscode.Uri ? arg : undefined)),
		reg(CommandId.ShowTraining, () => showTrainingCommand(s)),
		reg(CommandId.Compare, () => compareCommand(s)),
		reg(CommandId.AuditDataset, () => auditDatasetCommand(s)),
		reg(CommandId.SetLabel, (uri, uris) => setLabelCommand(s, uri, uris)),
		reg(CommandId.Flag, (uri, uris) => flagCommand(s, uri, uris)),
		reg(CommandId.AddNote, (uri, uris) => addNoteCommand(s, uri, uris)),
		reg(CommandId.UndoAnnotation, () => undoAnnotationCommand(s)),
		reg(CommandId.RedoAnnotation, () => redoAnnotationCommand(s)),
		reg(CommandId.ShowReport, (arg) => showReportCommand(s, arg)),
		reg(CommandId.StartBlindedRead, () => startBlindedReadCommand(s)),
		reg(CommandId.AdjudicateReads, () => adjudicateReadsCommand()),
	];
}
