// Radiograph Viewer webview: draws full-resolution stored values through a lookup table (modality LUT → VOI window
// → MONOCHROME1 / invert) recomputed on every window change, at display rate; zoom and pan move a canvas transform.
// Mouse: left-drag = window/level, right- or shift-drag = pan, wheel = zoom, double-click = fit. The side panel holds
// the latest run's prediction, the image's review (label, flags, note, reviewed) and the tags; Grad-CAM lays the
// latest run's map over the image.
import '../shared/elements';
import sharedCss from '../../media/webview.css';
import panelCss from '../../media/viewer.css';
import { displayLut, type VoiWindow } from '../../src/engine/data/voi';
import { CLASS_NAMES, type ClassName } from '../../src/engine/types';
import type { AnnotationEdit, AnnotationView } from '../../src/protocol/annotations';
import { TestId } from '../../src/protocol/testIds';
import type { ViewerAnnotationMessage, ViewerFromWebview, ViewerGradcamMessage, ViewerImage, ViewerPrediction, ViewerToWebview } from '../../src/protocol/viewer';
import { FLAG_CHOICES, flagText } from '../shared/annotations';
import { adoptStyles, h, icon, replaceChildren } from '../shared/dom';
import { Channel, startPanel } from '../shared/vscodeApi';

adoptStyles(sharedCss, panelCss);
const channel = new Channel<ViewerToWebview, ViewerFromWebview>();

/**
 * Drawing hooks for what lies over the image (the Grad-CAM map). Each is called after the image with the context
 * already transformed to image pixels (x right, y down, 1 unit = 1 pixel).
 */
const viewerOverlays: Array<(ctx: CanvasRenderingContext2D, image: ViewerImage) => void> = [];

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
// Grad-CAM: the toggle asks the host once per image; the map is kept while the image stays.
let camOn = false;
let camOpacity = 0.5;
let cam: { name: string; bitmap: ImageBitmap } | undefined;
let camAsked: string | undefined;
const gradcam = button('flame', 'Grad-CAM', "Lay the latest run's Grad-CAM map (where the model looked) over the image", TestId.ViewerGradcam, () => setGradcam(!camOn));
gradcam.setAttribute('aria-pressed', 'false');
const camOpacityEl = h('input', {
	testid: TestId.ViewerGradcamOpacity,
	attrs: { type: 'range', min: '0', max: '1', step: '0.05', value: String(camOpacity), title: 'Grad-CAM opacity', 'aria-label': 'Grad-CAM opacity' },
});
camOpacityEl.hidden = true;
camOpacityEl.addEventListener('input', () => {
	camOpacity = Number(camOpacityEl.value);
	schedule(draw);
});
const camStatus = h('span', { class: 'cam-status muted', testid: TestId.ViewerGradcamStatus, attrs: { 'aria-live': 'polite' } });
presetSelect.addEventListener('change', () => {
	const p = image?.presets[Number(presetSelect.value)];
	if (p) setWindow(p);
});

