// Report card documents: a self-contained HTML page and a PDF (jsPDF) with the curves and Grad-CAM overlays.
import { jsPDF } from 'jspdf';
import type { ReportCard } from './report';
import { CLASS_COLOURS, classTable, confusionTable, fmtInterval, looksTable, operatingPointLine, provenanceLine, reportBodyHtml, sourceTable, type SeriesXY } from './format';

const CSS = `body{font:13px/1.45 system-ui,sans-serif;color:#1f1f1f;background:#fff;max-width:1100px;margin:24px auto;padding:0 16px}
table{border-collapse:collapse;margin:8px 0 16px}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}th:first-child,td:first-child{text-align:left}
.warn{background:#fff3cd;border:1px solid #e0b000;padding:6px 10px}.prov{color:#555;font-size:12px}.charts svg{margin-right:12px}.note{color:#666;font-size:12px}`;

/** A standalone HTML page (no scripts, no external resources). */
export function reportHtml(card: ReportCard): string {
	return `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>Report card: ${card.run.name.replace(/[<>&"']/g, '')}</title><style>${CSS}</style></head><body>
${reportBodyHtml(card)}
</body></html>\n`;
}

export interface PdfOverlay {
	png: Uint8Array;
	caption: string;
}

const hex = (c: string): [number, number, number] => [parseInt(c.slice(1, 3), 16), parseInt(c.slice(3, 5), 16), parseInt(c.slice(5, 7), 16)];

/** jsPDF's standard fonts are WinAnsi: replace what they cannot show. */
const ascii = (s: string): string => s.replace(/→/g, '->').replace(/–/g, '-').replace(/−/g, '-').replace(/≥/g, '>=').replace(/·/g, '|').replace(/[“”]/g, '"').replace(/⚠/g, '!').replace(/²/g, '2');

function chart(doc: jsPDF, x: number, y: number, size: number, title: string, xLabel: string, yLabel: string, series: SeriesXY[], diagonal: boolean): void {
	const X = (v: number) => x + v * size;
	const Y = (v: number) => y + (1 - v) * size;
	doc.setDrawColor(150);
	doc.setLineWidth(0.5);
	doc.rect(x, y, size, size);
	doc.setFontSize(7);
	doc.setTextColor(90);
	for (const t of [0, 0.5, 1]) {
		doc.text(String(t), X(t), y + size + 9, { align: 'center' });
		doc.text(String(t), x - 3, Y(t) + 2, { align: 'right' });
	}
	if (diagonal) {
		doc.setLineDashPattern([3, 2], 0);
		doc.line(X(0), Y(0), X(1), Y(1));
		doc.setLineDashPattern([], 0);
	}
	doc.setFontSize(9);
	doc.setTextColor(30);
	doc.text(ascii(title), x + size / 2, y - 6, { align: 'center' });
	doc.setFontSize(7);
	doc.text(ascii(xLabel), x + size / 2, y + size + 18, { align: 'center' });
	doc.text(ascii(yLabel), x - 16, y + size / 2, { angle: 90, align: 'center' });
	doc.setLineWidth(1.2);
	series.forEach((s, i) => {
		doc.setDrawColor(...hex(s.colour));
		for (let j = 1; j < s.x.length; j++) {
			if ([s.x[j - 1], s.y[j - 1], s.x[j], s.y[j]].every(Number.isFinite)) doc.line(X(s.x[j - 1]), Y(s.y[j - 1]), X(s.x[j]), Y(s.y[j]));
		}
		const ly = y + size + 30 + i * 10;
		doc.line(x, ly - 2.5, x + 14, ly - 2.5);
		doc.text(ascii(s.label), x + 18, ly);
	});
	doc.setLineWidth(0.5);
}

function table(doc: jsPDF, rows: string[][], x: number, y: number, widths: number[]): number {
	doc.setFontSize(7.5);
	rows.forEach((r, i) => {
		doc.setFont('helvetica', i === 0 ? 'bold' : 'normal');
		let cx = x;
		r.forEach((cell, j) => {
			doc.text(ascii(cell), cx, y);
			cx += widths[j] ?? widths[widths.length - 1];
		});
		y += 11;
	});
	doc.setFont('helvetica', 'normal');
	return y + 6;
}

