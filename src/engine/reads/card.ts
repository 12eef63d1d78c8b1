// The readers' section of a run's report card: agreement between readers and the model against them on the
// held-out images they read, with the readers drawn on the model's ROC. Rendering is plain strings (SVG, table
// rows) so the HTML export and the webview show the same thing.
import { CLASS_NAMES } from '../types';
import type { Interval } from '../report/stats';
import type { ModelVsReaders } from './modelVsReaders';
import type { ReadersReport } from './study';

export interface ReadersCard {
	/** The reads file could not be used (named by line): the section says so instead of figures. */
	error?: string;
	readers: string[];
	images: number;
	agreementNote?: string;
	pairs: { a: string; b: string; n: number; kappa: Interval }[];
	fleiss?: { n: number; kappa: Interval };
	bootstrap: ReadersReport['bootstrap'];
	model?: ModelVsReaders;
}

export function readersCardOf(r: ReadersReport): ReadersCard {
	return {
		readers: r.readers.map((x) => x.name),
		images: r.images,
		...(r.agreementNote ? { agreementNote: r.agreementNote } : {}),
		pairs: r.pairs.map((p) => ({ a: p.a, b: p.b, n: p.n, kappa: p.kappa })),
		...(r.fleiss ? { fleiss: { n: r.fleiss.n, kappa: r.fleiss.kappa } } : {}),
		bootstrap: r.bootstrap,
		...(r.model ? { model: r.model } : {}),
	};
}

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '–');
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const pp = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}` : '–');
export const kappaText = (k: Interval): string => `${f3(k.est)} [${f3(k.lo)}, ${f3(k.hi)}]`;
const diffText = (i: Interval) => `${pp(i.est)} [${pp(i.lo)}, ${pp(i.hi)}]`;
const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Header first: one row per pair of readers (and Fleiss' κ). */
export function kappaTable(c: ReadersCard): string[][] {
	const rows = [['Readers', 'Images', 'κ [95 % interval]'], ...c.pairs.map((p) => [`${p.a} – ${p.b}`, String(p.n), `Cohen ${kappaText(p.kappa)}`])];
	if (c.fleiss) rows.push([`all ${c.readers.length}`, String(c.fleiss.n), `Fleiss ${kappaText(c.fleiss.kappa)}`]);
	return rows;
}

/** Header first: model − reader in percentage points, paired on the same cases. */
export function differenceTable(m: ModelVsReaders): string[][] {
	const head = ['Model − reader (points)', 'n', 'Accuracy', ...CLASS_NAMES.map((c) => `${c} sens`), ...CLASS_NAMES.map((c) => `${c} spec`)];
	const rows = m.differences.map((d) => [d.reader, String(d.n), diffText(d.accuracy), ...d.sensitivity.map(diffText), ...d.specificity.map(diffText)]);
	if (m.meanDifference) {
		const d = m.meanDifference;
		rows.push([`mean of ${d.readers} readers`, String(d.n), diffText(d.accuracy), ...d.sensitivity.map(diffText), ...d.specificity.map(diffText)]);
	}
	return [head, ...rows];
}

/** Header first: how often the model agrees with each reader and with the reference. */
export function modelAgreementTable(m: ModelVsReaders): string[][] {
	const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)} %` : '–');
	return [
		['Model agrees with', 'n', 'Agreement', "Cohen's κ"],
		...m.agreement.map((a) => [a.reader, String(a.n), pct(a.observed), kappaText(a.kappa)]),
		['reference standard', String(m.vsReference.n), `${pct(m.vsReference.accuracy.est)} [${pct(m.vsReference.accuracy.lo)}, ${pct(m.vsReference.accuracy.hi)}]`, ''],
		['adjudicated labels', String(m.vsAdjudicated.n), `${pct(m.vsAdjudicated.accuracy.est)} [${pct(m.vsAdjudicated.accuracy.lo)}, ${pct(m.vsAdjudicated.accuracy.hi)}]`, ''],
	];
}

const MARKERS = ['circle', 'square', 'diamond', 'triangle'] as const;

