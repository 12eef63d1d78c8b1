// Audit panel: one section per finding (label issues, not a chest X-ray, duplicates, source shortcuts), each
// with its count, thumbnails and actions: open as a review queue in the grid, exclude, relabel.
import '../shared/elements';
import sharedCss from '../../media/webview.css';
import panelCss from '../../media/audit.css';
import { CLASS_NAMES, type ClassName } from '../../src/engine/types';
import { featuresText, OOD_HEADING, plural } from '../../src/engine/wording';
import type { AuditFindingName, AuditFromWebview, AuditItemView, AuditToWebview, AuditView } from '../../src/protocol/audit';
import { TestId } from '../../src/protocol/testIds';
import { adoptStyles, h, icon, replaceChildren } from '../shared/dom';
import { StatusLines } from '../shared/ui';
import { Channel, startPanel } from '../shared/vscodeApi';

adoptStyles(sharedCss, panelCss);

const channel = new Channel<AuditToWebview, AuditFromWebview>();
const status = new StatusLines();
const runButton = h('vscode-button', { testid: TestId.AuditRunButton, attrs: { title: 'Audit the current dataset (uses cached features when present)' } }, icon('search'), ' Run audit');
runButton.addEventListener('click', () => channel.post({ type: 'run' }));
const summary = h('div', { class: 'muted' });
const content = h('div', {});
const root = h(
	'div',
	{ class: 'panel audit', testid: TestId.PanelRoot, data: { panel: 'audit' } },
	h('div', { class: 'header' }, h('h1', { text: 'Dataset audit' }), h('span', { class: 'spacer' }), runButton),
	summary,
	status.el,
	content,
);
(document.getElementById('app') ?? document.body).appendChild(root);

const pct = (x: number) => `${(100 * x).toFixed(0)} %`;

function thumb(item: AuditItemView): HTMLElement {
	const open = () => channel.post({ type: 'openFile', relPath: item.relPath });
	return item.thumbUri
		? h('img', {
				class: 'thumb',
				attrs: { src: item.thumbUri, alt: item.relPath, title: `${item.relPath} — open`, tabindex: 0 },
				on: {
					click: open,
					keydown: (e: Event) => {
						if ((e as KeyboardEvent).key === 'Enter') open();
					},
				},
			})
		: h('div', { class: 'thumb thumb-missing', attrs: { title: item.relPath } }, icon('file-media'));
}

function actions(item: AuditItemView, decision: string | undefined): HTMLElement {
	if (decision) return h('div', { class: 'decision' }, icon('check'), h('span', { text: decision }));
	const exclude = h('vscode-button', { attrs: { secondary: true, title: 'Leave this image out of training and evaluation' } }, 'Exclude');
	exclude.addEventListener('click', () => channel.post({ type: 'exclude', relPath: item.relPath }));
	const select = h(
		'select',
		{ attrs: { 'aria-label': `Relabel ${item.relPath}` } },
		h('option', { attrs: { value: '' }, text: 'Relabel…' }),
		...CLASS_NAMES.filter((c) => c !== item.label).map((c) => h('option', { attrs: { value: c }, text: c === item.suggested ? `${c} (suggested)` : c })),
	);
	select.addEventListener('change', () => {
		if (select.value) channel.post({ type: 'relabel', relPath: item.relPath, label: select.value as ClassName });
	});
	return h('div', { class: 'actions' }, exclude, select);
}

function card(item: AuditItemView, decisions: Record<string, string>): HTMLElement {
	return h(
		'div',
		{ class: 'card', testid: TestId.AuditItem, data: { relPath: item.relPath } },
		thumb(item),
		h(
			'div',
			{ class: 'card-text' },
			h('div', { class: 'mono small path', text: item.relPath, attrs: { title: item.relPath } }),
			h('div', { class: 'small', text: `${item.label} · ${item.split}${item.source ? ` · ${item.source}` : ''}` }),
			h('div', { class: 'small muted', text: item.detail }),
		),
		actions(item, decisions[item.relPath]),
	);
}

function section(finding: AuditFindingName | 'sources', title: string, count: number, blurb: string, body: HTMLElement[], queue = true): HTMLElement {
	const head = h('div', { class: 'section-head' }, h('h2', { text: `${title} ` }, h('span', { class: 'count', text: String(count) })), h('span', { class: 'spacer' }));
	if (queue && finding !== 'sources' && count > 0) {
		const b = h(
			'vscode-button',
			{ testid: TestId.AuditQueueButton, data: { finding }, attrs: { secondary: true, title: 'Open these images in the Predictions grid, worst first' } },
			icon('list-ordered'),
			' Open as review queue',
		);
		b.addEventListener('click', () => channel.post({ type: 'openQueue', finding }));
		head.append(b);
	}
	return h('section', { class: 'finding', testid: TestId.AuditSection, data: { finding, count: String(count) } }, head, h('p', { class: 'muted', text: blurb }), ...body);
}

