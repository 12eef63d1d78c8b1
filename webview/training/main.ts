// Training panel: live accuracy and loss curves (train solid, validation dashed, one colour per run), one
// card per series with epoch, learning rate, timing, ETA, Stop and keep / Cancel, a label and a dismiss button.
// The host replays the history.
import '../shared/elements';
import { Chart, Legend, LineController, LineElement, LinearScale, PointElement, Tooltip, type ChartDataset } from 'chart.js';
import sharedCss from '../../media/webview.css';
import panelCss from '../../media/training.css';
import { BACKBONE_IDS, type BackboneId } from '../../src/engine/types';
import type { BackboneChoice } from '../../src/protocol/common';
import type { TrainingFromWebview, TrainingSeries, TrainingToWebview } from '../../src/protocol/training';
import { TestId } from '../../src/protocol/testIds';
import { adoptStyles, h, icon, onThemeChange, replaceChildren, themeColor } from '../shared/dom';
import { SERIES_COLORS, buildSeries, colorFor, etaSeconds, formatDuration, mergeEpochs, pct, trainingCurveRuns, type CurveMetric, type CurveRun } from '../shared/logic';
import { StatusLines, weightsLabel } from '../shared/ui';
import { Channel, startPanel } from '../shared/vscodeApi';
import { arrayBufferToBase64 } from '../shared/bytes';
import { accuracyLabel } from '../../src/engine/report/format';

// Only what a line chart needs: keeps chart.js' share of the bundle small.
Chart.register(LineController, LineElement, PointElement, LinearScale, Legend, Tooltip);

adoptStyles(sharedCss, panelCss);

const channel = new Channel<TrainingToWebview, TrainingFromWebview>();
/** `backbone`: what the user picked here; otherwise the host's default (last trained, else one with weights). */
const ui = channel.uiState<{ backbone?: BackboneId }>({});
let choices: BackboneChoice[] = [];
let hostDefault: BackboneId | undefined;

/** Series in the host's order, by id. */
let series: TrainingSeries[] = [];

const status = new StatusLines();
const pointCount = h('span', { testid: TestId.CurvePointCount, text: '0' });
const stopAll = h('vscode-button', { attrs: { secondary: true, title: 'Stop every running series' } }, icon('debug-stop'), ' Stop all');
stopAll.addEventListener('click', () => channel.post({ type: 'stop' }));

const backboneSelect = h('vscode-single-select', { testid: TestId.BackbonePicker, attrs: { 'aria-label': 'Backbone' } }, ...BACKBONE_IDS.map((b) => h('vscode-option', { attrs: { value: b } }, b)));
const backboneNote = h('span', { class: 'muted backbone-note', testid: TestId.BackboneNote });
backboneSelect.addEventListener('change', () => {
	showBackboneNote();
	ui.backbone = backboneSelect.value as BackboneId;
	channel.saveUiState(ui);
});
const trainButton = h('vscode-button', { attrs: { title: 'Train this backbone on the current dataset' } }, icon('play'), ' Train');
trainButton.addEventListener('click', () => channel.post({ type: 'train', backbone: backboneSelect.value as BackboneId }));
const exportButton = h('vscode-button', { attrs: { secondary: true, title: 'Save both charts as a PNG' } }, icon('file-media'), ' Export PNG');
exportButton.addEventListener('click', () => exportCharts());

const accCanvas = h('canvas', { testid: TestId.TrainingChart, attrs: { role: 'img', 'aria-label': 'Accuracy per epoch, train and validation' } });
const lossCanvas = h('canvas', { testid: TestId.TrainingChart, attrs: { role: 'img', 'aria-label': 'Loss per epoch, train and validation' } });
const cards = h('div', { class: 'series-list' });
const empty = h('div', { class: 'empty', text: 'No training yet. Start one with "Train" below or from the Dataset panel.' });
const chartsBox = h(
	'div',
	{ class: 'charts' },
	h('div', { class: 'chart-card card' }, h('h2', { text: 'Accuracy' }), h('div', { class: 'chart-box' }, accCanvas)),
	h('div', { class: 'chart-card card' }, h('h2', { text: 'Loss' }), h('div', { class: 'chart-box' }, lossCanvas)),
);
const root = h(
	'div',
	{ class: 'panel training', data: { panel: 'training' } },
	h('div', { class: 'header' }, h('h1', { text: 'Training' }), h('span', { class: 'muted' }, pointCount, ' epoch points'), h('span', { class: 'spacer' }), stopAll),
	status.el,
	h('p', { class: 'muted legend-hint' }, 'Solid lines: training. Dashed lines: validation. One colour per run; click a legend entry to hide it.'),
	chartsBox,
	empty,
	cards,
	h('div', { class: 'toolbar' }, h('label', {}, h('span', { text: 'Train another backbone' }), backboneSelect), trainButton, exportButton),
	backboneNote,
);
root.hidden = true;
(document.getElementById('app') ?? document.body).appendChild(root);

