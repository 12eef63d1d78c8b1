// The DOM contract between the webviews and the e2e tests: each panel renders these `data-testid`
// values so tests never depend on layout or CSS classes. Webviews: `el.dataset.testid = TestId.GridItem`.

export const TestId = {
	// ── every panel
	/** Root element of a panel, with `data-panel="dataset|training|predictions|compare"`; present after the first snapshot. */
	PanelRoot: 'panel-root',
	/** Busy indicator text (present only while the host reports `busy`). */
	Busy: 'busy',
	/** Notice (info/warn/error) text from the host. */
	Notice: 'notice',
	/** Label of the model's weights; its text contains "not pretrained" when `weights.pretrained` is false. */
	WeightsLabel: 'weights-label',

	// ── training panel
	/** Text = total number of epoch points plotted, over all series (e.g. "3"). */
	CurvePointCount: 'curve-point-count',
	/** One per series, with `data-backbone` and `data-state` (queued|running|done|cancelled|failed). */
	TrainingSeries: 'training-series',
	/** Text "epoch n/N" of a series (inside TrainingSeries). */
	EpochProgress: 'epoch-progress',
	/** Canvas (or svg) of the loss/accuracy curves. */
	TrainingChart: 'training-chart',
	/** Stop button; aborts the same controller as the notification's Cancel. */
	StopButton: 'stop-button',
	/** Stop and keep: ends after the current epoch, evaluates and saves. */
	StopKeepButton: 'stop-keep-button',
	/** Removes a finished / failed / cancelled / interrupted card. */
	DismissButton: 'dismiss-button',
	/** The Train picker of the training panel, and the note about a backbone without weights. */
	BackbonePicker: 'backbone-picker',
	BackboneNote: 'backbone-note',
	/** Dataset panel: why the chosen folder shows no dataset. */
	DatasetProblem: 'dataset-problem',
	/** Compare panel: one interrupted run (history only). */
	InterruptedRow: 'interrupted-row',
	/** Test accuracy of a finished series (inside TrainingSeries). */
	SeriesAccuracy: 'series-accuracy',

	// ── predictions panel
	/** One per image, with `data-rel-path`; contains PredLabel and (if known) TrueLabel. */
	GridItem: 'grid-item',
	/** Predicted class name, text exactly one of CLASS_NAMES. */
	PredLabel: 'pred-label',
	/** True class name, text exactly one of CLASS_NAMES (absent for unlabelled images). */
	TrueLabel: 'true-label',
	/** Thumbnail <img> inside a grid item. */
	GridThumb: 'grid-thumb',
	/** Text = number of grid items. */
	GridCount: 'grid-count',
	/** Overall accuracy text (only when labels are known). */
	MetricsAccuracy: 'metrics-accuracy',
	/** Confusion matrix table. */
	ConfusionMatrix: 'confusion-matrix',
	/** "By source" metrics table (predictions and compare panels; only when metrics carry bySource). */
	BySourceTable: 'by-source-table',
	/** One row of it, with `data-source`. */
	BySourceRow: 'by-source-row',
	/** Source and patient lines of a grid tile (inside GridItem); text = the source / patient id ('unknown' when none). */
	GridSource: 'grid-source',
	GridPatient: 'grid-patient',
	/** Badge over a tile's thumbnail, present only when the image is out of distribution (not like a chest X-ray). */
	GridOod: 'grid-ood',
	/** Large view: the out-of-distribution warning with its reasons (only for such images). */
	DetailOod: 'detail-ood',
	/** Compare table: "tested on held-out source X" under a leave-one-source-out run's name. */
	CompareTestSource: 'compare-test-source',
	/** Source filter of the grid (a select; options are the sources of the shown prediction set). */
	SourceFilter: 'source-filter',
	/** Shown only while a filter differs from the default: what it hides ("19 of 30 shown: right only"). */
	ActiveFilter: 'active-filter',
	/** One-click reset inside ActiveFilter. */
	ResetFilter: 'reset-filter',
	/** Large view: the full-resolution canvas, with `data-width` / `data-height` of the decoded image once loaded. */
	DetailImage: 'detail-image',
	/** Large view: source and patient lines. */
	DetailSource: 'detail-source',
	DetailPatient: 'detail-patient',
	/** Large view: zoom text ("100%") and the window / level sliders. */
	DetailZoom: 'detail-zoom',
	DetailWindow: 'detail-window',
	DetailLevel: 'detail-level',
	/** Export buttons. */
	ExportCsv: 'export-csv',
	ExportPng: 'export-png',
	ExportPdf: 'export-pdf',
	/** Annotation state badges of a grid item (children carry `data-state` relabelled|flagged|noted|reviewed). */
	AnnotationBadges: 'annotation-badges',
	/** The review-state filter (all|relabelled|flagged|noted|unreviewed|reviewed). */
	AnnotationFilter: 'annotation-filter',
	/** The keyboard help dialog (`?`). */
	AnnotationHelp: 'annotation-help',
	/** Text field of the flag / note dialog. */
	AnnotationInput: 'annotation-input',
	/** The flag / note dialog (flag reasons are its buttons, with `data-flag`). */
	AnnotationPrompt: 'annotation-prompt',
	/** Review toolbar: select all shown, set the label of the selection, flag the selection. */
	AnnotationSelectAll: 'annotation-select-all',
	AnnotationLabelSelect: 'annotation-label-select',
	AnnotationFlagButton: 'annotation-flag',
	/** Starts the review queue. */
	ReviewQueueButton: 'review-queue',
	/** "n of m reviewed" in the large view while reviewing. */
	ReviewProgress: 'review-progress',

	// ── dataset panel
	/** Text = number of images. */
	DatasetCount: 'dataset-count',
	/** One per class, with `data-class`; text = count. */
	ClassCount: 'class-count',
	/** One per split, with `data-split` (train|val|test); text = count. */
	SplitCount: 'split-count',
	/** Per-file errors list. */
	DatasetErrors: 'dataset-errors',
	/** Class × source table, with one `data-source` header per source. */
	ClassSourceTable: 'class-source-table',
	/** One per confound warning, with `data-kind` (classFromOneSource|sourceHoldsOneClass), `data-class`, `data-source`. */
	ConfoundWarning: 'confound-warning',
	/** Thumbnail <img> of a dataset image (placeholders until its thumbnail is made carry no test id). */
	DatasetThumb: 'dataset-thumb',
	/** A thumbnail's button, with `data-rel-path`, `aria-selected` and its annotation badges. */
	DatasetThumbButton: 'dataset-thumb-button',
	/** Annotation counts, with `data-kind` relabelled|excluded|flagged|noted|reviewed; text = count. */
	AnnotationCount: 'annotation-count',
	/** Buttons. */
	SelectFolderButton: 'select-folder',
	ComputeSplitsButton: 'compute-splits',
	PreprocessButton: 'preprocess',

	// ── compare panel
	/** One per run, with `data-backbone` and `data-run-dir`. */
	CompareRow: 'compare-row',
	/** Accuracy cell inside a CompareRow. */
	CompareAccuracy: 'compare-accuracy',
	/** Feature-extraction and head-training time cells inside a CompareRow. */
	CompareFeatureTime: 'compare-feature-time',
	CompareHeadTime: 'compare-head-time',
	RefreshButton: 'refresh',
	TrainAllButton: 'train-all',

	// ── radiograph viewer (custom editor)
	/** The visible canvas; `data-center` / `data-width` carry the window in modality units. */
	ViewerCanvas: 'viewer-canvas',
	/** Window readout text "W 4000 L 2000", with the same data attributes. */
	ViewerWindow: 'viewer-window',
	/** Name of the image on screen, with `data-index` / `data-count` in its folder. */
	ViewerName: 'viewer-name',
	/** Prediction card; holds PredLabel, TrueLabel and one ViewerProb per class (`data-class`). */
	ViewerPrediction: 'viewer-prediction',
	ViewerProb: 'viewer-prob',
	/** The DICOM tag table; rows carry `data-tag`. */
	ViewerTags: 'viewer-tags',
	/** A decoding error shown instead of the image. */
	ViewerError: 'viewer-error',
	ViewerNext: 'viewer-next',
	ViewerPrevious: 'viewer-previous',
	ViewerInvert: 'viewer-invert',
	ViewerOneToOne: 'viewer-one-to-one',
	ViewerPresets: 'viewer-presets',
	/** Grad-CAM toggle (`aria-pressed`), its opacity slider, and its status (class; the canvas then has `data-gradcam`). */
	ViewerGradcam: 'viewer-gradcam',
	ViewerGradcamOpacity: 'viewer-gradcam-opacity',
	ViewerGradcamStatus: 'viewer-gradcam-status',
	/** The review section (`data-path` = the image's path in radreview-annotations.csv) and its controls. */
	ViewerReview: 'viewer-review',
	ViewerLabel: 'viewer-label',
	ViewerFlag: 'viewer-flag',
	ViewerFlagReason: 'viewer-flag-reason',
	/** One per flag of the image, with `data-flag`. */
	ViewerFlagItem: 'viewer-flag-item',
	ViewerNote: 'viewer-note',
	ViewerReviewed: 'viewer-reviewed',
	// ── audit panel
	/** One per finding, with `data-finding="labelIssues|outOfDistribution|duplicates|sources"` and `data-count`. */
	AuditSection: 'audit-section',
	/** One per listed image inside a section, with `data-rel-path`. */
	AuditItem: 'audit-item',
	/** A plain-words warning (source shortcut). */
	AuditWarning: 'audit-warning',
	/** Buttons: run the audit; open a finding as a review queue in the Predictions grid. */
	AuditRunButton: 'audit-run',
	AuditQueueButton: 'audit-queue',
	/** Accuracy interval text "… [lo–hi] (n = …)" of a CompareRow. */
	CompareInterval: 'compare-interval',
	/** Paired comparison (McNemar, paired bootstrap) of two runs. */
	ComparePaired: 'compare-paired',

	// ── report panel
	/** Test accuracy with its interval and n. */
	ReportAccuracy: 'report-accuracy',
	/** Per-class table (sensitivity, specificity, PPV, NPV, F1, AUC, AP with intervals). */
	ReportClassTable: 'report-class-table',
	/** The ROC chart (svg). */
	ReportRoc: 'report-roc',
	/** The operating-point sentence. */
	ReportOperatingPoint: 'report-operating-point',
	/** The provenance line. */
	ReportProvenance: 'report-provenance',
	/** The where-it-looks table (after Grad-CAM ran). */
	/** The readers' section of the report card (κ, readers on the model's ROC). */
	ReportReaders: 'report-readers',
	ReportLooks: 'report-looks',
	/** Export the report as PDF. */
	ReportExportPdf: 'report-export-pdf',

	// ── Grad-CAM in the predictions panel
	/** Toggle of the Grad-CAM overlay in the grid; `aria-pressed` tells its state. */
	GradcamToggle: 'gradcam-toggle',
	/** One overlay <img> over a thumbnail, with `data-outside="true"` when the map looks outside the lungs. */
	GradcamOverlay: 'gradcam-overlay',
	/** Opacity slider of the large view's overlay. */
	GradcamOpacity: 'gradcam-opacity',
	/** Class choice of the large view's overlay. */
	GradcamClass: 'gradcam-class',
	/** Toggle of the operating-point marks in the grid; `aria-pressed` tells its state. */
	OperatingPointToggle: 'operating-point-toggle',
	/** The line stating the operating point's threshold and its test sensitivity / specificity. */
	GridOperatingPoint: 'grid-operating-point',

	// ── blinded read panel
	/** Text "7 / 12": images read of the set. */
	BlindedProgress: 'blinded-progress',
	/** The reader's own name (from the setting). */
	BlindedReader: 'blinded-reader',
	/** The image canvas, with `data-token` (opaque) of the image shown. */
	BlindedImage: 'blinded-image',
	/** What the keys do now, with `data-step="class|confidence|done"`. */
	BlindedStep: 'blinded-step',
	/** One class choice button (keys 1, 2, 3), in the dataset's class order. */
	BlindedChoice: 'blinded-choice',
} as const;

export type TestIdValue = (typeof TestId)[keyof typeof TestId];

/** Panel names as used in `data-panel` and in `dist/webview/<panel>.js`. */
export const PANEL_NAMES = ['dataset', 'training', 'predictions', 'compare', 'audit', 'report', 'blinded'] as const;
export type PanelName = (typeof PANEL_NAMES)[number];
