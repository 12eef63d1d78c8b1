// What a reviewing panel needs from the annotation store: the rows as a message, edits checked against the
// images it shows (and the dataset it shows them from), undo / redo, and a flush when the panel closes.
import * as path from 'node:path';
import type * as vscode from 'vscode';
import type { Annotation } from '../engine/annotations/format';
import type { AnnotateMessage, AnnotationView, AnnotationsMessage, UndoAnnotationMessage } from '../protocol/annotations';
import type { AnnotationStore } from '../util/annotationStore';
import { UserError } from '../util/workspace';

/** Above this many changed rows the whole set is sent. */
const MAX_PARTIAL = 2000;

export class AnnotationBridge {
	constructor(
		private readonly store: AnnotationStore,
		/** The root the panel's relPaths are relative to, and the relPaths it shows (the only ones it may edit). */
		private readonly shown: () => { root: string; paths: ReadonlySet<string> } | undefined,
	) {}

	/** Subscribe `send` to changes; the returned disposable also flushes pending edits (panel closed). */
	watch(send: (msg: AnnotationsMessage) => void): vscode.Disposable {
		const sub = this.store.onDidChange((e) => void this.message(e.paths).then(send));
		return { dispose: () => (sub.dispose(), void this.store.flush()) };
	}

	/**
	 * The rows for the shown root, or why annotating is off. With `paths` (what an edit changed) only their rows:
	 * a keystroke on 5,000 annotated images then sends one row, not all of them.
	 */
	async message(paths?: readonly string[]): Promise<AnnotationsMessage> {
		const root = await this.store.open();
		const shown = this.shown();
		const base = { type: 'annotations' as const, rows: {} as Record<string, AnnotationView>, canUndo: this.store.canUndo, canRedo: this.store.canRedo };
		if (!root) return { ...base, disabled: 'Set a dataset folder to annotate: annotations live in <dataset>/radreview-annotations.csv.' };
		if (shown && path.resolve(shown.root) !== path.resolve(root)) return { ...base, disabled: `These images are not in the dataset folder (${root}); annotations are kept there.` };
		const view = (a: Annotation): AnnotationView => ({ label: a.label, originalLabel: a.originalLabel, flags: a.flags, note: a.note, reviewed: a.reviewed });
		if (paths && paths.length <= MAX_PARTIAL && !this.store.error) {
			for (const p of paths) {
				const a = this.store.get(p);
				if (a) base.rows[p] = view(a);
			}
			return { ...base, paths: [...paths] };
		}
		for (const [p, a] of this.store.all()) base.rows[p] = view(a);
		return this.store.error ? { ...base, disabled: this.store.error } : base;
	}

	async handle(msg: AnnotateMessage | UndoAnnotationMessage): Promise<void> {
		if (msg.type === 'undoAnnotation') {
			if (msg.redo) this.store.redo();
			else this.store.undo();
			return;
		}
		const shown = this.shown();
		const root = await this.store.open();
		if (!shown || !root || path.resolve(shown.root) !== path.resolve(root)) throw new UserError('These images are not in the dataset folder: annotations are kept there.');
		const stray = msg.edits.find((e) => !shown.paths.has(e.path));
		if (stray) throw new UserError(`'${stray.path}' is not one of the shown images.`);
		await this.store.apply(msg.edits);
	}
}
