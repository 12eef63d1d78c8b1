// Grad-CAM overlays in the predictions panel: a toggle that layers each thumbnail's map over it in the grid (with a
// "looks outside the lungs" badge), and in the large view an opacity slider and a class choice. Kept apart from the
// grid and the large view: it finds their images in the DOM (by data-rel-path / alt) and layers over them.
import overlayCss from '../../media/gradcam.css';
import { CLASS_NAMES, type ClassName } from '../../src/engine/types';
import type { GradcamOverlayView, GradcamResultMessage, PredictionsFromWebview } from '../../src/protocol/predictions';
import { TestId } from '../../src/protocol/testIds';
import { adoptStyles, h, icon, replaceChildren } from '../shared/dom';

adoptStyles(overlayCss);

/** Images per request: overlays appear batch by batch instead of after the whole grid. */
const BATCH = 24;

export class GradcamOverlay {
	/** The toolbar button; `aria-pressed` tells whether overlays show. */
	readonly toggle: HTMLElement;
	private enabled = false;
	private opacity = 0.6;
	/** Class the large view explains: null = the predicted class. */
	private detailClass: ClassName | null = null;
	/** Key `${class or ''}\0${relPath}` → overlay. */
	private readonly maps = new Map<string, GradcamOverlayView>();
	private readonly failed = new Set<string>();
	/** Keys queued or in flight. */
	private readonly pending = new Set<string>();
	private queue: string[] = [];
	private inFlight: { key: string | null; relPaths: string[] } | null = null;
	private frame = 0;
	private readonly watched = new WeakSet<Element>();

