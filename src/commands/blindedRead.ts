// Radiograph: Start Blinded Read — the reader’s name (asked once), the set to read (the dataset folder, a run’s test split or a seeded
// sample stratified by class and source) and the panel that shows it without anything that gives the answer away.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { defaultReviewer } from '../engine/annotations/reviewer';
import { scanDataset } from '../engine/data/scan';
import { readAnnotations } from '../engine/annotations/store';
import { adjudicate, disagreements } from '../engine/reads/adjudicate';
import { remaining, splitSet, stratifiedSample } from '../engine/reads/blinded';
import { readJson } from '../engine/run/read';
import { validateConfig, validateSplits } from '../engine/run/validate';
import { checkReaderName } from '../engine/reads/format';
import { readReads } from '../engine/reads/store';
import { ADJUDICATED_NOTE } from '../engine/reads/study';
import { CLASS_NAMES, type ClassName } from '../engine/types';
import { BlindedReadPanel } from '../panels/blindedReadPanel';
import type { Services } from '../util/services';
import { SECTION } from '../util/settings';
import { UserError, ensureDatasetRoot, requireTrust, workDir, workspaceFolder } from '../util/workspace';

/** The seed of the stratified sample: the same N gives the same images in every session (resume). */
export const BLINDED_SAMPLE_SEED = 22;

/**
 * The setting `radiographReview.readerName`; asked once when empty, with `git config user.name` as the suggestion
 * (git only in a trusted workspace), and stored in the user settings. Undefined when the reader cancels.
 */
export async function ensureReaderName(): Promise<string | undefined> {
	const configured = checkReaderName(vscode.workspace.getConfiguration(SECTION).get<string>('readerName', ''));
	if (configured) return configured;
	const cwd = workspaceFolder() ?? process.cwd();
	const suggestion = await defaultReviewer(cwd, undefined, { trusted: vscode.workspace.isTrusted });
	const typed = await vscode.window.showInputBox({
		title: 'Radiograph: your name as a reader',
		prompt: 'Each read in radreview-reads.csv carries the reader’s name; a shared git name would merge two readers into one.',
		value: suggestion,
		ignoreFocusOut: true,
		validateInput: (v) => (checkReaderName(v) ? undefined : 'A name on one line, not empty.'),
	});
	const name = typed === undefined ? null : checkReaderName(typed);
	if (!name) return undefined;
	await vscode.workspace.getConfiguration(SECTION).update('readerName', name, vscode.ConfigurationTarget.Global);
	return name;
}

export async function startBlindedReadCommand(s: Services): Promise<void> {
	requireTrust('Blinded reading');
	const root = await ensureDatasetRoot();
	if (!root) return;
	const reader = await ensureReaderName();
	if (!reader) return;
	const scan = await scanDataset(root);
	const labelled = scan.images.filter((r) => r.label);
	if (labelled.length === 0) throw new UserError(`${root}: no labelled images to read (class folders or a manifest).`);
	const all = { label: `All ${labelled.length} images of the dataset folder`, sample: false, run: false };
	const sample = { label: 'A stratified sample…', description: `by class and source, seed ${BLINDED_SAMPLE_SEED}`, sample: true, run: false };
	const runSplit = { label: 'The test split of a run…', description: 'the images a trained model was tested on', sample: false, run: true };
	const pick = await vscode.window.showQuickPick([all, sample, runSplit], { title: 'Radiograph: Start Blinded Read', placeHolder: 'Which images to read' });
	if (!pick) return;
	let set = stratifiedSample(labelled, labelled.length, BLINDED_SAMPLE_SEED);
	if (pick.run) {
		const picked = await runTestSplit(s, root, new Set(labelled.map((r) => r.relPath)));
		if (!picked) return;
		set = picked;
	} else if (pick.sample) {
		const n = await vscode.window.showInputBox({
			title: 'How many images to read',
			value: String(Math.min(50, labelled.length)),
			validateInput: (v) => (/^\d+$/.test(v.trim()) && Number(v) >= 1 && Number(v) <= labelled.length ? undefined : `A whole number from 1 to ${labelled.length}.`),
		});
		if (n === undefined) return;
		set = stratifiedSample(labelled, Number(n), BLINDED_SAMPLE_SEED);
	}
	const { reads } = await readReads(root);
	const queue = remaining(set, reads, reader);
	const classes = CLASS_NAMES.filter((c) => labelled.some((r) => r.label === c));
	BlindedReadPanel.open(s, { root, reader, classes, set, queue });
}

