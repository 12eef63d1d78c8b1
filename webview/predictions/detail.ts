// The large view of one image: the picture, all three probabilities as bars, its path, and
// "Open in editor". Keyboard: ←/→ move through the filtered list, Esc closes.
import { CLASS_NAMES } from '../../src/engine/types';
import { h, icon, replaceChildren } from '../shared/dom';
import { confidence, isCorrect, itemLoss, type GridItem } from '../shared/logic';

export interface DetailHost {
	item(index: number): GridItem | undefined;
	count(): number;
	root(): string;
	openFile(relPath: string): void;
	onNavigate(index: number): void;
	onClose(index: number): void;
	/** Extra content under the image's facts (the review block). */
	extra?(item: GridItem, index: number): HTMLElement | null;
	/** A key in the large view; true when handled. */
	onKey?(e: KeyboardEvent, index: number): boolean;
}

export class DetailView {
	readonly el: HTMLDivElement;
	private readonly img = h('img', { class: 'detail-img', attrs: { alt: '' } });
	private readonly missing = h('div', { class: 'thumb-missing detail-missing' }, icon('file-media'), h('span', { text: 'no thumbnail' }));
	private readonly info = h('div', { class: 'detail-info' });
	private readonly heading = h('h2', { class: 'detail-title', attrs: { id: 'detail-title' } });
	private index = -1;

	constructor(private readonly host: DetailHost) {
		const close = h('vscode-button', { attrs: { secondary: true, title: 'Close (Esc)' } }, icon('close'), ' Close');
		close.addEventListener('click', () => this.close(true));
		const prev = h('vscode-button', { attrs: { secondary: true, title: 'Previous (←)' } }, icon('arrow-left'));
		prev.addEventListener('click', () => this.step(-1));
		const next = h('vscode-button', { attrs: { secondary: true, title: 'Next (→)' } }, icon('arrow-right'));
		next.addEventListener('click', () => this.step(1));
		const dialog = h(
			'div',
			{ class: 'detail card', attrs: { role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'detail-title', tabindex: '-1' } },
			h('div', { class: 'detail-head' }, this.heading, h('span', { class: 'spacer' }), prev, next, close),
			h('div', { class: 'detail-body' }, h('div', { class: 'detail-picture' }, this.img, this.missing), this.info),
		);
		this.el = h('div', { class: 'overlay' }, dialog);
		this.el.hidden = true;
		this.img.addEventListener('error', () => {
			this.img.hidden = true;
			this.missing.hidden = false;
		});
		// Click on the dimmed backdrop closes; clicks inside the dialog do not.
		this.el.addEventListener('click', (e) => {
			if (e.target === this.el) this.close(true);
		});
		this.el.addEventListener('keydown', (e) => {
			if (this.host.onKey?.(e, this.index)) {
				e.preventDefault();
				return;
			}
			if (e.key === 'Escape') this.close(true);
			else if (e.key === 'ArrowLeft') this.step(-1);
			else if (e.key === 'ArrowRight') this.step(1);
		});
	}

	open(index: number): void {
		const item = this.host.item(index);
		if (!item) return;
		this.index = index;
		this.el.hidden = false;
		this.render(item);
		this.el.querySelector<HTMLElement>('.detail')?.focus();
	}

	get isOpen(): boolean {
		return !this.el.hidden;
	}

	/** Redraws the open image (its annotations changed). */
	refresh(): void {
		const item = this.el.hidden ? undefined : this.host.item(this.index);
		if (item) this.render(item);
	}

	close(restoreFocus: boolean): void {
		if (this.el.hidden) return;
		this.el.hidden = true;
		if (restoreFocus && this.index >= 0) this.host.onClose(this.index);
	}

	private step(d: number): void {
		const i = this.index + d;
		if (i < 0 || i >= this.host.count()) return;
		this.host.onNavigate(i);
		this.open(i);
	}

	private render(item: GridItem): void {
		const ok = isCorrect(item);
		this.heading.textContent = `${this.index + 1} / ${this.host.count()}`;
		if (item.thumbUri) {
			this.img.src = item.thumbUri;
			this.img.hidden = false;
			this.missing.hidden = true;
		} else {
			this.img.removeAttribute('src');
			this.img.hidden = true;
			this.missing.hidden = false;
		}
		this.img.alt = item.relPath;
		const bars = CLASS_NAMES.map((c, i) => {
			const p = item.probs[i] ?? 0;
			const fill = h('div', { class: `bar-fill${c === item.predicted ? ' predicted' : ''}${c === item.label ? ' truth' : ''}` });
			// Width through the CSSOM: allowed under a strict style-src.
			fill.style.width = `${Math.max(0, Math.min(1, p)) * 100}%`;
			const tags = [c === item.predicted ? 'predicted' : '', c === item.label ? 'correct' : ''].filter(Boolean).join(', ');
			return h(
				'div',
				{ class: 'bar-row', attrs: { role: 'img', 'aria-label': `${c}: ${(p * 100).toFixed(1)}%${tags ? ` (${tags})` : ''}` } },
				h('span', { class: 'bar-label', text: c }),
				h('div', { class: 'bar' }, fill),
				h('span', { class: 'bar-value', text: p.toFixed(3) }),
				h('span', { class: 'bar-tags muted', text: tags }),
			);
		});
		const open = h('vscode-button', {}, icon('go-to-file'), ' Open in editor');
		open.addEventListener('click', () => this.host.openFile(item.relPath));
		const root = this.host.root();
		replaceChildren(
			this.info,
			h('div', { class: 'detail-line' }, h('span', { class: 'muted', text: 'Predicted: ' }), h('strong', { text: item.predicted }), ` (${confidence(item).toFixed(3)})`),
			item.label !== null
				? h('div', { class: 'detail-line' }, h('span', { class: 'muted', text: 'Correct: ' }), h('strong', { text: item.label }))
				: h('div', { class: 'detail-line muted', text: 'No label' }),
			ok !== null ? h('div', { class: `detail-line cell-outcome ${ok ? 'right' : 'wrong'}` }, icon(ok ? 'pass-filled' : 'error'), h('span', { text: ok ? ' right' : ' wrong' })) : null,
			ok !== null ? h('div', { class: 'detail-line muted', text: `loss −log p(true) = ${itemLoss(item).toFixed(3)}` }) : null,
			item.split ? h('div', { class: 'detail-line muted', text: `split: ${item.split}` }) : null,
			h('div', { class: 'bars' }, ...bars),
			h('div', { class: 'detail-path mono', attrs: { title: item.relPath } }, root ? `${root.replace(/[\\/]+$/, '')}/` : '', h('strong', { text: item.relPath })),
			h('div', { class: 'toolbar' }, open),
			this.host.extra?.(item, this.index) ?? null,
		);
	}
}