/** One class's ROC of the model with each reader's (1 − specificity, sensitivity) and its Wilson intervals. */
export function readersRocSvg(m: ModelVsReaders, classIndex: number, colour: string, size = 260): string {
	const c = m.classes[classIndex];
	const pad = { l: 40, r: 8, t: 22, b: 34 };
	const w = size - pad.l - pad.r;
	const h = size - pad.t - pad.b;
	const X = (v: number) => (pad.l + Math.min(1, Math.max(0, v)) * w).toFixed(1);
	const Y = (v: number) => (pad.t + (1 - Math.min(1, Math.max(0, v))) * h).toFixed(1);
	const legend = 14 * c.readers.length;
	const title = `${c.className}: model AUC ${f2(c.auc)}, n = ${m.cases}`;
	const out = [`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size + legend}" width="${size}" height="${size + legend}" role="img" aria-label="${esc(title)}">`];
	out.push(`<rect x="${pad.l}" y="${pad.t}" width="${w}" height="${h}" fill="none" stroke="#888" stroke-width="0.5"/>`);
	out.push(`<line x1="${X(0)}" y1="${Y(0)}" x2="${X(1)}" y2="${Y(1)}" stroke="#888" stroke-dasharray="4 3" stroke-width="0.8"/>`);
	for (const t of [0, 0.5, 1]) {
		out.push(`<text x="${X(t)}" y="${(pad.t + h + 11).toFixed(1)}" font-size="9" text-anchor="middle" fill="currentColor">${t}</text>`);
		out.push(`<text x="${pad.l - 4}" y="${(+Y(t) + 3).toFixed(1)}" font-size="9" text-anchor="end" fill="currentColor">${t}</text>`);
	}
	out.push(`<text x="${size / 2}" y="13" font-size="10.5" font-weight="bold" text-anchor="middle" fill="currentColor">${esc(title)}</text>`);
	out.push(`<text x="${pad.l + w / 2}" y="${pad.t + h + 26}" font-size="9.5" text-anchor="middle" fill="currentColor">1 − specificity</text>`);
	out.push(`<text x="11" y="${pad.t + h / 2}" font-size="9.5" text-anchor="middle" fill="currentColor" transform="rotate(-90 11 ${pad.t + h / 2})">sensitivity</text>`);
	const pts = c.roc.fpr.map((x, i) => (Number.isFinite(x) && Number.isFinite(c.roc.tpr[i]) ? `${X(x)},${Y(c.roc.tpr[i])}` : '')).filter(Boolean);
	out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${colour}" stroke-width="1.6"/>`);
	c.readers.forEach((r, i) => {
		if (!Number.isFinite(r.fpr.est) || !Number.isFinite(r.sensitivity.est)) return;
		const [x, y] = [+X(r.fpr.est), +Y(r.sensitivity.est)];
		out.push(`<g class="reader-point" data-reader="${esc(r.reader)}">`);
		if (Number.isFinite(r.fpr.lo)) out.push(`<line x1="${X(r.fpr.lo)}" y1="${y}" x2="${X(r.fpr.hi)}" y2="${y}" stroke="currentColor" stroke-width="1"/>`);
		if (Number.isFinite(r.sensitivity.lo)) out.push(`<line x1="${x}" y1="${Y(r.sensitivity.lo)}" x2="${x}" y2="${Y(r.sensitivity.hi)}" stroke="currentColor" stroke-width="1"/>`);
		out.push(marker(MARKERS[i % MARKERS.length], x, y));
		out.push('</g>');
		const ly = size + 10 + 14 * i;
		out.push(
			`${marker(MARKERS[i % MARKERS.length], pad.l + 6, ly - 3)}<text x="${pad.l + 16}" y="${ly}" font-size="9.5" fill="currentColor">${esc(r.reader)}: sens ${f2(r.sensitivity.est)}, 1−spec ${f2(r.fpr.est)}</text>`,
		);
	});
	out.push('</svg>');
	return out.join('');
}

function marker(kind: (typeof MARKERS)[number], x: number, y: number): string {
	const s = 4;
	const style = 'fill="#fff" stroke="#000" stroke-width="1.2"';
	if (kind === 'circle') return `<circle cx="${x}" cy="${y}" r="${s}" ${style}/>`;
	if (kind === 'square') return `<rect x="${x - s}" y="${y - s}" width="${2 * s}" height="${2 * s}" ${style}/>`;
	if (kind === 'diamond') return `<polygon points="${x},${y - s - 1} ${x + s + 1},${y} ${x},${y + s + 1} ${x - s - 1},${y}" ${style}/>`;
	return `<polygon points="${x},${y - s - 1} ${x + s + 1},${y + s} ${x - s - 1},${y + s}" ${style}/>`;
}
