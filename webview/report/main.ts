// Report panel: one run's report card — accuracy, macro-F1 and AUC with intervals, the per-class table, ROC / PR /
// reliability charts, the confusion matrix, the operating point (chosen on validation), per-source results,
// where Grad-CAM looks, and the provenance line on every figure.
import '../shared/elements';
import sharedCss from '../../media/webview.css';
import panelCss from '../../media/report.css';
import { CLASS_NAMES, type ClassName } from '../../src/engine/types';
import type { ReportCard } from '../../src/engine/report/report';
import { CLASS_COLOURS, classTable, confusionTable, fmtInterval, looksTable, operatingPointLine, provenanceLine, reportCharts, sourceTable } from '../../src/engine/report/format';
import type { OperatingOptions, ReportFromWebview, ReportToWebview } from '../../src/protocol/report';
import { TestId } from '../../src/protocol/testIds';
import { differenceTable, kappaTable, modelAgreementTable, readersRocSvg } from '../../src/engine/reads/card';
import { adoptStyles, h, icon, replaceChildren } from '../shared/dom';
import { StatusLines, weightsLabel } from '../shared/ui';
import { Channel, startPanel } from '../shared/vscodeApi';

adoptStyles(sharedCss, panelCss);

const channel = new Channel<ReportToWebview, ReportFromWebview>();
let options: OperatingOptions = { positiveClass: 'COVID' };

const status = new StatusLines();
const title = h('h1', { text: 'Report card' });
const content = h('div', { class: 'report-content' });

function button(label: string, codicon: string, onClick: () => void, testid?: string, secondary = true): HTMLElement {
	const b = h('vscode-button', { testid, attrs: { secondary } }, icon(codicon), ` ${label}`);
	b.addEventListener('click', onClick);
	return b;
}

const exportBar = h(
	'div',
	{ class: 'toolbar' },
	button('PDF', 'file-pdf', () => channel.post({ type: 'exportReport', format: 'pdf' }), TestId.ReportExportPdf),
	button('HTML', 'globe', () => channel.post({ type: 'exportReport', format: 'html' })),
	button('JSON', 'json', () => channel.post({ type: 'exportReport', format: 'json' })),
	button('Predictions grid', 'layout', () => channel.post({ type: 'openGrid' })),
);

const root = h('div', { class: 'panel report', data: { panel: 'report' } }, h('div', { class: 'header' }, title, h('span', { class: 'spacer' }), exportBar), status.el, content);
root.hidden = true;
(document.getElementById('app') ?? document.body).appendChild(root);

/** A table from rows of strings (header first); cells are text, never HTML. */
function table(rows: string[][], testid?: string): HTMLElement {
	const [head, ...body] = rows;
	return h(
		'div',
		{ class: 'table-scroll' },
		h(
			'table',
			{ class: 'data', testid },
			h('thead', {}, h('tr', {}, ...head.map((c) => h('th', { text: c })))),
			h('tbody', {}, ...body.map((r) => h('tr', {}, ...r.map((c, i) => (i === 0 ? h('th', { text: c }) : h('td', { text: c })))))),
		),
	);
}

/** Our own SVG (numbers and escaped labels) parsed as XML: no HTML parsing, no scripts. */
function svg(markup: string, testid?: string): Element {
	const doc = new DOMParser().parseFromString(markup, 'image/svg+xml');
	const el = document.importNode(doc.documentElement, true);
	if (testid) el.setAttribute('data-testid', testid);
	el.classList.add('chart');
	return el;
}

function operatingControls(): HTMLElement {
	const cls = h('vscode-single-select', { attrs: { 'aria-label': 'Positive class' } }, ...CLASS_NAMES.map((c) => h('vscode-option', { attrs: { value: c } }, c)));
	cls.value = options.positiveClass;
	const rule = h(
		'vscode-single-select',
		{ attrs: { 'aria-label': 'Threshold rule' } },
		h('vscode-option', { attrs: { value: 'youden' } }, "Youden's J"),
		...[0.8, 0.9, 0.95].map((t) => h('vscode-option', { attrs: { value: String(t) } }, `sensitivity ≥ ${t * 100} %`)),
	);
	rule.value = options.targetSensitivity === undefined ? 'youden' : String(options.targetSensitivity);
	const apply = () => {
		const t = rule.value === 'youden' ? undefined : Number(rule.value);
		channel.post({ type: 'setOptions', positiveClass: cls.value as ClassName, ...(t !== undefined ? { targetSensitivity: t } : {}) });
	};
	cls.addEventListener('change', apply);
	rule.addEventListener('change', apply);
	return h('div', { class: 'toolbar' }, h('label', {}, h('span', { text: 'Positive class ' }), cls), h('label', {}, h('span', { text: 'Threshold on validation by ' }), rule));
}

