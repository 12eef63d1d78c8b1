// The large view of one image: the full-resolution picture (decoded by the engine) with zoom, pan and
// window / level, all three probabilities as bars, source, patient, path and "Open in editor".
// Keyboard: ←/→ move through the filtered list, +/− zoom, 0 fits, Esc closes.
import { CLASS_NAMES } from '../../src/engine/types';
import type { ImageMessage } from '../../src/protocol/predictions';
import { TestId } from '../../src/protocol/testIds';
import { h, icon, replaceChildren } from '../shared/dom';
import { confidence, fitTransform, isCorrect, itemLoss, itemSource, labelCaption, panBy, windowLevelLut, zoomAt, type GridItem, type ViewTransform } from '../shared/logic';

export interface DetailHost {
	item(index: number): GridItem | undefined;
	count(): number;
	root(): string;
	openFile(relPath: string): void;
	/** Ask the host for the full-resolution image; the answer comes back through DetailView.onImage. */
	requestImage(relPath: string, requestId: number): void;
	onNavigate(index: number): void;
	onClose(index: number): void;
	/** Extra content under the image's facts (the review block). */
	extra?(item: GridItem, index: number): HTMLElement | null;
	/** A key in the large view; true when handled. */
	onKey?(e: KeyboardEvent, index: number): boolean;
}

const DEFAULT_WINDOW = 255;
const DEFAULT_LEVEL = 128;
const ZOOM_STEP = 1.25;

export class DetailView {
	readonly el: HTMLDivElement;
	private readonly canvas = h('canvas', { class: 'detail-canvas', testid: TestId.DetailImage, attrs: { role: 'img' } });
	private readonly ctx = this.canvas.getContext('2d', { willReadFrequently: true });
	private readonly box = h('div', { class: 'detail-picture' }, this.canvas);
	private readonly missing = h('div', { class: 'thumb-missing detail-missing' }, icon('file-media'), h('span', { text: 'no image' }));
	private readonly state = h('div', { class: 'detail-state muted' });
	private readonly zoomText = h('span', { class: 'zoom-text', testid: TestId.DetailZoom, text: '100%' });
	private readonly windowInput = h('input', { testid: TestId.DetailWindow, attrs: { type: 'range', min: '1', max: '255', step: '1', 'aria-label': 'Window (contrast)' } });
	private readonly levelInput = h('input', { testid: TestId.DetailLevel, attrs: { type: 'range', min: '0', max: '255', step: '1', 'aria-label': 'Level (brightness)' } });
	private readonly wlText = h('span', { class: 'muted wl-text' });
	private readonly info = h('div', { class: 'detail-info' });
	private readonly heading = h('h2', { class: 'detail-title', attrs: { id: 'detail-title' } });
	private index = -1;
	private requestId = 0;
	private relPath = '';
	/** Pixels as decoded (before window / level), and the transform of the canvas in the box. */
	private source: ImageData | null = null;
	private view: ViewTransform = { scale: 1, x: 0, y: 0 };
	private wlFrame = 0;

