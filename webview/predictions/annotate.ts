// Reviewing in the Predictions grid: annotation state on every tile, a filter by it, multi-select, keyboard
// actions on the focused (or selected) images, undo / redo through the host, and a review queue that steps
// through the shown images in the large view with progress. The host owns the rows; edits show at once here
// (optimistically) and the host's next message is the truth.
import { CLASS_NAMES, type ClassName } from '../../src/engine/types';
import type { AnnotationEdit, AnnotationView, AnnotationsMessage } from '../../src/protocol/annotations';
import { TestId } from '../../src/protocol/testIds';
import { h, icon, replaceChildren } from '../shared/dom';
import type { GridItem } from '../shared/logic';

/** Built-in flags, as the engine stores them (src/engine/annotations/format.ts). */
export const FLAG_CHOICES: ReadonlyArray<[string, string]> = [
	['exclude', 'exclude from training'],
	['not-frontal', 'not a frontal chest X-ray'],
	['duplicate', 'duplicate'],
	['poor-quality', 'poor quality'],
	['label-doubtful', 'label doubtful'],
];
const flagText = (f: string) => FLAG_CHOICES.find(([id]) => id === f)?.[1] ?? f;

export type AnnotationFilter = 'all' | 'relabelled' | 'flagged' | 'unreviewed' | 'reviewed' | 'noted';
export const ANNOTATION_FILTERS: ReadonlyArray<[AnnotationFilter, string]> = [
	['all', 'Any review state'],
	['relabelled', 'Relabelled'],
	['flagged', 'Flagged'],
	['noted', 'With note'],
	['unreviewed', 'Unreviewed'],
	['reviewed', 'Reviewed'],
];

export const KEYS: ReadonlyArray<[string, string]> = [
	['1 / 2 / 3, C / N / P', 'set the label (COVID, NORMAL, PNEUMONIA)'],
	['0', 'keep the original label (in the large view: fit the zoom)'],
	['F', 'flag with a reason…'],
	['X', 'flag: exclude from training'],
	['T', 'write a note…'],
	['R', 'mark reviewed / not reviewed'],
	['Arrows', 'move the focus (in the large view: previous / next)'],
	['Enter', 'open the large view'],
	['Escape', 'close the large view / clear the selection'],
	['Shift / Ctrl + click', 'select a range / toggle one'],
	['Ctrl + A', 'select all shown'],
	['Ctrl + Z, Ctrl + Shift + Z', 'undo, redo'],
	['?', 'this list'],
];

export interface AnnotatorHost {
	post(msg: { type: 'annotate'; edits: AnnotationEdit[] } | { type: 'undoAnnotation'; redo: boolean }): void;
	/** The filtered, sorted list the grid shows. */
	shown(): readonly GridItem[];
	/** Recompute the shown list and redraw (the filter or annotations changed). */
	refresh(): void;
	/** Redraw tiles only (selection changed). */
	redraw(): void;
	openDetail(index: number): void;
	notice(level: 'info' | 'warn' | 'error', message: string): void;
}

export class Annotator {
	readonly toolbar: HTMLElement;
	readonly help: HTMLElement;
	private rows = new Map<string, AnnotationView>();
	private disabled: string | undefined = 'Loading annotations…';
	private canUndo = false;
	private canRedo = false;
	/** Original (run / folder) labels by relPath, for optimistic edits. */
	private original = new Map<string, ClassName | null>();
	private readonly selection = new Set<string>();
	private anchor = -1;
	filter: AnnotationFilter = 'all';
	/** The review queue: relPaths frozen when it starts, so marking one reviewed does not shift the rest. */
	private queue: string[] | undefined;
	private readonly status = h('span', { class: 'annot-status muted', attrs: { 'aria-live': 'polite' } });
	private readonly undoButton: HTMLElement;
	private readonly redoButton: HTMLElement;
	private readonly filterSelect: HTMLElement & { value: string };
	private prompt: HTMLElement | undefined;

