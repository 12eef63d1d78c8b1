// Radiograph Viewer webview: draws full-resolution stored values through a lookup table (modality LUT → VOI window
// → MONOCHROME1 / invert) recomputed on every window change, at display rate; zoom and pan move a canvas transform.
// Mouse: left-drag = window/level, right- or shift-drag = pan, wheel = zoom, double-click = fit.
import '../shared/elements';
import sharedCss from '../../media/webview.css';
import panelCss from '../../media/viewer.css';
import { displayLut, type VoiWindow } from '../../src/engine/data/voi';
import { TestId } from '../../src/protocol/testIds';
import type { ViewerFromWebview, ViewerImage, ViewerPrediction, ViewerToWebview } from '../../src/protocol/viewer';
import { adoptStyles, h, icon, replaceChildren } from '../shared/dom';
import { Channel, startPanel } from '../shared/vscodeApi';

adoptStyles(sharedCss, panelCss);
const channel = new Channel<ViewerToWebview, ViewerFromWebview>();

/**
 * Drawing hooks for features that overlay the image (Grad-CAM heat map: issue 12, annotations: issue 10). Each is
 * called after the image with the context already transformed to image pixels (x right, y down, 1 unit = 1 pixel).
 */
export const viewerOverlays: Array<(ctx: CanvasRenderingContext2D, image: ViewerImage) => void> = [];

let image: ViewerImage | undefined;
let win: VoiWindow = { center: 128, width: 256, fn: 'LINEAR' };
let invert = false;
/** Device pixels per image pixel, and the image's top-left corner in device pixels. */
let scale = 1;
let offX = 0;
let offY = 0;
let fitted = true;

const full = document.createElement('canvas');
let fullData: ImageData | undefined;
/** While dragging the window of a large image, a subsampled copy (≤ 4 MP) keeps the redraw at display rate. */
const PREVIEW_PIXELS = 4_000_000;
const preview = document.createElement('canvas');
let previewData: ImageData | undefined;
let previewStep = 1;
let showingPreview = false;
let lut32 = new Uint32Array(0);
let lut8: Uint8Array = new Uint8Array(0);

const canvas = h('canvas', { testid: TestId.ViewerCanvas });
const ctx = canvas.getContext('2d')!;
const message = h('div', { class: 'message', testid: TestId.ViewerError });
message.hidden = true;
const hint = h('div', { class: 'hint', text: 'Drag: window/level · Right- or Shift-drag: pan · Wheel: zoom · Double-click: fit' });
const stage = h('div', { class: 'stage' }, canvas, message, hint);

const nameEl = h('span', { class: 'name', testid: TestId.ViewerName });
const wlEl = h('span', { class: 'wl', testid: TestId.ViewerWindow });
const presetSelect = h('select', { testid: TestId.ViewerPresets, attrs: { title: 'Window presets' } });
const button = (iconName: string, label: string, title: string, testid: string | undefined, onClick: () => void) => {
	const b = h('vscode-button', { attrs: { secondary: true, title }, ...(testid ? { testid } : {}) }, icon(iconName), label ? ` ${label}` : '');
	b.addEventListener('click', onClick);
	return b;
};
const prev = button('arrow-left', '', 'Previous image in the folder', TestId.ViewerPrevious, () => channel.post({ type: 'navigate', delta: -1 }));
const next = button('arrow-right', '', 'Next image in the folder', TestId.ViewerNext, () => channel.post({ type: 'navigate', delta: 1 }));
const invertBtn = button('color-mode', 'Invert', 'Invert the grey scale', TestId.ViewerInvert, () => {
	invert = !invert;
	renderFull();
});
const oneToOne = button('screen-full', '1:1', 'One image pixel per screen pixel', TestId.ViewerOneToOne, () => zoomTo(1));
const fit = button('screen-normal', 'Fit', 'Fit the image to the window', undefined, () => fitImage());
// Hooks for features landing from other branches: the host answers when they are registered.
const gradcam = button('flame', 'Grad-CAM', 'Grad-CAM overlay (arrives with issue 12)', undefined, () => channel.post({ type: 'hook', name: 'gradcam' }));
const annotate = button('edit', 'Annotate', 'Annotation tools (arrive with issue 10)', undefined, () => channel.post({ type: 'hook', name: 'annotate' }));
gradcam.setAttribute('disabled', '');
annotate.setAttribute('disabled', '');
presetSelect.addEventListener('change', () => {
	const p = image?.presets[Number(presetSelect.value)];
	if (p) setWindow(p);
});

