// What a reviewing panel needs from the annotation store: the rows as a message, edits checked against the
// images it shows (and the dataset it shows them from), undo / redo, and a flush when the panel closes.
import * as path from 'node:path';
import type * as vscode from 'vscode';
import type { AnnotateMessage, AnnotationView, AnnotationsMessage, UndoAnnotationMessage } from '../protocol/annotations';
import type { AnnotationStore } from '../util/annotationStore';
import { UserError } from '../util/workspace';

export class AnnotationBridge {
	constructor(
		private readonly store: AnnotationStore,
		/** The root the panel's relPaths are relative to, and the relPaths it shows (the only ones it may edit). */
		private readonly shown: () => { root: string; paths: ReadonlySet<string> } | undefined,
	) {}

	/** Subscribe `send` to changes; the returned disposable also flushes pending edits (panel closed). */
	watch(send: (msg: AnnotationsMessage) => void): vscode.Disposable {
		const sub = this.store.onDidChange(() => void this.message().then(send));
		return { dispose: () => (sub.dispose(), void this.store.flush()) };
	}

	/** The rows for the shown root, or why annotating is off. */
	async message(): Promise<AnnotationsMessage> {
		const root = await this.store.open();
		const shown = this.shown();
		const base = { type: 'annotations' as const, rows: {} as Record<string, AnnotationView>, canUndo: this.store.canUndo, canRedo: this.store.canRedo };
		if (!root) return { ...base, disabled: 'Set a dataset folder to annotate: annotations live in <dataset>/radreview-annotations.csv.' };
		if (shown && path.resolve(shown.root) !== path.resolve(root)) return { ...base, disabled: `These images are not in the dataset folder (${root}); annotations are kept there.` };
		for (const [p, a] of this.store.all()) base.rows[p] = { label: a.label, originalLabel: a.originalLabel, flags: a.flags, note: a.note, reviewed: a.reviewed };
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
