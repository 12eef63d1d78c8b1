// Predictions panel: the virtualised prediction grid, filters and sort, the confusion matrix whose cells
// filter the grid, a large view per image, and PNG / PDF / CSV exports.
import '../shared/elements';
import sharedCss from '../../media/webview.css';
import panelCss from '../../media/predictions.css';
import { CLASS_NAMES, type ClassName } from '../../src/engine/types';
import type { ExportFormat } from '../../src/protocol/common';
import type { PredictionsFromWebview, PredictionsToWebview, PredictionsView } from '../../src/protocol/predictions';
import { TestId } from '../../src/protocol/testIds';
import { adoptStyles, h, icon, replaceChildren } from '../shared/dom';
import {
	DEFAULT_FILTER,
	activeFilterText,
	cellFilter,
	confusionOf,
	describeFilter,
	filterAndSort,
	isCellActive,
	isCorrect,
	isDefaultFilter,
	pct,
	rememberView,
	sourceCounts,
	sourceRows,
	viewForSet,
	type FilterStore,
	type GridFilter,
	type GridItem,
	type GridSort,
	type Outcome,
	type SetView,
	type SortKey,
} from '../shared/logic';
import { StatusLines, confusionTable, sourceTable, weightsLabel } from '../shared/ui';
import { Channel, boundedMessage, startPanel } from '../shared/vscodeApi';
import { DetailView } from './detail';
import { gridToPdf, gridToPng } from './exporters';
import { VirtualGrid } from './grid';
import { Annotator } from './annotate';
import { GradcamOverlay } from './overlay';
import { OperatingPointView } from './operatingPoint';
import { accuracyLabel } from '../../src/engine/report/format';

adoptStyles(sharedCss, panelCss);

const channel = new Channel<PredictionsToWebview, PredictionsFromWebview>();

interface UiState {
	/** Filter and sort per prediction set (PredictionsView.setKey): a filter never leaks from one set to another. */
	sets: FilterStore;
	/** The set on screen: after a window reload the host restores this panel with it. */
	shown?: string;
}
const saved = channel.uiState<UiState>({ sets: {} });
const ui: UiState = { sets: typeof saved.sets === 'object' && saved.sets !== null ? saved.sets : {}, ...(typeof saved.shown === 'string' ? { shown: saved.shown } : {}) };
/** The filter and sort of the set on screen (defaults until a snapshot names the set). */
let cur: SetView = viewForSet(undefined, '');

let view: PredictionsView | null = null;
let shown: GridItem[] = [];
let exporting = false;

// ── static skeleton (built once; the snapshot fills it) ──
const status = new StatusLines();
const title = h('h1', { text: 'Predictions' });
const meta = h('div', { class: 'header-meta' });
const count = h('span', { class: 'count', testid: TestId.GridCount, text: '0' });
const countOf = h('span', { class: 'muted' });

function exportButton(testid: string, codicon: string, label: string, format: ExportFormat): HTMLElement {
	const b = h('vscode-button', { testid, attrs: { secondary: true, title: `Export ${label}` } }, icon(codicon), ` ${label}`);
	b.addEventListener('click', () => void runExport(format));
	return b;
}

const exportBar = h(
	'div',
	{ class: 'toolbar export-bar' },
	exportButton(TestId.ExportCsv, 'table', 'CSV', 'csv'),
	exportButton(TestId.ExportPng, 'file-media', 'PNG', 'png'),
	exportButton(TestId.ExportPdf, 'file-pdf', 'PDF', 'pdf'),
);

function select(label: string, options: Array<[string, string]>, value: string, onChange: (v: string) => void): { wrap: HTMLElement; el: HTMLElement & { value: string } } {
	const el = h('vscode-single-select', { attrs: { 'aria-label': label } }, ...options.map(([v, text]) => h('vscode-option', { attrs: { value: v } }, text)));
	el.value = value;
	el.addEventListener('change', () => onChange(el.value));
	return { wrap: h('label', {}, h('span', { text: label }), el), el };
}