	constructor(private readonly host: AnnotatorHost) {
		this.filterSelect = h(
			'vscode-single-select',
			{ testid: TestId.AnnotationFilter, attrs: { 'aria-label': 'Review state' } },
			...ANNOTATION_FILTERS.map(([v, t]) => h('vscode-option', { attrs: { value: v } }, t)),
		);
		this.filterSelect.value = 'all';
		this.filterSelect.addEventListener('change', () => this.setFilter(this.filterSelect.value as AnnotationFilter));
		const button = (codicon: string, text: string, title: string, fn: () => void, testid?: string) => {
			const b = h('vscode-button', { testid, attrs: { secondary: true, title } }, icon(codicon), text ? ` ${text}` : '');
			b.addEventListener('click', fn);
			return b;
		};
		const labelSelect = h(
			'vscode-single-select',
			{ attrs: { 'aria-label': 'Set the label of the selected images' } },
			h('vscode-option', { attrs: { value: '' } }, 'Set label…'),
			...CLASS_NAMES.map((c, i) => h('vscode-option', { attrs: { value: c } }, `${i + 1} ${c}`)),
			h('vscode-option', { attrs: { value: 'original' } }, '0 keep original'),
		) as HTMLElement & { value: string };
		labelSelect.addEventListener('change', () => {
			const v = labelSelect.value;
			labelSelect.value = '';
			if (v) this.setLabel(this.targets(), v === 'original' ? null : (v as ClassName));
		});
		this.undoButton = button('discard', '', 'Undo (Ctrl+Z)', () => this.undo(false));
		this.redoButton = button('redo', '', 'Redo (Ctrl+Shift+Z)', () => this.undo(true));
		this.toolbar = h(
			'div',
			{ class: 'toolbar annot-bar', attrs: { role: 'toolbar', 'aria-label': 'Review' } },
			h('label', {}, h('span', { text: 'Review' }), this.filterSelect),
			button('checklist', 'Select all', 'Select all shown (Ctrl+A)', () => this.selectAll()),
			labelSelect,
			button('flag', 'Flag…', 'Flag the selected images (F)', () => void this.flagPrompt(this.targets())),
			button('note', 'Note…', 'Note on the selected images (T)', () => void this.notePrompt(this.targets())),
			button('check', 'Reviewed', 'Mark the selected images reviewed (R)', () => this.toggleReviewed(this.targets())),
			this.undoButton,
			this.redoButton,
			button('play', 'Review queue', 'Step through the shown images one at a time', () => this.startQueue(), TestId.ReviewQueueButton),
			button('keyboard', '', 'Keyboard shortcuts (?)', () => this.toggleHelp()),
			this.status,
		);
		this.help = h(
			'div',
			{ class: 'overlay annot-help', testid: TestId.AnnotationHelp, attrs: { role: 'dialog', 'aria-label': 'Keyboard shortcuts', tabindex: '-1' } },
			h(
				'div',
				{ class: 'card' },
				h('h2', { text: 'Keyboard' }),
				h('table', { class: 'data' }, h('tbody', {}, ...KEYS.map(([k, t]) => h('tr', {}, h('th', { class: 'mono', text: k }), h('td', { text: t }))))),
			),
		);
		this.help.hidden = true;
		this.help.addEventListener('click', () => this.toggleHelp());
		this.help.addEventListener('keydown', () => this.toggleHelp());
		this.sync();
	}

	// ── state from the host ──

	onMessage(msg: AnnotationsMessage): void {
		this.rows = new Map(Object.entries(msg.rows));
		this.disabled = msg.disabled;
		this.canUndo = msg.canUndo;
		this.canRedo = msg.canRedo;
		this.sync();
	}

	/** The run's items, remembered for their original labels. */
	setItems(items: readonly GridItem[]): void {
		this.original = new Map(items.map((i) => [i.relPath, i.label]));
		for (const p of [...this.selection]) if (!this.original.has(p)) this.selection.delete(p);
	}

