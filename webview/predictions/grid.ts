// The virtualised prediction grid: fixed row height, only the visible rows (plus overscan) in the DOM,
// cell elements recycled as the window moves. Smooth with thousands of images.
import { TestId } from '../../src/protocol/testIds';
import { h, icon } from '../shared/dom';
import { baseName, columnsFor, confidence, isCorrect, itemSource, labelCaption, moveIndex, predictionText, virtualWindow, type GridItem } from '../shared/logic';

export const CELL_MIN_WIDTH = 190;
/** Keep in step with .cell / .grid-layer in media/predictions.css. */
export const CELL_HEIGHT = 252;
export const GAP = 8;
const OVERSCAN = 3;

/** One recycled cell and the nodes it rewrites. */
interface Cell {
	el: HTMLDivElement;
	img: HTMLImageElement;
	placeholder: HTMLElement;
	ood: HTMLElement;
	name: HTMLElement;
	source: HTMLElement;
	patient: HTMLElement;
	pred: HTMLElement;
	predProb: HTMLElement;
	trueLine: HTMLElement;
	trueCaption: HTMLElement;
	trueLabel: HTMLElement;
	outcome: HTMLElement;
	outcomeIcon: HTMLElement;
	outcomeText: HTMLElement;
	index: number;
	/** Items generation the cell was filled from (a new snapshot may change an item in place). */
	gen: number;
}

/** Optional behaviour a panel adds to the tiles (annotations: badges, selection, review keys). */
export interface GridHooks {
	/** Called after a tile is filled; `label` is its plain screen-reader label. */
	decorate?(el: HTMLElement, item: GridItem, label: string): void;
	/** A key on a tile; true when handled. */
	onKey?(e: KeyboardEvent, index: number): boolean;
	/** A click on a tile; true when handled (it then does not open the large view). */
	onClick?(e: MouseEvent, index: number): boolean;
}

export class VirtualGrid {
	readonly el: HTMLDivElement;
	private readonly spacer: HTMLDivElement;
	private readonly layer: HTMLDivElement;
	private readonly pool: Cell[] = [];
	private items: readonly GridItem[] = [];
	private columns = 1;
	private frame = 0;
	private gen = 0;

	constructor(
		private readonly onOpen: (index: number) => void,
		private readonly hooks: GridHooks = {},
	) {
		this.layer = h('div', { class: 'grid-layer' });
		this.spacer = h('div', { class: 'grid-spacer' }, this.layer);
		this.el = h('div', { class: 'grid-scroller', attrs: { tabindex: '-1' } }, this.spacer);
		this.el.addEventListener('scroll', () => this.schedule(), { passive: true });
		new ResizeObserver(() => this.schedule()).observe(this.el);
		// One delegated listener instead of one per recycled cell.
		this.layer.addEventListener('click', (e) => {
			const i = Number((e.target as HTMLElement | null)?.closest<HTMLElement>('.cell')?.dataset.index);
			if (Number.isInteger(i) && this.hooks.onClick?.(e, i)) return;
			this.activate(e);
		});
		this.layer.addEventListener('keydown', (e) => {
			const at = Number((e.target as HTMLElement | null)?.closest<HTMLElement>('.cell')?.dataset.index);
			if (Number.isInteger(at) && this.hooks.onKey?.(e, at)) {
				e.preventDefault();
				return;
			}
			if (e.key === 'Enter' || e.key === ' ') {
				e.preventDefault();
				this.activate(e);
				return;
			}
			// Arrow keys move focus through the whole (virtual) list, not just the rendered cells.
			const from = Number((e.target as HTMLElement | null)?.closest<HTMLElement>('.cell')?.dataset.index);
			const to = Number.isInteger(from) ? moveIndex(from, e.key, this.columns, this.items.length) : undefined;
			if (to === undefined) return;
			e.preventDefault();
			this.focusItem(to);
		});
	}

	setItems(items: readonly GridItem[], resetScroll: boolean): void {
		this.items = items;
		this.gen++;
		if (resetScroll) this.el.scrollTop = 0;
		this.render();
	}

	/** Refills the tiles of these indices: the caller replaced those entries of the array it gave setItems. */
	update(indices: readonly number[]): void {
		const at = new Set(indices);
		for (const cell of this.pool) {
			if (cell.el.hidden || !at.has(cell.index)) continue;
			cell.gen = -1;
			this.fill(cell, cell.index);
		}
	}

	/** Redraws every tile (decorations changed; the items did not). */
	redraw(): void {
		this.gen++;
		this.render();
	}

