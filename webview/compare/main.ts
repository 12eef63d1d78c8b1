// Compare panel: finished runs side by side (test accuracy, loss, macro F1, per-class recall, weights,
// backend, training time) with the best value of each column starred, and their confusion matrices.
import '../shared/elements';
import sharedCss from '../../media/webview.css';
import panelCss from '../../media/compare.css';
import { CLASS_NAMES } from '../../src/engine/types';
import type { CompareFromWebview, CompareRun, CompareToWebview } from '../../src/protocol/compare';
import { TestId } from '../../src/protocol/testIds';
import { adoptStyles, h, icon, replaceChildren } from '../shared/dom';
import { runTimes } from '../../src/engine/run/times';
import { bestIndex, formatDuration, latestPer, pct, sourceRows } from '../shared/logic';
import { StatusLines, confusionTable, sourceTable, weightsLabel } from '../shared/ui';
import { Channel, startPanel } from '../shared/vscodeApi';

adoptStyles(sharedCss, panelCss);

const channel = new Channel<CompareToWebview, CompareFromWebview>();
const ui = channel.uiState<{ latestOnly: boolean }>({ latestOnly: true });

let runs: CompareRun[] = [];

const status = new StatusLines();
const refresh = h('vscode-button', { testid: TestId.RefreshButton, attrs: { secondary: true, title: 'Reload runs from disk' } }, icon('refresh'), ' Refresh');
refresh.addEventListener('click', () => channel.post({ type: 'refresh' }));
const trainAll = h('vscode-button', { testid: TestId.TrainAllButton, attrs: { title: 'Train every backbone on the current dataset, one after another' } }, icon('run-all'), ' Train all backbones');
trainAll.addEventListener('click', () => channel.post({ type: 'trainAll' }));
const exportCsv = h('vscode-button', { attrs: { secondary: true, title: 'Save the comparison as CSV' } }, icon('table'), ' Export CSV');
exportCsv.addEventListener('click', () => channel.post({ type: 'export', format: 'csv', suggestedName: 'comparison.csv' }));
const latestOnly = h('vscode-checkbox', { attrs: { label: 'Latest run per backbone only' } });
latestOnly.checked = ui.latestOnly;
latestOnly.addEventListener('change', () => {
	ui.latestOnly = latestOnly.checked;
	channel.saveUiState(ui);
	render();
});
const content = h('div', {});
const root = h(
	'div',
	{ class: 'panel compare', data: { panel: 'compare' } },
	h('div', { class: 'header' }, h('h1', { text: 'Compare backbones' }), h('span', { class: 'spacer' }), refresh, exportCsv, trainAll),
	status.el,
	h('div', { class: 'toolbar' }, latestOnly),
	content,
);
root.hidden = true;
(document.getElementById('app') ?? document.body).appendChild(root);

interface Column {
	title: string;
	/** Tooltip of the header (defaults to which direction is better). */
	hint?: string;
	value: (r: CompareRun) => number;
	format: (v: number) => string;
	higherIsBetter: boolean;
	testid?: string;
}

const recall = (r: CompareRun, i: number): number => r.metrics.perClass.find((p) => p.className === CLASS_NAMES[i])?.recall ?? NaN;

const COLUMNS: Column[] = [
	{ title: 'Accuracy', value: (r) => r.metrics.accuracy, format: (v) => pct(v), higherIsBetter: true, testid: TestId.CompareAccuracy },
	{ title: 'Loss', value: (r) => r.metrics.loss, format: (v) => (Number.isFinite(v) ? v.toFixed(4) : '–'), higherIsBetter: false },
	{ title: 'Macro F1', value: (r) => r.metrics.macroAvg.f1, format: (v) => (Number.isFinite(v) ? v.toFixed(3) : '–'), higherIsBetter: true },
	...CLASS_NAMES.map((c, i): Column => ({ title: `Recall ${c}`, value: (r) => recall(r, i), format: (v) => (Number.isFinite(v) ? v.toFixed(3) : '–'), higherIsBetter: true })),
	// Feature extraction dominates a first run (the head trains in seconds); a cached re-run skips it: show both.
	{ title: 'Features', hint: 'Scan, decode, base weights and feature extraction (near zero when the features were cached); lower is better', value: (r) => runTimes(r.timing, r.history).features, format: (v) => formatDuration(v), higherIsBetter: false, testid: TestId.CompareFeatureTime },
	{ title: 'Head training', hint: 'Training the classification head (all epochs); lower is better', value: (r) => runTimes(r.timing, r.history).head, format: (v) => formatDuration(v), higherIsBetter: false, testid: TestId.CompareHeadTime },
	{ title: 'Total', hint: 'Whole run, including evaluation and writing; lower is better', value: (r) => runTimes(r.timing, r.history).total, format: (v) => formatDuration(v), higherIsBetter: false },
];

