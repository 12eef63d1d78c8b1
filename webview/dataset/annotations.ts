// Annotation state on the Dataset panel's thumbnails, and the review keys on a focused thumbnail: 1/2/3 or C/N/P
// set the label, 0 keeps the original, X flags "exclude from training", R marks reviewed, Ctrl+Z / Ctrl+Shift+Z
// undo and redo. Flags with other reasons and notes: the Predictions grid, the Explorer menu or the CLI.
import { CLASS_NAMES } from '../../src/engine/types';
import type { AnnotationEdit, AnnotationView, AnnotationsMessage } from '../../src/protocol/annotations';
import { TestId } from '../../src/protocol/testIds';
import { h, icon, replaceChildren } from '../shared/dom';

export class ThumbAnnotations {
	private rows = new Map<string, AnnotationView>();
	private disabled: string | undefined;

	constructor(
		private readonly post: (m: { type: 'annotate'; edits: AnnotationEdit[] } | { type: 'undoAnnotation'; redo: boolean }) => void,
		private readonly notice: (message: string) => void,
	) {}

	onMessage(msg: AnnotationsMessage): void {
		this.rows = new Map(Object.entries(msg.rows));
		this.disabled = msg.disabled;
		for (const el of document.querySelectorAll<HTMLElement>('.thumb-annot')) this.fill(el);
	}

	/** The state line of one thumbnail (filled now and whenever the annotations change). */
	badge(relPath: string): HTMLElement {
		const el = h('span', { class: 'thumb-annot', testid: TestId.AnnotationBadges, data: { relPath } });
		this.fill(el);
		return el;
	}

	/** Words for the thumbnail's screen-reader label. */
	describe(relPath: string): string {
		const a = this.rows.get(relPath);
		if (!a) return '';
		return [a.label ? `relabelled ${a.originalLabel ?? 'unlabelled'} to ${a.label}` : '', a.flags.length ? `flagged ${a.flags.join(', ')}` : '', a.note ? 'note' : '', a.reviewed ? 'reviewed' : '']
			.filter(Boolean)
			.join(', ');
	}

	private fill(el: HTMLElement): void {
		const a = this.rows.get(el.dataset.relPath ?? '');
		const parts: Array<HTMLElement | string> = [];
		if (a?.label)
			parts.push(h('span', { class: 'annot relabelled', data: { state: 'relabelled' }, attrs: { title: `Relabelled from ${a.originalLabel ?? 'no label'}` } }, icon('edit'), ` ${a.label}`));
		if (a?.flags.length) parts.push(h('span', { class: 'annot flagged', data: { state: 'flagged' }, attrs: { title: `Flagged: ${a.flags.join('; ')}` } }, icon('flag')));
		if (a?.note) parts.push(h('span', { class: 'annot noted', data: { state: 'noted' }, attrs: { title: a.note } }, icon('note')));
		if (a?.reviewed) parts.push(h('span', { class: 'annot reviewed', data: { state: 'reviewed' }, attrs: { title: 'Reviewed' } }, icon('check')));
		replaceChildren(el, ...parts);
		el.hidden = parts.length === 0;
	}

	/** A key on a focused thumbnail; true when handled. */
	onKey(e: KeyboardEvent, relPath: string): boolean {
		const k = e.key.toLowerCase();
		const ctrl = e.ctrlKey || e.metaKey;
		const send = (edits: AnnotationEdit[]) => (this.disabled ? this.notice(this.disabled) : this.post({ type: 'annotate', edits }));
		if (ctrl && (k === 'z' || k === 'y')) {
			this.post({ type: 'undoAnnotation', redo: k === 'y' || e.shiftKey });
			return true;
		}
		if (ctrl || e.altKey) return false;
		const n = ['1', '2', '3'].indexOf(e.key);
		const initial = CLASS_NAMES.findIndex((c) => c[0].toLowerCase() === k);
		const cls = n >= 0 ? CLASS_NAMES[n] : initial >= 0 ? CLASS_NAMES[initial] : undefined;
		if (cls) send([{ kind: 'label', path: relPath, label: cls }]);
		else if (k === '0') send([{ kind: 'label', path: relPath, label: null }]);
		else if (k === 'x') send([{ kind: 'flag', path: relPath, flag: 'exclude' }]);
		else if (k === 'r') send([{ kind: 'reviewed', path: relPath, reviewed: !this.rows.get(relPath)?.reviewed }]);
		else return false;
		return true;
	}
}
