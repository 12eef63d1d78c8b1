// Reviewing in the Predictions grid: annotation state on every tile, a filter by it, multi-select, keyboard
// actions on the focused (or selected) images, undo / redo through the host, and a review queue that steps
// through the shown images in the large view with progress. Editing, selection and the dialogs are shared with
// the Dataset panel (webview/shared/annotations.ts).
import { CLASS_NAMES } from '../../src/engine/types';
import type { AnnotationsMessage, AnnotationView } from '../../src/protocol/annotations';
import { TestId } from '../../src/protocol/testIds';
import { AnnotationEditor, flagText, type AnnotationPost } from '../shared/annotations';
import { h, icon, replaceChildren } from '../shared/dom';
import type { GridItem } from '../shared/logic';

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
	post(msg: AnnotationPost): void;
	/** The filtered, sorted list the grid shows. */
	shown(): readonly GridItem[];
	/** Recompute what the annotations change and redraw: only `paths` changed, or (none given) the filter did. */
	refresh(paths?: readonly string[]): void;
	/** Redraw tiles only (selection changed). */
	redraw(): void;
	openDetail(index: number): void;
	notice(level: 'info' | 'warn' | 'error', message: string): void;
}

export class Annotator {
	readonly toolbar: HTMLElement;
	readonly help: HTMLElement;
	private readonly editor: AnnotationEditor;
	filter: AnnotationFilter = 'all';
	/** The review queue: relPaths frozen when it starts, so marking one reviewed does not shift the rest. */
	private queue: string[] | undefined;
	private readonly filterSelect: HTMLElement & { value: string };

	constructor(private readonly host: AnnotatorHost) {
		this.editor = new AnnotationEditor({
			post: (m) => host.post(m),
			shown: () => host.shown(),
			changed: (paths) => host.refresh(paths),
			selected: () => host.redraw(),
			notice: (level, message) => host.notice(level, message),
		});
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
		const [status, ...rest] = [this.editor.controls.at(-1)!, ...this.editor.controls.slice(0, -1)];
		this.toolbar = h(
			'div',
			{ class: 'toolbar annot-bar', attrs: { role: 'toolbar', 'aria-label': 'Review' } },
			h('label', {}, h('span', { text: 'Review' }), this.filterSelect),
			...rest,
			button('play', 'Review queue', 'Step through the shown images one at a time', () => this.startQueue(), TestId.ReviewQueueButton),
			button('keyboard', '', 'Keyboard shortcuts (?)', () => this.toggleHelp()),
			status,
		);
		this.editor.toolbar = this.toolbar;
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
	}

	// ── state from the host ──

	onMessage(msg: AnnotationsMessage): void {
		this.editor.onMessage(msg);
	}

	/** The run's items, remembered for their original labels. */
	setItems(items: readonly GridItem[]): void {
		this.editor.setItems(items);
	}

	row(relPath: string): AnnotationView | undefined {
		return this.editor.row(relPath);
	}

	/** The item as reviewed: the corrected label replaces the run's. */
	effective(item: GridItem): GridItem {
		const a = this.editor.row(item.relPath);
		return a?.label && a.label !== item.label ? { ...item, label: a.label } : item;
	}