const predictionEl = h('div', { testid: TestId.ViewerPrediction });
const notesEl = h('ul', { class: 'notes' });
const tagsEl = h('table', { class: 'tags', testid: TestId.ViewerTags });
const side = h('div', { class: 'side' }, h('h2', { text: 'Prediction' }), predictionEl, notesEl, h('h2', { text: 'Tags' }), tagsEl);
const root = h(
	'div',
	{ class: 'viewer', testid: TestId.PanelRoot, data: { panel: 'viewer' } },
	h('div', { class: 'toolbar' }, prev, next, nameEl, h('span', { class: 'spacer' }), presetSelect, wlEl, invertBtn, oneToOne, fit, gradcam, annotate),
	h('div', { class: 'body' }, stage, side),
);
document.getElementById('app')!.replaceWith(root);

// ── pixels

/** Rebuild the lookup table for the current window and push every pixel (or, for a drag preview, every step-th) through it. */
function renderFull(asPreview = false): void {
	if (!image || !fullData) return;
	const img = image;
	const usePreview = asPreview && previewStep > 1 && previewData !== undefined;
	const target = usePreview ? previewData! : fullData;
	const out = new Uint32Array(target.data.buffer);
	const step = usePreview ? previewStep : 1;
	const tw = target.width;
	const th = target.height;
	const px = img.pixels;
	if (img.samples === 1) {
		const count = img.maxStored - img.minStored + 1;
		lut8 = displayLut(img.minStored, count, img.slope, img.intercept, win, img.monochrome1 !== invert, lut8);
		if (lut32.length !== count) lut32 = new Uint32Array(count);
		for (let i = 0; i < count; i++) lut32[i] = 0xff000000 | (lut8[i] << 16) | (lut8[i] << 8) | lut8[i];
		const lo = img.minStored;
		if (step === 1) for (let i = 0; i < out.length; i++) out[i] = lut32[px[i] - lo];
		else for (let y = 0, o = 0; y < th; y++) for (let x = 0, i = y * step * img.width; x < tw; x++, i += step) out[o++] = lut32[px[i] - lo];
	} else {
		lut8 = displayLut(0, 256, 1, 0, win, invert, lut8);
		for (let y = 0, o = 0; y < th; y++) {
			for (let x = 0, j = y * step * img.width * 3; x < tw; x++, j += 3 * step) out[o++] = 0xff000000 | (lut8[px[j + 2]] << 16) | (lut8[px[j + 1]] << 8) | lut8[px[j]];
		}
	}
	(usePreview ? preview : full).getContext('2d')!.putImageData(target, 0, 0);
	showingPreview = usePreview;
	updateReadout();
	draw();
}

function draw(): void {
	const w = canvas.width;
	const hh = canvas.height;
	ctx.setTransform(1, 0, 0, 1, 0, 0);
	ctx.fillStyle = '#000';
	ctx.fillRect(0, 0, w, hh);
	if (!image) return;
	ctx.imageSmoothingEnabled = scale < 1;
	ctx.setTransform(scale, 0, 0, scale, offX, offY);
	if (showingPreview) ctx.drawImage(preview, 0, 0, preview.width * previewStep, preview.height * previewStep);
	else ctx.drawImage(full, 0, 0);
	for (const overlay of viewerOverlays) {
		ctx.save();
		overlay(ctx, image);
		ctx.restore();
	}
}

let drawQueued = false;
/** Coalesce window / zoom changes to one redraw per animation frame. */
function schedule(fn: () => void): void {
	pending = fn;
	if (drawQueued) return;
	drawQueued = true;
	requestAnimationFrame(() => {
		drawQueued = false;
		pending?.();
		pending = undefined;
	});
}
let pending: (() => void) | undefined;