function sourcesSection(v: AuditView): HTMLElement {
	const s = v.sources;
	const body: HTMLElement[] = s.warnings.map((w) => h('div', { class: 'warning', testid: TestId.AuditWarning }, icon('warning'), h('span', { text: w.message })));
	if (s.sources.length > 1) {
		body.push(
			h(
				'table',
				{ class: 'table' },
				h('tr', {}, h('th', { text: 'source' }), ...CLASS_NAMES.map((c) => h('th', { text: c }))),
				...s.sources.map((name) => h('tr', {}, h('td', { text: name }), ...s.table[name].map((n) => h('td', { class: 'num', text: String(n) })))),
			),
			h('p', {
				class: 'small',
				text: `Label from the source alone: ${pct(s.labelFromSource.accuracy)} (majority class ${pct(s.labelFromSource.baseline)}).${s.sourceFromFeatures ? ` Source from the image features: ${pct(s.sourceFromFeatures.balancedAccuracy)} balanced accuracy (chance ${pct(s.sourceFromFeatures.chance)}).` : ''}`,
			}),
		);
	}
	if (v.mitigations.length) {
		body.push(
			h('h3', { text: 'Leave-one-source-out (linear probe): recall on a source never seen in training' }),
			h(
				'table',
				{ class: 'table' },
				h(
					'tr',
					{},
					h('th', { text: 'held-out source' }),
					h('th', { text: 'option' }),
					h('th', { text: 'n' }),
					h('th', { text: 'accuracy' }),
					...CLASS_NAMES.map((c) => h('th', { text: `${c} recall` })),
				),
				...v.mitigations.map((m) =>
					h(
						'tr',
						{},
						h('td', { text: m.testSource }),
						h('td', { text: m.option }),
						h('td', { class: 'num', text: String(m.n) }),
						h('td', { class: 'num', text: pct(m.accuracy) }),
						...m.recall.map((r) => h('td', { class: 'num', text: r == null ? '–' : pct(r) })),
					),
				),
			),
		);
	}
	const blurb =
		s.origin === 'none'
			? 'No source information (no source_dataset column, no top-level source folders).'
			: `Sources from the ${s.origin}. A class that comes from one source can be predicted by recognising the source.`;
	return section('sources', 'Source shortcuts', s.warnings.length, blurb, body, false);
}

function render(v: AuditView | null): void {
	if (!v) {
		summary.textContent = 'No audit yet: run it on the current dataset.';
		replaceChildren(content);
		return;
	}
	summary.textContent = `${plural(v.images, 'image')} · ${featuresText(v.backbone, v.weights)} · ${v.seconds.toFixed(1)} s${v.reportPath ? ` · report ${v.reportPath}` : ''}`;
	const d = v.decisions;
	const dupRows = v.duplicates.pairs.map((p) =>
		h(
			'div',
			{ class: `pair${p.crossSplit ? ' leak' : ''}` },
			card(p.a, d),
			card(p.b, d),
			h(
				'div',
				{ class: 'small' },
				p.crossSplit ? h('strong', { text: `leak: ${p.a.split} / ${p.b.split}` }) : 'same split',
				h('div', { class: 'muted', text: `${p.kind}, cosine ${p.cosine.toFixed(3)}, pHash ${p.hamming}` }),
			),
		),
	);
	replaceChildren(
		content,
		sourcesSection(v),
		section(
			'labelIssues',
			'Label issues',
			v.labelIssues.count,
			`Confident learning on 5-fold, patient-grouped out-of-fold probabilities (out-of-fold accuracy ${pct(v.labelIssues.outOfFoldAccuracy)}); most suspicious first.`,
			[h('div', { class: 'cards' }, ...v.labelIssues.items.map((i) => card(i, d)))],
		),
		section(
			'outOfDistribution',
			OOD_HEADING,
			v.outOfDistribution.count,
			'Far from every training radiograph in feature space, or colour, extreme shape, tiny, or a DICOM modality / view that is not a frontal X-ray.',
			[h('div', { class: 'cards' }, ...v.outOfDistribution.items.map((i) => card(i, d)))],
		),
		section(
			'duplicates',
			'Duplicates and leakage',
			v.duplicates.count,
			`${v.duplicates.crossSplit} pairs cross train / val / test under the patient split; the duplicate-aware split keeps each group on one side (${v.duplicates.crossSplitAfterLinking} left).`,
			dupRows,
		),
	);
}

channel.onMessage((m) => {
	switch (m.type) {
		case 'snapshot':
			status.setBusy(m.busy);
			runButton.toggleAttribute('disabled', Boolean(m.busy));
			render(m.view);
			return;
		case 'notice':
			status.setNotice(m.level, m.message);
			return;
	}
});
startPanel(channel);