	/** Scrolls so that item `index` is visible (used by the detail view's previous/next). */
	reveal(index: number): void {
		const row = Math.floor(index / this.columns);
		const top = row * (CELL_HEIGHT + GAP);
		if (top < this.el.scrollTop || top + CELL_HEIGHT > this.el.scrollTop + this.el.clientHeight) {
			this.el.scrollTop = Math.max(0, top - GAP);
		}
	}

	focusItem(index: number): void {
		this.reveal(index);
		this.render();
		this.pool.find((c) => !c.el.hidden && c.index === index)?.el.focus();
	}

	private activate(e: Event): void {
		const el = (e.target as Element | null)?.closest<HTMLElement>('.cell');
		if (!el) return;
		const i = Number(el.dataset.index);
		if (Number.isInteger(i)) this.onOpen(i);
	}

	private schedule(): void {
		if (this.frame) return;
		this.frame = requestAnimationFrame(() => {
			this.frame = 0;
			this.render();
		});
	}

	private render(): void {
		const width = this.el.clientWidth - GAP;
		this.columns = columnsFor({ width, minCellWidth: CELL_MIN_WIDTH, gap: GAP });
		const w = virtualWindow({
			itemCount: this.items.length,
			columns: this.columns,
			rowHeight: CELL_HEIGHT + GAP,
			scrollTop: this.el.scrollTop,
			viewportHeight: this.el.clientHeight,
			overscan: OVERSCAN,
		});
		// CSSOM writes, not style attributes in markup: allowed by a strict style-src.
		this.spacer.style.height = `${w.totalHeight}px`;
		this.layer.style.transform = `translateY(${w.offsetY}px)`;
		this.layer.style.gridTemplateColumns = `repeat(${this.columns}, minmax(0, 1fr))`;
		// Cells still in the window keep their item (a scroll by one row refills one row, not every cell and every
		// <img>); the rest are reused for the items coming in. In the DOM the cells stay in item order.
		const kept = new Map<number, Cell>();
		const free: Cell[] = [];
		for (const cell of this.pool) {
			if (!cell.el.hidden && cell.index >= w.start && cell.index < w.end && !kept.has(cell.index)) kept.set(cell.index, cell);
			else free.push(cell);
		}
		let first: Cell | undefined;
		const before: Cell[] = [];
		const after: Cell[] = [];
		for (let i = w.start; i < w.end; i++) {
			let cell = kept.get(i);
			if (cell) first ??= cell;
			else {
				cell = free.pop() ?? this.createCell();
				(first ? after : before).push(cell);
			}
			this.fill(cell, i);
			cell.el.hidden = false;
		}
		// Kept cells are one run in item order; new ones go before or after it.
		if (first) for (const cell of before) this.layer.insertBefore(cell.el, first.el);
		else after.unshift(...before);
		for (const cell of after) this.layer.appendChild(cell.el);
		for (const cell of free) {
			if (cell.el.hidden) continue;
			cell.el.hidden = true;
			// Hidden cells must not count as grid items for tests or screen readers.
			delete cell.el.dataset.testid;
		}
	}

	private createCell(): Cell {
		const img = h('img', { class: 'thumb', testid: TestId.GridThumb, attrs: { alt: '', decoding: 'async', draggable: 'false' } });
		const placeholder = h('div', { class: 'thumb-missing' }, icon('file-media'), h('span', { text: 'no thumbnail' }));
		// Over the thumbnail, not a caption line: the tile height is fixed (CELL_HEIGHT).
		const ood = h('span', { class: 'ood-badge' }, icon('warning'), h('span', { text: 'not a chest X-ray?' }));
		const name = h('div', { class: 'cell-name' });
		const source = h('span', { class: 'cell-source', testid: TestId.GridSource });
		const patient = h('span', { class: 'cell-patient', testid: TestId.GridPatient });
		const pred = h('span', { class: 'cls', testid: TestId.PredLabel });
		const predProb = h('span', { class: 'prob' });
		const trueLabel = h('span', { class: 'cls', testid: TestId.TrueLabel });
		const trueCaption = h('span', { class: 'muted', text: 'Correct: ' });
		const trueLine = h('div', { class: 'cell-line' }, trueCaption, trueLabel);
		const outcomeIcon = icon('pass');
		const outcomeText = h('span');
		const outcome = h('div', { class: 'cell-outcome' }, outcomeIcon, outcomeText);
		const el = h(
			'div',
			{ class: 'cell', attrs: { role: 'button', tabindex: '0' } },
			h('div', { class: 'thumb-box' }, img, placeholder, ood),
			// 'Pred.': with the full word, 'PNEUMONIA (0.36)' lost its confidence to the ellipsis in a ~190 px cell.
			h('div', { class: 'cell-line', attrs: { title: 'Predicted class (confidence)' } }, h('span', { class: 'muted', text: 'Pred. ' }), pred, ' ', predProb),
			trueLine,
			outcome,
			// Source beside the verdict: in a confounded dataset it predicts the class as well as the image does.
			h('div', { class: 'cell-line cell-meta', attrs: { title: 'Source dataset · patient' } }, source, h('span', { class: 'muted', text: ' · ' }), patient),
			name,
		);
		img.addEventListener('error', () => {
			img.hidden = true;
			placeholder.hidden = false;
		});
		const cell: Cell = { el, img, placeholder, ood, name, source, patient, pred, predProb, trueLine, trueCaption, trueLabel, outcome, outcomeIcon, outcomeText, index: -1, gen: -1 };
		this.layer.appendChild(el);
		this.pool.push(cell);
		return cell;
	}

