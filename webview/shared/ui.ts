// Small view pieces shared by the panels: header status lines, weights label, confusion matrix.
import { CLASS_NAMES, type ClassName, type WeightsInfo } from '../../src/engine/types';
import { TestId } from '../../src/protocol/testIds';
import { h, icon } from './dom';
import { rowNormalised, type SourceRow } from './logic';

/** The busy and notice lines every panel shows under its title. */
export class StatusLines {
	readonly busy = h('div', { class: 'busy', testid: TestId.Busy, attrs: { role: 'status', 'aria-live': 'polite' } });
	readonly notice = h('div', { class: 'notice', testid: TestId.Notice, attrs: { role: 'status', 'aria-live': 'polite' } });
	readonly el = h('div', { class: 'status-lines' }, this.busy, this.notice);
	private readonly busyText = h('span');

	constructor() {
		this.busy.hidden = true;
		this.notice.hidden = true;
		this.busy.append(h('vscode-progress-ring', { class: 'busy-ring' }), this.busyText);
	}

	setBusy(text: string | null): void {
		this.busy.hidden = !text;
		this.busyText.textContent = text ?? '';
	}

	/** The host's answer to an export request. */
	exportResult(r: { ok: boolean; format: string; path?: string; error?: string }): void {
		if (r.ok) this.setNotice('info', `Saved ${r.format.toUpperCase()}${r.path ? ` to ${r.path}` : ''}.`);
		else if (r.error) this.setNotice('error', `Export failed: ${r.error}`);
	}

	setNotice(level: 'info' | 'warn' | 'error', message: string): void {
		const name = level === 'error' ? 'error' : level === 'warn' ? 'warning' : 'info';
		this.notice.hidden = false;
		this.notice.className = `notice notice-${level}`;
		this.notice.replaceChildren(icon(name), h('span', { text: message }));
	}
}

/**
 * The weights label: pretrained weights read as a quiet badge, random ones as a warning badge whose
 * text always says "not pretrained" (the e2e test and the user both rely on that wording).
 */
export function weightsLabel(w: WeightsInfo | null | undefined): HTMLElement {
	if (!w) return h('span', { class: 'weights weights-unknown', testid: TestId.WeightsLabel, text: 'weights: pending' });
	if (!w.pretrained) {
		return h('span', { class: 'weights weights-random', testid: TestId.WeightsLabel, attrs: { title: w.name } }, icon('warning'), h('span', { text: 'not pretrained' }));
	}
	return h('span', { class: 'weights weights-pretrained', testid: TestId.WeightsLabel, attrs: { title: `${w.name}\nsha256 ${w.sha256}` } }, icon('verified'), h('span', { text: 'pretrained' }));
}

export interface ConfusionOptions {
	/** When given, each cell is a button that calls it. */
	onCell?: (trueClass: ClassName, predicted: ClassName) => void;
	isActive?: (trueClass: ClassName, predicted: ClassName) => boolean;
	testid?: string;
	caption?: string;
}

/** Short headers so three columns fit beside a grid. */
const SHORT: Record<ClassName, string> = { COVID: 'COVID', NORMAL: 'NORMAL', PNEUMONIA: 'PNEUM.' };

/**
 * confusion[true][predicted] as a table: rows = true class, columns = predicted. Cells are shaded by
 * their share of the row; the diagonal (right answers) and off-diagonal (errors) use different hues.
 */
export function confusionTable(confusion: number[][], opts: ConfusionOptions = {}): HTMLTableElement {
	const norm = rowNormalised(confusion);
	const head = h(
		'tr',
		{},
		h('th', { class: 'cm-corner', attrs: { scope: 'col' } }, h('span', { class: 'cm-axis', text: 'true ↓ / predicted →' })),
		...CLASS_NAMES.map((c) => h('th', { attrs: { scope: 'col', title: c }, text: SHORT[c] })),
	);
	const rows = CLASS_NAMES.map((t, i) =>
		h(
			'tr',
			{},
			h('th', { attrs: { scope: 'row', title: t }, text: SHORT[t] }),
			...CLASS_NAMES.map((p, j) => {
				const count = confusion[i]?.[j] ?? 0;
				const share = norm[i]?.[j] ?? 0;
				const kind = i === j ? 'cm-right' : 'cm-wrong';
				// Shade in 5 steps so the colour is a class, not an inline style.
				const step = count === 0 ? 0 : Math.min(5, 1 + Math.floor(share * 5));
				const label = `true ${t}, predicted ${p}: ${count} (${Math.round(share * 100)}% of ${t})`;
				const td = h('td', { class: `cm-cell ${kind} cm-s${step}` });
				if (opts.onCell) {
					const active = opts.isActive?.(t, p) ?? false;
					td.append(
						h(
							'button',
							{
								class: `cm-button${active ? ' active' : ''}`,
								attrs: { type: 'button', title: `${label} — click to filter`, 'aria-pressed': String(active), 'aria-label': label },
								data: { true: t, predicted: p },
								on: { click: () => opts.onCell?.(t, p) },
							},
							String(count),
						),
					);
				} else {
					td.append(h('span', { attrs: { title: label }, text: String(count) }));
				}
				return td;
			}),
		),
	);
	return h('table', { class: 'confusion', testid: opts.testid }, opts.caption ? h('caption', { text: opts.caption }) : null, h('thead', {}, head), h('tbody', {}, ...rows));
}

/** The "By source" table: accuracy and recall per class for each source dataset (rows from sourceRows()). */
export function sourceTable(rows: SourceRow[]): HTMLElement {
	return h(
		'div',
		{ class: 'table-scroll' },
		h(
			'table',
			{ class: 'data by-source', testid: TestId.BySourceTable },
			h(
				'thead',
				{},
				h('tr', {}, h('th', { text: 'Source' }), h('th', { text: 'n' }), h('th', { text: 'Accuracy' }), h('th', { class: 'group', attrs: { colspan: CLASS_NAMES.length }, text: 'Recall' })),
				h('tr', {}, h('th'), h('th'), h('th'), ...CLASS_NAMES.map((c) => h('th', { class: 'class-head', attrs: { title: `Recall of ${c}` }, text: SHORT[c] }))),
			),
			h(
				'tbody',
				{},
				...rows.map((r) =>
					h(
						'tr',
						{ testid: TestId.BySourceRow, data: { source: r.source } },
						h('th', { class: 'source', attrs: { title: r.source }, text: r.source }),
						h('td', { text: r.n }),
						h('td', { text: r.accuracy }),
						...r.recall.map((v, i) => h('td', { class: v === '–' ? 'muted' : undefined, attrs: { title: r.recallTitle[i] }, text: v })),
					),
				),
			),
		),
	);
}