const classOptions: Array<[string, string]> = [['all', 'All'], ...CLASS_NAMES.map((c): [string, string] => [c, c])];
const selTrue = select('Correct', classOptions, cur.filter.trueClass, (v) => setFilter({ trueClass: v as ClassName | 'all' }));
const selPred = select('Predicted', classOptions, cur.filter.predicted, (v) => setFilter({ predicted: v as ClassName | 'all' }));
const selOutcome = select(
	'Show',
	[
		['all', 'Right and wrong'],
		['right', 'Right only'],
		['wrong', 'Wrong only'],
	],
	cur.filter.outcome,
	(v) => setFilter({ outcome: v as Outcome }),
);
// Options follow the set on screen (see syncSources).
const selSource = select('Source', [['all', 'All sources']], 'all', (v) => setFilter({ source: v }));
selSource.el.dataset.testid = TestId.SourceFilter;
let sourceOptionsKey = '';

function confField(label: string, value: number, onChange: (v: number) => void): { wrap: HTMLElement; el: HTMLElement & { value: string } } {
	const el = h('vscode-textfield', { class: 'field-narrow', attrs: { type: 'number', min: '0', max: '1', step: '0.05', 'aria-label': label } });
	el.value = value.toFixed(2);
	el.addEventListener('change', () => {
		const v = Number(el.value);
		if (Number.isFinite(v)) onChange(Math.min(1, Math.max(0, v)));
	});
	return { wrap: h('label', {}, h('span', { text: label }), el), el };
}
const minConf = confField('Confidence ≥', cur.filter.minConf, (v) => setFilter({ minConf: v }));
const maxConf = confField('≤', cur.filter.maxConf, (v) => setFilter({ maxConf: v }));

const selSort = select(
	'Sort by',
	[
		['confidence', 'Confidence'],
		['loss', 'Loss (−log p(true))'],
		['name', 'Name'],
	],
	cur.sort.key,
	(v) => setSort({ key: v as SortKey }),
);
const dirButton = h('vscode-button', { attrs: { secondary: true, 'aria-label': 'Sort direction' } });
dirButton.addEventListener('click', () => setSort({ dir: cur.sort.dir === 'asc' ? 'desc' : 'asc' }));
const resetButton = h('vscode-button', { attrs: { secondary: true, title: 'Clear all filters' } }, icon('clear-all'), ' Reset');
resetButton.addEventListener('click', () => setFilter({ ...DEFAULT_FILTER }));

const filterBar = h('div', { class: 'toolbar filter-bar' }, selTrue.wrap, selPred.wrap, selOutcome.wrap, selSource.wrap, minConf.wrap, maxConf.wrap, selSort.wrap, dirButton, resetButton);
// Whenever a filter hides images, say so in plain words with a one-click way back (never a silent "19 of 30").
const activeText = h('span', {});
const activeReset = h('vscode-button', { testid: TestId.ResetFilter, attrs: { title: 'Show every image of this set' } }, icon('clear-all'), ' Show all');
activeReset.addEventListener('click', () => {
	annotator.setFilter('all');
	setFilter({ ...DEFAULT_FILTER });
});
const activeBar = h('div', { class: 'active-filter', testid: TestId.ActiveFilter, attrs: { role: 'status' } }, icon('filter'), activeText, activeReset);
activeBar.hidden = true;

