// Annotation editing shared by the panels that review images (the Predictions grid and the Dataset thumbnails):
// the rows from the host, the selection (Shift / Ctrl-click, select all shown), the edits with their optimistic
// display, the flag and note dialogs, the review keys, the state badges and the toolbar's bulk actions. The host
// owns the rows: edits show at once here and the host's next message is the truth.
import { CLASS_NAMES, type ClassName } from '../../src/engine/types';
import type { AnnotationEdit, AnnotationView, AnnotationsMessage } from '../../src/protocol/annotations';
import { TestId } from '../../src/protocol/testIds';
import { h, icon } from './dom';

/** Built-in flags, as the engine stores them (src/engine/annotations/format.ts). */
export const FLAG_CHOICES: ReadonlyArray<[string, string]> = [
	['exclude', 'exclude from training'],
	['not-frontal', 'not a frontal chest X-ray'],
	['duplicate', 'duplicate'],
	['poor-quality', 'poor quality'],
	['label-doubtful', 'label doubtful'],
];
export const flagText = (f: string): string => FLAG_CHOICES.find(([id]) => id === f)?.[1] ?? f;

/** What a panel shows of an image: enough to edit it. */
export interface Reviewable {
	relPath: string;
	label: ClassName | null;
}

export type AnnotationPost = { type: 'annotate'; edits: AnnotationEdit[] } | { type: 'undoAnnotation'; redo: boolean };

export interface ReviewHost {
	post(msg: AnnotationPost): void;
	/** The images on screen, in their order (ranges and "select all shown" use it). */
	shown(): readonly Reviewable[];
	/** The rows of these paths changed (an edit shown at once, or the host's answer differing from it). */
	changed(paths: readonly string[]): void;
	/** The selection changed. */
	selected(): void;
	notice(level: 'info' | 'warn' | 'error', message: string): void;
}

const sameRow = (a: AnnotationView | undefined, b: AnnotationView | undefined): boolean =>
	a === b ||
	(!!a &&
		!!b &&
		a.label === b.label &&
		a.originalLabel === b.originalLabel &&
		a.note === b.note &&
		a.reviewed === b.reviewed &&
		a.flags.length === b.flags.length &&
		a.flags.every((f, i) => f === b.flags[i]));

export class AnnotationEditor {
	private rows = new Map<string, AnnotationView>();
	disabled: string | undefined = 'Loading annotations…';
	private canUndo = false;
	private canRedo = false;
	/** Original (run / folder) labels by relPath, for optimistic edits. */
	private original = new Map<string, ClassName | null>();
	private readonly selection = new Set<string>();
	private anchor = -1;
	private prompt: HTMLElement | undefined;
	private readonly status = h('span', { class: 'annot-status muted', attrs: { 'aria-live': 'polite' } });
	private readonly undoButton: HTMLElement;
	private readonly redoButton: HTMLElement;
	/** Select all, set label, flag, note, reviewed, undo, redo and the status: the bulk actions of a toolbar. */
	readonly controls: HTMLElement[];
	/** Where the controls are: dimmed while annotating is off. */
	toolbar: HTMLElement | undefined;

