// Compare panel: finished runs side by side (test accuracy, loss, macro F1, per-class recall, weights,
// backend, training time) with the best value of each column starred, and their confusion matrices.
import '../shared/elements';
import sharedCss from '../../media/webview.css';
import panelCss from '../../media/compare.css';
import { CLASS_NAMES } from '../../src/engine/types';
import type { CompareFromWebview, CompareRun, CompareToWebview, PairedResultMessage } from '../../src/protocol/compare';
import type { InterruptedRunView } from '../../src/protocol/engine';
import { accuracyLabel, fmtInterval } from '../../src/engine/report/format';
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
let interrupted: InterruptedRunView[] = [];

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
	interruptedBox(),
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
	/** The 95 % interval under the value (Wilson, or the run's patient-level bootstrap once its card is in). */
	interval?: (r: CompareRun) => string | undefined;
}

/** Wilson interval of a proportion k/n from the stored metrics, as "[lo–hi] (n = …)". */
const wilsonText = (p: number, n: number): string | undefined => (n > 0 && Number.isFinite(p) ? accuracyLabel(p, n).replace(/^[^[]*/, '') : undefined);
const bracket = (t: string): string => t.replace(/^[^[]*/, '');

const recall = (r: CompareRun, i: number): number => r.metrics.perClass.find((p) => p.className === CLASS_NAMES[i])?.recall ?? NaN;

const COLUMNS: Column[] = [
	{
		title: 'Accuracy',
		value: (r) => r.metrics.accuracy,
		format: (v) => pct(v),
		higherIsBetter: true,
		testid: TestId.CompareAccuracy,
		interval: (r) => wilsonText(r.metrics.accuracy, r.metrics.support),
	},
	{ title: 'Loss', value: (r) => r.metrics.loss, format: (v) => (Number.isFinite(v) ? v.toFixed(4) : '–'), higherIsBetter: false },
	{
		title: 'Macro F1',
		value: (r) => r.metrics.macroAvg.f1,
		format: (v) => (Number.isFinite(v) ? v.toFixed(3) : '–'),
		higherIsBetter: true,
		interval: (r) => (r.card ? bracket(fmtInterval(r.card.macroF1, 'score')) : undefined),
	},
	{
		title: 'Macro AUC',
		value: (r) => r.card?.macroAuc.est ?? NaN,
		format: (v) => (Number.isFinite(v) ? v.toFixed(3) : '…'),
		higherIsBetter: true,
		interval: (r) => (r.card ? bracket(fmtInterval(r.card.macroAuc, 'score')) : undefined),
	},
	...CLASS_NAMES.map((c, i): Column => ({
		title: `Recall ${c}`,
		value: (r) => recall(r, i),
		format: (v) => (Number.isFinite(v) ? v.toFixed(3) : '–'),
		higherIsBetter: true,
		interval: (r) => wilsonText(recall(r, i), r.metrics.perClass.find((p) => p.className === c)?.support ?? 0),
	})),
	// Feature extraction dominates a first run (the head trains in seconds); a cached re-run skips it: show both.
	{
		title: 'Features',
		hint: 'Scan, decode, base weights and feature extraction (near zero when the features were cached); lower is better',
		value: (r) => runTimes(r.timing, r.history).features,
		format: (v) => formatDuration(v),
		higherIsBetter: false,
		testid: TestId.CompareFeatureTime,
	},
	{
		title: 'Head training',
		hint: 'Training the classification head (all epochs); lower is better',
		value: (r) => runTimes(r.timing, r.history).head,
		format: (v) => formatDuration(v),
		higherIsBetter: false,
		testid: TestId.CompareHeadTime,
	},
	{ title: 'Total', hint: 'Whole run, including evaluation and writing; lower is better', value: (r) => runTimes(r.timing, r.history).total, format: (v) => formatDuration(v), higherIsBetter: false },
];

/** Runs cut off mid-training: listed apart, they have no test metrics to compare. */
function interruptedBox(): HTMLElement {
	return h('div', { class: 'interrupted-runs' });
}

function renderInterrupted(): void {
	const box = root.querySelector<HTMLElement>('.interrupted-runs');
	if (!box) return;
	if (interrupted.length === 0) {
		replaceChildren(box);
		return;
	}
	replaceChildren(
		box,
		h('h2', { text: 'Interrupted runs' }),
		h('p', { class: 'muted small', text: 'Training was cut off (the window was reloaded or closed): the history so far is kept, there is no model and no test result.' }),
		h(
			'table',
			{ class: 'data' },
			h('thead', {}, h('tr', {}, h('th', { class: 'text', text: 'Run' }), h('th', { text: 'Epochs' }), h('th', { text: 'Last val acc' }), h('th', { class: 'text', text: 'State' }))),
			h(
				'tbody',
				{},
				...interrupted.map((r) => {
					const last = r.history.at(-1);
					return h(
						'tr',
						{ testid: TestId.InterruptedRow, data: { backbone: r.backbone, runDir: r.runDir } },
						h('td', { class: 'text' }, h('strong', { text: r.name }), h('div', { class: 'muted small', text: when(r.createdAt) })),
						h('td', { text: `${r.history.length}/${r.plannedEpochs}` }),
						h('td', { text: last ? pct(last.val_acc) : '–' }),
						h('td', { class: 'text' }, icon('debug-disconnect'), ' interrupted'),
					);
				}),
			),
		),
	);
}

function render(): void {
	root.hidden = false;
	renderInterrupted();
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
			h(
				'td',
				{ class: 'text' },
				h('strong', { text: r.displayName }),
				// Its numbers are on one unseen source, not a random test split: say so beside the name.
				r.testSource ? h('div', { class: 'small', testid: TestId.CompareTestSource, text: `tested on held-out source ${r.testSource}` }) : null,
				h('div', { class: 'muted small', attrs: { title: r.runDir }, text: `${r.name} · ${when(r.createdAt)}` }),
			),
			h('td', { class: 'text' }, weightsLabel(r.weights)),
			h('td', { class: 'text small', text: r.backend }),
			...COLUMNS.map((c, j) => {
				const iv = c.interval?.(r);
				return h(
					'td',
					{ class: best[j].has(i) ? 'best' : undefined, attrs: { title: best[j].has(i) ? 'best of these runs' : undefined } },
					h('span', { testid: c.testid, text: c.format(c.value(r)) }),
					iv ? h('div', { class: 'muted small', testid: c.testid === TestId.CompareAccuracy ? TestId.CompareInterval : undefined, text: iv }) : null,
				);
			}),
			h('td', { class: 'text' }, open),
		);
	});
	const matrices = shown.map((r) => {
		const bySource = sourceRows(r.metrics.bySource);
		return h(
			'div',
			{ class: 'matrix card' },
			h('div', { class: 'matrix-head' }, h('strong', { text: r.displayName }), weightsLabel(r.weights)),
			h('div', { class: 'muted small', text: `${r.name} · accuracy ${accuracyLabel(r.metrics.accuracy, r.metrics.support)}` }),
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
		h('p', {
			class: 'muted small',
			text: '★ marks the best value of each column among the runs shown. Under each value its 95 % interval: Wilson for proportions, a patient-level bootstrap (1000 resamples) for F1 and AUC. Overlapping intervals mean the ranking may not hold on new data.',
		}),
		pairedSection(shown),
		random.length
			? h('p', { class: 'warn-line' }, icon('warning'), ` ${random.map((r) => r.displayName).join(', ')}: weights not pretrained (random), so these numbers are not transfer learning.`)
			: null,
		h('h2', { text: anySource ? 'Confusion matrices (rows: true class, columns: predicted) and results by source' : 'Confusion matrices (rows: true class, columns: predicted)' }),
		anySource
			? h('p', {
					class: 'muted small',
					text: 'By source: accuracy and recall per class for each source dataset; – where a source has no image of that class. Large gaps between sources suggest the model tells sources apart, not diseases.',
				})
			: null,
		h('div', { class: 'matrices' }, ...matrices),
	);
}

let paired: PairedResultMessage | null = null;
let pickA: string | null = null;
let pickB: string | null = null;

/** "Is A really better than B on this test set?": two runs, McNemar's exact test and a paired bootstrap. */
function pairedSection(shown: CompareRun[]): HTMLElement | null {
	if (shown.length < 2) return null;
	const byAcc = [...shown].sort((a, b) => b.metrics.accuracy - a.metrics.accuracy);
	if (!pickA || !shown.some((r) => r.runDir === pickA)) pickA = byAcc[0].runDir;
	if (!pickB || !shown.some((r) => r.runDir === pickB) || pickB === pickA) pickB = byAcc.find((r) => r.runDir !== pickA)!.runDir;
	const label = (r: CompareRun) => `${r.displayName} (${r.name})`;
	const sel = (value: string, onChange: (v: string) => void) => {
		const el = h('vscode-single-select', { attrs: { 'aria-label': 'Run' } }, ...shown.map((r) => h('vscode-option', { attrs: { value: r.runDir } }, label(r))));
		el.value = value;
		el.addEventListener('change', () => onChange(el.value));
		return el;
	};
	const go = h('vscode-button', {}, icon('git-compare'), ' Compare on the shared test images');
	go.addEventListener('click', () => {
		if (pickA && pickB && pickA !== pickB) channel.post({ type: 'comparePaired', runA: pickA, runB: pickB });
	});
	const nameOf = (d: string) => {
		const r = shown.find((x) => x.runDir === d);
		return r ? label(r) : d;
	};
	let result: HTMLElement | null = null;
	if (paired && paired.runA === pickA && paired.runB === pickB) {
		const p = paired.result;
		if (!p) result = h('p', { class: 'warn-line' }, icon('warning'), ` ${paired.error ?? 'comparison failed'}`);
		else {
			const d = p.difference;
			const pp = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}`;
			const sig = p.mcnemar.p < 0.05 && (d.lo > 0 || d.hi < 0);
			result = h(
				'div',
				{ testid: TestId.ComparePaired },
				h('p', {}, `On ${p.n} shared test images: A ${fmtInterval(p.accuracyA)}, B ${fmtInterval(p.accuracyB)}.`),
				h(
					'p',
					{},
					`A − B = ${pp(d.est)} points [${pp(d.lo)}, ${pp(d.hi)}] (paired bootstrap over patients); McNemar exact p = ${p.mcnemar.p.toPrecision(3)} (only A right: ${p.mcnemar.onlyA}, only B right: ${p.mcnemar.onlyB}).`,
				),
				h(
					'p',
					{ class: sig ? '' : 'warn-line' },
					sig ? 'The difference is unlikely to be chance on this test set (p < 0.05 and the interval excludes 0).' : 'No reliable difference on this test set: the interval includes 0 or p ≥ 0.05.',
				),
			);
		}
	}
	return h(
		'div',
		{ class: 'paired' },
		h('h2', { text: 'Is one run really better? (paired, same test images)' }),
		h(
			'div',
			{ class: 'toolbar' },
			h('span', { text: 'A' }),
			sel(pickA, (v) => ((pickA = v), render())),
			h('span', { text: 'B' }),
			sel(pickB, (v) => ((pickB = v), render())),
			go,
		),
		h('p', { class: 'muted small', text: `A = ${nameOf(pickA)}, B = ${nameOf(pickB)}` }),
		result,
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
			interrupted = msg.interrupted ?? [];
			status.setBusy(msg.busy);
			render();
			break;
		case 'notice':
			status.setNotice(msg.level, msg.message);
			break;
		case 'exportResult':
			status.exportResult(msg);
			break;
		case 'paired':
			paired = msg;
			render();
			break;
		default:
			break;
	}
});

startPanel(channel);