	row(relPath: string): AnnotationView | undefined {
		return this.rows.get(relPath);
	}

	/** The item as reviewed: the corrected label replaces the run's. */
	effective(item: GridItem): GridItem {
		const a = this.rows.get(item.relPath);
		return a?.label && a.label !== item.label ? { ...item, label: a.label } : item;
	}

	matches(item: GridItem): boolean {
		if (this.filter === 'all') return true;
		const a = this.rows.get(item.relPath);
		switch (this.filter) {
			case 'relabelled':
				return !!a?.label;
			case 'flagged':
				return !!a?.flags.length;
			case 'noted':
				return !!a?.note;
			case 'unreviewed':
				return !a?.reviewed;
			case 'reviewed':
				return !!a?.reviewed;
		}
	}

	setFilter(f: AnnotationFilter): void {
		this.filter = f;
		this.filterSelect.value = f;
		this.host.refresh();
	}

	private sync(): void {
		const off = this.disabled !== undefined;
		this.toolbar.classList.toggle('is-disabled', off);
		this.undoButton.toggleAttribute('disabled', off || !this.canUndo);
		this.redoButton.toggleAttribute('disabled', off || !this.canRedo);
		this.status.textContent = off ? this.disabled! : this.selection.size > 1 ? `${this.selection.size} selected` : '';
	}

	// ── tiles ──

	/** Annotation badges, selection and the screen-reader label of one tile. */
	decorate(cell: HTMLElement, item: GridItem, baseLabel: string): void {
		const a = this.rows.get(item.relPath);
		let badges = cell.querySelector<HTMLElement>('.annot-badges');
		if (!badges) {
			badges = h('div', { class: 'annot-badges', testid: TestId.AnnotationBadges });
			cell.querySelector('.thumb-box')?.appendChild(badges);
		}
		const parts: HTMLElement[] = [];
		const words: string[] = [];
		if (a?.label) {
			parts.push(
				h(
					'span',
					{ class: 'annot relabelled', attrs: { title: `Relabelled from ${a.originalLabel ?? 'no label'} to ${a.label}` }, data: { state: 'relabelled' } },
					icon('edit'),
					` ${a.originalLabel?.[0] ?? '–'}→${a.label[0]}`,
				),
			);
			words.push(`relabelled from ${a.originalLabel ?? 'no label'} to ${a.label}`);
		}
		if (a?.flags.length) {
			const text = a.flags.map(flagText).join('; ');
			parts.push(h('span', { class: 'annot flagged', attrs: { title: `Flagged: ${text}` }, data: { state: 'flagged' } }, icon('flag')));
			words.push(`flagged: ${text}`);
		}
		if (a?.note) {
			parts.push(h('span', { class: 'annot noted', attrs: { title: `Note: ${a.note}` }, data: { state: 'noted' } }, icon('note')));
			words.push(`note: ${a.note}`);
		}
		if (a?.reviewed) {
			parts.push(h('span', { class: 'annot reviewed', attrs: { title: 'Reviewed' }, data: { state: 'reviewed' } }, icon('check')));
			words.push('reviewed');
		}
		replaceChildren(badges, ...parts);
		badges.hidden = parts.length === 0;
		const selected = this.selection.has(item.relPath);
		cell.classList.toggle('is-selected', selected);
		cell.setAttribute('aria-selected', String(selected));
		cell.setAttribute('aria-label', [baseLabel, ...words, selected ? 'selected' : ''].filter(Boolean).join(', '));
	}

	// ── selection and keys ──

	/** Shift / Ctrl / Cmd-click selects instead of opening; returns true when it did. */
	onClick(e: MouseEvent, index: number): boolean {
		const item = this.host.shown()[index];
		if (!item) return false;
		if (e.shiftKey && this.anchor >= 0) {
			const [a, b] = [Math.min(this.anchor, index), Math.max(this.anchor, index)];
			for (let i = a; i <= b; i++) this.selection.add(this.host.shown()[i].relPath);
		} else if (e.ctrlKey || e.metaKey) {
			if (!this.selection.delete(item.relPath)) this.selection.add(item.relPath);
			this.anchor = index;
		} else {
			this.selection.clear();
			this.anchor = index;
			this.sync();
			this.host.redraw();
			return false;
		}
		this.sync();
		this.host.redraw();
		return true;
	}