const annotator = new Annotator({
	post: (m) => channel.post(m),
	shown: () => shown,
	refresh: (paths) => {
		if (paths) patch(paths);
		else refresh(false);
		detail.refresh();
	},
	redraw: () => grid.redraw(),
	openDetail: (i) => detail.open(i),
	notice: (level, message) => status.setNotice(level, message),
});
const grid = new VirtualGrid((i) => detail.open(i), {
	decorate: (el, item, label) => annotator.decorate(el, item, label),
	onKey: (e, i) => annotator.onKey(e, i),
	onClick: (e, i) => annotator.onClick(e, i),
});
const emptyGrid = h('div', { class: 'empty grid-empty', text: 'No image matches these filters.' });
const side = h('aside', { class: 'side' });
const layout = h('div', { class: 'layout' }, h('div', { class: 'grid-column' }, grid.el, emptyGrid), side);
const detail = new DetailView({
	item: (i) => annotator.itemAt(i),
	count: () => annotator.count(),
	root: () => view?.root ?? '',
	openFile: (relPath) => channel.post({ type: 'openFile', relPath }),
	onNavigate: (i) => !annotator.inQueue && grid.reveal(i),
	onClose: (i) => {
		// Back to the image in the grid (the review queue counts its own positions).
		const at = annotator.inQueue ? shown.findIndex((s) => s.relPath === annotator.itemAt(i)?.relPath) : i;
		annotator.endQueue();
		if (at >= 0) grid.focusItem(at);
	},
	extra: (item, i) => annotator.detailBlock(item, i),
	onKey: (e, i) => annotator.onKey(e, i, true),
	requestImage: (relPath, requestId) => channel.post({ type: 'loadImage', relPath, requestId }),
});
const emptyView = h('div', { class: 'empty', text: 'No predictions loaded yet. Train a model or classify a folder.' });
const root = h(
	'div',
	{ class: 'panel predictions', data: { panel: 'predictions' } },
	h('div', { class: 'header' }, title, meta, h('span', { class: 'spacer' }), h('span', { class: 'count-line' }, count, countOf), exportBar),
	status.el,
	filterBar,
	annotator.toolbar,
	activeBar,
	layout,
	emptyView,
	detail.el,
	annotator.help,
);
(document.getElementById('app') ?? document.body).appendChild(root);
root.hidden = true;
const gradcam = new GradcamOverlay(
	root,
	(m) => channel.post(m),
	() => shown.map((i) => i.relPath),
	(t) => status.setBusy(t),
);
exportBar.prepend(gradcam.toggle);
const operating = new OperatingPointView(
	root,
	(m) => channel.post(m),
	(rel) => view?.items.find((i) => i.relPath === rel)?.probs,
);
exportBar.prepend(operating.toggle);
status.el.after(operating.line);

// ── state changes ──

function setFilter(patch: Partial<GridFilter>): void {
	cur = { ...cur, filter: { ...cur.filter, ...patch } };
	if (cur.filter.minConf > cur.filter.maxConf) cur = { ...cur, filter: { ...cur.filter, maxConf: cur.filter.minConf } };
	syncControls();
	refresh(true);
}

function setSort(patch: Partial<GridSort>): void {
	cur = { ...cur, sort: { ...cur.sort, ...patch } };
	syncControls();
	refresh(true);
}

function syncControls(): void {
	selTrue.el.value = cur.filter.trueClass;
	selPred.el.value = cur.filter.predicted;
	selOutcome.el.value = cur.filter.outcome;
	selSource.el.value = cur.filter.source;
	minConf.el.value = cur.filter.minConf.toFixed(2);
	maxConf.el.value = cur.filter.maxConf.toFixed(2);
	selSort.el.value = cur.sort.key;
	replaceChildren(dirButton, icon(cur.sort.dir === 'asc' ? 'arrow-up' : 'arrow-down'), cur.sort.dir === 'asc' ? ' Ascending' : ' Descending');
	resetButton.toggleAttribute('disabled', isDefaultFilter(cur.filter));
	if (view) {
		ui.sets = rememberView(ui.sets, view.setKey, cur);
		channel.saveUiState(ui);
	}
}