	constructor(private readonly host: DetailHost) {
		const close = h('vscode-button', { attrs: { secondary: true, title: 'Close (Esc)' } }, icon('close'), ' Close');
		close.addEventListener('click', () => this.close(true));
		const prev = h('vscode-button', { attrs: { secondary: true, title: 'Previous (←)' } }, icon('arrow-left'));
		prev.addEventListener('click', () => this.step(-1));
		const next = h('vscode-button', { attrs: { secondary: true, title: 'Next (→)' } }, icon('arrow-right'));
		next.addEventListener('click', () => this.step(1));
		const zoomOut = h('vscode-button', { attrs: { secondary: true, title: 'Zoom out (−)', 'aria-label': 'Zoom out' } }, icon('zoom-out'));
		zoomOut.addEventListener('click', () => this.zoomCentre(1 / ZOOM_STEP));
		const zoomIn = h('vscode-button', { attrs: { secondary: true, title: 'Zoom in (+)', 'aria-label': 'Zoom in' } }, icon('zoom-in'));
		zoomIn.addEventListener('click', () => this.zoomCentre(ZOOM_STEP));
		const fit = h('vscode-button', { attrs: { secondary: true, title: 'Fit (0)' } }, icon('screen-normal'), ' Fit');
		fit.addEventListener('click', () => this.fit());
		const resetWl = h('vscode-button', { attrs: { secondary: true, title: 'Full range: window 255, level 128' } }, icon('discard'), ' Reset contrast');
		resetWl.addEventListener('click', () => this.setWindowLevel(DEFAULT_WINDOW, DEFAULT_LEVEL));
		this.windowInput.addEventListener('input', () => this.scheduleWindowLevel());
		this.levelInput.addEventListener('input', () => this.scheduleWindowLevel());
		const tools = h(
			'div',
			{ class: 'toolbar detail-tools' },
			zoomOut,
			this.zoomText,
			zoomIn,
			fit,
			h('label', { class: 'slider' }, h('span', { text: 'Window' }), this.windowInput),
			h('label', { class: 'slider' }, h('span', { text: 'Level' }), this.levelInput),
			this.wlText,
			resetWl,
		);
		const dialog = h(
			'div',
			{ class: 'detail card', attrs: { role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': 'detail-title', tabindex: '-1' } },
			h('div', { class: 'detail-head' }, this.heading, h('span', { class: 'spacer' }), prev, next, close),
			h('div', { class: 'detail-body' }, h('div', { class: 'detail-left' }, this.box, this.missing, tools, this.state), this.info),
		);
		this.el = h('div', { class: 'overlay' }, dialog);
		this.el.hidden = true;
		this.setWindowLevel(DEFAULT_WINDOW, DEFAULT_LEVEL);
		// Click on the dimmed backdrop closes; clicks inside the dialog do not.
		this.el.addEventListener('click', (e) => {
			if (e.target === this.el) this.close(true);
		});
		this.el.addEventListener('keydown', (e) => {
			if ((e.target as HTMLInputElement | null)?.type === 'range' && (e.key === 'ArrowLeft' || e.key === 'ArrowRight')) return; // the sliders' own keys
			if (this.host.onKey?.(e, this.index)) {
				e.preventDefault();
				return;
			}
			if (e.key === 'Escape') this.close(true);
			else if (e.key === 'ArrowLeft') this.step(-1);
			else if (e.key === 'ArrowRight') this.step(1);
			else if (e.key === '+' || e.key === '=') this.zoomCentre(ZOOM_STEP);
			else if (e.key === '-' || e.key === '_') this.zoomCentre(1 / ZOOM_STEP);
			else if (e.key === '0') this.fit();
		});
		this.box.addEventListener(
			'wheel',
			(e) => {
				e.preventDefault();
				const r = this.box.getBoundingClientRect();
				this.apply(zoomAt(this.view, Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top));
			},
			{ passive: false },
		);
		let drag: { x: number; y: number } | null = null;
		this.box.addEventListener('pointerdown', (e) => {
			drag = { x: e.clientX, y: e.clientY };
			this.box.setPointerCapture(e.pointerId);
			this.box.classList.add('dragging');
		});
		this.box.addEventListener('pointermove', (e) => {
			if (!drag) return;
			this.apply(panBy(this.view, e.clientX - drag.x, e.clientY - drag.y));
			drag = { x: e.clientX, y: e.clientY };
		});
		const end = (): void => {
			drag = null;
			this.box.classList.remove('dragging');
		};
		this.box.addEventListener('pointerup', end);
		this.box.addEventListener('pointercancel', end);
		new ResizeObserver(() => {
			if (!this.el.hidden && this.source) this.fit();
		}).observe(this.box);
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
		this.requestId++; // a late answer for the closed image is dropped
		if (restoreFocus && this.index >= 0) this.host.onClose(this.index);
	}

	/** The host's answer to requestImage: draws it unless the user has moved on. */
	onImage(msg: ImageMessage): void {
		if (msg.requestId !== this.requestId || msg.relPath !== this.relPath || this.el.hidden) return;
		if (!msg.dataUri) {
			this.state.textContent = `Full resolution unavailable: ${msg.error ?? 'unknown error'}${this.source ? ' (showing the thumbnail)' : ''}`;
			if (!this.source) this.showMissing(true);
			return;
		}
		const id = msg.requestId;
		const img = new Image();
		img.onload = () => {
			if (id !== this.requestId) return;
			this.draw(img);
			this.canvas.dataset.fullRes = 'true';
			this.canvas.dataset.width = String(img.naturalWidth);
			this.canvas.dataset.height = String(img.naturalHeight);
			const orig =
				msg.originalWidth && msg.originalHeight && (msg.originalWidth !== img.naturalWidth || msg.originalHeight !== img.naturalHeight)
					? ` (original ${msg.originalWidth} × ${msg.originalHeight}, scaled for the screen)`
					: ' (the file’s own resolution)';
			this.state.textContent = `${img.naturalWidth} × ${img.naturalHeight} px${orig}. Wheel or +/− to zoom, drag to pan.`;
		};
		img.onerror = () => {
			if (id === this.requestId) this.state.textContent = 'Full resolution could not be displayed.';
		};
		img.src = msg.dataUri;
	}

	private step(d: number): void {
		const i = this.index + d;
		if (i < 0 || i >= this.host.count()) return;
		this.host.onNavigate(i);
		this.open(i);
	}

	private showMissing(missing: boolean): void {
		this.box.hidden = missing;
		this.missing.hidden = !missing;
	}

	/** New pixels: keep them, apply window / level, fit. */
	private draw(img: HTMLImageElement): void {
		if (!this.ctx) return;
		this.canvas.width = img.naturalWidth;
		this.canvas.height = img.naturalHeight;
		this.ctx.drawImage(img, 0, 0);
		this.source = this.ctx.getImageData(0, 0, this.canvas.width, this.canvas.height);
		this.showMissing(false);
		this.applyWindowLevel();
		this.fit();
	}

	private fit(): void {
		const r = this.box.getBoundingClientRect();
		this.apply(fitTransform(this.canvas.width, this.canvas.height, r.width, r.height));
	}

	private zoomCentre(factor: number): void {
		const r = this.box.getBoundingClientRect();
		this.apply(zoomAt(this.view, factor, r.width / 2, r.height / 2));
	}

	private apply(t: ViewTransform): void {
		this.view = t;
		// CSSOM writes: allowed under a strict style-src.
		this.canvas.style.transform = `translate(${t.x}px, ${t.y}px) scale(${t.scale})`;
		this.zoomText.textContent = `${Math.round(t.scale * 100)}%`;
		// Pixels stay crisp when magnified past 1:1 (a reviewer looks at them, not at a blur).
		this.canvas.classList.toggle('pixelated', t.scale > 2);
	}

	private setWindowLevel(window: number, level: number): void {
		this.windowInput.value = String(window);
		this.levelInput.value = String(level);
		this.applyWindowLevel();
	}

	private scheduleWindowLevel(): void {
		if (this.wlFrame) return;
		this.wlFrame = requestAnimationFrame(() => {
			this.wlFrame = 0;
			this.applyWindowLevel();
		});
	}

	private applyWindowLevel(): void {
		const w = Number(this.windowInput.value);
		const l = Number(this.levelInput.value);
		this.wlText.textContent = `W ${w} / L ${l}`;
		if (!this.source || !this.ctx) return;
		if (w === DEFAULT_WINDOW && l === DEFAULT_LEVEL) {
			this.ctx.putImageData(this.source, 0, 0);
			return;
		}
		const lut = windowLevelLut(w, l);
		const src = this.source.data;
		const out = new ImageData(this.source.width, this.source.height);
		const dst = out.data;
		for (let i = 0; i < src.length; i += 4) {
			dst[i] = lut[src[i]];
			dst[i + 1] = lut[src[i + 1]];
			dst[i + 2] = lut[src[i + 2]];
			dst[i + 3] = 255;
		}
		this.ctx.putImageData(out, 0, 0);
	}

	private render(item: GridItem): void {
		const ok = isCorrect(item);
		this.heading.textContent = `${this.index + 1} / ${this.host.count()}`;
		this.relPath = item.relPath;
		this.source = null;
		delete this.canvas.dataset.fullRes;
		delete this.canvas.dataset.width;
		delete this.canvas.dataset.height;
		this.canvas.setAttribute('aria-label', item.relPath);
		this.state.textContent = 'Loading the full-resolution image…';
		// The thumbnail stands in (blurred by scaling) until the engine has decoded the original.
		if (item.thumbUri) {
			const thumb = new Image();
			const id = this.requestId + 1;
			thumb.onload = () => {
				if (id === this.requestId && !this.canvas.dataset.fullRes) this.draw(thumb);
			};
			thumb.src = item.thumbUri;
		} else if (this.ctx) {
			this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
		}
		this.showMissing(false);
		this.host.requestImage(item.relPath, ++this.requestId);
		const bars = CLASS_NAMES.map((c, i) => {
			const p = item.probs[i] ?? 0;
			const fill = h('div', { class: `bar-fill${c === item.predicted ? ' predicted' : ''}${c === item.label ? ' truth' : ''}` });
			// Width through the CSSOM: allowed under a strict style-src.
			fill.style.width = `${Math.max(0, Math.min(1, p)) * 100}%`;
			const tags = [c === item.predicted ? 'predicted' : '', c === item.label ? labelCaption(item).toLowerCase() : ''].filter(Boolean).join(', ');
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
			item.outOfDistribution
				? h(
						'div',
						{ class: 'detail-line ood-note', testid: TestId.DetailOod },
						icon('warning'),
						h('strong', { text: ' Not like a frontal chest X-ray of the training split: ' }),
						'the probabilities below mean nothing. ',
						h('span', { class: 'muted', text: (item.oodReasons ?? []).join('; ') }),
					)
				: null,
			item.predicted === null
				? h('div', { class: 'detail-line' }, h('span', { class: 'muted', text: 'Predicted: ' }), h('strong', { text: 'no prediction' }), item.note ? ` (${item.note})` : '')
				: h('div', { class: 'detail-line' }, h('span', { class: 'muted', text: 'Predicted: ' }), h('strong', { text: item.predicted }), ` (${confidence(item).toFixed(3)})`),
			item.label !== null
				? h('div', { class: 'detail-line' }, h('span', { class: 'muted', text: `${labelCaption(item)}: ` }), h('strong', { text: item.label }))
				: h('div', { class: 'detail-line muted', text: 'No label' }),
			ok !== null ? h('div', { class: `detail-line cell-outcome ${ok ? 'right' : 'wrong'}` }, icon(ok ? 'pass-filled' : 'error'), h('span', { text: ok ? ' right' : ' wrong' })) : null,
			ok !== null ? h('div', { class: 'detail-line muted', text: `loss −log p(true) = ${itemLoss(item).toFixed(3)}` }) : null,
			item.split ? h('div', { class: 'detail-line muted', text: `split: ${item.split}` }) : null,
			h('div', { class: 'detail-line' }, h('span', { class: 'muted', text: 'Source: ' }), h('strong', { testid: TestId.DetailSource, text: itemSource(item) })),
			h('div', { class: 'detail-line' }, h('span', { class: 'muted', text: 'Patient: ' }), h('span', { class: 'mono', testid: TestId.DetailPatient, text: item.patientId ?? 'unknown' })),
			item.predicted === null ? null : h('div', { class: 'bars' }, ...bars),
			h('div', { class: 'detail-path mono', attrs: { title: item.relPath } }, root ? `${root.replace(/[\\/]+$/, '')}/` : '', h('strong', { text: item.relPath })),
			h('div', { class: 'toolbar' }, open),
			this.host.extra?.(item, this.index) ?? null,
		);
	}
}