	selectAll(): void {
		for (const i of this.host.shown()) this.selection.add(i.relPath);
		this.sync();
		this.host.redraw();
	}

	/** The selection when the focused image is in it (or nothing is focused), else the focused image. */
	private targets(focused?: number): string[] {
		const item = focused !== undefined ? this.host.shown()[focused] : undefined;
		if (item && !this.selection.has(item.relPath)) return [item.relPath];
		return [...this.selection];
	}

	/** Keys on a grid tile or in the large view (`inDetail`); true when handled. */
	onKey(e: KeyboardEvent, index: number, inDetail = false): boolean {
		const ctrl = e.ctrlKey || e.metaKey;
		const k = e.key.toLowerCase();
		if (ctrl && k === 'z') return (this.undo(e.shiftKey), true);
		if (ctrl && k === 'y') return (this.undo(true), true);
		if (ctrl && k === 'a' && !inDetail) return (this.selectAll(), true);
		if (ctrl || e.altKey) return false;
		if (e.key === '?') return (this.toggleHelp(), true);
		if (e.key === 'Escape' && !inDetail && this.selection.size) {
			this.selection.clear();
			this.sync();
			this.host.redraw();
			return true;
		}
		const paths = inDetail ? [this.itemAt(index)?.relPath].filter((p): p is string => !!p) : this.targets(index);
		if (paths.length === 0) return false;
		const classKey = ['1', '2', '3'].indexOf(e.key);
		const initial = CLASS_NAMES.findIndex((c) => c[0].toLowerCase() === k);
		if (classKey >= 0 || initial >= 0) return (this.act(inDetail, () => this.setLabel(paths, CLASS_NAMES[classKey >= 0 ? classKey : initial])), true);
		switch (k) {
			case '0':
				// In the large view 0 fits the zoom.
				return inDetail ? false : (this.act(inDetail, () => this.setLabel(paths, null)), true);
			case 'x':
				return (this.act(inDetail, () => this.edit(paths.map((path) => ({ kind: 'flag', path, flag: 'exclude' })))), true);
			case 'f':
				return (void this.flagPrompt(paths).then((done) => done && this.afterQueueAction(inDetail)), true);
			case 't':
				return (void this.notePrompt(paths), true);
			case 'r':
				return (this.act(inDetail, () => this.toggleReviewed(paths)), true);
			default:
				return false;
		}
	}

	/** In the review queue an action also marks the image reviewed and moves on. */
	private act(inDetail: boolean, fn: () => void): void {
		fn();
		this.afterQueueAction(inDetail);
	}

	private afterQueueAction(inDetail: boolean): void {
		if (!inDetail || !this.queue) return;
		const i = this.detailIndex;
		const p = this.queue[i];
		if (p && !this.rows.get(p)?.reviewed) this.edit([{ kind: 'reviewed', path: p, reviewed: true }]);
		if (i + 1 < this.queue.length) this.host.openDetail(i + 1);
	}

	// ── edits ──

	private edit(edits: AnnotationEdit[]): void {
		if (this.disabled) return this.host.notice('warn', this.disabled);
		if (edits.length === 0) return this.host.notice('info', 'Select images first (click, Shift/Ctrl-click or Ctrl+A), or focus one.');
		for (const e of edits) this.optimistic(e);
		this.host.post({ type: 'annotate', edits });
		this.canUndo = true;
		this.sync();
		this.host.refresh();
	}