/** The card as a PDF: summary, tables and curves on page 1–2; Grad-CAM overlays after. */
export function reportPdf(card: ReportCard, overlays: PdfOverlay[] = []): Uint8Array {
	const doc = new jsPDF({ unit: 'pt', format: 'a4', orientation: 'landscape' });
	const W = doc.internal.pageSize.getWidth();
	const H = doc.internal.pageSize.getHeight();
	const M = 36;
	const footer = () => {
		doc.setFontSize(6.5);
		doc.setTextColor(110);
		doc.text(doc.splitTextToSize(ascii(provenanceLine(card)), W - 2 * M) as string[], M, H - 20);
		doc.setTextColor(30);
	};
	doc.setFontSize(15);
	doc.text(ascii(`Report card: ${card.run.name}`), M, M + 4);
	doc.setFontSize(10);
	let y = M + 24;
	doc.text(ascii(`Test accuracy ${fmtInterval(card.accuracy)} (n = ${card.n})  |  macro-F1 ${fmtInterval(card.macroF1, 'score')}  |  macro-AUC ${fmtInterval(card.macroAuc, 'score')}`), M, y);
	y += 16;
	for (const w of [card.provenance.confoundWarning, card.provenance.weights.pretrained ? undefined : 'The backbone was NOT pretrained (random weights): these numbers say little.']) {
		if (!w) continue;
		doc.setTextColor(150, 80, 0);
		const lines = doc.splitTextToSize(ascii(`! ${w}`), W - 2 * M) as string[];
		doc.text(lines, M, y);
		y += 12 * lines.length;
		doc.setTextColor(30);
	}
	y = table(doc, classTable(card), M, y + 4, [80, 30, 95, 95, 95, 95, 90, 90, 90]);
	y = table(doc, confusionTable(card), M, y, [90, 90, 90, 90]);
	doc.setFontSize(8);
	const op = doc.splitTextToSize(ascii(`Operating point: ${operatingPointLine(card)}`), W - 2 * M) as string[];
	doc.text(op, M, y);
	y += 11 * op.length + 6;
	const src = sourceTable(card);
	if (src.length) table(doc, src, M, y, [110, 35, 100, 100, 100, 100]);
	footer();

	doc.addPage();
	const size = 200;
	const top = M + 30;
	const gap = (W - 2 * M - 3 * size) / 2;
	chart(
		doc,
		M + 20,
		top,
		size,
		'ROC (test, one-vs-rest)',
		'1 - specificity',
		'sensitivity',
		card.classes.map((c, i) => ({ label: `${c.className} AUC ${fmtInterval(c.auc, 'score')}`, colour: CLASS_COLOURS[i], x: c.roc.fpr, y: c.roc.tpr })),
		true,
	);
	chart(
		doc,
		M + 20 + size + gap,
		top,
		size,
		'Precision-recall (test)',
		'recall',
		'precision',
		card.classes.map((c, i) => ({ label: `${c.className} AP ${fmtInterval(c.averagePrecision, 'score')}`, colour: CLASS_COLOURS[i], x: c.pr.recall, y: c.pr.precision })),
		false,
	);
	const bins = card.calibration.topLabel.filter((b) => b.count > 0);
	chart(
		doc,
		M + 20 + 2 * (size + gap),
		top,
		size,
		'Reliability (top label)',
		'confidence',
		'observed accuracy',
		[{ label: `ECE ${card.calibration.ece.toFixed(3)} | Brier ${card.calibration.brier.toFixed(3)}`, colour: '#6a1b9a', x: bins.map((b) => b.meanPredicted), y: bins.map((b) => b.observed) }],
		true,
	);
	const looks = looksTable(card);
	if (looks.length) {
		doc.setFontSize(10);
		doc.text(ascii(`Where it looks (Grad-CAM): ${card.looks!.flagged} of ${card.looks!.n} test maps look outside the lungs (>= 70 % of the mass in the border band)`), M, top + size + 80);
		table(doc, looks, M, top + size + 96, [140, 40, 100, 100, 110]);
	}
	footer();

	if (overlays.length) {
		const cols = 4;
		const cell = (W - 2 * M) / cols;
		const img = cell - 16;
		const perPage = cols * Math.max(1, Math.floor((H - 2 * M - 30) / (img + 30)));
		overlays.forEach((o, i) => {
			if (i % perPage === 0) {
				doc.addPage();
				doc.setFontSize(12);
				doc.text('Grad-CAM overlays (test images)', M, M + 4);
			}
			const k = i % perPage;
			const x = M + (k % cols) * cell;
			const yy = M + 20 + Math.floor(k / cols) * (img + 30);
			doc.addImage(o.png, 'PNG', x, yy, img, img);
			doc.setFontSize(7);
			doc.text(doc.splitTextToSize(ascii(o.caption), img) as string[], x, yy + img + 9);
			if (k === perPage - 1 || i === overlays.length - 1) footer();
		});
	}
	return new Uint8Array(doc.output('arraybuffer'));
}