	constructor(
		private readonly root: HTMLElement,
		private readonly post: (msg: PredictionsFromWebview) => void,
		/** relPaths of the images the grid shows now, in order. */
		private readonly shown: () => string[],
		private readonly setBusy: (text: string | null) => void,
	) {
		this.toggle = h(
			'vscode-button',
			{ testid: TestId.GradcamToggle, attrs: { secondary: true, 'aria-pressed': 'false', title: 'Show where the model looked (Grad-CAM of the predicted class)' } },
			icon('eye'),
			' Grad-CAM',
		);
		this.toggle.addEventListener('click', () => this.setEnabled(!this.enabled));
		// Cells are recycled and the large view re-renders: re-layer after every change.
		new MutationObserver(() => this.schedule()).observe(root, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-rel-path', 'src', 'hidden', 'alt'] });
		window.addEventListener('resize', () => this.schedule());
	}

	isOn(): boolean {
		return this.enabled;
	}

	/**
	 * Items whose thumbnails carry their map (for the PNG / PDF exports): thumbnail and overlay drawn on one canvas,
	 * as a data URI. Items without a map yet keep the plain thumbnail.
	 */
	async withOverlays<T extends { relPath: string; thumbUri?: string }>(items: readonly T[]): Promise<T[]> {
		const load = (uri: string): Promise<HTMLImageElement | null> =>
			new Promise((resolve) => {
				const img = new Image();
				img.crossOrigin = 'anonymous';
				img.onload = () => resolve(img);
				img.onerror = () => resolve(null);
				img.src = uri;
			});
		const canvas = document.createElement('canvas');
		canvas.width = canvas.height = 256;
		const ctx = canvas.getContext('2d');
		const out: T[] = [];
		for (const item of items) {
			const o = this.maps.get(this.key(null, item.relPath));
			if (!ctx || !o || !item.thumbUri) {
				out.push(item);
				continue;
			}
			const [thumb, cam] = await Promise.all([load(item.thumbUri), load(o.uri)]);
			if (!thumb || !cam) {
				out.push(item);
				continue;
			}
			// Both are squares laid out alike (letterboxed thumbnail, map in the same layout).
			ctx.clearRect(0, 0, 256, 256);
			ctx.drawImage(thumb, 0, 0, 256, 256);
			ctx.globalAlpha = this.opacity;
			ctx.drawImage(cam, 0, 0, 256, 256);
			ctx.globalAlpha = 1;
			out.push({ ...item, thumbUri: canvas.toDataURL('image/png') });
		}
		return out;
	}

	/** A new view (another run or folder): forget its maps. */
	reset(): void {
		this.maps.clear();
		this.failed.clear();
		this.pending.clear();
		this.queue = [];
		this.schedule();
	}

	setEnabled(on: boolean): void {
		this.enabled = on;
		this.toggle.setAttribute('aria-pressed', String(on));
		this.toggle.toggleAttribute('secondary', !on);
		if (on) this.request(null, this.shown());
		this.schedule();
	}

	onResult(msg: GradcamResultMessage): void {
		const key = msg.className;
		for (const [rel, o] of Object.entries(msg.overlays)) this.maps.set(this.key(key, rel), o);
		for (const e of msg.errors) this.failed.add(this.key(key, e.path));
		for (const r of this.inFlight?.relPaths ?? []) this.pending.delete(this.key(key, r));
		this.inFlight = null;
		this.pump();
		this.schedule();
	}

	private key(cls: ClassName | null, relPath: string): string {
		return `${cls ?? ''}\0${relPath}`;
	}

	/** Queues maps not yet made (for one class key), and starts sending batches. */
	private request(cls: ClassName | null, relPaths: string[]): void {
		const want = relPaths.filter((r) => !this.maps.has(this.key(cls, r)) && !this.failed.has(this.key(cls, r)) && !this.pending.has(this.key(cls, r)));
		for (const r of want) this.pending.add(this.key(cls, r));
		if (cls !== null) {
			// The large view's choice goes first, alone.
			if (want.length && !this.inFlight) this.send(cls, want);
			else if (want.length) this.queue.unshift(...want.map((r) => `${cls}\0${r}`));
			return;
		}
		this.queue.push(...want.map((r) => `\0${r}`));
		this.pump();
	}

	private pump(): void {
		if (this.inFlight || this.queue.length === 0) {
			if (!this.inFlight) this.setBusy(null);
			return;
		}
		const [cls] = this.queue[0].split('\0');
		const batch: string[] = [];
		while (this.queue.length && batch.length < BATCH && this.queue[0].split('\0')[0] === cls) batch.push(this.queue.shift()!.split('\0')[1]);
		this.send((cls || null) as ClassName | null, batch);
	}

	private send(cls: ClassName | null, relPaths: string[]): void {
		this.inFlight = { key: cls, relPaths };
		const left = this.queue.length;
		this.setBusy(`Grad-CAM: ${relPaths.length} image${relPaths.length === 1 ? '' : 's'}${left ? ` (${left} more queued)` : ''}…`);
		this.post({ type: 'gradcam', relPaths, ...(cls ? { className: cls } : {}) });
	}

	private schedule(): void {
		if (this.frame) return;
		this.frame = requestAnimationFrame(() => {
			this.frame = 0;
			this.decorate();
		});
	}

	private decorate(): void {
		const missing: string[] = [];
		for (const cell of this.root.querySelectorAll<HTMLElement>('.cell[data-rel-path]')) {
			const img = cell.querySelector<HTMLImageElement>('img.thumb');
			const o = this.enabled && !cell.hidden ? this.maps.get(this.key(null, cell.dataset.relPath!)) : undefined;
			if (this.enabled && !cell.hidden && !o) missing.push(cell.dataset.relPath!);
			if (img) layer(img, o, this.opacity, true);
		}
		// Cells scrolled or filtered into view are queued too.
		if (missing.length) this.request(null, missing);
		// The large view draws the image on a canvas it zooms and pans with a CSS transform: follow it.
		const canvas = this.root.querySelector<HTMLCanvasElement>('.detail-canvas');
		const detailOpen = canvas && !canvas.closest<HTMLElement>('.overlay')?.hidden;
		if (canvas && !this.watched.has(canvas)) {
			this.watched.add(canvas);
			new MutationObserver(() => this.schedule()).observe(canvas, { attributes: true, attributeFilter: ['style', 'width', 'height', 'aria-label', 'data-full-res'] });
		}
		if (canvas && detailOpen) {
			const rel = canvas.getAttribute('aria-label') ?? '';
			const o = this.enabled && rel ? this.maps.get(this.key(this.detailClass, rel)) : undefined;
			if (this.enabled && rel && !o) this.request(this.detailClass, [rel]);
			layerCanvas(canvas, o, this.opacity);
			if (rel) this.detailControls(rel, o);
		}
	}

	/** Opacity slider and class choice in the large view's info column (re-added when the view re-renders). */
	private detailControls(relPath: string, o: GradcamOverlayView | undefined): void {
		const info = this.root.querySelector<HTMLElement>('.detail-info');
		if (!info) return;
		let box = info.querySelector<HTMLElement>('.gradcam-controls');
		if (!box) {
			box = h('div', { class: 'gradcam-controls' });
			info.appendChild(box);
		}
		if (box.dataset.for === `${relPath}\0${this.enabled}\0${this.detailClass}\0${o ? o.border : ''}`) return;
		box.dataset.for = `${relPath}\0${this.enabled}\0${this.detailClass}\0${o ? o.border : ''}`;
		const show = h('input', { attrs: { type: 'checkbox', id: 'gradcam-show' } });
		show.checked = this.enabled;
		show.addEventListener('change', () => this.setEnabled(show.checked));
		const slider = h('input', { testid: TestId.GradcamOpacity, attrs: { type: 'range', min: '0', max: '1', step: '0.05', 'aria-label': 'Overlay opacity' } });
		slider.value = String(this.opacity);
		slider.addEventListener('input', () => {
			this.opacity = Number(slider.value);
			for (const el of this.root.querySelectorAll<HTMLElement>('.cam-img')) el.style.opacity = String(this.opacity);
		});
		const cls = h(
			'select',
			{ testid: TestId.GradcamClass, attrs: { 'aria-label': 'Class the map explains' } },
			h('option', { attrs: { value: '' } }, 'predicted class'),
			...CLASS_NAMES.map((c) => h('option', { attrs: { value: c } }, c)),
		);
		cls.value = this.detailClass ?? '';
		cls.addEventListener('change', () => {
			this.detailClass = (cls.value || null) as ClassName | null;
			this.schedule();
		});
		const where = o
			? h(
					'p',
					{ class: o.outside ? 'cam-where outside' : 'cam-where' },
					`Map of ${o.className}: ${(o.border * 100).toFixed(0)} % of its mass in the border band`,
					o.outside ? ' — looks outside the lungs' : '',
				)
			: this.enabled
				? h('p', { class: 'muted', text: 'Computing the map…' })
				: null;
		// The controls are rebuilt: the one that had the focus hands it to its successor, or keyboard review
		// (← → F in the large view) would go dead with the focus on <body>.
		const focused = document.activeElement;
		const refocus = focused && box.contains(focused) ? (focused === box.querySelector('#gradcam-show') ? show : focused.tagName === 'SELECT' ? cls : slider) : null;
		replaceChildren(
			box,
			h('h3', { text: 'Grad-CAM' }),
			h('label', { class: 'cam-row' }, show, ' Show the map'),
			h('label', { class: 'cam-row' }, h('span', { text: 'Opacity ' }), slider),
			h('label', { class: 'cam-row' }, h('span', { text: 'Class ' }), cls),
			where,
		);
		refocus?.focus();
	}
}

/** Sets a style property only when it changes (fewer style mutations while the user pans). */
function setStyle(el: HTMLElement, prop: 'left' | 'top' | 'width' | 'height' | 'opacity' | 'transform', value: string): void {
	if (el.style[prop] !== value) el.style[prop] = value;
}

/**
 * The large view's overlay: a box the size of the canvas with the canvas' own transform; the square map centred in
 * it covers the whole image (the canvas shows the letterboxed thumbnail first, then the image at its own aspect).
 */
function layerCanvas(canvas: HTMLCanvasElement, o: GradcamOverlayView | undefined, opacity: number): void {
	const parent = canvas.parentElement;
	if (!parent) return;
	let wrap = parent.querySelector<HTMLElement>(':scope > .cam-layer');
	if (!o || !canvas.width || !canvas.height) {
		if (wrap) wrap.hidden = true;
		return;
	}
	if (!wrap) {
		wrap = h('div', { class: 'cam-layer cam-canvas-layer', attrs: { 'aria-hidden': 'true' } }, h('img', { class: 'cam-img', testid: TestId.GradcamOverlay, attrs: { alt: '', draggable: 'false' } }));
		parent.appendChild(wrap);
	}
	const camImg = wrap.querySelector<HTMLImageElement>('.cam-img')!;
	if (camImg.getAttribute('src') !== o.uri) camImg.src = o.uri;
	camImg.dataset.outside = String(o.outside);
	const W = canvas.width;
	const H = canvas.height;
	const side = Math.max(W, H);
	setStyle(wrap, 'width', `${W}px`);
	setStyle(wrap, 'height', `${H}px`);
	setStyle(wrap, 'transform', canvas.style.transform);
	setStyle(camImg, 'width', `${side}px`);
	setStyle(camImg, 'height', `${side}px`);
	setStyle(camImg, 'left', `${(W - side) / 2}px`);
	setStyle(camImg, 'top', `${(H - side) / 2}px`);
	setStyle(camImg, 'opacity', String(opacity));
	if (wrap.hidden) wrap.hidden = false;
}

/** Puts (or hides) the overlay over an image's drawn content (object-fit: contain), clipped to it. */
function layer(img: HTMLImageElement, o: GradcamOverlayView | undefined, opacity: number, badge: boolean): void {
	const parent = img.parentElement;
	if (!parent) return;
	let wrap = parent.querySelector<HTMLElement>(':scope > .cam-layer');
	if (!o || img.hidden || !img.naturalWidth) {
		if (wrap) wrap.hidden = true;
		if (!img.naturalWidth && o) img.addEventListener('load', () => layer(img, o, opacity, badge), { once: true });
		return;
	}
	if (!wrap) {
		wrap = h(
			'div',
			{ class: 'cam-layer', attrs: { 'aria-hidden': 'true' } },
			h('img', { class: 'cam-img', testid: TestId.GradcamOverlay, attrs: { alt: '', draggable: 'false' } }),
			h('span', { class: 'cam-flag', text: 'outside lungs' }),
		);
		parent.classList.add('cam-host');
		parent.appendChild(wrap);
	}
	const camImg = wrap.querySelector<HTMLImageElement>('.cam-img')!;
	if (camImg.getAttribute('src') !== o.uri) camImg.src = o.uri;
	camImg.dataset.outside = String(o.outside);
	wrap.querySelector<HTMLElement>('.cam-flag')!.hidden = !(badge && o.outside);
	// The drawn content of the image inside its box; the square overlay centred on it covers the whole image.
	const bw = img.clientWidth;
	const bh = img.clientHeight;
	const s = Math.min(bw / img.naturalWidth, bh / img.naturalHeight);
	const cw = img.naturalWidth * s;
	const ch = img.naturalHeight * s;
	const side = Math.max(cw, ch);
	wrap.style.left = `${img.offsetLeft + (bw - cw) / 2}px`;
	wrap.style.top = `${img.offsetTop + (bh - ch) / 2}px`;
	wrap.style.width = `${cw}px`;
	wrap.style.height = `${ch}px`;
	camImg.style.opacity = String(opacity);
	camImg.style.width = `${side}px`;
	camImg.style.height = `${side}px`;
	camImg.style.left = `${(cw - side) / 2}px`;
	camImg.style.top = `${(ch - side) / 2}px`;
	wrap.hidden = false;
}