function render(): void {
	root.hidden = false;
	root.dataset.testid = TestId.PanelRoot;
	const shown = ui.latestOnly ? latestPer(runs, (r) => r.backbone) : runs;
	if (shown.length === 0) {
		replaceChildren(content, h('div', { class: 'empty', text: 'No finished runs in this workspace yet. Train a backbone, or "Train all backbones" to compare them.' }));
		return;
	}
	// Ties share the star: every run equal to the best value of a column is marked.
	const best = COLUMNS.map((c) => {
		const values = shown.map(c.value);
		const i = shown.length > 1 ? bestIndex(values, c.higherIsBetter) : -1;
		return new Set(i < 0 ? [] : values.flatMap((v, k) => (v === values[i] ? [k] : [])));
	});
	const head = h(
		'tr',
		{},
		h('th', { class: 'text', text: 'Run' }),
		h('th', { class: 'text', text: 'Weights' }),
		h('th', { class: 'text', text: 'Backend' }),
		...COLUMNS.map((c) => h('th', { attrs: { title: c.hint ?? (c.higherIsBetter ? 'higher is better' : 'lower is better') }, text: c.title })),
		h('th', { text: '' }),
	);
	const rows = shown.map((r, i) => {
		const open = h('vscode-button', { attrs: { secondary: true, title: 'Open this run’s predictions' } }, icon('preview'), ' Predictions');
		open.addEventListener('click', () => channel.post({ type: 'openRun', runDir: r.runDir }));
		return h(
			'tr',
			{ testid: TestId.CompareRow, data: { backbone: r.backbone, runDir: r.runDir } },
			h('td', { class: 'text' }, h('strong', { text: r.displayName }), h('div', { class: 'muted small', attrs: { title: r.runDir }, text: `${r.name} · ${when(r.createdAt)}` })),
			h('td', { class: 'text' }, weightsLabel(r.weights)),
			h('td', { class: 'text small', text: r.backend }),
			...COLUMNS.map((c, j) => h('td', { class: best[j].has(i) ? 'best' : undefined, testid: c.testid, attrs: { title: best[j].has(i) ? 'best of these runs' : undefined }, text: c.format(c.value(r)) })),
			h('td', { class: 'text' }, open),
		);
	});
	const matrices = shown.map((r) => {
		const bySource = sourceRows(r.metrics.bySource);
		return h(
			'div',
			{ class: 'matrix card' },
			h('div', { class: 'matrix-head' }, h('strong', { text: r.displayName }), weightsLabel(r.weights)),
			h('div', { class: 'muted small', text: `${r.name} · accuracy ${pct(r.metrics.accuracy)} · n = ${r.metrics.support}` }),
			confusionTable(r.metrics.confusion),
			bySource.length ? h('div', { class: 'by-source-block' }, h('strong', { class: 'small', text: 'By source' }), sourceTable(bySource)) : null,
		);
	});
	const anySource = shown.some((r) => sourceRows(r.metrics.bySource).length > 0);
	const random = shown.filter((r) => !r.weights.pretrained);
	replaceChildren(
		content,
		h('h2', { text: 'Test metrics' }),
		h('div', { class: 'table-scroll' }, h('table', { class: 'data compare-table' }, h('thead', {}, head), h('tbody', {}, ...rows))),
		h('p', { class: 'muted small', text: '★ marks the best value of each column among the runs shown.' }),
		random.length
			? h('p', { class: 'warn-line' }, icon('warning'), ` ${random.map((r) => r.displayName).join(', ')}: weights not pretrained (random), so these numbers are not transfer learning.`)
			: null,
		h('h2', { text: anySource ? 'Confusion matrices (rows: true class, columns: predicted) and results by source' : 'Confusion matrices (rows: true class, columns: predicted)' }),
		anySource ? h('p', { class: 'muted small', text: 'By source: accuracy and recall per class for each source dataset; – where a source has no image of that class. Large gaps between sources suggest the model tells sources apart, not diseases.' }) : null,
		h('div', { class: 'matrices' }, ...matrices),
	);
}

/** Local date-time of an ISO stamp; the raw text when it does not parse. */
function when(iso: string): string {
	const d = new Date(iso);
	return Number.isNaN(d.getTime()) ? iso : d.toLocaleString();
}

channel.onMessage((msg) => {
	switch (msg.type) {
		case 'snapshot':
			runs = msg.runs;
			status.setBusy(msg.busy);
			render();
			break;
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

startPanel(channel);
