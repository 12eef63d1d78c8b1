// The audit report: what `radreview audit --json` writes and the Audit panel shows. Schema in docs/AUDIT.md;
// bump AUDIT_SCHEMA_VERSION when a field changes meaning or disappears.
import type { BackboneId, ClassName, SplitName } from '../types';

export const AUDIT_SCHEMA_VERSION = 1;

/** An image named in a finding. */
export interface AuditImage {
	relPath: string;
	label: ClassName;
	patientId: string;
	source?: string;
	/** Split under the plain patient-grouped split with the audit's seed (what training would use). */
	split: SplitName;
}

export interface LabelIssue extends AuditImage {
	suggested: ClassName;
	/** Out-of-fold probabilities in CLASS_NAMES order. */
	probs: number[];
	/** p(given) − max p(other): the ranking score, most negative first. */
	margin: number;
	selfConfidence: number;
}

export interface LabelIssuesFinding {
	method: 'confident-learning';
	folds: number;
	/** L2 strength of the softmax regression (mean cross-entropy + λ/2 ‖W‖² on z-scored pooled features). */
	lambda: number;
	/** Out-of-fold accuracy of the classifier (how much the features know about the labels). */
	outOfFoldAccuracy: number;
	thresholds: number[];
	confidentJoint: number[][];
	/** Flagged images, most suspicious first. */
	issues: LabelIssue[];
	/**
	 * Issues that remain when each source's own label mix is allowed for (confident learning within the source),
	 * most suspicious first by the mean of the plain and the source-adjusted margins (`margin` holds that mean):
	 * the review queue for label errors.
	 */
	possibleErrors: LabelIssue[];
	/** Issues overall that are ordinary within their source: the source (age group, hospital) explains them. */
	explainedBySource: LabelIssue[];
}

export type OodReason = 'features' | 'colour' | 'aspect-ratio' | 'tiny' | 'dicom-modality' | 'dicom-view';

export interface OodImage extends AuditImage {
	/** Feature-space score: 1 − mean cosine similarity to the k nearest training images. */
	score: number;
	reasons: OodReason[];
	/** Plain words per reason, e.g. 'colour image (mean chroma 41)'. */
	details: string[];
}

export interface OodFinding {
	method: 'knn-cosine';
	k: number;
	/** Scores above this are flagged: the `quantile` of the training images' own (leave-one-out) scores. */
	threshold: number;
	quantile: number;
	/** Images flagged by any check, highest score first. */
	flagged: OodImage[];
	/** relPath → score for every image (for the grid badge and classify). */
	scores: Record<string, number>;
}

export interface DuplicatePair {
	a: AuditImage;
	b: AuditImage;
	kind: 'exact' | 'near';
	cosine: number;
	/** Hamming distance of the 64-bit perceptual hashes. */
	hamming: number;
	/** The two sides fall in different splits of the plain patient split: a leak. */
	crossSplit: boolean;
}

export interface DuplicatesFinding {
	/** Feature cosine at or above which a pair is a candidate. */
	cosineThreshold: number;
	/** Perceptual-hash distance at or below which a candidate is confirmed. */
	hammingThreshold: number;
	pairs: DuplicatePair[];
	/** Connected groups of duplicates (relPaths); the duplicate-aware split keeps each on one side. */
	groups: string[][];
	crossSplitPairs: number;
	/** Pairs still split apart by the duplicate-aware split (0 unless a group is mixed-label). */
	crossSplitAfterLinking: number;
}

export interface SourceWarning {
	className: ClassName;
	/** One-vs-rest AUC of "share of this class in the image's source": 1 = the source alone tells the class. */
	auc: number;
	message: string;
}

export interface SourcesFinding {
	/** Where the source came from: 'manifest' (source_dataset), 'folder' (first path component), or 'none'. */
	origin: 'manifest' | 'folder' | 'none';
	sources: string[];
	/** table[source][class] = images, classes in CLASS_NAMES order. */
	table: Record<string, number[]>;
	/** Cross-validated accuracy of predicting the label from the source alone, and the majority-class baseline. */
	labelFromSource: { accuracy: number; baseline: number };
	/** Cross-validated balanced accuracy of predicting the source from the image features, and chance. */
	sourceFromFeatures?: { balancedAccuracy: number; chance: number };
	warnings: SourceWarning[];
}

/** Held-out per-source recall of the linear probe under one mitigation. */
export interface MitigationRow {
	option: 'none' | 'balance-class' | 'balance-class-source';
	/** The source the probe never saw in training. */
	testSource: string;
	n: number;
	accuracy: number;
	/** Recall per class (CLASS_NAMES order), null where the held-out source has no image of that class. */
	recall: (number | null)[];
}

export interface AuditReport {
	schemaVersion: typeof AUDIT_SCHEMA_VERSION;
	createdAt: string;
	dataDir: string;
	backbone: BackboneId;
	weights: string;
	images: number;
	/** Files that could not be read or decoded. */
	errors: { path: string; reason: string }[];
	seed: number;
	labelIssues: LabelIssuesFinding;
	outOfDistribution: OodFinding;
	duplicates: DuplicatesFinding;
	sources: SourcesFinding;
	/** Leave-one-source-out with the linear probe; empty with fewer than two sources. */
	mitigations: MitigationRow[];
	/** Seconds per step. */
	timing: Record<string, number>;
}