/** Readers of the dataset: κ between them, each reader on the model's ROC, paired differences, agreement. */
function readersSection(card: ReportCard): HTMLElement | null {
	const r = card.readers;
	if (!r) return null;
	const body: (HTMLElement | Element | null)[] = [h('h2', { text: 'Readers' })];
	if (r.error) body.push(h('p', { class: 'warn' }, icon('warning'), ` The reads file cannot be used: ${r.error}`));
	else {
		body.push(h('p', { text: `${r.images} image(s) read by ${r.readers.join(', ')}. Intervals 95 %: BCa bootstrap over ${r.bootstrap.unit}s; Wilson for reader points.` }));
		if (r.agreementNote) body.push(h('p', { class: 'muted', text: `${r.agreementNote}.` }));
		if (r.pairs.length) body.push(table(kappaTable(r)));
		const m = r.model;
		if (m && m.cases) {
			body.push(
				h('h3', { text: `The model against the readers (${m.cases} held-out image(s) they read)` }),
				h('div', { class: 'charts' }, ...m.classes.map((_, i) => svg(readersRocSvg(m, i, CLASS_COLOURS[i])))),
				table(differenceTable(m)),
				table(modelAgreementTable(m)),
			);
		} else if (m) body.push(h('p', { class: 'muted', text: 'None of the read images is a held-out (test) image of this run.' }));
	}
	return h('div', { testid: TestId.ReportReaders }, ...body);
}

function render(card: ReportCard | null, busy: string | null): void {
	if (!card) {
		replaceChildren(content, h('p', { class: 'muted', text: busy ? '' : 'No report yet: run “Radiograph: Show Report” and pick a run.' }));
		return;
	}
	title.textContent = `Report card: ${card.run.name}`;
	const charts = reportCharts(card);
	const prov = () => h('p', { class: 'prov muted', text: provenanceLine(card) });
	const p = card.provenance;
	replaceChildren(
		content,
		h('p', { class: 'prov muted', testid: TestId.ReportProvenance, text: provenanceLine(card) }),
		h('div', { class: 'meta' }, h('span', { class: 'chip', text: card.run.backbone }), weightsLabel({ ...p.weights, sha256: '' }), h('span', { class: 'muted', text: card.run.backend })),
		p.confoundWarning ? h('p', { class: 'warn', attrs: { role: 'alert' } }, icon('warning'), ` ${p.confoundWarning}`) : null,
		h(
			'p',
			{ class: 'headline' },
			'Test accuracy ',
			h('strong', { testid: TestId.ReportAccuracy, text: `${fmtInterval(card.accuracy)} (n = ${card.n})` }),
			` · macro-F1 ${fmtInterval(card.macroF1, 'score')} · macro-AUC ${fmtInterval(card.macroAuc, 'score')}`,
		),
		h('p', { class: 'muted hint', text: 'Intervals are 95 %: Wilson for proportions; a seeded bootstrap over patients for accuracy, F1, AUC and AP.' }),
		h('h2', { text: 'Per class' }),
		table(classTable(card), TestId.ReportClassTable),
		h('div', { class: 'charts' }, svg(charts.roc, TestId.ReportRoc), svg(charts.pr), svg(charts.calibration)),
		prov(),
		h('h2', { text: 'Confusion matrix (counts, row shares)' }),
		table(confusionTable(card)),
		h('h2', { text: 'Operating point' }),
		operatingControls(),
		h('p', { testid: TestId.ReportOperatingPoint, text: operatingPointLine(card) }),
		card.bySource ? h('h2', { text: 'By source dataset' }) : null,
		card.bySource ? table(sourceTable(card), TestId.BySourceTable) : null,
		h('h2', { text: 'Where it looks (Grad-CAM)' }),
		card.looks
			? h(
					'div',
					{ testid: TestId.ReportLooks },
					h('p', { text: `${card.looks.flagged} of ${card.looks.n} test maps put ≥ 70 % of their mass in the border band (labels, markers): “looks outside the lungs”.` }),
					table(looksTable(card)),
				)
			: h(
					'div',
					{ class: 'toolbar' },
					button('Compute where it looks (one forward pass per test image)', 'eye', () => channel.post({ type: 'computeGradcam' })),
				),
		prov(),
		readersSection(card),
		h('p', { class: 'muted', text: 'Research aid, not a diagnosis. Numbers on a development set are not clinical accuracy.' }),
	);
}

channel.onMessage((msg) => {
	switch (msg.type) {
		case 'snapshot':
			root.hidden = false;
			root.dataset.testid = TestId.PanelRoot;
			options = msg.options;
			status.setBusy(msg.busy);
			render(msg.card, msg.busy);
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
