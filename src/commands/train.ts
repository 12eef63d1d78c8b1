// Train commands: one handler for every backbone, Train All, Cancel, and Stop and Keep.
import * as vscode from 'vscode';
import { accuracyWithInterval } from '../engine/infer/metrics';
import { BACKBONE_IDS, type BackboneId, type RunSummary, type WeightsStatus } from '../engine/types';
import { isCancelled } from '../engine/util/cancel';
import { ComparePanel } from '../panels/comparePanel';
import { PredictionsPanel } from '../panels/predictionsPanel';
import { TrainingPanel } from '../panels/trainingPanel';
import { backboneChoices, trainAllSummary, type SkippedBackbone } from '../util/backboneChoices';
import { sourceChoices } from '../util/sourceChoices';
import { readSettings, trainConfigFor, updateSetting } from '../util/settings';
import type { Services } from '../util/services';
import { DISPLAY_NAMES } from '../util/trainingSessions';
import { ensureDatasetRoot, requireTrust, requireWorkDir, UserError } from '../util/workspace';

/** The engine's error when a backbone has no pretrained weights (its name survives the worker boundary). */
export const isWeightsNotFound = (e: unknown): e is Error => e instanceof Error && e.name === 'WeightsNotFoundError';

export interface TrainOptions {
	/** 'none': random weights for this run only (the user chose it after a weights error). */
	weights?: 'none';
	/** Train All: weight errors are its to handle (it skips the backbone), and no predictions panel per run. */
	quiet?: boolean;
	/** Leave-one-source-out: every image of this source is the test split (overrides the testSource setting). */
	testSource?: string;
}

/** Train one backbone on the dataset folder; on success shows its test predictions. */
export async function trainCommand(s: Services, backbone: BackboneId, opts: TrainOptions = {}): Promise<RunSummary | undefined> {
	requireTrust(`Training ${DISPLAY_NAMES[backbone]}`);
	const wd = requireWorkDir();
	const dataDir = await ensureDatasetRoot();
	if (!dataDir) throw new UserError('Training needs a dataset folder: run "Radiograph: Select Dataset Folder".');
	const config = trainConfigFor(backbone, dataDir, wd, readSettings());
	if (opts.weights) config.weights = opts.weights;
	if (opts.testSource) config.testSource = opts.testSource;
	if (config.testSource) s.log.info(`${DISPLAY_NAMES[backbone]}: leave-one-source-out, testing on every image of ${config.testSource}`);
	TrainingPanel.show(s, true);
	let summary: RunSummary | undefined;
	try {
		summary = await s.sessions.train(config);
	} catch (e) {
		if (opts.quiet || !isWeightsNotFound(e)) throw e;
		return weightsErrorActions(s, backbone, e, opts);
	}
	if (summary && !opts.quiet) {
		void vscode.window.showInformationMessage(
			`${DISPLAY_NAMES[backbone]}: ${config.testSource ? `accuracy on the held-out source ${config.testSource}` : 'test accuracy'} ${accuracyWithInterval(summary.metrics.accuracy, summary.metrics.support, 1)}${summary.weights.pretrained ? '' : ' (not pretrained)'}.`,
		);
		await PredictionsPanel.showRun(s, summary.runDir);
	}
	return summary;
}

export const WEIGHTS_ACTIONS = {
	choose: 'Choose .h5 file…',
	where: 'Show where Keras keeps them',
	random: 'Train with random weights (not pretrained)',
	skip: 'Skip',
} as const;

/** A weights error as a short message with what the user can do about it, instead of a wall of text. */
async function weightsErrorActions(s: Services, backbone: BackboneId, e: Error, opts: TrainOptions): Promise<RunSummary | undefined> {
	const name = DISPLAY_NAMES[backbone];
	s.log.warn(`[${name}] ${e.message}`);
	const status = (await s.backboneWeights.status()).find((x) => x.backbone === backbone);
	// Modal: the user just asked to train, and a toast cuts these button labels short.
	const pick = await vscode.window.showErrorMessage(
		`${name} has no pretrained ImageNet weights on this machine${status?.downloadable ? ' and the download failed' : ''}.`,
		{ modal: true, detail: status?.reason && status.fix ? `${status.reason}.\nFix: ${status.fix}.` : e.message },
		WEIGHTS_ACTIONS.choose,
		WEIGHTS_ACTIONS.where,
		WEIGHTS_ACTIONS.random,
		WEIGHTS_ACTIONS.skip,
	);
	switch (pick) {
		case WEIGHTS_ACTIONS.choose: {
			const file = await vscode.window.showOpenDialog({ title: `Keras weights for ${name} (.h5)`, canSelectMany: false, filters: { 'Keras weights': ['h5', 'hdf5', 'keras'] } });
			if (!file?.[0]) return undefined;
			await updateSetting(`weights.${backbone}`, file[0].fsPath);
			s.backboneWeights.invalidate();
			return trainCommand(s, backbone, { testSource: opts.testSource });
		}
		case WEIGHTS_ACTIONS.where:
			await showKerasLocation(s, name, status);
			return undefined;
		case WEIGHTS_ACTIONS.random:
			return trainCommand(s, backbone, { weights: 'none', testSource: opts.testSource });
		default:
			return undefined;
	}
}