	private fill(cell: Cell, index: number): void {
		const item = this.items[index];
		cell.el.dataset.testid = TestId.GridItem;
		cell.el.dataset.index = String(index);
		if (cell.index === index && cell.gen === this.gen) return;
		cell.index = index;
		cell.gen = this.gen;
		cell.el.dataset.relPath = item.relPath;
		const ok = isCorrect(item);
		cell.el.classList.toggle('is-right', ok === true);
		cell.el.classList.toggle('is-wrong', ok === false);
		if (item.thumbUri) {
			// Recycled <img>: only touch src when it changes, so the browser cache does the rest.
			if (cell.img.getAttribute('src') !== item.thumbUri) cell.img.src = item.thumbUri;
			cell.img.hidden = false;
			cell.placeholder.hidden = true;
		} else {
			cell.img.removeAttribute('src');
			cell.img.hidden = true;
			cell.placeholder.hidden = false;
		}
		cell.img.alt = item.relPath;
		cell.name.textContent = baseName(item.relPath);
		cell.name.title = item.relPath;
		cell.source.textContent = itemSource(item);
		cell.patient.textContent = item.patientId ?? 'patient unknown';
		cell.ood.hidden = !item.outOfDistribution;
		if (item.outOfDistribution) {
			cell.ood.dataset.testid = TestId.GridOod;
			cell.ood.title = `Not like the training radiographs: the probabilities mean nothing.\n${(item.oodReasons ?? []).join('\n')}`;
		} else delete cell.ood.dataset.testid;
		cell.el.classList.toggle('is-ood', item.outOfDistribution === true);
		// An audit queue's images have no prediction: say so, with what flagged them, never a made-up class.
		cell.pred.textContent = item.predicted ?? 'none';
		cell.predProb.textContent = item.predicted === null ? (item.note ?? '') : `(${confidence(item).toFixed(2)})`;
		if (cell.pred.parentElement) cell.pred.parentElement.title = item.predicted === null ? predictionText(item, 2) : 'Predicted class (confidence)';
		if (item.label === null) {
			cell.trueLine.hidden = true;
			cell.outcome.hidden = true;
			// TrueLabel is absent for unlabelled images (test contract).
			delete cell.trueLabel.dataset.testid;
		} else {
			cell.trueLine.hidden = false;
			cell.trueLabel.dataset.testid = TestId.TrueLabel;
			cell.trueLabel.textContent = item.label;
			cell.trueCaption.textContent = `${labelCaption(item)}: `;
			// Right or wrong needs a prediction: an audit queue's images have a label but none.
			cell.outcome.hidden = ok === null;
			cell.outcome.className = `cell-outcome ${ok ? 'right' : 'wrong'}`;
			cell.outcomeIcon.className = `codicon codicon-${ok ? 'pass-filled' : 'error'}`;
			cell.outcomeText.textContent = ok === null ? '' : ok ? 'right' : 'wrong';
		}
		const label = `${item.relPath}: ${item.outOfDistribution ? 'not like a chest X-ray, ' : ''}${item.predicted === null ? predictionText(item, 2) : `predicted ${item.predicted}`}${item.label ? `, ${labelCaption(item).toLowerCase()} ${item.label}${ok === null ? '' : ok ? ', right' : ', wrong'}` : ''}; source ${itemSource(item)}`;
		cell.el.setAttribute('aria-label', label);
		this.hooks.decorate?.(cell.el, item, label);
	}
}