/** The source filter offers the sources of the set on screen (and keeps a chosen one that has no image here). */
function syncSources(items: readonly GridItem[]): void {
	const counts = sourceCounts(items);
	const options: Array<[string, string]> = [['all', 'All sources'], ...counts.map((c): [string, string] => [c.source, `${c.source} (${c.count})`])];
	if (cur.filter.source !== 'all' && !counts.some((c) => c.source === cur.filter.source)) options.push([cur.filter.source, `${cur.filter.source} (0)`]);
	const key = JSON.stringify(options);
	if (key === sourceOptionsKey) return;
	sourceOptionsKey = key;
	replaceChildren(selSource.el, ...options.map(([v, text]) => h('vscode-option', { attrs: { value: v } }, text)));
	selSource.el.value = cur.filter.source;
}

/** Recomputes the shown list and redraws grid and matrix. */
function refresh(resetScroll: boolean): void {
	const items = (view?.items ?? []).map((i) => annotator.effective(i));
	shown = filterAndSort(items, cur.filter, cur.sort).filter((i) => annotator.matches(i));
	count.textContent = String(shown.length);
	countOf.textContent = shown.length === items.length ? ' images' : ` of ${items.length} images`;
	const reviewFilter = annotator.filter === 'all' ? null : `review state: ${annotator.filter}`;
	const active = view ? [activeFilterText(cur.filter, shown.length, items.length), reviewFilter].filter(Boolean).join(' · ') || null : null;
	activeBar.hidden = active === null;
	activeText.textContent = active ?? '';
	emptyGrid.hidden = shown.length > 0 || items.length === 0;
	shownAt = new Map(shown.map((it, i) => [it.relPath, i]));
	grid.setItems(shown, resetScroll);
	renderSide();
}

/** Where each shown relPath is in `shown`. */
let shownAt = new Map<string, number>();
/** Above this many changed rows a full refresh is as quick as patching. */
const PATCH_MAX = 500;

/**
 * The annotations of `paths` changed. When neither which images are shown nor their order can change (no filter
 * or sort by label or review state), only those entries and tiles are replaced (a keystroke on 5,000 images then
 * costs about one tile, not a re-filter and re-sort); otherwise everything is recomputed.
 */
function patch(paths: readonly string[]): void {
	if (!view) return;
	const fixed = annotator.filter === 'all' && cur.filter.trueClass === 'all' && cur.filter.outcome === 'all' && cur.sort.key !== 'loss';
	if (!fixed || paths.length > PATCH_MAX) return refresh(false);
	const at: number[] = [];
	for (const p of paths) {
		const i = shownAt.get(p);
		const item = annotator.byPath.get(p);
		if (i === undefined || !item) continue;
		shown[i] = annotator.effective(item);
		at.push(i);
	}
	grid.update(at);
	renderSide(true);
}

/** The confusion matrix (with corrected labels) the side panel shows. */
let sideMatrix = '';