async function showKerasLocation(s: Services, name: string, status: WeightsStatus | undefined): Promise<void> {
	if (!status?.kerasPath) {
		void vscode.window.showInformationMessage(`${name} has no Keras weights file: choose a .h5 file in radiographReview.weights.`);
		return;
	}
	const detail = `Keras keeps downloaded weights in ~/.keras/models ($KERAS_HOME/models). Save\n${status.url ?? 'the file'}\nas\n${status.kerasPath}\nand train again.`;
	s.log.info(`${name} weights: ${detail.replace(/\n/g, ' ')}`);
	const copy = 'Copy Path';
	const pick = await vscode.window.showInformationMessage(`Where Keras keeps the ${name} weights`, { modal: true, detail }, copy);
	if (pick === copy) await vscode.env.clipboard.writeText(status.kerasPath);
}

/**
 * Train every backbone whose weights can be had, one after another, then compare. Backbones without weights are
 * skipped with the reason (a download is still tried where one exists); a failure does not stop the others; a
 * cancel stops the rest.
 */
export async function trainAllCommand(s: Services): Promise<void> {
	requireTrust('Training');
	const statuses = await s.backboneWeights.status();
	const trained: BackboneId[] = [];
	const skipped: SkippedBackbone[] = [];
	const failed: SkippedBackbone[] = [];
	let cancelled = false;
	for (const backbone of BACKBONE_IDS) {
		const st = statuses.find((x) => x.backbone === backbone);
		if (st && !st.available && !st.downloadable) {
			skipped.push({ backbone, reason: st.reason ?? 'no weights' });
			s.log.warn(`Train All: skipping ${DISPLAY_NAMES[backbone]}: ${st.reason ?? 'no weights'}`);
			continue;
		}
		try {
			const summary = await trainCommand(s, backbone, { quiet: true });
			if (!summary) {
				cancelled = true;
				break;
			}
			trained.push(backbone);
		} catch (e) {
			if (isCancelled(e)) {
				cancelled = true;
				break;
			}
			if (e instanceof UserError) throw e;
			const reason = isWeightsNotFound(e) ? (st?.reason ?? 'no pretrained weights') + (st?.downloadable ? '; the download failed' : '') : (e as Error).message.split('\n')[0];
			(isWeightsNotFound(e) ? skipped : failed).push({ backbone, reason });
			s.log.warn(`Train All: ${DISPLAY_NAMES[backbone]} ${isWeightsNotFound(e) ? 'skipped' : 'failed'}: ${reason}`);
		}
	}
	const summary = trainAllSummary(trained, skipped, failed, cancelled);
	s.log.info(`Train All: ${summary}`);
	const compare = ComparePanel.show(s);
	compare.notice(skipped.length || failed.length ? 'warn' : 'info', summary);
	const pick = await vscode.window.showInformationMessage(`Train All: ${summary}`, 'Show Log');
	if (pick) s.log.show();
}

/**
 * Leave-one-source-out from the editor: pick a source of the dataset (with what each choice cannot measure) and a
 * backbone; the run trains on the other sources and tests on every image of that one.
 */
export async function trainHeldOutSourceCommand(s: Services): Promise<RunSummary | undefined> {
	requireTrust('Training');
	const dataDir = await ensureDatasetRoot();
	if (!dataDir) throw new UserError('Training needs a dataset folder: run "Radiograph: Select Dataset Folder".');
	const st = readSettings();
	const r = await s.engine.run({ type: 'splits', dataDir, mode: st.splitMode, seed: st.seed, testFraction: st.testFraction, valFraction: st.valFraction });
	const choices = sourceChoices(r.scan.images);
	if (!choices.length) throw new UserError(`${dataDir}: fewer than two sources recorded (manifest.csv source_dataset), so no source can be held out.`);
	const source = await vscode.window.showQuickPick(
		choices.map((c) => ({ label: c.source, description: c.description, detail: c.warnings.length ? `$(warning) ${c.warnings.join('; ')}` : undefined, choice: c })),
		{ title: 'Radiograph: Test on a Held-Out Source', placeHolder: 'Source to test on (the model never sees it in training)', matchOnDescription: true },
	);
	if (!source) return undefined;
	const statuses = await s.backboneWeights.status();
	const backbone = await vscode.window.showQuickPick(
		backboneChoices(statuses).map((b) => ({ label: b.label, description: b.available ? '' : 'no weights', detail: b.detail, id: b.id })),
		{ title: `Radiograph: Test on ${source.label}`, placeHolder: 'Backbone' },
	);
	if (!backbone) return undefined;
	return trainCommand(s, backbone.id, { testSource: source.label });
}

export function cancelTrainingCommand(s: Services): void {
	const n = s.sessions.cancel();
	if (n === 0) void vscode.window.showInformationMessage('No training is running.');
	else s.log.info(`Cancel requested for ${n} training session(s).`);
}

/** End every running training after its current epoch, and evaluate and save it as it is. */
export function stopAndKeepCommand(s: Services): void {
	const n = s.sessions.stopAndKeep();
	if (n === 0) void vscode.window.showInformationMessage('No training is running.');
	else s.log.info(`Stop and keep requested for ${n} training session(s).`);
}
