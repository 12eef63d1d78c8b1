// Host ↔ engine worker protocol. The engine runs in one long-lived worker thread (dist/worker.js);
// every job is a request with an id, answered by progress events and exactly one result or error.
import { BACKBONE_IDS, CLASS_NAMES } from '../engine/types';
import type { ReportCard, PairedComparison } from '../engine/report/report';
import type {
	BackendAvailability,
	AnnotationSummary,
	ClassName,
	BackendPreference,
	BackboneId,
	WeightsStatus,
	FileError,
	Metrics,
	Prediction,
	ProgressEvent,
	ResizeMode,
	RunSummary,
	ScanResult,
	SplitMode,
	SplitResult,
	TrainConfig,
	EpochLog,
} from '../engine/types';
import type { ViewerImage } from './viewer';
import type { AuditReport } from '../engine/audit/report';
import type { InterruptedRun } from '../engine/run/runDir';
import { isArrayOf, isBoolean, isInteger, isOptional, isRecord, isShortString, isString, isNumber, isOneOf, shape, unionGuard, type Guard } from './guards';

/** Train one backbone; result: RunSummary (the run folder holds model, history, splits, predictions). */
export interface TrainRequest {
	type: 'train';
	id: number;
	config: TrainConfig;
}
/** Classify every image below `folder` with the model of `runDir`; writes predictions.csv. */
export interface ClassifyRequest {
	type: 'classify';
	id: number;
	runDir: string;
	folder: string;
	workDir: string;
	outCsv?: string;
}
/** Decode + resize a dataset into the workspace cache. */
export interface PreprocessRequest {
	type: 'preprocess';
	id: number;
	dataDir: string;
	workDir: string;
	imageSize: number;
	resize: ResizeMode;
}
/** Scan a dataset and compute its seeded split. */
export interface SplitsRequest {
	type: 'splits';
	id: number;
	dataDir: string;
	mode: SplitMode;
	seed: number;
	testFraction: number;
	valFraction: number;
	/** Record the split in the dataset's radreview-splits.csv (Freeze Split). */
	freeze?: boolean;
}
/** List finished runs below workDir. */
export interface ListRunsRequest {
	type: 'listRuns';
	id: number;
	workDir: string;
}
/** List finished runs below workDir with their epoch history (one job for the Compare and Training panels). */
export interface RunHistoriesRequest {
	type: 'runHistories';
	id: number;
	workDir: string;
}
/** Load one run: summary, history and (test-split) predictions. */
export interface LoadRunRequest {
	type: 'loadRun';
	id: number;
	runDir: string;
}
/** How the dataset's test split now differs from a run's (same seed and fractions): null for a held-out-source run. */
export interface TestSplitChangesRequest {
	type: 'testSplitChanges';
	id: number;
	runDir: string;
}
/** Make small JPEG thumbnails (cached by content path+mtime) for the panels. */
export interface ThumbsRequest {
	type: 'thumbs';
	id: number;
	paths: string[];
	/** Folders the paths must resolve into (after symlinks); anything else is refused, never read. */
	roots: string[];
	/** Usually `<workDir>/cache/thumbs`. */
	outDir: string;
	size: number;
}
/** Decode one image at full resolution for the large view, scaled to fit `maxSide`; `path` must resolve inside one of `roots`. */
export interface PreviewRequest {
	type: 'preview';
	id: number;
	path: string;
	roots: string[];
	maxSide: number;
}
/** Decode one image at full resolution for the Radiograph Viewer (stored values + presets, not display bytes). */
export interface ViewImageRequest {
	type: 'viewImage';
	id: number;
	path: string;
}
/** Initialise (or report) the tfjs backend. */
export interface BackendRequest {
	type: 'backend';
	id: number;
	preference: BackendPreference;
}
/** Which backbones' weights resolve here without a download (cheap: no hashing). */
export interface WeightsStatusRequest {
	type: 'weightsStatus';
	id: number;
	/** The radiographReview.weights.<id> settings ('auto', 'none' or a path). */
	settings: Partial<Record<BackboneId, string>>;
}
/** Which compute backends are installed (no backend is started). */
export interface ProbeBackendsRequest {
	type: 'probeBackends';
	id: number;
}
/** Turn stale `.partial` run folders into interrupted runs (or remove them); live ones are left alone. */
export interface RecoverRunsRequest {
	type: 'recoverRuns';
	id: number;
	workDir: string;
}
/** Interrupted runs below workDir, newest first. */
export interface ListInterruptedRequest {
	type: 'listInterrupted';
	id: number;
	workDir: string;
}
/** Each image of a dataset with the label the scan resolved for it (the original_label of new annotation rows). */
export interface DatasetLabelsRequest {
	type: 'datasetLabels';
	id: number;
	dataDir: string;
}
/** Stop and keep: the training job with this id ends after its current epoch and is evaluated and saved. */
export interface StopRequest {
	type: 'stop';
	id: number;
}
/** Audit a labelled dataset with cached features; result: the report plus the duplicate groups the split links. */
export interface AuditRequest {
	type: 'audit';
	id: number;
	dataDir: string;
	workDir: string;
	backbone: BackboneId;
	seed: number;
}
/** The report card of a run (test metrics with intervals, curves, operating point); `gradcam` adds where-it-looks. */
export interface ReportRequest {
	type: 'report';
	id: number;
	runDir: string;
	workDir: string;
	positiveClass: ClassName;
	/** Target sensitivity of the operating point; absent: Youden's J. */
	targetSensitivity?: number;
	gradcam: boolean;
	/** Also render the card as 'pdf' or 'html' to this file. */
	exportTo?: { format: 'pdf' | 'html' | 'json'; file: string };
}
/** Grad-CAM overlays (transparent PNGs over letterboxed thumbnails) for images, with a run's model. */
export interface ExplainRequest {
	type: 'explain';
	id: number;
	runDir: string;
	workDir: string;
	paths: string[];
	/** Explain this class; absent: the predicted class. */
	className?: ClassName;
	outDir: string;
	size: number;
}
/** Paired comparison (McNemar, paired bootstrap) of two runs on their shared test images. */
export interface ComparePairedRequest {
	type: 'comparePaired';
	id: number;
	runA: string;
	runB: string;
}
/** What workspace files may make the engine read from now on (no reply): the window's readable roots and trust. */
export interface ScopeRequest {
	type: 'scope';
	id: number;
	roots: string[];
	trusted: boolean;
}
/** Abort the job with this id (no reply of its own: the job ends with a 'cancelled' error). */
export interface CancelRequest {
	type: 'cancel';
	id: number;
}

