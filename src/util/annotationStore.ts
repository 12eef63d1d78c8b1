// The host's annotation store for the dataset root: loads radreview-annotations.csv, applies edits at once in
// memory (with undo/redo), writes them debounced and atomically, flushes on panel close and deactivate, and
// watches the file: what changes on disk (git pull, another window, an editor) is merged with pending edits,
// and a row changed on both sides is shown to the reviewer with both versions, never silently overwritten.
import * as path from 'node:path';
import * as vscode from 'vscode';
import { ANNOTATIONS_FILE, AnnotationParseError, flagText, type Annotation } from '../engine/annotations/format';
import { applyEdits, changedPaths, mergeAnnotations, type AnnotationConflict, type AnnotationEdit, type AnnotationSet, type ImageFacts } from '../engine/annotations/merge';
import { readAnnotations, readAnnotationsLeniently, writeAnnotations, type AnnotationSnapshot } from '../engine/annotations/store';
import { defaultReviewer } from '../engine/annotations/reviewer';
import { normaliseLabel } from '../engine/data/labels';
import { readLabelAliases } from '../engine/data/scan';
import type { ClassName } from '../engine/types';
import { sha256File } from '../engine/util/hash';
import { Disposable } from './dispose';
import { SECTION } from './settings';
import { datasetRoot } from './workspace';

/**
 * Edits are written this long after the last one (and at once on flush). The e2e test of the conflict dialog
 * lengthens it (RADREVIEW_TEST_ANNOTATION_WRITE_DELAY_MS) so that the file can change on disk while an edit waits.
 */
const WRITE_DELAY_MS = Number(process.env.RADREVIEW_TEST_ANNOTATION_WRITE_DELAY_MS) || 400;
const MAX_UNDO = 200;

/** The rows an action changed, as they were before it (undefined: no row). */
type UndoStep = Map<string, Annotation | undefined>;

export class AnnotationStore extends Disposable {
	private root: string | undefined;
	private base: AnnotationSnapshot | undefined;
	private current: AnnotationSet = new Map();
	private parseError: string | undefined;
	private timer: NodeJS.Timeout | undefined;
	private writing: Promise<void> = Promise.resolve();
	private undoStack: UndoStep[] = [];
	private redoStack: UndoStep[] = [];
	private watcher: vscode.Disposable | undefined;
	private readonly changed = this._register(new vscode.EventEmitter<{ root: string; paths: string[] | undefined }>());
	/** Fires with the paths whose rows changed (undefined: all of them). */
	readonly onDidChange = this.changed.event;
	private readonly wrote = this._register(new vscode.EventEmitter<string>());
	/** Fires with the file once pending edits are on disk (what reads the file, such as a rescan, sees them now). */
	readonly onDidWrite = this.wrote.event;

	/** The engine's label of each dataset image (original_label of new rows), fetched once per root. */
	private labels: Promise<ReadonlyMap<string, ClassName | null>> | undefined;

	constructor(
		private readonly log: vscode.LogOutputChannel,
		private readonly labelsOf?: (root: string) => Promise<Record<string, ClassName | null>>,
	) {
		super();
		this._register({
			dispose: () => {
				this.watcher?.dispose();
			},
		});
		this._register(
			vscode.workspace.onDidChangeConfiguration((e) => {
				if (e.affectsConfiguration(`${SECTION}.datasetFolder`)) void this.open();
			}),
		);
	}

