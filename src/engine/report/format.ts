// Rendering pieces of the report card shared by the HTML export, the PDF and the Report webview: plain strings and
// numbers only (no node, no DOM), so the webview bundle can import it.
import { CLASS_NAMES } from '../types';
import { differenceTable, kappaTable, modelAgreementTable, readersRocSvg } from '../reads/card';
import { wilson, type Interval } from './stats';
import type { ReportCard } from './report';

/** Class colours, fixed so that a class looks the same in every chart and export. */
export const CLASS_COLOURS = ['#c62828', '#1565c0', '#2e7d32'] as const;

export const pct = (x: number, digits = 1): string => (Number.isFinite(x) ? `${(x * 100).toFixed(digits)} %` : '–');

/** "80.0 % [72.1–86.3]" for a proportion, "0.912 [0.87–0.95]" for a score. */
export function fmtInterval(i: Interval, kind: 'pct' | 'score' = 'pct'): string {
	if (!Number.isFinite(i.est)) return '–';
	const f = (x: number) => (kind === 'pct' ? (x * 100).toFixed(1) : x.toFixed(3));
	const unit = kind === 'pct' ? ' %' : '';
	return Number.isFinite(i.lo) ? `${f(i.est)}${unit} [${f(i.lo)}–${f(i.hi)}]` : `${f(i.est)}${unit}`;
}

/** The provenance line every figure carries. */
export function provenanceLine(card: ReportCard): string {
	const p = card.provenance;
	const split = p.splitMode === 'patient' ? 'patient-grouped split' : 'image-level split';
	const leak = p.leakedPatients ? `, ${p.leakedPatients} patients in more than one split` : ', no patient in two splits';
	const weights = p.weights.pretrained
		? `${p.weights.name} (pretrained)`
		: /not pretrained/i.test(p.weights.name)
			? p.weights.name.replace(/not pretrained/i, 'NOT pretrained')
			: `${p.weights.name} (NOT pretrained)`;
	const unit = p.bootstrap.unit === 'patient' ? 'patients' : 'images (patient ids unknown)';
	return (
		`${card.run.name} · ${split} (seed ${p.seed})${leak} · patients train/val/test ${p.patients.train}/${p.patients.val}/${p.patients.test} · ` +
		`weights ${weights} · ${p.bootstrap.resamples} bootstrap resamples of ${unit}, seed ${p.bootstrap.seed}`
	);
}

/** "80.0 % [72.1–86.3] (n = 120)": an accuracy with its Wilson 95 % interval and n, as every panel shows it. */
export function accuracyLabel(accuracy: number, n: number): string {
	if (!(n > 0) || !Number.isFinite(accuracy)) return '–';
	return `${fmtInterval(wilson(Math.round(accuracy * n), n))} (n = ${n})`;
}

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export interface SeriesXY {
	label: string;
	colour: string;
	x: number[];
	y: number[];
}

/** A square line chart in [0, 1]² as an SVG string (labels escaped; everything else is numbers). */
export function lineChartSvg(title: string, xLabel: string, yLabel: string, series: SeriesXY[], opts: { diagonal?: boolean; size?: number; points?: boolean } = {}): string {
	const size = opts.size ?? 260;
	const m = { l: 42, r: 10, t: 24, b: 36 };
	const w = size - m.l - m.r;
	const h = size - m.t - m.b;
	const X = (v: number) => (m.l + v * w).toFixed(1);
	const Y = (v: number) => (m.t + (1 - v) * h).toFixed(1);
	const parts = [
		`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size + 16 * series.length}" width="${size}" height="${size + 16 * series.length}" role="img" aria-label="${esc(title)}">`,
	];
	parts.push(`<rect x="${m.l}" y="${m.t}" width="${w}" height="${h}" fill="none" stroke="#888" stroke-width="0.5"/>`);
	for (const t of [0, 0.25, 0.5, 0.75, 1]) {
		parts.push(`<line x1="${X(t)}" y1="${Y(0)}" x2="${X(t)}" y2="${Y(1)}" stroke="#888" stroke-opacity="0.25" stroke-width="0.5"/>`);
		parts.push(`<line x1="${X(0)}" y1="${Y(t)}" x2="${X(1)}" y2="${Y(t)}" stroke="#888" stroke-opacity="0.25" stroke-width="0.5"/>`);
		parts.push(`<text x="${X(t)}" y="${(m.t + h + 12).toFixed(1)}" font-size="9" text-anchor="middle" fill="currentColor">${t}</text>`);
		parts.push(`<text x="${m.l - 4}" y="${(+Y(t) + 3).toFixed(1)}" font-size="9" text-anchor="end" fill="currentColor">${t}</text>`);
	}
	if (opts.diagonal) parts.push(`<line x1="${X(0)}" y1="${Y(0)}" x2="${X(1)}" y2="${Y(1)}" stroke="#888" stroke-dasharray="4 3" stroke-width="0.8"/>`);
	parts.push(`<text x="${size / 2}" y="14" font-size="12" font-weight="bold" text-anchor="middle" fill="currentColor">${esc(title)}</text>`);
	parts.push(`<text x="${m.l + w / 2}" y="${m.t + h + 28}" font-size="10" text-anchor="middle" fill="currentColor">${esc(xLabel)}</text>`);
	parts.push(`<text x="12" y="${m.t + h / 2}" font-size="10" text-anchor="middle" fill="currentColor" transform="rotate(-90 12 ${m.t + h / 2})">${esc(yLabel)}</text>`);
	series.forEach((s, i) => {
		const pts = s.x.map((x, j) => (Number.isFinite(x) && Number.isFinite(s.y[j]) ? `${X(x)},${Y(s.y[j])}` : '')).filter(Boolean);
		if (opts.points) for (const p of pts) parts.push(`<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="2.5" fill="${s.colour}"/>`);
		parts.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${s.colour}" stroke-width="1.6"/>`);
		const ly = size + 12 + 16 * i - 4;
		parts.push(
			`<line x1="${m.l}" y1="${ly - 4}" x2="${m.l + 18}" y2="${ly - 4}" stroke="${s.colour}" stroke-width="2"/><text x="${m.l + 24}" y="${ly}" font-size="10" fill="currentColor">${esc(s.label)}</text>`,
		);
	});
	parts.push('</svg>');
	return parts.join('');
}

