// Audit panel protocol: one section per finding, each image with its thumbnail and actions.
import { CLASS_NAMES, type BackboneId, type ClassName, type SplitName } from '../engine/types';
import type { MitigationRow, SourcesFinding } from '../engine/audit/report';
import type { ErrorReportMessage, NoticeMessage, ReadyMessage } from './common';
import { isOneOf, isShortString, unionGuard, type Guard } from './guards';

export const AUDIT_FINDINGS = ['labelIssues', 'outOfDistribution', 'duplicates'] as const;
/** A finding that lists images (and so can become a review queue). */
export type AuditFindingName = (typeof AUDIT_FINDINGS)[number];

export interface AuditItemView {
	relPath: string;
	label: ClassName;
	split: SplitName;
	source?: string;
	/** One line of plain words: why the image is listed. */
	detail: string;
	/** Label issues: the class the out-of-fold model prefers, and its probabilities (CLASS_NAMES order). */
	suggested?: ClassName;
	probs?: number[];
	thumbUri?: string;
}

export interface AuditPairView {
	a: AuditItemView;
	b: AuditItemView;
	kind: 'exact' | 'near';
	crossSplit: boolean;
	cosine: number;
	hamming: number;
}

export interface AuditView {
	dataDir: string;
	backbone: BackboneId;
	weights: string;
	images: number;
	createdAt: string;
	seconds: number;
	labelIssues: { count: number; outOfFoldAccuracy: number; items: AuditItemView[] };
	outOfDistribution: { count: number; threshold: number; items: AuditItemView[] };
	duplicates: { count: number; crossSplit: number; crossSplitAfterLinking: number; pairs: AuditPairView[] };
	sources: SourcesFinding;
	mitigations: MitigationRow[];
	/** Decisions taken in this panel (relPath → what was done), so the items show them. */
	decisions: Record<string, string>;
	/** Where the JSON report was saved. */
	reportPath?: string;
}

/** Host → webview: everything to draw. */
export interface AuditSnapshotMessage {
	type: 'snapshot';
	view: AuditView | null;
	busy: string | null;
}
export type AuditToWebview = AuditSnapshotMessage | NoticeMessage;

/** Run (or re-run) the audit on the current dataset. */
export interface AuditRunMessage {
	type: 'run';
}
/** Open a finding's images as a review queue in the Predictions grid. */
export interface AuditOpenQueueMessage {
	type: 'openQueue';
	finding: AuditFindingName;
}
/** Leave this image out of training (an annotation). */
export interface AuditExcludeMessage {
	type: 'exclude';
	relPath: string;
}
/** Correct this image's label (an annotation). */
export interface AuditRelabelMessage {
	type: 'relabel';
	relPath: string;
	label: ClassName;
}
/** Open the full image beside the panel. */
export interface AuditOpenFileMessage {
	type: 'openFile';
	relPath: string;
}

export type AuditFromWebview = ReadyMessage | ErrorReportMessage | AuditRunMessage | AuditOpenQueueMessage | AuditExcludeMessage | AuditRelabelMessage | AuditOpenFileMessage;

export const isAuditFromWebview: Guard<AuditFromWebview> = unionGuard<AuditFromWebview>({
	ready: {},
	error: { message: isShortString },
	run: {},
	openQueue: { finding: isOneOf(AUDIT_FINDINGS) },
	exclude: { relPath: isShortString },
	relabel: { relPath: isShortString, label: isOneOf(CLASS_NAMES) },
	openFile: { relPath: isShortString },
});