	/** The dataset root the store serves, loading it first if needed. */
	async open(): Promise<string | undefined> {
		const root = datasetRoot();
		if (root === this.root) return root;
		await this.flush();
		this.watcher?.dispose();
		this.root = root;
		this.base = undefined;
		this.current = new Map();
		this.undoStack = [];
		this.redoStack = [];
		this.parseError = undefined;
		this.labels = undefined;
		if (!root) return undefined;
		const w = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(root), ANNOTATIONS_FILE));
		this.watcher = vscode.Disposable.from(
			w,
			w.onDidChange(() => void this.reload()),
			w.onDidCreate(() => void this.reload()),
			w.onDidDelete(() => void this.reload()),
		);
		await this.reload();
		return root;
	}

	get datasetRoot(): string | undefined {
		return this.root;
	}

	/** Why the file cannot be used (malformed), or undefined. */
	get error(): string | undefined {
		return this.parseError;
	}

	get canUndo(): boolean {
		return this.undoStack.length > 0;
	}

	get canRedo(): boolean {
		return this.redoStack.length > 0;
	}

	get(relPath: string): Annotation | undefined {
		return this.current.get(relPath);
	}

	all(): ReadonlyMap<string, Annotation> {
		return this.current;
	}

	/** Applies a reviewer's edits now (the file follows shortly). Refuses while the file is malformed. */
	async apply(edits: readonly AnnotationEdit[]): Promise<void> {
		const root = await this.open();
		if (!root) throw new Error('No dataset folder is set: annotations are kept in <dataset>/radreview-annotations.csv.');
		if (this.parseError) throw new Error(`Not changing ${ANNOTATIONS_FILE} until it is fixed: ${this.parseError}`);
		const facts = new Map<string, ImageFacts>();
		const fresh = edits.filter((e) => e.kind !== 'clear' && !this.current.has(e.path)).map((e) => e.path);
		const labels = fresh.length ? await this.originalLabels(root, fresh) : new Map<string, ClassName | null>();
		for (const p of fresh) {
			if (!facts.has(p)) facts.set(p, { sha256: await sha256File(path.join(root, p)), originalLabel: labels.get(p) ?? null });
		}
		const stamp = {
			reviewer: await defaultReviewer(root, vscode.workspace.getConfiguration(SECTION).get<string>('reviewer', ''), { trusted: vscode.workspace.isTrusted }),
			updated: new Date().toISOString(),
		};
		const next = applyEdits(this.current, edits, (p) => facts.get(p)!, stamp);
		const paths = changedPaths(this.current, next);
		if (paths.length === 0) return;
		this.pushUndo(this.undoStack, paths);
		this.redoStack = [];
		this.current = next;
		this.changed.fire({ root, paths });
		this.schedule();
	}

	/**
	 * The label training reads for these images, as the CLI records it: from the engine's scan (class folders,
	 * metadata.csv, DICOM tags), scanned again when an image is new since. Folder names only if the scan fails.
	 */
	private async originalLabels(root: string, paths: readonly string[]): Promise<ReadonlyMap<string, ClassName | null>> {
		const labelsOf = this.labelsOf;
		if (labelsOf) {
			const scan = () => labelsOf(root).then((r) => new Map(Object.entries(r)));
			try {
				this.labels ??= scan();
				let labels = await this.labels;
				if (paths.some((p) => !labels.has(p))) labels = await (this.labels = scan());
				return labels;
			} catch (e) {
				this.labels = undefined;
				this.log.warn(`Annotations: could not read the dataset's labels (${(e as Error).message}); using folder names for original_label`);
			}
		}
		const aliases = await readLabelAliases(root).catch(() => ({}));
		return new Map(paths.map((p) => [p, folderLabel(p, aliases)]));
	}

	undo(): boolean {
		return this.step(this.undoStack, this.redoStack);
	}

	redo(): boolean {
		return this.step(this.redoStack, this.undoStack);
	}

	private step(from: UndoStep[], to: UndoStep[]): boolean {
		const s = from.pop();
		if (!s || !this.root || this.parseError) return false;
		this.pushUndo(to, [...s.keys()]);
		const next = new Map(this.current);
		for (const [p, a] of s) {
			if (a) next.set(p, a);
			else next.delete(p);
		}
		this.current = next;
		this.changed.fire({ root: this.root, paths: [...s.keys()] });
		this.schedule();
		return true;
	}

	private pushUndo(stack: UndoStep[], paths: string[]): void {
		stack.push(new Map(paths.map((p) => [p, this.current.get(p)])));
		if (stack.length > MAX_UNDO) stack.shift();
	}

	private schedule(): void {
		clearTimeout(this.timer);
		this.timer = setTimeout(() => void this.flush(), WRITE_DELAY_MS);
	}

	/** Writes pending edits now; resolves when they are on disk. */
	flush(): Promise<void> {
		clearTimeout(this.timer);
		this.timer = undefined;
		this.writing = this.writing.then(() => this.write()).catch((e: unknown) => this.fail(e));
		return this.writing;
	}

	private async write(): Promise<void> {
		const root = this.root;
		const base = this.base;
		if (!root || !base || this.parseError) return;
		const sent = this.current;
		if (changedPaths(base.set, sent).length === 0) return;
		const { snapshot, conflicts } = await writeAnnotations(root, base, sent);
		if (root !== this.root) return;
		this.base = snapshot;
		// Edits made while writing stay on top of what was written (and of anything merged in from disk).
		this.current = this.current === sent ? snapshot.set : mergeAnnotations(sent, this.current, snapshot.set).merged;
		if (conflicts.length) this.changed.fire({ root, paths: conflicts.map((c) => c.path) });
		this.log.info(`Annotations: wrote ${snapshot.set.size} row(s) to ${snapshot.file}`);
		this.wrote.fire(snapshot.file);
		if (conflicts.length) await this.resolve(conflicts);
	}

	/** Rereads the file after a change on disk and merges it with pending edits. */
	private async reload(): Promise<void> {
		await this.writing;
		const root = this.root;
		if (!root) return;
		let disk: AnnotationSnapshot;
		try {
			disk = await readAnnotations(root);
		} catch (e) {
			const wasOk = !this.parseError;
			this.parseError = e instanceof Error ? e.message : String(e);
			// The rows that parse are still shown (read-only: apply() refuses until the named line is fixed).
			if (e instanceof AnnotationParseError) {
				const lenient = await readAnnotationsLeniently(root).catch(() => undefined);
				if (lenient && root === this.root) this.current = lenient.set;
			}
			this.changed.fire({ root, paths: undefined });
			if (wasOk) this.fail(e);
			return;
		}
		if (root !== this.root) return;
		const hadError = this.parseError !== undefined;
		this.parseError = undefined;
		if (this.base && this.base.sha256 === disk.sha256 && !hadError) return; // our own write
		const { merged, conflicts } = this.base ? mergeAnnotations(this.base.set, this.current, disk.set) : { merged: disk.set, conflicts: [] as AnnotationConflict[] };
		this.base = disk;
		this.current = merged;
		this.changed.fire({ root, paths: undefined });
		if (changedPaths(disk.set, merged).length) this.schedule();
		if (conflicts.length) await this.resolve(conflicts);
	}

	/** Shows both versions of each conflicting row; the reviewer keeps theirs (already in place) or ours. */
	private async resolve(conflicts: AnnotationConflict[]): Promise<void> {
		const detail = conflicts
			.slice(0, 10)
			.map((c) => `${c.path}\n  yours:   ${describe(c.ours)}\n  on disk: ${describe(c.theirs)}`)
			.join('\n\n');
		const mine = 'Keep Mine';
		const theirs = 'Keep On Disk';
		const pick = await vscode.window.showWarningMessage(
			`${conflicts.length} annotation(s) were changed both here and in ${ANNOTATIONS_FILE} on disk.`,
			{ modal: true, detail: detail + (conflicts.length > 10 ? `\n\n… and ${conflicts.length - 10} more` : '') },
			mine,
			theirs,
		);
		if (pick !== mine || !this.root) return;
		const next = new Map(this.current);
		for (const c of conflicts) {
			if (c.ours) next.set(c.path, c.ours);
			else next.delete(c.path);
		}
		this.current = next;
		this.changed.fire({ root: this.root, paths: conflicts.map((c) => c.path) });
		await this.flush();
	}

	private fail(e: unknown): void {
		const message = e instanceof Error ? e.message : String(e);
		if (e instanceof AnnotationParseError) this.parseError = message;
		this.log.error(`Annotations: ${message}`);
		const hint = e instanceof AnnotationParseError ? ' Radiograph Review will not write to it until it is fixed.' : '';
		void vscode.window.showErrorMessage(`Radiograph Review: ${message}.${hint}`);
	}

	override dispose(): void {
		clearTimeout(this.timer);
		super.dispose();
	}
}

/** The class a path's folders name (the scanner's folder layout), for rows of images not yet annotated. */
function folderLabel(relPath: string, aliases: Record<string, ClassName>): ClassName | null {
	for (const d of relPath.split('/').slice(0, -1)) {
		const c = normaliseLabel(d, aliases);
		if (c) return c;
	}
	return null;
}

function describe(a: Annotation | undefined): string {
	if (!a) return '(removed)';
	const parts = [a.label ? `label ${a.label}` : 'label unchanged'];
	if (a.flags.length) parts.push(`flags ${a.flags.map(flagText).join('; ')}`);
	if (a.note) parts.push(`note "${a.note}"`);
	if (a.reviewed) parts.push('reviewed');
	return `${parts.join(', ')} (${a.reviewer || 'unknown'}, ${a.updated || 'no date'})`;
}