/** ROC, precision–recall and reliability charts of a card, as SVG strings. */
export function reportCharts(card: ReportCard, size = 260): { roc: string; pr: string; calibration: string } {
	const roc = lineChartSvg(
		'ROC (test, one-vs-rest)',
		'1 − specificity',
		'sensitivity',
		card.classes.map((c, i) => ({ label: `${c.className} AUC ${fmtInterval(c.auc, 'score')}`, colour: CLASS_COLOURS[i], x: c.roc.fpr, y: c.roc.tpr })),
		{ diagonal: true, size },
	);
	const pr = lineChartSvg(
		'Precision–recall (test)',
		'recall',
		'precision',
		card.classes.map((c, i) => ({ label: `${c.className} AP ${fmtInterval(c.averagePrecision, 'score')}`, colour: CLASS_COLOURS[i], x: c.pr.recall, y: c.pr.precision })),
		{ size },
	);
	const bins = card.calibration.topLabel.filter((b) => b.count > 0);
	const calibration = lineChartSvg(
		'Reliability (top label)',
		'confidence',
		'observed accuracy',
		[{ label: `ECE ${card.calibration.ece.toFixed(3)} · Brier ${card.calibration.brier.toFixed(3)}`, colour: '#6a1b9a', x: bins.map((b) => b.meanPredicted), y: bins.map((b) => b.observed) }],
		{ diagonal: true, size, points: true },
	);
	return { roc, pr, calibration };
}

/** Rows of the per-class table: header first. */
export function classTable(card: ReportCard): string[][] {
	const rows = [['Class', 'n', 'Sensitivity', 'Specificity', 'PPV', 'NPV', 'F1', 'AUC', 'AP']];
	for (const c of card.classes) {
		rows.push([
			c.className,
			String(c.support),
			fmtInterval(c.sensitivity),
			fmtInterval(c.specificity),
			fmtInterval(c.ppv),
			fmtInterval(c.npv),
			fmtInterval(c.f1, 'score'),
			fmtInterval(c.auc, 'score'),
			fmtInterval(c.averagePrecision, 'score'),
		]);
	}
	return rows;
}

/** Rows of the confusion matrix with counts and row shares: header first. */
export function confusionTable(card: ReportCard): string[][] {
	return [['true \\ predicted', ...CLASS_NAMES], ...card.confusion.counts.map((row, i) => [CLASS_NAMES[i], ...row.map((v, j) => `${v} (${pct(card.confusion.rowShares[i][j], 0)})`)])];
}

/** Rows of the per-source table: header first. */
export function sourceTable(card: ReportCard): string[][] {
	if (!card.bySource) return [];
	return [
		['Source', 'n', 'Accuracy', ...CLASS_NAMES.map((c) => `Recall ${c}`)],
		...card.bySource.map((s) => [s.source, String(s.n), fmtInterval(s.accuracy), ...s.recall.map((r) => (r ? fmtInterval(r) : '–'))]),
	];
}