	/** Shows an edit at once; the host's answer replaces it. */
	private optimistic(e: AnnotationEdit): void {
		const original = this.rows.get(e.path)?.originalLabel ?? this.original.get(e.path) ?? null;
		const a: AnnotationView = { ...(this.rows.get(e.path) ?? { label: null, originalLabel: original, flags: [], note: '', reviewed: false }) };
		if (e.kind === 'label') a.label = e.label === a.originalLabel ? null : e.label;
		else if (e.kind === 'flag') a.flags = [...new Set([...a.flags, e.flag])];
		else if (e.kind === 'unflag') a.flags = a.flags.filter((f) => f !== e.flag);
		else if (e.kind === 'note') a.note = e.note.trim();
		else if (e.kind === 'reviewed') a.reviewed = e.reviewed;
		if (e.kind === 'clear' || (!a.label && !a.flags.length && !a.note && !a.reviewed)) this.rows.delete(e.path);
		else this.rows.set(e.path, a);
	}

	private setLabel(paths: string[], label: ClassName | null): void {
		this.edit(paths.map((path) => ({ kind: 'label', path, label })));
	}

	private toggleReviewed(paths: string[]): void {
		const to = !paths.every((p) => this.rows.get(p)?.reviewed);
		this.edit(paths.map((path) => ({ kind: 'reviewed', path, reviewed: to })));
	}

	private undo(redo: boolean): void {
		if (this.disabled) return;
		this.host.post({ type: 'undoAnnotation', redo });
	}

	/** A small dialog: a reason from the built-ins or free text. Resolves true when something was flagged. */
	private async flagPrompt(paths: string[]): Promise<boolean> {
		if (!paths.length) return (this.edit([]), false);
		const reason = await this.ask(`Flag ${paths.length === 1 ? 'this image' : `${paths.length} images`}`, 'Other reason (Enter)', '', FLAG_CHOICES);
		if (!reason) return false;
		this.edit(paths.map((path) => ({ kind: 'flag', path, flag: reason })));
		return true;
	}

	private async notePrompt(paths: string[]): Promise<void> {
		if (!paths.length) return this.edit([]);
		const current = paths.length === 1 ? (this.rows.get(paths[0])?.note ?? '') : '';
		const note = await this.ask(`Note on ${paths.length === 1 ? 'this image' : `${paths.length} images`} (empty removes it)`, 'Note (Enter saves)', current, [], true);
		if (note !== undefined) this.edit(paths.map((path) => ({ kind: 'note', path, note })));
	}

	private ask(title: string, placeholder: string, value: string, choices: ReadonlyArray<[string, string]>, allowEmpty = false): Promise<string | undefined> {
		this.prompt?.remove();
		return new Promise((resolve) => {
			const back = document.activeElement as HTMLElement | null;
			const input = h('input', { class: 'annot-input', testid: TestId.AnnotationInput, attrs: { type: 'text', placeholder, 'aria-label': placeholder, maxlength: 2000 } });
			input.value = value;
			const done = (v: string | undefined) => {
				dialog.remove();
				this.prompt = undefined;
				back?.focus();
				resolve(v);
			};
			const buttons = choices.map(([id, text]) => {
				const b = h('vscode-button', { attrs: { secondary: true }, data: { flag: id } }, text);
				b.addEventListener('click', () => done(id));
				return b;
			});
			const dialog = h(
				'div',
				{ class: 'overlay annot-prompt', attrs: { role: 'dialog', 'aria-label': title } },
				h('div', { class: 'card' }, h('h2', { text: title }), buttons.length ? h('div', { class: 'toolbar' }, ...buttons) : null, input),
			);
			dialog.addEventListener('keydown', (e) => {
				e.stopPropagation();
				if (e.key === 'Escape') done(undefined);
				else if (e.key === 'Enter' && e.target === input && (allowEmpty || input.value.trim())) done(input.value);
			});
			dialog.addEventListener('click', (e) => e.target === dialog && done(undefined));
			document.body.appendChild(dialog);
			this.prompt = dialog;
			input.focus();
		});
	}

