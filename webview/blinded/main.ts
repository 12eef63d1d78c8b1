// Blinded read: one image at a time from pixels the host decoded (no path, name, label or anyone's read ever
// reaches this page), window/level by dragging, keys 1/2/3 for the class then 1–5 for the confidence, F to flag,
// Backspace / Z to undo.
import sharedCss from '../../media/webview.css';
import panelCss from '../../media/blinded.css';
import type { BlindImage, BlindedFromWebview, BlindedStateMessage, BlindedToWebview } from '../../src/protocol/blinded';
import { TestId } from '../../src/protocol/testIds';
import type { ClassName } from '../../src/engine/types';
import { adoptStyles, h, replaceChildren } from '../shared/dom';
import { Channel, startPanel } from '../shared/vscodeApi';

adoptStyles(sharedCss, panelCss);

const channel = new Channel<BlindedToWebview, BlindedFromWebview>();
let state: BlindedStateMessage | null = null;
let chosen: ClassName | null = null;
let flagged = false;
let shownAt = 0;
let win = { center: 128, width: 256 };

const canvas = h('canvas', { testid: TestId.BlindedImage, attrs: { 'aria-label': 'Radiograph to read' } });
const stage = h('div', { class: 'blinded-stage' }, canvas);
const progress = h('span', { class: 'blinded-progress', testid: TestId.BlindedProgress });
const readerName = h('span', { testid: TestId.BlindedReader });
const step = h('span', { class: 'blinded-help', testid: TestId.BlindedStep });
const choices = h('div', { class: 'blinded-choices' });
const flagButton = h('button', { class: 'blinded-flag', text: 'Flag (F)', attrs: { 'aria-pressed': 'false' }, on: { click: () => toggleFlag() } });
const undoButton = h('button', { text: 'Undo (Z)', on: { click: () => undo() } });
const resetButton = h('button', { text: 'Reset window', on: { click: () => resetWindow() } });
const problem = h('div', { class: 'notice', testid: TestId.Notice });
const root = h(
	'div',
	{ class: 'blinded', testid: TestId.PanelRoot, data: { panel: 'blinded' } },
	h('div', { class: 'blinded-bar' }, readerName, progress, step, flagButton, undoButton, resetButton),
	choices,
	problem,
	stage,
);
document.getElementById('app')?.append(root);

/** Windowed display bytes (RGBA) of the image under the current window. */
function render(img: BlindImage): void {
	canvas.width = img.width;
	canvas.height = img.height;
	const ctx = canvas.getContext('2d');
	if (!ctx) return;
	const out = ctx.createImageData(img.width, img.height);
	const lo = win.center - win.width / 2;
	const scale = 255 / Math.max(1e-6, win.width);
	const px = img.pixels;
	const n = img.width * img.height;
	for (let i = 0; i < n; i++) {
		for (let c = 0; c < 3; c++) {
			const stored = img.samples === 3 ? px[i * 3 + c] : px[i];
			let v = Math.min(255, Math.max(0, ((stored * img.slope + img.intercept - lo) * scale) | 0));
			if (img.monochrome1) v = 255 - v;
			out.data[i * 4 + c] = v;
		}
		out.data[i * 4 + 3] = 255;
	}
	ctx.putImageData(out, 0, 0);
}

function resetWindow(): void {
	const img = state?.image;
	if (!img) return;
	const lo = img.minStored * img.slope + img.intercept;
	const hi = img.maxStored * img.slope + img.intercept;
	win = img.windows[0] ? { ...img.windows[0] } : { center: (lo + hi) / 2, width: Math.max(1, hi - lo) };
	render(img);
}

function showStep(): void {
	const classes = state?.classes ?? [];
	const finished = state !== null && state.image === null;
	step.dataset.step = finished ? 'done' : chosen ? 'confidence' : 'class';
	step.textContent = finished
		? 'All images of this set are read. Close the panel, or undo the last read (Z).'
		: chosen
			? `${chosen}: now your confidence, 1 (guess) … 5 (certain); Backspace to change the class.`
			: `Class: ${classes.map((c, i) => `${i + 1} ${c}`).join(', ')}. Drag on the image for window/level.`;
	for (const b of choices.querySelectorAll('button')) b.classList.toggle('chosen', b.dataset.choice === chosen);
	flagButton.setAttribute('aria-pressed', String(flagged));
}

function choose(c: ClassName): void {
	if (!state?.image) return;
	chosen = c;
	showStep();
}

function confirm(confidence: number): void {
	if (!state?.image || state.token === null || !chosen) return;
	channel.post({ type: 'read', token: state.token, label: chosen, confidence, flagged, seconds: Math.round((performance.now() - shownAt) / 100) / 10 });
	chosen = null;
}

function toggleFlag(): void {
	if (!state?.image) return;
	flagged = !flagged;
	showStep();
}

function undo(): void {
	if (chosen) chosen = null;
	else channel.post({ type: 'undo' });
	showStep();
}

function onState(msg: BlindedStateMessage): void {
	const changed = msg.token !== state?.token;
	const classesChanged = msg.classes.join() !== state?.classes.join();
	state = msg;
	progress.textContent = `${msg.done} / ${msg.total}`;
	readerName.textContent = `Reader: ${msg.reader}`;
	problem.textContent = msg.problem ?? '';
	problem.hidden = !msg.problem;
	if (classesChanged) {
		replaceChildren(choices, ...msg.classes.map((c, i) => h('button', { testid: TestId.BlindedChoice, data: { choice: c }, text: `${i + 1} ${c}`, on: { click: () => choose(c) } })));
	}
	if (changed) {
		chosen = null;
		flagged = false;
		canvas.dataset.token = msg.token === null ? '' : String(msg.token);
		stage.hidden = !msg.image;
		if (msg.image) resetWindow();
		shownAt = performance.now();
	}
	showStep();
}

document.addEventListener('keydown', (e) => {
	if (e.ctrlKey || e.metaKey || e.altKey) return;
	const k = e.key.toLowerCase();
	const digit = /^[1-9]$/.test(k) ? Number(k) : 0;
	if (digit && !chosen && state && digit <= state.classes.length) choose(state.classes[digit - 1]);
	else if (digit && chosen && digit <= 5) confirm(digit);
	else if (k === 'f') toggleFlag();
	else if (k === 'backspace' || k === 'z') undo();
	else return;
	e.preventDefault();
});

// Window/level: horizontal drag widens / narrows the window, vertical drag moves its centre.
let drag: { x: number; y: number; center: number; width: number } | null = null;
stage.addEventListener('pointerdown', (e) => {
	drag = { x: e.clientX, y: e.clientY, ...win };
	stage.setPointerCapture(e.pointerId);
});
stage.addEventListener('pointermove', (e) => {
	const img = state?.image;
	if (!drag || !img) return;
	const range = Math.max(1, (img.maxStored - img.minStored) * Math.abs(img.slope));
	win = { width: Math.max(1, drag.width + ((e.clientX - drag.x) * range) / 500), center: drag.center - ((e.clientY - drag.y) * range) / 500 };
	render(img);
});
stage.addEventListener('pointerup', () => (drag = null));

channel.onMessage((msg) => {
	if (msg.type === 'state') onState(msg);
});
startPanel(channel);