function updateReadout(): void {
	const round = (v: number) => (Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 100) / 100);
	wlEl.textContent = `W ${round(win.width)}  L ${round(win.center)}${win.fn === 'LINEAR' ? '' : ` ${win.fn}`}${invert ? '  inverted' : ''}`;
	for (const el of [wlEl, canvas]) {
		el.dataset.center = String(win.center);
		el.dataset.width = String(win.width);
	}
}

function setWindow(w: VoiWindow, asPreview = false): void {
	win = { center: w.center, width: w.width, fn: w.fn };
	renderFull(asPreview);
}

// ── view transform

function resizeCanvas(): void {
	const r = stage.getBoundingClientRect();
	const dpr = window.devicePixelRatio || 1;
	canvas.width = Math.max(1, Math.round(r.width * dpr));
	canvas.height = Math.max(1, Math.round(r.height * dpr));
	if (fitted) fitImage();
	else draw();
}

function fitImage(): void {
	if (!image) return;
	scale = Math.min(canvas.width / image.width, canvas.height / image.height);
	offX = (canvas.width - image.width * scale) / 2;
	offY = (canvas.height - image.height * scale) / 2;
	fitted = true;
	draw();
}

/** Zoom to `s` device pixels per image pixel around a point of the canvas (device pixels; default: centre). */
function zoomTo(s: number, cx = canvas.width / 2, cy = canvas.height / 2): void {
	const clamped = Math.min(64, Math.max(0.01, s));
	offX = cx - ((cx - offX) * clamped) / scale;
	offY = cy - ((cy - offY) * clamped) / scale;
	scale = clamped;
	fitted = false;
	draw();
}

new ResizeObserver(() => resizeCanvas()).observe(stage);

stage.addEventListener(
	'wheel',
	(e) => {
		e.preventDefault();
		const dpr = window.devicePixelRatio || 1;
		const r = canvas.getBoundingClientRect();
		const s = scale * Math.exp(-e.deltaY * 0.0015);
		schedule(() => zoomTo(s, (e.clientX - r.left) * dpr, (e.clientY - r.top) * dpr));
	},
	{ passive: false },
);
stage.addEventListener('dblclick', () => fitImage());
stage.addEventListener('contextmenu', (e) => e.preventDefault());

let drag: { x: number; y: number; mode: 'window' | 'pan'; start: VoiWindow; offX: number; offY: number } | undefined;
stage.addEventListener('pointerdown', (e) => {
	if (!image) return;
	stage.setPointerCapture(e.pointerId);
	const mode = e.button === 0 && !e.shiftKey ? 'window' : 'pan';
	drag = { x: e.clientX, y: e.clientY, mode, start: { ...win }, offX, offY };
});
stage.addEventListener('pointermove', (e) => {
	if (!drag || !image) return;
	const dx = e.clientX - drag.x;
	const dy = e.clientY - drag.y;
	if (drag.mode === 'pan') {
		const dpr = window.devicePixelRatio || 1;
		offX = drag.offX + dx * dpr;
		offY = drag.offY + dy * dpr;
		fitted = false;
		schedule(draw);
		return;
	}
	// Right widens the window, down raises the level; a full drag across 500 px spans the image's range.
	const range = Math.max(1, Math.abs((image.maxStored - image.minStored) * image.slope));
	const width = Math.max(image.samples === 1 ? 1 : 2, drag.start.width + (dx * range) / 500);
	const center = drag.start.center + (dy * range) / 500;
	const fn = drag.start.fn;
	schedule(() => setWindow({ center, width, fn }, true));
});
const endDrag = () => {
	// The drag drew a preview of a large image: draw it at full resolution now.
	if (drag?.mode === 'window' && showingPreview) schedule(() => renderFull());
	drag = undefined;
};
stage.addEventListener('pointerup', endDrag);
stage.addEventListener('pointercancel', endDrag);
window.addEventListener('keydown', (e) => {
	if (e.key === 'ArrowRight' || e.key === 'PageDown') channel.post({ type: 'navigate', delta: 1 });
	else if (e.key === 'ArrowLeft' || e.key === 'PageUp') channel.post({ type: 'navigate', delta: -1 });
	else if (e.key === 'i') invertBtn.click();
	else if (e.key === '1') zoomTo(1);
	else if (e.key === '0') fitImage();
});

