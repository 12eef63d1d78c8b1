// The readers' report as Markdown (radreview readers --md) and as the CLI's short summary.
import type { Interval } from '../report/stats';
import type { ReadersReport } from './study';

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');
const pct = (x: number) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)} %` : '—');
export const ivText = (i: Interval, fmt: (x: number) => string = f3): string => `${fmt(i.est)} [${fmt(i.lo)}, ${fmt(i.hi)}]`;
const signed = (x: number) => (Number.isFinite(x) ? `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)}` : '—');

function table(header: string[], rows: string[][]): string[] {
	return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

/** One line per pair (or the note), for stdout. */
export function readersSummary(r: ReadersReport): string {
	const lines = [`readers   ${r.readers.map((x) => `${x.name} (${x.reads})`).join(', ') || '(none)'}; ${r.images} image(s) read`];
	if (r.agreementNote) lines.push(`agreement ${r.agreementNote}`);
	for (const p of r.pairs) lines.push(`κ         ${p.a} vs ${p.b}: ${ivText(p.kappa)} on ${p.n} image(s)`);
	if (r.fleiss) lines.push(`Fleiss κ  ${ivText(r.fleiss.kappa)} on ${r.fleiss.n} image(s) read by all ${r.fleiss.readers.length}`);
	for (const v of r.vsReference) lines.push(`reference ${v.reader}: accuracy ${ivText(v.accuracy, pct)} (n = ${v.n})`);
	if (r.model) lines.push(`model     ${r.model.run} on ${r.model.cases} read image(s): accuracy ${ivText(r.model.vsReference.accuracy, pct)}`);
	return lines.join('\n');
}

export function readersMarkdown(r: ReadersReport): string {
	const out: string[] = [`# Reader study: ${r.data}`, ''];
	out.push(
		`${r.images} image(s) read by ${r.readers.length} reader(s). Intervals: 95 %, BCa bootstrap over ${r.bootstrap.unit === 'patient' ? 'patients' : 'images'} (${r.bootstrap.resamples} resamples, seed ${r.bootstrap.seed}); Wilson for proportions.`,
		`Reference standard: folder label for ${r.reference.folder} image(s), adjudicated label for ${r.reference.adjudicated}.`,
		'',
	);
	out.push(
		...table(
			['Reader', 'Reads', 'Blinded', 'Median s / image'],
			r.readers.map((x) => [x.name, String(x.reads), String(x.blinded), x.medianSeconds === null ? '—' : x.medianSeconds.toFixed(1)]),
		),
		'',
		'## Agreement',
		'',
	);
	if (r.agreementNote) out.push(`_${r.agreementNote}._`, '');
	if (r.pairs.length) {
		out.push(
			...table(
				['Pair', 'n', 'Observed', "Cohen's κ", ...r.classes.map((c) => `${c} pos / neg specific`)],
				r.pairs.map((p) => [`${p.a} – ${p.b}`, String(p.n), pct(p.observed), ivText(p.kappa), ...p.specific.map((s) => `${ivText(s.positive)} / ${ivText(s.negative)}`)]),
			),
			'',
		);
		for (const p of r.pairs)
			out.push(
				`**${p.a}** (rows) × **${p.b}** (columns)`,
				'',
				...table(
					['', ...r.classes],
					p.confusion.map((row, i) => [r.classes[i], ...row.map(String)]),
				),
				'',
			);
	}
	if (r.fleiss) out.push(`Fleiss' κ over ${r.fleiss.readers.join(', ')} on the ${r.fleiss.n} image(s) all read: ${ivText(r.fleiss.kappa)}`, '');
	out.push('## Each reader against the reference', '');
	out.push(
		...table(
			['Reader', 'n', 'Accuracy', ...r.classes.flatMap((c) => [`${c} sensitivity`, `${c} specificity`])],
			r.vsReference.map((v) => [v.reader, String(v.n), ivText(v.accuracy, pct), ...v.classes.flatMap((c) => [ivText(c.sensitivity, pct), ivText(c.specificity, pct)])]),
		),
		'',
	);
	if (r.model) {
		const m = r.model;
		out.push(`## The model (${m.run}) against the readers`, '', `${m.cases} read image(s) with a prediction and a reference label.`, '');
		out.push(
			...table(
				['Class', 'AUC', ...m.classes[0].readers.map((x) => `${x.reader} (1 − spec, sens)`)],
				m.classes.map((c) => [c.className, f3(c.auc), ...c.readers.map((x) => `(${f3(x.fpr.est)}, ${f3(x.sensitivity.est)})`)]),
			),
			'',
			'Model − reader, percentage points [95 % interval]:',
			'',
		);
		const diff = (i: Interval) => `${signed(i.est)} [${signed(i.lo)}, ${signed(i.hi)}]`;
		const rows = m.differences.map((d) => [d.reader, String(d.n), diff(d.accuracy), ...d.sensitivity.map(diff), ...d.specificity.map(diff)]);
		if (m.meanDifference)
			rows.push([
				`mean of ${m.meanDifference.readers}`,
				String(m.meanDifference.n),
				diff(m.meanDifference.accuracy),
				...m.meanDifference.sensitivity.map(diff),
				...m.meanDifference.specificity.map(diff),
			]);
		out.push(...table(['Reader', 'n', 'Accuracy', ...r.classes.map((c) => `${c} sens`), ...r.classes.map((c) => `${c} spec`)], rows), '');
		out.push(...table(['Model vs', 'n', 'Agreement', "Cohen's κ"], [...m.agreement.map((a) => [a.reader, String(a.n), pct(a.observed), ivText(a.kappa)])]), '');
		out.push(`Model vs reference: ${ivText(m.vsReference.accuracy, pct)} (n = ${m.vsReference.n}); vs adjudicated labels: ${ivText(m.vsAdjudicated.accuracy, pct)} (n = ${m.vsAdjudicated.n}).`, '');
	}
	return out.join('\n');
}