export type EngineRequest =
	| TrainRequest
	| ClassifyRequest
	| PreprocessRequest
	| SplitsRequest
	| ListRunsRequest
	| RunHistoriesRequest
	| LoadRunRequest
	| TestSplitChangesRequest
	| ThumbsRequest
	| PreviewRequest
	| ViewImageRequest
	| BackendRequest
	| WeightsStatusRequest
	| ProbeBackendsRequest
	| RecoverRunsRequest
	| ListInterruptedRequest
	| DatasetLabelsRequest
	| StopRequest
	| AuditRequest
	| ReportRequest
	| ExplainRequest
	| ComparePairedRequest
	| ScopeRequest
	| CancelRequest;

/** Requests that start a job (everything but cancel and stop). */
export type EngineJobRequest = Exclude<EngineRequest, CancelRequest | StopRequest | ScopeRequest>;
export type EngineJobType = EngineJobRequest['type'];
/** A job request as the caller writes it: the client assigns the id. */
export type EngineJobInput = EngineJobRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export interface ClassifyResult {
	predictions: Prediction[];
	csvPath: string;
	errors: FileError[];
	metrics?: Metrics;
	/** Sources training never saw and the dataset-level shift (the engine's audit/shift.ts): sentences to show. */
	shift?: { warnings: string[]; notes: string[] };
}
export interface PreprocessResult {
	/** Whatever the engine reports (counts, cache dir); shown in the log. */
	summary: unknown;
}
export interface SplitsResult {
	scan: ScanResult;
	split: SplitResult;
	/** What radreview-annotations.csv did to the dataset (labels corrected, images excluded). */
	annotations?: AnnotationSummary;
	/** The radreview-splits.csv written when the request froze the split. */
	frozenFile?: string;
}
/** Test images of a run that are no longer in the test split (left) and those that came in since (joined). */
export interface TestSplitChanges {
	left: string[];
	joined: string[];
}
export interface LoadRunResult {
	summary: RunSummary;
	history: EpochLog[];
	predictions: Prediction[];
	/** Anything else the run keeps (config etc.), passed through. */
	extra?: unknown;
	/** Set when the annotations' labels changed after the run was trained. */
	staleLabels?: string;
}
export interface RunHistory {
	summary: RunSummary;
	history: EpochLog[];
	/** metrics.json's stage times (features, head, total, …). */
	timing?: Record<string, number>;
}
export interface ThumbsResult {
	/** Source path → thumbnail path; missing entries failed (see errors). */
	thumbs: Record<string, string>;
	errors: FileError[];
}
export interface PreviewResult {
	/** JPEG bytes, base64 (the host hands them to the webview as a data: URI). */
	base64: string;
	width: number;
	height: number;
	originalWidth: number;
	originalHeight: number;
}
/** A decoded image for the viewer: the viewer protocol's image without its place in the folder. */
export type ViewData = Omit<ViewerImage, 'name' | 'index' | 'count'>;