// ── charts ──

function palette(): string[] {
	const names = ['blue', 'red', 'green', 'yellow', 'purple', 'orange'];
	return names.map((n, i) => themeColor(`--vscode-charts-${n}`, SERIES_COLORS[i % SERIES_COLORS.length]));
}

function makeChart(canvas: HTMLCanvasElement, metric: CurveMetric): Chart<'line', { x: number; y: number }[]> {
	return new Chart(canvas, {
		type: 'line',
		data: { datasets: [] },
		options: {
			animation: false,
			maintainAspectRatio: false,
			parsing: false,
			normalized: true,
			interaction: { mode: 'nearest', intersect: false },
			elements: { point: { radius: 2, hoverRadius: 4 }, line: { borderWidth: 2, tension: 0 } },
			scales: {
				x: { type: 'linear', title: { display: true, text: 'epoch' }, ticks: { precision: 0 }, min: 1 },
				y:
					metric === 'acc'
						? { type: 'linear', suggestedMin: 0, suggestedMax: 1, title: { display: true, text: 'accuracy' }, ticks: { callback: (v) => pct(Number(v), 0) } }
						: { type: 'linear', beginAtZero: true, title: { display: true, text: 'loss (cross-entropy)' } },
			},
			plugins: {
				legend: { position: 'bottom', labels: { boxWidth: 24, boxHeight: 2 } },
				tooltip: {
					callbacks: {
						label: (ctx) => `${ctx.dataset.label}: ${metric === 'acc' ? pct(ctx.parsed.y ?? NaN) : (ctx.parsed.y ?? NaN).toFixed(4)}`,
					},
				},
			},
		},
	});
}

const accChart = makeChart(accCanvas, 'acc');
const lossChart = makeChart(lossCanvas, 'loss');

function applyTheme(): void {
	const fg = themeColor('--vscode-foreground', '#cccccc');
	const grid = themeColor('--vscode-panel-border', 'rgba(128,128,128,0.3)');
	Chart.defaults.color = fg;
	Chart.defaults.font.family = themeColor('--vscode-font-family', 'sans-serif');
	for (const chart of [accChart, lossChart]) {
		for (const axis of Object.values(chart.options.scales ?? {})) {
			if (!axis) continue;
			axis.grid = { ...axis.grid, color: grid };
			axis.ticks = { ...axis.ticks, color: fg };
			if ('title' in axis && axis.title) axis.title.color = fg;
		}
		if (chart.options.plugins?.legend?.labels) chart.options.plugins.legend.labels.color = fg;
	}
	updateCharts();
}

/** Series that have (or will have) curves; a run that failed before its first epoch gets no legend entry. */
function charted(): TrainingSeries[] {
	return series.filter((s) => s.history.length > 0 || s.state === 'running' || s.state === 'queued');
}

function curveRuns(): CurveRun[] {
	return trainingCurveRuns(charted());
}

/** The picker: every backbone, the ones without weights marked with why and the fix; the host's default selected. */
function renderPicker(): void {
	if (choices.length === 0) return;
	const picked = ui.backbone && choices.some((c) => c.id === ui.backbone && c.available) ? ui.backbone : hostDefault;
	replaceChildren(
		backboneSelect,
		...choices.map((c) => {
			const o = h('vscode-option', { attrs: { value: c.id, description: c.detail, selected: c.id === picked } }, c.available ? c.label : `${c.label} — no weights`);
			o.dataset.available = String(c.available);
			return o;
		}),
	);
	// The select reads its options on slotchange (after this task): set the value again once it has them.
	const apply = (): void => {
		if (picked) backboneSelect.value = picked;
		showBackboneNote();
	};
	apply();
	setTimeout(apply, 0);
}

function showBackboneNote(): void {
	const c = choices.find((x) => x.id === backboneSelect.value);
	backboneNote.textContent = c && !c.available ? `${c.label}: ${c.detail}` : '';
	backboneNote.hidden = !backboneNote.textContent;
}