/** `onlyIfChanged`: skip the rebuild when the confusion matrix is unchanged (an edit that was not a relabel). */
function renderSide(onlyIfChanged = false): void {
	if (!view) return;
	const items = view.items.map((i) => annotator.effective(i));
	// A confusion matrix needs predictions: an audit queue (no predictions) gets none.
	const labelled = items.some((i) => isCorrect(i) !== null);
	const matrix = confusionOf(items);
	const key = JSON.stringify(matrix);
	if (onlyIfChanged && key === sideMatrix) return;
	sideMatrix = key;
	const parts: HTMLElement[] = [];
	if (labelled) {
		parts.push(
			h('h2', {}, 'Confusion matrix'),
			h('p', { class: 'muted hint', text: 'Click a cell to show those images; click it again to show all.' }),
			confusionTable(matrix, {
				testid: TestId.ConfusionMatrix,
				onCell: (t, p) => setFilter(cellFilter(cur.filter, t, p)),
				isActive: (t, p) => isCellActive(cur.filter, t, p),
			}),
		);
		if (view.metrics) {
			const m = view.metrics;
			parts.push(
				h(
					'table',
					{ class: 'data per-class' },
					h('thead', {}, h('tr', {}, h('th', { text: 'Class' }), h('th', { text: 'Precision' }), h('th', { text: 'Recall' }), h('th', { text: 'F1' }), h('th', { text: 'n' }))),
					h(
						'tbody',
						{},
						...m.perClass.map((r) =>
							h(
								'tr',
								{},
								h('th', { text: r.className }),
								h('td', { text: r.precision.toFixed(2) }),
								h('td', { text: r.recall.toFixed(2) }),
								h('td', { text: r.f1.toFixed(2) }),
								h('td', { text: String(r.support) }),
							),
						),
					),
					h(
						'tfoot',
						{},
						h(
							'tr',
							{},
							h('th', { text: 'macro avg' }),
							h('td', { text: m.macroAvg.precision.toFixed(2) }),
							h('td', { text: m.macroAvg.recall.toFixed(2) }),
							h('td', { text: m.macroAvg.f1.toFixed(2) }),
							h('td', { text: String(m.support) }),
						),
					),
				),
			);
			const bySource = sourceRows(m.bySource);
			if (bySource.length) {
				// Classes confounded with source (e.g. pediatric vs adult sets) show up here as uneven recall.
				parts.push(
					h('h2', {}, 'By source'),
					h('p', { class: 'muted hint', text: 'If accuracy differs a lot between sources, the model may be telling sources apart, not diseases.' }),
					sourceTable(bySource),
				);
			}
		}
	} else {
		const unpredicted = items.some((i) => i.predicted === null);
		const disputed = items.some((i) => i.disputed);
		const why = disputed
			? 'These images were chosen because the prediction disagrees with the given label'
			: unpredicted
				? 'These images were flagged by a check, not classified'
				: 'These images have no labels';
		parts.push(h('p', { class: 'muted', text: `${why}: no accuracy or confusion matrix.` }));
	}
	if (view.errors.length) {
		parts.push(
			h('h2', {}, `Files not classified (${view.errors.length})`),
			h('ul', { class: 'errors-list' }, ...view.errors.map((e) => h('li', { attrs: { title: e.path } }, icon('error'), h('span', { class: 'mono', text: e.path }), ` — ${e.reason}`))),
		);
	}
	if (view.csvPath) {
		const reveal = h('vscode-button', { attrs: { secondary: true } }, icon('go-to-file'), ' Reveal predictions.csv');
		reveal.addEventListener('click', () => channel.post({ type: 'revealCsv' }));
		parts.push(h('div', { class: 'toolbar' }, reveal));
	}
	replaceChildren(side, ...parts);
}

function renderHeader(v: PredictionsView): void {
	title.textContent = v.title;
	// Accuracy over images with both a label and a prediction (an audit queue has no predictions: no accuracy).
	const scored = v.items.filter((i) => isCorrect(i) !== null);
	const accuracy = v.metrics?.accuracy ?? (scored.length ? scored.filter((i) => i.label === i.predicted).length / scored.length : undefined);
	const n = v.metrics?.support ?? scored.length;
	replaceChildren(
		meta,
		h('span', { class: 'chip', text: v.backbone }),
		weightsLabel(v.weights),
		v.backend ? h('span', { class: 'muted', text: v.backend }) : null,
		accuracy !== undefined
			? h(
					'span',
					{ class: 'accuracy' },
					'accuracy ',
					h('strong', { testid: TestId.MetricsAccuracy, text: pct(accuracy) }),
					h('span', { class: 'muted', text: ` ${accuracyLabel(accuracy, n).replace(/^[^[]*/, '')}` }),
				)
			: null,
	);
}