export interface BackendResult {
	name: string;
	label: string;
	skipped: string[];
}

export interface RecoverRunsResult {
	interrupted: string[];
	removed: string[];
	live: string[];
}
/** An interrupted run (history so far; no model, no test metrics): the engine's own record. */
export type InterruptedRunView = InterruptedRun;

export interface ExplainItem {
	/** Overlay PNG path. */
	png: string;
	className: ClassName;
	predicted: ClassName;
	border: number;
	corners: number;
	outside: boolean;
}
export interface ExplainResult {
	/** Source path → its overlay. */
	overlays: Record<string, ExplainItem>;
	errors: FileError[];
	/** Mean milliseconds per image: the base's forward pass and the Grad-CAM arithmetic. */
	ms: { forward: number; gradcam: number };
}
/** The result type of each job type. */
export interface EngineResults {
	weightsStatus: WeightsStatus[];
	probeBackends: BackendAvailability[];
	recoverRuns: RecoverRunsResult;
	listInterrupted: InterruptedRunView[];
	/** relPath → label (null: the image has none). */
	datasetLabels: Record<string, ClassName | null>;
	train: RunSummary;
	classify: ClassifyResult;
	preprocess: PreprocessResult;
	splits: SplitsResult;
	listRuns: RunSummary[];
	runHistories: RunHistory[];
	loadRun: LoadRunResult;
	testSplitChanges: TestSplitChanges | null;
	thumbs: ThumbsResult;
	preview: PreviewResult;
	viewImage: ViewData;
	backend: BackendResult;
	audit: AuditReport & { linked: string[][] };
	report: ReportCard;
	explain: ExplainResult;
	comparePaired: PairedComparison;
}

/** Worker → host: a progress event of job `id`. */
export interface ProgressMessage {
	type: 'progress';
	id: number;
	event: ProgressEvent;
}
/** Worker → host: job `id` finished. */
export interface ResultMessage {
	type: 'result';
	id: number;
	result: unknown;
}
export interface SerializedError {
	name: string;
	message: string;
	stack?: string;
}
/** Worker → host: job `id` failed; name 'CancelledError' means a clean stop. */
export interface ErrorMessage {
	type: 'error';
	id: number;
	error: SerializedError;
}
/** Worker → host: the backend in use (sent whenever it is initialised or changes). */
export interface BackendMessage {
	type: 'backend';
	report: BackendResult;
}
/** Worker → host: a log line not tied to a job. */
export interface WorkerLogMessage {
	type: 'log';
	level: 'info' | 'warn' | 'error';
	message: string;
}

export type EngineEvent = ProgressMessage | ResultMessage | ErrorMessage | BackendMessage | WorkerLogMessage;

const isId = (v: unknown): v is number => isInteger(v) && v >= 0;
const isLevel = isOneOf(['info', 'warn', 'error'] as const);