const predictionEl = h('div', { testid: TestId.ViewerPrediction });
const notesEl = h('ul', { class: 'notes' });
const reviewEl = h('div', { class: 'review', testid: TestId.ViewerReview });
const tagsEl = h('table', { class: 'tags', testid: TestId.ViewerTags });
const side = h('div', { class: 'side' }, h('h2', { text: 'Prediction' }), predictionEl, notesEl, h('h2', { text: 'Review' }), reviewEl, h('h2', { text: 'Tags' }), tagsEl);
const root = h(
	'div',
	{ class: 'viewer', testid: TestId.PanelRoot, data: { panel: 'viewer' } },
	h('div', { class: 'toolbar' }, prev, next, nameEl, h('span', { class: 'spacer' }), presetSelect, wlEl, invertBtn, oneToOne, fit, gradcam, camOpacityEl, camStatus),
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
	// Keys typed into the review's note or reason are text, not shortcuts.
	if (e.target instanceof HTMLElement && e.target.closest('input, textarea, select')) return;
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

// ── Grad-CAM

function setGradcam(on: boolean): void {
	camOn = on;
	gradcam.setAttribute('aria-pressed', String(on));
	camOpacityEl.hidden = !on;
	if (on) askGradcam();
	else camStatus.textContent = '';
	draw();
}

function askGradcam(): void {
	if (!image || cam?.name === image.name || camAsked === image.name) return;
	camAsked = image.name;
	camStatus.textContent = 'Computing Grad-CAM…';
	channel.post({ type: 'gradcam' });
}

async function showGradcam(msg: ViewerGradcamMessage): Promise<void> {
	if (camAsked === msg.name) camAsked = undefined;
	if (msg.name !== image?.name) return; // an answer for the image before next / previous
	if (!msg.png) {
		camStatus.textContent = msg.error ?? 'No Grad-CAM map.';
		return;
	}
	const bitmap = await createImageBitmap(new Blob([msg.png as Uint8Array<ArrayBuffer>], { type: 'image/png' }));
	cam?.bitmap.close();
	cam = { name: msg.name, bitmap };
	camStatus.textContent = `${msg.className ?? ''}${msg.outside ? ' · looks outside the lungs' : ''}`;
	camStatus.title = `Grad-CAM of ${msg.className ?? 'the predicted class'} · run ${msg.run ?? ''} · ${Math.round((msg.border ?? 0) * 100)} % of the map in the border band`;
	canvas.dataset.gradcam = msg.className ?? '';
	draw();
}

// The overlay PNG is a square with the image centred at its longer side (as the Predictions thumbnails).
viewerOverlays.push((c, img) => {
	if (!camOn || !cam || cam.name !== img.name) return;
	const side = Math.max(img.width, img.height);
	c.globalAlpha = camOpacity;
	c.imageSmoothingEnabled = true;
	c.drawImage(cam.bitmap, (img.width - side) / 2, (img.height - side) / 2, side, side);
});

// ── review (radreview-annotations.csv, through the host's shared store)

let review: ViewerAnnotationMessage | undefined;
/** The run's correct label for the image (its class folder), until a row says otherwise. */
let correctLabel: ClassName | null = null;

function annotate(edit: AnnotationEdit): void {
	if (!review?.path || review.disabled) return;
	// Optimistic: show the edit now; the host's next message is the truth.
	const row: AnnotationView = review.row ? { ...review.row, flags: [...review.row.flags] } : { label: null, originalLabel: correctLabel, flags: [], note: '', reviewed: false };
	if (edit.kind === 'label') row.label = edit.label === row.originalLabel ? null : edit.label;
	else if (edit.kind === 'flag' && !row.flags.includes(edit.flag)) row.flags.push(edit.flag);
	else if (edit.kind === 'unflag') row.flags = row.flags.filter((f) => f !== edit.flag);
	else if (edit.kind === 'note') row.note = edit.note;
	else if (edit.kind === 'reviewed') row.reviewed = edit.reviewed;
	review = { ...review, row };
	channel.post({ type: 'annotate', edits: [edit] });
	showReview();
}

function showReview(): void {
	const r = review;
	if (!r) {
		replaceChildren(reviewEl, h('p', { class: 'muted', text: 'Loading…' }));
		return;
	}
	reviewEl.dataset.path = r.path ?? '';
	if (r.disabled || !r.path) {
		replaceChildren(reviewEl, h('p', { class: 'muted', text: r.disabled ?? 'This image is not in the dataset folder.' }));
		return;
	}
	const path = r.path;
	const row = r.row;
	const original = row?.originalLabel ?? correctLabel;
	const label = h('select', { testid: TestId.ViewerLabel, attrs: { 'aria-label': 'Label' } });
	replaceChildren(label, h('option', { attrs: { value: '' }, text: `Original${original ? ` (${original})` : ''}` }), ...CLASS_NAMES.map((c) => h('option', { attrs: { value: c }, text: c })));
	label.value = row?.label ?? '';
	label.addEventListener('change', () => annotate({ kind: 'label', path, label: (label.value || (original ?? null)) as ClassName | null }));

	const flagSelect = h('select', { testid: TestId.ViewerFlag, attrs: { 'aria-label': 'Flag with a reason' } });
	replaceChildren(flagSelect, h('option', { attrs: { value: '' }, text: 'Flag…' }), ...FLAG_CHOICES.map(([id, text]) => h('option', { attrs: { value: id }, text })));
	flagSelect.addEventListener('change', () => flagSelect.value && annotate({ kind: 'flag', path, flag: flagSelect.value }));
	const other = h('input', { testid: TestId.ViewerFlagReason, attrs: { type: 'text', placeholder: 'Other reason (Enter)', maxlength: '200', 'aria-label': 'Flag with another reason' } });
	other.addEventListener('keydown', (e) => {
		if (e.key === 'Enter' && other.value.trim()) annotate({ kind: 'flag', path, flag: other.value.trim() });
	});
	const flags = (row?.flags ?? []).map((f) =>
		h(
			'li',
			{ testid: TestId.ViewerFlagItem, data: { flag: f } },
			flagText(f),
			' ',
			button('close', '', `Remove the flag '${f}'`, undefined, () => annotate({ kind: 'unflag', path, flag: f })),
		),
	);

	const note = h('textarea', { testid: TestId.ViewerNote, attrs: { rows: 3, placeholder: 'Note', 'aria-label': 'Note' } });
	note.value = row?.note ?? '';
	note.addEventListener('change', () => annotate({ kind: 'note', path, note: note.value }));
	const reviewed = h('input', { testid: TestId.ViewerReviewed, attrs: { type: 'checkbox' } });
	reviewed.checked = row?.reviewed ?? false;
	reviewed.addEventListener('change', () => annotate({ kind: 'reviewed', path, reviewed: reviewed.checked }));

	replaceChildren(
		reviewEl,
		h('label', { class: 'row' }, 'Label ', label),
		h('div', { class: 'row' }, flagSelect, other),
		flags.length ? h('ul', { class: 'flags' }, ...flags) : null,
		note,
		h('label', { class: 'row' }, reviewed, ' Reviewed'),
		h('p', { class: 'muted', text: `Saved to radreview-annotations.csv as ${path}` }),
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
	if (cam && cam.name !== img.name) {
		cam.bitmap.close();
		cam = undefined;
		delete canvas.dataset.gradcam;
	}
	if (camOn) askGradcam();
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
			correctLabel = msg.prediction?.label ?? null;
			showPrediction(msg.prediction, msg.note);
			return showReview();
		case 'gradcam':
			return void showGradcam(msg);
		case 'annotation':
			review = msg;
			return showReview();
	}
});
showPrediction(null, 'Looking for the latest run…');
showReview();
startPanel(channel);
