// Reviewing on the Dataset panel's thumbnails, with the grid's editing (webview/shared/annotations.ts): state
// badges, Shift / Ctrl-click selection and "select all shown", bulk actions in a toolbar (label, flag with a
// reason, note, reviewed, undo / redo) and the same keys on a focused thumbnail.
import type { AnnotationsMessage } from '../../src/protocol/annotations';
import type { DatasetImageView } from '../../src/protocol/dataset';
import { TestId } from '../../src/protocol/testIds';
import { AnnotationEditor, type AnnotationPost } from '../shared/annotations';
import { h, replaceChildren } from '../shared/dom';

export const THUMB_KEYS = 'Shift/Ctrl-click select · Ctrl+A all shown · 1/2/3 or C/N/P label · 0 original · F flag · X exclude · T note · R reviewed · Ctrl+Z undo';

export class ThumbAnnotations {
	private readonly editor: AnnotationEditor;
	private byPath = new Map<string, DatasetImageView>();
	readonly toolbar: HTMLElement;

	constructor(
		post: (m: AnnotationPost) => void,
		notice: (level: 'info' | 'warn' | 'error', message: string) => void,
		/** The thumbnail buttons on screen, in order. */
		private readonly buttons: () => HTMLElement[],
	) {
		this.editor = new AnnotationEditor({
			post,
			shown: () => this.shown(),
			changed: (paths) => this.refill(paths),
			selected: () => this.refillSelection(),
			notice,
		});
		this.toolbar = h(
			'div',
			{ class: 'toolbar annot-bar', attrs: { role: 'toolbar', 'aria-label': 'Review the shown thumbnails' } },
			...this.editor.controls,
			h('span', { class: 'muted hint', text: THUMB_KEYS }),
		);
		this.editor.toolbar = this.toolbar;
	}

	onMessage(msg: AnnotationsMessage): void {
		this.editor.onMessage(msg);
	}

	setItems(images: readonly DatasetImageView[]): void {
		this.byPath = new Map(images.map((i) => [i.relPath, i]));
		this.editor.setItems(images);
	}

	private shown(): DatasetImageView[] {
		return this.buttons().flatMap((b) => this.byPath.get(b.dataset.relPath ?? '') ?? []);
	}

	/** The state line of one thumbnail (filled now and whenever its annotation changes). */
	badge(relPath: string): HTMLElement {
		const el = h('span', { class: 'thumb-annot', testid: TestId.AnnotationBadges, data: { relPath } });
		const { parts } = this.editor.badges(relPath, false);
		replaceChildren(el, ...parts);
		el.hidden = parts.length === 0;
		return el;
	}

	/** Selection and the screen-reader label of a thumbnail button (`base` names the image). */
	decorate(button: HTMLElement, base: string): void {
		const rel = button.dataset.relPath ?? '';
		const selected = this.editor.isSelected(rel);
		button.classList.toggle('is-selected', selected);
		button.setAttribute('aria-selected', String(selected));
		button.setAttribute('aria-label', [base, ...this.editor.badges(rel, false).words, selected ? 'selected' : ''].filter(Boolean).join(', '));
	}

	private refill(paths: readonly string[]): void {
		const changed = new Set(paths);
		for (const b of this.buttons()) {
			const rel = b.dataset.relPath ?? '';
			if (!changed.has(rel)) continue;
			b.querySelector('.thumb-annot')?.replaceWith(this.badge(rel));
			this.decorate(b, b.dataset.base ?? rel);
		}
	}

	private refillSelection(): void {
		for (const b of this.buttons()) this.decorate(b, b.dataset.base ?? '');
	}

	/** Shift / Ctrl / Cmd-click selects; true when it did (the thumbnail then does not open). */
	onClick(e: MouseEvent, relPath: string): boolean {
		return this.editor.onClick(
			e,
			this.shown().findIndex((i) => i.relPath === relPath),
		);
	}

	/** A key on a focused thumbnail; true when handled. */
	onKey(e: KeyboardEvent, relPath: string): boolean {
		if (this.editor.undoKey(e)) return true;
		if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === 'a') return (this.editor.selectAll(), true);
		if (e.key === 'Escape') return this.editor.clearSelection();
		return this.editor.editKey(e, this.editor.targets(relPath));
	}
}