/**
 * The test split of a run trained on this dataset (picked among them, newest first), as a reading set: the model and
 * the readers are then compared on exactly the images the model never trained on.
 */
async function runTestSplit(s: Services, root: string, inDataset: ReadonlySet<string>): Promise<string[] | undefined> {
	const wd = workDir();
	const runs = wd ? await s.engine.run({ type: 'listRuns', workDir: wd }) : [];
	const mine: Array<{ label: string; description: string; runDir: string }> = [];
	for (const r of runs) {
		const config = validateConfig(path.join(r.runDir, 'config.json'), await readJson(path.join(r.runDir, 'config.json')));
		if (path.resolve(config.dataDir) !== path.resolve(root)) continue;
		mine.push({ label: path.basename(r.runDir), description: `${r.backbone}, ${r.metrics.support} test images`, runDir: r.runDir });
	}
	if (mine.length === 0) throw new UserError(`No trained run on ${root} yet: train one first, or read the whole folder or a sample.`);
	const run = mine.length === 1 ? mine[0] : await vscode.window.showQuickPick(mine, { title: 'Read the test split of which run' });
	if (!run) return undefined;
	const file = path.join(run.runDir, 'splits.json');
	const set = splitSet(validateSplits(file, await readJson(file)), 'test', inDataset, BLINDED_SAMPLE_SEED);
	if (set.length === 0) throw new UserError(`${file}: none of the run's test images is in ${root} any more.`);
	return set;
}

/**
 * Radiograph: Adjudicate Reads — the images whose readers disagree, every read shown (unblinded now); the decision
 * becomes the image's label in radreview-annotations.csv with its provenance. A majority is offered first, as a
 * proposal the adjudicator picks or not.
 */
export async function adjudicateReadsCommand(): Promise<void> {
	requireTrust('Adjudication');
	const root = await ensureDatasetRoot();
	if (!root) return;
	const adjudicator = await ensureReaderName();
	if (!adjudicator) return;
	const [{ reads }, scan] = await Promise.all([readReads(root), scanDataset(root)]);
	const images = new Map(scan.images.map((r) => [r.relPath, r.label]));
	for (;;) {
		const { set } = await readAnnotations(root);
		const open = disagreements(reads.filter((r) => images.has(r.path))).filter((d) => !set.get(d.path)?.note.toLowerCase().startsWith(ADJUDICATED_NOTE));
		if (open.length === 0) {
			void vscode.window.showInformationMessage('Radiograph Review: no disagreements left to adjudicate.');
			return;
		}
		const which = await vscode.window.showQuickPick(
			open.map((d) => ({
				label: d.path,
				description: d.reads.map((r) => `${r.reader}: ${r.label}${r.confidence ? ` (${r.confidence})` : ''}`).join(' · '),
				detail: d.majority ? `Majority: ${d.majority}` : 'No majority',
				d,
			})),
			{ title: `Radiograph: Adjudicate Reads (${open.length} disagreement${open.length === 1 ? '' : 's'})`, placeHolder: 'Image to decide', matchOnDescription: true, ignoreFocusOut: true },
		);
		if (!which) return;
		const d = which.d;
		const readersOf = (c: ClassName) => d.reads.filter((r) => r.label === c).map((r) => r.reader);
		const choices = [
			...(d.majority ? [{ label: `$(check) Accept the majority: ${d.majority}`, description: readersOf(d.majority).join(', '), value: d.majority }] : []),
			...CLASS_NAMES.map((c) => ({ label: c, description: readersOf(c).join(', ') || 'no reader', value: c })),
		];
		const decision = await vscode.window.showQuickPick(choices, { title: `Decide ${d.path}`, placeHolder: 'The label this image gets', ignoreFocusOut: true });
		if (!decision) return;
		const { conflicts } = await adjudicate(root, images, { path: d.path, label: decision.value, reads: d.reads }, adjudicator);
		if (conflicts.length) throw new UserError(`${d.path}: its annotation changed on disk meanwhile; nothing was overwritten. Try again.`);
	}
}