function onSnapshot(v: PredictionsView | null, busy: string | null): void {
	const first = view === null || v === null || v.setKey !== view.setKey;
	// Another prediction set: keep this one's filter, take that one's (the defaults for a set never filtered).
	if (v && (view === null || v.setKey !== view.setKey)) {
		if (view) ui.sets = rememberView(ui.sets, view.setKey, cur);
		cur = viewForSet(ui.sets, v.setKey);
	}
	if (v && ui.shown !== v.setKey) {
		ui.shown = v.setKey;
		channel.saveUiState(ui);
	}
	view = v;
	root.hidden = false;
	root.dataset.testid = TestId.PanelRoot;
	status.setBusy(busy);
	const has = v !== null;
	layout.hidden = !has;
	filterBar.hidden = !has;
	annotator.toolbar.hidden = !has;
	exportBar.hidden = !has;
	emptyView.hidden = has;
	if (!v) {
		title.textContent = 'Predictions';
		replaceChildren(meta);
		count.textContent = '0';
		return;
	}
	renderHeader(v);
	annotator.setItems(v.items);
	annotator.byPath = new Map(v.items.map((i) => [i.relPath, i]));
	if (first) {
		gradcam.reset();
		operating.reset();
	}
	detail.close(false);
	syncSources(v.items);
	syncControls();
	refresh(first);
}

// ── exports ──

async function runExport(format: ExportFormat): Promise<void> {
	if (!view || exporting) return;
	if (format === 'csv' || format === 'json') {
		channel.post({ type: 'export', format, suggestedName: `predictions.${format}` });
		return;
	}
	if (shown.length === 0) {
		status.setNotice('warn', 'Nothing to export: no image matches the current filters.');
		return;
	}
	exporting = true;
	const name = fileStem(view.title);
	const subtitle = `${view.backbone}, ${view.weights.pretrained ? 'pretrained' : 'NOT pretrained'} — ${describeFilter(cur.filter, cur.sort)}`;
	const progress = (done: number, total: number): void => status.setBusy(`Exporting ${format.toUpperCase()}: ${done}/${total} thumbnails`);
	try {
		// With Grad-CAM on, the exports carry the maps over the thumbnails.
		const items = gradcam.isOn() ? await gradcam.withOverlays(shown) : shown;
		const sub = gradcam.isOn() ? `${subtitle} — Grad-CAM of the predicted class` : subtitle;
		const result = format === 'png' ? await gridToPng(items, view.title, sub, progress) : await gridToPdf(items, view.title, sub, progress);
		status.setBusy(`Saving ${format.toUpperCase()}…`);
		channel.post({ type: 'export', format, suggestedName: `${name}.${format}`, base64: result.base64 });
		if (result.capped) status.setNotice('warn', `The ${format.toUpperCase()} holds the first ${result.count} of ${shown.length} images.`);
	} catch (e) {
		const message = `${format.toUpperCase()} export failed: ${e instanceof Error ? e.message : String(e)}`;
		status.setNotice('error', message);
		channel.post({ type: 'error', message: boundedMessage(message) });
	} finally {
		exporting = false;
		status.setBusy(null);
	}
}

/** A bare, safe file name from the panel title (the host sanitises again). */
function fileStem(t: string): string {
	return (
		t
			.replace(/[^A-Za-z0-9._-]+/g, '-')
			.replace(/^-+|-+$/g, '')
			.slice(0, 80) || 'predictions'
	);
}

// ── messages ──

channel.onMessage((msg) => {
	switch (msg.type) {
		case 'snapshot':
			onSnapshot(msg.view, msg.busy);
			break;
		case 'notice':
			status.setNotice(msg.level, msg.message);
			break;
		case 'exportResult':
			status.exportResult(msg);
			break;
		case 'annotations':
			// Refreshes what differs from the rows shown (nothing when the host confirms an edit shown at once).
			annotator.onMessage(msg);
			break;
		case 'image':
			detail.onImage(msg);
			break;
		case 'gradcam':
			gradcam.onResult(msg);
			break;
		case 'operatingPoint':
			operating.onResult(msg);
			break;
		default:
			break;
	}
});

syncControls();
startPanel(channel);