	private toggleHelp(): void {
		this.help.hidden = !this.help.hidden;
		if (!this.help.hidden) this.help.focus();
	}

	// ── review queue ──

	private detailIndex = -1;

	/** Starts stepping through the shown images, at the first unreviewed one. */
	startQueue(): void {
		const shown = this.host.shown();
		if (shown.length === 0) return this.host.notice('info', 'No image is shown: change the filters.');
		this.queue = shown.map((i) => i.relPath);
		const first = this.queue.findIndex((p) => !this.rows.get(p)?.reviewed);
		this.host.openDetail(first >= 0 ? first : 0);
	}

	get inQueue(): boolean {
		return this.queue !== undefined;
	}

	endQueue(): void {
		this.queue = undefined;
	}

	/** The item at a large-view index: from the frozen queue while reviewing, else the shown list. */
	itemAt(index: number): GridItem | undefined {
		if (!this.queue) return this.host.shown()[index];
		const p = this.queue[index];
		const item = p === undefined ? undefined : this.byPath.get(p);
		return item && this.effective(item);
	}

	/** Every item by relPath (the queue may hold images the current filter no longer shows). */
	byPath = new Map<string, GridItem>();

	count(): number {
		return this.queue?.length ?? this.host.shown().length;
	}

	/** The large view's review block: state, quick actions and the queue's progress. */
	detailBlock(item: GridItem, index: number): HTMLElement {
		this.detailIndex = index;
		const a = this.rows.get(item.relPath);
		const lines: HTMLElement[] = [];
		if (this.queue) {
			const reviewed = this.queue.filter((p) => this.rows.get(p)?.reviewed).length;
			lines.push(h('div', { class: 'detail-line review-progress', testid: TestId.ReviewProgress, text: `${reviewed} of ${this.queue.length} reviewed` }));
		}
		if (a?.label) lines.push(h('div', { class: 'detail-line' }, icon('edit'), ` Relabelled from ${a.originalLabel ?? 'no label'} to `, h('strong', { text: a.label })));
		if (a?.flags.length) lines.push(h('div', { class: 'detail-line' }, icon('flag'), ` Flagged: ${a.flags.map(flagText).join('; ')}`));
		if (a?.note) lines.push(h('div', { class: 'detail-line' }, icon('note'), ` ${a.note}`));
		lines.push(h('div', { class: 'detail-line muted', text: a?.reviewed ? 'Reviewed' : 'Not reviewed' }));
		const labelButtons = CLASS_NAMES.map((c, i) => {
			const b = h('vscode-button', { attrs: { secondary: c !== (a?.label ?? item.label), title: `Label ${c} (${i + 1})` } }, `${i + 1} ${c}`);
			b.addEventListener('click', () => this.act(true, () => this.setLabel([item.relPath], c)));
			return b;
		});
		const flag = h('vscode-button', { attrs: { secondary: true, title: 'Flag (F)' } }, icon('flag'), ' Flag…');
		flag.addEventListener('click', () => void this.flagPrompt([item.relPath]).then((done) => done && this.afterQueueAction(true)));
		const note = h('vscode-button', { attrs: { secondary: true, title: 'Note (T)' } }, icon('note'), ' Note…');
		note.addEventListener('click', () => void this.notePrompt([item.relPath]));
		const rev = h('vscode-button', { attrs: { secondary: true, title: 'Reviewed (R)' } }, icon('check'), a?.reviewed ? ' Not reviewed' : ' Reviewed');
		rev.addEventListener('click', () => this.act(true, () => this.toggleReviewed([item.relPath])));
		return h(
			'div',
			{ class: 'detail-review' },
			...lines,
			h('div', { class: 'toolbar' }, ...labelButtons),
			h('div', { class: 'toolbar' }, flag, note, rev),
			h('div', { class: 'muted hint', text: 'Keys: 1/2/3 label · F flag · X exclude · T note · R reviewed · ? all keys' }),
		);
	}
}