function updateChart(chart: Chart<'line', { x: number; y: number }[]>, metric: CurveMetric): void {
	const built = buildSeries(curveRuns(), metric, palette());
	const old = chart.data.datasets;
	// Update in place so the legend's hidden flags survive each new epoch.
	const next: ChartDataset<'line', { x: number; y: number }[]>[] = built.map((b) => {
		const prev = old.find((d) => d.label === b.label);
		const ds = prev ?? { label: b.label, data: [] };
		ds.data = b.data;
		ds.borderColor = b.borderColor;
		ds.backgroundColor = b.backgroundColor;
		ds.borderDash = b.borderDash;
		ds.pointStyle = b.split === 'val' ? 'triangle' : 'circle';
		return ds;
	});
	chart.data.datasets = next;
	chart.update('none');
}

function updateCharts(): void {
	updateChart(accChart, 'acc');
	updateChart(lossChart, 'loss');
	pointCount.textContent = String(series.reduce((n, s) => n + s.history.length, 0));
}

// ── cards ──

const STATE_ICON: Record<TrainingSeries['state'], string> = {
	queued: 'clock',
	running: 'sync',
	done: 'pass-filled',
	cancelled: 'circle-slash',
	failed: 'error',
	interrupted: 'debug-disconnect',
};

function card(s: TrainingSeries): HTMLElement {
	const last = s.history.at(-1);
	const done = last ? last.epoch : 0;
	const eta = s.state === 'running' ? etaSeconds(s.history, s.epochs) : undefined;
	const total = s.history.reduce((t, e) => t + e.seconds, 0);
	const swatch = h('span', { class: 'swatch' });
	const ids = charted().map((x) => x.id);
	swatch.style.background = ids.includes(s.id) ? colorFor(ids, s.id, palette()) : themeColor('--vscode-disabledForeground', '#888888');
	const actions: HTMLElement[] = [];
	if (s.state === 'running' && s.history.length > 0) {
		const keep = h(
			'vscode-button',
			{ testid: TestId.StopKeepButton, attrs: { title: `End ${s.displayName} after this epoch, then evaluate and save the model as it is` } },
			icon('debug-stop'),
			' Stop and keep',
		);
		keep.addEventListener('click', () => {
			keep.setAttribute('disabled', '');
			channel.post({ type: 'stopKeep', id: s.id });
		});
		actions.push(keep);
	}
	if (s.state === 'running' || s.state === 'queued') {
		const stop = h('vscode-button', { testid: TestId.StopButton, attrs: { secondary: true, title: `Cancel ${s.displayName}: nothing is saved` } }, icon('close'), ' Cancel');
		stop.addEventListener('click', () => {
			stop.setAttribute('disabled', '');
			channel.post({ type: 'stop', id: s.id });
		});
		actions.push(stop);
	}
	if (s.state === 'done' && s.runDir) {
		const runDir = s.runDir;
		const open = h('vscode-button', { attrs: { secondary: true } }, icon('preview'), ' Predictions');
		open.addEventListener('click', () => channel.post({ type: 'openPredictions', runDir }));
		actions.push(open);
	}
	const rename = h('vscode-button', { attrs: { secondary: true, 'aria-label': `Label ${s.displayName}`, title: 'Give this run a label' } }, icon('edit'));
	rename.addEventListener('click', () => channel.post({ type: 'label', id: s.id }));
	actions.push(rename);
	if (s.state !== 'running' && s.state !== 'queued') {
		const dismiss = h(
			'vscode-button',
			{ testid: TestId.DismissButton, attrs: { secondary: true, 'aria-label': `Dismiss ${s.displayName}`, title: 'Remove this card (the run stays on disk)' } },
			icon('close'),
		);
		dismiss.addEventListener('click', () => channel.post({ type: 'dismiss', id: s.id }));
		actions.push(dismiss);
	}
	const stage = s.state === 'running' && s.stage && s.stage.stage !== 'train' ? `${s.stage.stage} ${s.stage.done}/${s.stage.total}${s.stage.message ? ` — ${s.stage.message}` : ''}` : null;
	return h(
		'div',
		{ class: `series card state-${s.state}`, testid: TestId.TrainingSeries, data: { backbone: s.backbone, state: s.state, id: s.id } },
		h(
			'div',
			{ class: 'series-head' },
			swatch,
			h('strong', { text: s.displayName }),
			s.label ? h('span', { class: 'run-label', text: `“${s.label}”` }) : null,
			// "weights: pending" only while it can still change; a run that ended without weights shows none.
			s.weights || s.state === 'running' || s.state === 'queued' ? weightsLabel(s.weights) : null,
			h('span', { class: `state state-${s.state}` }, icon(STATE_ICON[s.state], s.state === 'running' ? 'codicon-modifier-spin' : ''), ` ${s.state}`),
			h('span', { class: 'spacer' }),
			...actions,
		),
		h(
			'div',
			{ class: 'series-stats' },
			stat('Epoch', h('span', { testid: TestId.EpochProgress, text: `epoch ${done}/${s.epochs}` })),
			last ? stat('Train acc / loss', `${pct(last.acc)} / ${last.loss.toFixed(4)}`) : null,
			last ? stat('Val acc / loss', `${pct(last.val_acc)} / ${last.val_loss.toFixed(4)}`) : null,
			last ? stat('Learning rate', last.lr.toExponential(2)) : null,
			last ? stat('Last epoch', formatDuration(last.seconds)) : null,
			total > 0 ? stat('Elapsed', formatDuration(total)) : null,
			eta !== undefined ? stat('ETA', formatDuration(eta)) : null,
			s.backend ? stat('Backend', s.backend) : null,
			s.metrics
				? stat(
						'Test accuracy',
						h(
							'span',
							{},
							h('strong', { testid: TestId.SeriesAccuracy, text: pct(s.metrics.accuracy) }),
							h('span', { class: 'muted', text: ` ${accuracyLabel(s.metrics.accuracy, s.metrics.support).replace(/^[^[]*/, '')}` }),
						),
					)
				: null,
			s.metrics ? stat('Test loss', s.metrics.loss.toFixed(4)) : null,
		),
		stage ? h('div', { class: 'muted stage' }, icon('loading', 'codicon-modifier-spin'), ` ${stage}`) : null,
		s.error && s.state === 'interrupted' ? h('div', { class: 'muted series-note' }, icon('info'), ` ${s.error}`) : s.error ? h('div', { class: 'series-error' }, icon('error'), ` ${s.error}`) : null,
	);
}