	constructor(private readonly host: ReviewHost) {
		const button = (codicon: string, text: string, title: string, fn: () => void, testid?: string) => {
			const b = h('vscode-button', { testid, attrs: { secondary: true, title } }, icon(codicon), text ? ` ${text}` : '');
			b.addEventListener('click', fn);
			return b;
		};
		const labelSelect = h(
			'vscode-single-select',
			{ testid: TestId.AnnotationLabelSelect, attrs: { 'aria-label': 'Set the label of the selected images' } },
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
		this.controls = [
			button('checklist', 'Select all', 'Select all shown (Ctrl+A)', () => this.selectAll(), TestId.AnnotationSelectAll),
			labelSelect,
			button('flag', 'Flag…', 'Flag the selected images (F)', () => void this.flagPrompt(this.targets()), TestId.AnnotationFlagButton),
			button('note', 'Note…', 'Note on the selected images (T)', () => void this.notePrompt(this.targets())),
			button('check', 'Reviewed', 'Mark the selected images reviewed (R)', () => this.toggleReviewed(this.targets())),
			this.undoButton,
			this.redoButton,
			this.status,
		];
		this.sync();
	}

	// ── state from the host ──

	/** Takes the host's rows (all, or those of `paths`); tells the panel which paths differ from what it showed. */
	onMessage(msg: AnnotationsMessage): void {
		const changed: string[] = [];
		if (msg.paths) {
			for (const p of msg.paths) {
				const a = Object.hasOwn(msg.rows, p) ? msg.rows[p] : undefined;
				if (sameRow(a, this.rows.get(p))) continue;
				changed.push(p);
				if (a) this.rows.set(p, a);
				else this.rows.delete(p);
			}
		} else {
			const next = new Map(Object.entries(msg.rows));
			for (const [p, a] of next) if (!sameRow(a, this.rows.get(p))) changed.push(p);
			for (const p of this.rows.keys()) if (!next.has(p)) changed.push(p);
			this.rows = next;
		}
		this.disabled = msg.disabled;
		this.canUndo = msg.canUndo;
		this.canRedo = msg.canRedo;
		this.sync();
		if (changed.length) this.host.changed(changed);
	}

	/** The panel's images, remembered for their original labels; selected images no longer shown are dropped. */
	setItems(items: readonly Reviewable[]): void {
		this.original = new Map(items.map((i) => [i.relPath, i.label]));
		for (const p of [...this.selection]) if (!this.original.has(p)) this.selection.delete(p);
		this.sync();
	}

	row(relPath: string): AnnotationView | undefined {
		return this.rows.get(relPath);
	}

	isSelected(relPath: string): boolean {
		return this.selection.has(relPath);
	}

	private sync(): void {
		const off = this.disabled !== undefined;
		this.toolbar?.classList.toggle('is-disabled', off);
		this.undoButton.toggleAttribute('disabled', off || !this.canUndo);
		this.redoButton.toggleAttribute('disabled', off || !this.canRedo);
		this.status.textContent = off ? this.disabled! : this.selection.size > 1 ? `${this.selection.size} selected` : '';
	}

	// ── badges ──

	/** The state badges of one image and the words for its screen-reader label. */
	badges(relPath: string, short: boolean): { parts: HTMLElement[]; words: string[] } {
		const a = this.rows.get(relPath);
		const parts: HTMLElement[] = [];
		const words: string[] = [];
		if (!a) return { parts, words };
		if (a.label) {
			const from = a.originalLabel ?? 'no label';
			const text = short ? ` ${a.originalLabel?.[0] ?? '–'}→${a.label[0]}` : ` ${a.label}`;
			parts.push(h('span', { class: 'annot relabelled', attrs: { title: `Relabelled from ${from} to ${a.label}` }, data: { state: 'relabelled' } }, icon('edit'), text));
			words.push(`relabelled from ${from} to ${a.label}`);
		}
		if (a.flags.length) {
			const text = a.flags.map(flagText).join('; ');
			parts.push(h('span', { class: 'annot flagged', attrs: { title: `Flagged: ${text}` }, data: { state: 'flagged', flags: a.flags.join(',') } }, icon('flag')));
			words.push(`flagged: ${text}`);
		}
		if (a.note) {
			parts.push(h('span', { class: 'annot noted', attrs: { title: `Note: ${a.note}` }, data: { state: 'noted' } }, icon('note')));
			words.push(`note: ${a.note}`);
		}
		if (a.reviewed) {
			parts.push(h('span', { class: 'annot reviewed', attrs: { title: 'Reviewed' }, data: { state: 'reviewed' } }, icon('check')));
			words.push('reviewed');
		}
		return { parts, words };
	}

	// ── selection ──

	/** Shift-click selects a range from the last click, Ctrl / Cmd-click toggles one; true when it selected. */
	onClick(e: MouseEvent, index: number): boolean {
		const shown = this.host.shown();
		const item = shown[index];
		if (!item) return false;
		if (e.shiftKey && this.anchor >= 0) {
			const [a, b] = [Math.min(this.anchor, index), Math.max(this.anchor, index)];
			for (let i = a; i <= b && i < shown.length; i++) this.selection.add(shown[i].relPath);
		} else if (e.ctrlKey || e.metaKey) {
			if (!this.selection.delete(item.relPath)) this.selection.add(item.relPath);
			this.anchor = index;
		} else {
			this.anchor = index;
			if (this.selection.size) this.clearSelection();
			return false;
		}
		this.sync();
		this.host.selected();
		return true;
	}

	selectAll(): void {
		for (const i of this.host.shown()) this.selection.add(i.relPath);
		this.sync();
		this.host.selected();
	}

	/** True when something was selected. */
	clearSelection(): boolean {
		if (this.selection.size === 0) return false;
		this.selection.clear();
		this.sync();
		this.host.selected();
		return true;
	}

	/** The selection when the focused image is in it (or nothing is focused), else the focused image. */
	targets(focused?: string): string[] {
		if (focused !== undefined && !this.selection.has(focused)) return [focused];
		return [...this.selection];
	}

	// ── keys ──

	/**
	 * The review keys on `paths`: 1/2/3 or a class's initial set the label, 0 keeps the original, X flags
	 * "exclude", F flags with a reason, T writes a note, R toggles reviewed. `after` runs once a key acted
	 * (the review queue moves on). True when the key was one of them.
	 */
	editKey(e: KeyboardEvent, paths: string[], after: () => void = () => undefined): boolean {
		if (e.ctrlKey || e.metaKey || e.altKey) return false;
		const k = e.key.toLowerCase();
		const classKey = ['1', '2', '3'].indexOf(e.key);
		const initial = CLASS_NAMES.findIndex((c) => c[0].toLowerCase() === k);
		if (classKey >= 0 || initial >= 0) this.setLabel(paths, CLASS_NAMES[classKey >= 0 ? classKey : initial]);
		else if (k === '0') this.setLabel(paths, null);
		else if (k === 'x') this.edit(paths.map((path) => ({ kind: 'flag', path, flag: 'exclude' })));
		else if (k === 'f') return (void this.flagPrompt(paths).then((done) => done && after()), true);
		else if (k === 't') return (void this.notePrompt(paths), true);
		else if (k === 'r') this.toggleReviewed(paths);
		else return false;
		after();
		return true;
	}

	/** Ctrl+Z / Ctrl+Y / Ctrl+Shift+Z; true when handled. */
	undoKey(e: KeyboardEvent): boolean {
		if (!(e.ctrlKey || e.metaKey)) return false;
		const k = e.key.toLowerCase();
		if (k === 'z') this.undo(e.shiftKey);
		else if (k === 'y') this.undo(true);
		else return false;
		return true;
	}

	// ── edits ──

	edit(edits: AnnotationEdit[]): void {
		if (this.disabled) return this.host.notice('warn', this.disabled);
		if (edits.length === 0) return this.host.notice('info', 'Select images first (click, Shift/Ctrl-click or Ctrl+A), or focus one.');
		for (const e of edits) this.optimistic(e);
		this.host.post({ type: 'annotate', edits });
		this.canUndo = true;
		this.sync();
		this.host.changed([...new Set(edits.map((e) => e.path))]);
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

	setLabel(paths: string[], label: ClassName | null): void {
		this.edit(paths.map((path) => ({ kind: 'label', path, label })));
	}

	toggleReviewed(paths: string[]): void {
		const to = !paths.every((p) => this.rows.get(p)?.reviewed);
		this.edit(paths.map((path) => ({ kind: 'reviewed', path, reviewed: to })));
	}

	undo(redo: boolean): void {
		if (this.disabled) return;
		this.host.post({ type: 'undoAnnotation', redo });
	}

	/** A small dialog: a reason from the built-ins or free text. Resolves true when something was flagged. */
	async flagPrompt(paths: string[]): Promise<boolean> {
		if (!paths.length) return (this.edit([]), false);
		const reason = await this.ask(`Flag ${paths.length === 1 ? 'this image' : `${paths.length} images`}`, 'Other reason (Enter)', '', FLAG_CHOICES);
		if (!reason) return false;
		this.edit(paths.map((path) => ({ kind: 'flag', path, flag: reason.trim() })));
		return true;
	}

	async notePrompt(paths: string[]): Promise<void> {
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
				{ class: 'overlay annot-prompt', testid: TestId.AnnotationPrompt, attrs: { role: 'dialog', 'aria-label': title } },
				h('div', { class: 'card' }, h('h2', { text: title }), buttons.length ? h('div', { class: 'toolbar' }, ...buttons) : null, input),
			);
			dialog.addEventListener('keydown', (e) => {
				e.stopPropagation();
				if (e.key !== 'Escape' && !(e.key === 'Enter' && e.target === input)) return;
				// Focus goes back to the thumbnail now: without this its <button> would take the Enter and open the image.
				e.preventDefault();
				if (e.key === 'Escape') done(undefined);
				else if (allowEmpty || input.value.trim()) done(input.value);
			});
			dialog.addEventListener('click', (e) => e.target === dialog && done(undefined));
			document.body.appendChild(dialog);
			this.prompt = dialog;
			input.focus();
		});
	}
}