// ── side table

function showPrediction(p: ViewerPrediction | null, note?: string): void {
	if (!p) {
		replaceChildren(predictionEl, h('p', { class: 'muted', text: note ?? 'No prediction.' }));
		return;
	}
	const verdict = p.label === null ? null : p.label === p.predicted;
	replaceChildren(
		predictionEl,
		h(
			'p',
			{},
			'Predicted ',
			h('b', { testid: TestId.PredLabel, text: p.predicted }),
			p.label !== null ? ' · correct label ' : '',
			p.label !== null ? h('b', { testid: TestId.TrueLabel, text: p.label }) : null,
			verdict === null ? null : h('span', { class: `verdict ${verdict ? 'right' : 'wrong'}`, text: verdict ? ' ✓ right' : ' ✗ wrong' }),
		),
		h(
			'table',
			{ class: 'probs' },
			...p.classes.map((c, i) =>
				h(
					'tr',
					{ class: c === p.predicted ? 'predicted' : '', testid: TestId.ViewerProb, data: { class: c } },
					h('td', { text: c }),
					h('td', { text: `${(p.probs[i] * 100).toFixed(1)} %` }),
					h(
						'td',
						{ class: 'barcell' },
						(() => {
							const bar = h('div', { class: 'bar' });
							bar.style.width = `${Math.round(p.probs[i] * 100)}%`;
							return bar;
						})(),
					),
				),
			),
		),
		h('p', { class: 'muted', text: `${p.backbone}${p.pretrained ? '' : ' (not pretrained)'} · run ${p.run}${p.split ? ` · ${p.split} split` : ''}` }),
	);
}

function showImage(img: ViewerImage): void {
	image = img;
	invert = false; // each image starts as its file says (MONOCHROME1 is already handled)
	message.hidden = true;
	nameEl.textContent = `${img.name}  (${img.index + 1}/${img.count})`;
	nameEl.dataset.index = String(img.index);
	nameEl.dataset.count = String(img.count);
	nameEl.title = `${img.name} · ${img.width}×${img.height} · ${img.format}`;
	full.width = img.width;
	full.height = img.height;
	fullData = new ImageData(img.width, img.height);
	previewStep = Math.max(1, Math.ceil(Math.sqrt((img.width * img.height) / PREVIEW_PIXELS)));
	preview.width = Math.ceil(img.width / previewStep);
	preview.height = Math.ceil(img.height / previewStep);
	previewData = previewStep > 1 ? new ImageData(preview.width, preview.height) : undefined;
	showingPreview = false;
	replaceChildren(presetSelect, ...img.presets.map((p, i) => h('option', { attrs: { value: i }, text: `${p.name} (W ${Math.round(p.width)} L ${Math.round(p.center)})` })));
	presetSelect.value = '0';
	replaceChildren(notesEl, ...img.notes.map((n) => h('li', { text: n })));
	replaceChildren(
		tagsEl,
		h('tr', { data: { tag: 'Size' } }, h('td', { text: 'Size' }), h('td', { text: `${img.width} × ${img.height}` })),
		...img.tags.map(([k, v]) => h('tr', { data: { tag: k } }, h('td', { text: k }), h('td', { text: v }))),
	);
	fitted = true;
	resizeCanvas();
	setWindow(img.presets[0]);
}

channel.onMessage((msg) => {
	switch (msg.type) {
		case 'image':
			return showImage(msg.image);
		case 'loadError':
			image = undefined;
			nameEl.textContent = msg.name;
			message.textContent = msg.message;
			message.hidden = false;
			replaceChildren(tagsEl);
			return draw();
		case 'prediction':
			return showPrediction(msg.prediction, msg.note);
	}
});
showPrediction(null, 'Looking for the latest run…');
startPanel(channel);