function stat(label: string, value: string | HTMLElement): HTMLElement {
	return h('div', { class: 'stat' }, h('div', { class: 'stat-label muted', text: label }), h('div', { class: 'stat-value' }, value));
}

let renderPending = false;
function scheduleRender(): void {
	if (renderPending) return;
	renderPending = true;
	requestAnimationFrame(() => {
		renderPending = false;
		render();
	});
}

function render(): void {
	root.hidden = false;
	root.dataset.testid = TestId.PanelRoot;
	empty.hidden = series.length > 0;
	chartsBox.hidden = series.length === 0;
	stopAll.hidden = !series.some((s) => s.state === 'running' || s.state === 'queued');
	replaceChildren(cards, ...series.map(card));
	updateCharts();
}

// ── export ──

function exportCharts(): void {
	const w = accCanvas.width + lossCanvas.width;
	const hgt = Math.max(accCanvas.height, lossCanvas.height);
	const out = document.createElement('canvas');
	out.width = w;
	out.height = hgt;
	const ctx = out.getContext('2d');
	if (!ctx) return;
	ctx.fillStyle = themeColor('--vscode-editor-background', '#1e1e1e');
	ctx.fillRect(0, 0, w, hgt);
	ctx.drawImage(accCanvas, 0, 0);
	ctx.drawImage(lossCanvas, accCanvas.width, 0);
	out.toBlob((blob) => {
		if (!blob) return;
		void blob.arrayBuffer().then((buf) => channel.post({ type: 'export', format: 'png', suggestedName: 'training-curves.png', base64: arrayBufferToBase64(buf) }));
	}, 'image/png');
}

// ── messages ──

channel.onMessage((msg) => {
	switch (msg.type) {
		case 'snapshot':
			series = msg.series.map((s) => ({ ...s, history: [...s.history] }));
			if (msg.backbones) choices = msg.backbones;
			if (msg.defaultBackbone) hostDefault = msg.defaultBackbone;
			renderPicker();
			render();
			break;
		case 'epoch': {
			const s = series.find((x) => x.id === msg.id);
			if (!s) return;
			s.history = mergeEpochs(s.history, msg.logs);
			s.epochs = msg.epochs;
			// Epochs on cached features can arrive hundreds a second: draw at most once a frame.
			scheduleRender();
			break;
		}
		case 'seriesUpdate': {
			const i = series.findIndex((x) => x.id === msg.series.id);
			const next = { ...msg.series, history: i >= 0 ? series[i].history : [] };
			if (i >= 0) series[i] = next;
			else series.push(next);
			render();
			break;
		}
		case 'notice':
			status.setNotice(msg.level, msg.message);
			break;
		case 'exportResult':
			status.exportResult(msg);
			break;
		default:
			break;
	}
});

onThemeChange(applyTheme);
applyTheme();
startPanel(channel);