/** Loose ProgressEvent check: `kind` must be known; payloads come from our own engine. */
export function isProgressEvent(v: unknown): v is ProgressEvent {
	if (!isRecord(v)) return false;
	switch (v.kind) {
		case 'stage':
			return isString(v.stage) && isNumber(v.done) && isNumber(v.total);
		case 'epoch':
			return isRecord(v.log) && isNumber(v.epochs);
		case 'weights':
			return isRecord(v.weights) && isString(v.weights.name) && typeof v.weights.pretrained === 'boolean' && isString(v.weights.sha256);
		case 'fileError':
			return isRecord(v.error) && isString(v.error.path) && isString(v.error.reason);
		case 'log':
			return isLevel(v.level) && isString(v.message);
		default:
			return false;
	}
}

const isSerializedError: Guard<SerializedError> = shape<SerializedError>({ name: isString, message: isString, stack: isOptional(isString) });
const isBackendResult: Guard<BackendResult> = shape<BackendResult>({ name: isString, label: isString, skipped: isArrayOf(isString) });

/** Guards what the host receives from the worker. */
export const isEngineEvent: Guard<EngineEvent> = unionGuard<EngineEvent>({
	progress: { id: isId, event: isProgressEvent },
	result: { id: isId, result: (_v: unknown): _v is unknown => true },
	error: { id: isId, error: isSerializedError },
	backend: { report: isBackendResult },
	log: { level: isLevel, message: isString },
});

/** Guards what the worker receives from the host (top level; configs are checked by the engine). */
export const isEngineRequest: Guard<EngineRequest> = unionGuard<EngineRequest>({
	train: { id: isId, config: (v: unknown): v is TrainConfig => isRecord(v) && isString(v.backbone) && isString(v.dataDir) && isString(v.workDir) },
	classify: { id: isId, runDir: isShortString, folder: isShortString, workDir: isShortString, outCsv: isOptional(isShortString) },
	preprocess: { id: isId, dataDir: isShortString, workDir: isShortString, imageSize: isInteger, resize: isOneOf(['stretch', 'letterbox'] as const) },
	splits: { id: isId, dataDir: isShortString, mode: isOneOf(['patient', 'image'] as const), seed: isInteger, testFraction: isNumber, valFraction: isNumber, freeze: isOptional(isBoolean) },
	listRuns: { id: isId, workDir: isShortString },
	runHistories: { id: isId, workDir: isShortString },
	loadRun: { id: isId, runDir: isShortString },
	testSplitChanges: { id: isId, runDir: isShortString },
	thumbs: { id: isId, paths: isArrayOf(isShortString), roots: isArrayOf(isShortString), outDir: isShortString, size: isInteger },
	preview: { id: isId, path: isShortString, roots: isArrayOf(isShortString), maxSide: (v: unknown): v is number => isInteger(v) && v >= 64 && v <= 8192 },
	viewImage: { id: isId, path: isShortString },
	backend: { id: isId, preference: isOneOf(['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const) },
	weightsStatus: { id: isId, settings: (v: unknown): v is Partial<Record<BackboneId, string>> => isRecord(v) && Object.values(v).every(isShortString) },
	probeBackends: { id: isId },
	recoverRuns: { id: isId, workDir: isShortString },
	listInterrupted: { id: isId, workDir: isShortString },
	datasetLabels: { id: isId, dataDir: isShortString },
	stop: { id: isId },
	audit: { id: isId, dataDir: isShortString, workDir: isShortString, backbone: isOneOf(BACKBONE_IDS), seed: isInteger },
	report: {
		id: isId,
		runDir: isShortString,
		workDir: isShortString,
		positiveClass: isOneOf(CLASS_NAMES),
		targetSensitivity: isOptional(isNumber),
		gradcam: isBoolean,
		exportTo: isOptional(shape<{ format: 'pdf' | 'html' | 'json'; file: string }>({ format: isOneOf(['pdf', 'html', 'json'] as const), file: isShortString })),
	},
	explain: { id: isId, runDir: isShortString, workDir: isShortString, paths: isArrayOf(isShortString), className: isOptional(isOneOf(CLASS_NAMES)), outDir: isShortString, size: isInteger },
	comparePaired: { id: isId, runA: isShortString, runB: isShortString },
	scope: { id: isId, roots: isArrayOf(isShortString), trusted: isBoolean },
	cancel: { id: isId },
});