/** The operating-point sentence. */
export function operatingPointLine(card: ReportCard): string {
	const op = card.operatingPoint;
	if (!op) return 'No operating point: the run has no validation predictions with both classes.';
	const rule = op.rule.kind === 'youden' ? "Youden's J" : `sensitivity ≥ ${pct(op.rule.target, 0)}`;
	return (
		`${op.positiveClass} if p(${op.positiveClass}) ≥ ${op.threshold.toFixed(3)} (chosen on validation, n = ${op.val.n}, by ${rule}). ` +
		`On test (n = ${op.test.n}): sensitivity ${fmtInterval(op.test.sensitivity)}, specificity ${fmtInterval(op.test.specificity)}, PPV ${fmtInterval(op.test.ppv)}, NPV ${fmtInterval(op.test.npv)}.`
	);
}

/** Rows of the where-it-looks table: header first. */
export function looksTable(card: ReportCard): string[][] {
	if (!card.looks) return [];
	const row = (kind: string) => (r: { group: string; n: number; border: number; corners: number; flagged: number }) => [
		`${kind} ${r.group}`,
		String(r.n),
		pct(r.border),
		pct(r.corners),
		`${r.flagged}`,
	];
	return [['Group', 'n', 'Mass in border', 'Mass in corners', 'Looks outside lungs'], ...card.looks.byClass.map(row('class')), ...card.looks.bySource.map(row('source'))];
}

/** A table of strings as HTML. */
export function htmlTable(rows: string[][]): string {
	if (rows.length === 0) return '';
	const [head, ...body] = rows;
	return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${body.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

/** The whole card as the body of an HTML page (export and webview alike). */
export function reportBodyHtml(card: ReportCard): string {
	const charts = reportCharts(card);
	const warn = card.provenance.confoundWarning ? `<p class="warn" role="alert">⚠ ${esc(card.provenance.confoundWarning)}</p>` : '';
	const notPre = card.provenance.weights.pretrained ? '' : `<p class="warn">⚠ The backbone was NOT pretrained (random weights): these numbers say little.</p>`;
	const looks = card.looks
		? `<h2>Where it looks (Grad-CAM, ${card.looks.n} test images)</h2><p>${card.looks.flagged} of ${card.looks.n} maps put most of their mass in the border band (≥ 70 %), where burned-in labels and markers sit: “looks outside the lungs”.</p>${htmlTable(looksTable(card))}`
		: '';
	return [
		`<h1>Report card: ${esc(card.run.name)}</h1>`,
		`<p class="prov">${esc(provenanceLine(card))}</p>`,
		warn,
		notPre,
		`<p class="headline">Test accuracy <b>${esc(fmtInterval(card.accuracy))}</b> (n = ${card.n}) · macro-F1 ${esc(fmtInterval(card.macroF1, 'score'))} · macro-AUC ${esc(fmtInterval(card.macroAuc, 'score'))}</p>`,
		`<h2>Per class (95 % intervals: Wilson for proportions, bootstrap for F1, AUC, AP)</h2>`,
		htmlTable(classTable(card)),
		`<div class="charts">${charts.roc}${charts.pr}${charts.calibration}</div>`,
		`<p class="prov">${esc(provenanceLine(card))}</p>`,
		`<h2>Confusion matrix (counts, row shares)</h2>`,
		htmlTable(confusionTable(card)),
		`<h2>Operating point</h2><p>${esc(operatingPointLine(card))}</p>`,
		card.bySource ? `<h2>By source dataset</h2>${htmlTable(sourceTable(card))}` : '',
		looks,
		card.looks ? `<p class="prov">${esc(provenanceLine(card))}</p>` : '',
		readersHtml(card),
		`<p class="note">Research aid, not a diagnosis. Dev-set numbers are not clinical accuracy.</p>`,
	].join('\n');
}

/** The readers' section: κ between readers, the readers on the model's ROC, paired differences and agreement. */
export function readersHtml(card: ReportCard): string {
	const r = card.readers;
	if (!r) return '';
	if (r.error) return `<h2>Readers</h2><p class="warn">⚠ The reads file cannot be used: ${esc(r.error)}</p>`;
	const parts = [`<h2>Readers</h2>`, `<p>${r.images} image(s) read by ${esc(r.readers.join(', '))}. Intervals 95 %: BCa bootstrap over ${r.bootstrap.unit}s, Wilson for reader points.</p>`];
	if (r.agreementNote) parts.push(`<p class="note">${esc(r.agreementNote)}.</p>`);
	if (r.pairs.length) parts.push(htmlTable(kappaTable(r)));
	const m = r.model;
	if (m && m.cases) {
		parts.push(`<h3>The model against the readers (${m.cases} held-out image(s) they read)</h3>`);
		parts.push(`<div class="charts">${m.classes.map((_, i) => readersRocSvg(m, i, CLASS_COLOURS[i])).join('')}</div>`);
		parts.push(htmlTable(differenceTable(m)), htmlTable(modelAgreementTable(m)));
	} else if (m) parts.push(`<p class="note">None of the read images is a held-out (test) image of this run.</p>`);
	return parts.join('\n');
}