	matches(item: GridItem): boolean {
		if (this.filter === 'all') return true;
		const a = this.editor.row(item.relPath);
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

	// ── tiles ──

	/** Annotation badges, selection and the screen-reader label of one tile. */
	decorate(cell: HTMLElement, item: GridItem, baseLabel: string): void {
		let badges = cell.querySelector<HTMLElement>('.annot-badges');
		if (!badges) {
			badges = h('div', { class: 'annot-badges', testid: TestId.AnnotationBadges });
			cell.querySelector('.thumb-box')?.appendChild(badges);
		}
		const { parts, words } = this.editor.badges(item.relPath, true);
		replaceChildren(badges, ...parts);
		badges.hidden = parts.length === 0;
		const selected = this.editor.isSelected(item.relPath);
		cell.classList.toggle('is-selected', selected);
		cell.setAttribute('aria-selected', String(selected));
		cell.setAttribute('aria-label', [baseLabel, ...words, selected ? 'selected' : ''].filter(Boolean).join(', '));
	}

	// ── selection and keys ──

	/** Shift / Ctrl / Cmd-click selects instead of opening; returns true when it did. */
	onClick(e: MouseEvent, index: number): boolean {
		return this.editor.onClick(e, index);
	}

	/** Keys on a grid tile or in the large view (`inDetail`); true when handled. */
	onKey(e: KeyboardEvent, index: number, inDetail = false): boolean {
		if (this.editor.undoKey(e)) return true;
		const ctrl = e.ctrlKey || e.metaKey;
		if (ctrl && e.key.toLowerCase() === 'a' && !inDetail) return (this.editor.selectAll(), true);
		if (ctrl || e.altKey) return false;
		if (e.key === '?') return (this.toggleHelp(), true);
		if (e.key === 'Escape' && !inDetail) return this.editor.clearSelection();
		// In the large view 0 fits the zoom.
		if (inDetail && e.key === '0') return false;
		const focused = inDetail ? this.itemAt(index)?.relPath : this.host.shown()[index]?.relPath;
		const paths = inDetail ? (focused ? [focused] : []) : this.editor.targets(focused);
		if (paths.length === 0) return false;
		return this.editor.editKey(e, paths, () => this.afterQueueAction(inDetail));
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
		if (p && !this.editor.row(p)?.reviewed) this.editor.edit([{ kind: 'reviewed', path: p, reviewed: true }]);
		if (i + 1 < this.queue.length) this.host.openDetail(i + 1);
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
		const first = this.queue.findIndex((p) => !this.editor.row(p)?.reviewed);
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
		const a = this.editor.row(item.relPath);
		const lines: HTMLElement[] = [];
		if (this.queue) {
			const reviewed = this.queue.filter((p) => this.editor.row(p)?.reviewed).length;
			lines.push(h('div', { class: 'detail-line review-progress', testid: TestId.ReviewProgress, text: `${reviewed} of ${this.queue.length} reviewed` }));
		}
		if (a?.label) lines.push(h('div', { class: 'detail-line' }, icon('edit'), ` Relabelled from ${a.originalLabel ?? 'no label'} to `, h('strong', { text: a.label })));
		if (a?.flags.length) lines.push(h('div', { class: 'detail-line' }, icon('flag'), ` Flagged: ${a.flags.map(flagText).join('; ')}`));
		if (a?.note) lines.push(h('div', { class: 'detail-line' }, icon('note'), ` ${a.note}`));
		lines.push(h('div', { class: 'detail-line muted', text: a?.reviewed ? 'Reviewed' : 'Not reviewed' }));
		const labelButtons = CLASS_NAMES.map((c, i) => {
			const b = h('vscode-button', { attrs: { secondary: c !== (a?.label ?? item.label), title: `Label ${c} (${i + 1})` } }, `${i + 1} ${c}`);
			b.addEventListener('click', () => this.act(true, () => this.editor.setLabel([item.relPath], c)));
			return b;
		});
		const flag = h('vscode-button', { attrs: { secondary: true, title: 'Flag (F)' } }, icon('flag'), ' Flag…');
		flag.addEventListener('click', () => void this.editor.flagPrompt([item.relPath]).then((done) => done && this.afterQueueAction(true)));
		const note = h('vscode-button', { attrs: { secondary: true, title: 'Note (T)' } }, icon('note'), ' Note…');
		note.addEventListener('click', () => void this.editor.notePrompt([item.relPath]));
		const rev = h('vscode-button', { attrs: { secondary: true, title: 'Reviewed (R)' } }, icon('check'), a?.reviewed ? ' Not reviewed' : ' Reviewed');
		rev.addEventListener('click', () => this.act(true, () => this.editor.toggleReviewed([item.relPath])));
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
