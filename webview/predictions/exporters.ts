// Exports of the current (filtered, sorted) grid: a PNG contact sheet and a PDF of thumbnail pages with
// captions (like the reference work's modelo_2.pdf). Exports are documents, so they use fixed light colours.
import { jsPDF } from 'jspdf';
import { arrayBufferToBase64 } from '../shared/bytes';
import { baseName, isCorrect, labelCaption, pages, predictionText, sheetLayout, type GridItem } from '../shared/logic';

const PAPER = '#ffffff';
const INK = '#1f1f1f';
const MUTED = '#6b6b6b';
const RIGHT = '#1a7f37';
const WRONG = '#c62828';

/** Most images a PDF export holds: ~20 per page, so 100 pages; more is a data dump, not a report. */
export const PDF_MAX_ITEMS = 2000;

export type ProgressFn = (done: number, total: number) => void;

/**
 * Loads a thumbnail for drawing on a canvas. `crossOrigin = 'anonymous'` asks for a CORS load so the
 * canvas is not tainted (webview resources are served from another origin). null when it fails.
 */
function loadImage(uri: string | undefined): Promise<HTMLImageElement | null> {
	if (!uri) return Promise.resolve(null);
	return new Promise((resolve) => {
		const img = new Image();
		img.crossOrigin = 'anonymous';
		img.decoding = 'async';
		img.onload = () => resolve(img);
		img.onerror = () => resolve(null);
		img.src = uri;
	});
}

/** Loads images with bounded concurrency, in order, reporting progress. */
async function loadAll(items: readonly GridItem[], onProgress: ProgressFn, concurrency = 8): Promise<(HTMLImageElement | null)[]> {
	const out = new Array<HTMLImageElement | null>(items.length).fill(null);
	let next = 0;
	let done = 0;
	const worker = async (): Promise<void> => {
		while (next < items.length) {
			const i = next++;
			out[i] = await loadImage(items[i].thumbUri);
			onProgress(++done, items.length);
		}
	};
	await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
	return out;
}

/** Draws `img` centred and fitted (contain) in the box, or a grey placeholder. */
function drawFitted(ctx: CanvasRenderingContext2D, img: HTMLImageElement | null, x: number, y: number, w: number, h: number): void {
	ctx.fillStyle = '#000000';
	ctx.fillRect(x, y, w, h);
	if (!img || !img.naturalWidth) {
		ctx.fillStyle = '#9e9e9e';
		ctx.font = '12px sans-serif';
		ctx.textAlign = 'center';
		ctx.fillText('no thumbnail', x + w / 2, y + h / 2);
		ctx.textAlign = 'left';
		return;
	}
	const s = Math.min(w / img.naturalWidth, h / img.naturalHeight);
	const dw = img.naturalWidth * s;
	const dh = img.naturalHeight * s;
	ctx.drawImage(img, x + (w - dw) / 2, y + (h - dh) / 2, dw, dh);
}

function ellipsize(ctx: CanvasRenderingContext2D, text: string, max: number): string {
	if (ctx.measureText(text).width <= max) return text;
	let t = text;
	while (t.length > 1 && ctx.measureText(`…${t}`).width > max) t = t.slice(1);
	return `…${t}`;
}

/** Throws a clear error when the canvas was tainted (thumbnails not served with CORS). */
function readCanvas(read: () => string): string {
	try {
		return read();
	} catch (e) {
		throw new Error(`the thumbnails could not be read back from the canvas (${e instanceof Error ? e.message : String(e)})`);
	}
}

export interface SheetResult {
	base64: string;
	count: number;
	capped: boolean;
}

/** PNG contact sheet of the items: thumbnails with "Predicted / Correct" captions, right/wrong marked. */
export async function gridToPng(items: readonly GridItem[], title: string, subtitle: string, onProgress: ProgressFn): Promise<SheetResult> {
	const cellW = 200;
	const thumb = 176;
	const cellH = thumb + 70;
	const headerH = 56;
	const layout = sheetLayout(items.length, 8, cellW, cellH, headerH);
	const chosen = items.slice(0, layout.count);
	const images = await loadAll(chosen, onProgress);
	const canvas = document.createElement('canvas');
	canvas.width = Math.max(layout.width, 640);
	canvas.height = layout.height;
	const ctx = canvas.getContext('2d');
	if (!ctx) throw new Error('no 2D canvas');
	ctx.fillStyle = PAPER;
	ctx.fillRect(0, 0, canvas.width, canvas.height);
	ctx.fillStyle = INK;
	ctx.font = 'bold 18px sans-serif';
	ctx.fillText(title, 12, 24);
	ctx.font = '13px sans-serif';
	ctx.fillStyle = MUTED;
	const note = layout.capped ? ` — first ${layout.count} of ${items.length}` : ` — ${items.length} images`;
	ctx.fillText(ellipsize(ctx, subtitle + note, canvas.width - 24), 12, 44);
	chosen.forEach((item, i) => {
		const x = (i % layout.columns) * cellW;
		const y = headerH + Math.floor(i / layout.columns) * cellH;
		const ok = isCorrect(item);
		drawFitted(ctx, images[i], x + (cellW - thumb) / 2, y + 4, thumb, thumb);
		if (ok !== null) {
			// A coloured frame plus the word: colour is never the only signal.
			ctx.strokeStyle = ok ? RIGHT : WRONG;
			ctx.lineWidth = 3;
			ctx.strokeRect(x + (cellW - thumb) / 2 - 1.5, y + 2.5, thumb + 3, thumb + 3);
		}
		let ty = y + thumb + 22;
		ctx.font = '12px sans-serif';
		ctx.fillStyle = INK;
		ctx.fillText(ellipsize(ctx, `Predicted: ${predictionText(item, 2)}`, cellW - 12), x + 6, ty);
		ty += 15;
		if (item.label !== null) {
			ctx.fillText(`${labelCaption(item)}: ${item.label}`, x + 6, ty);
			if (ok !== null) {
				ctx.font = 'bold 12px sans-serif';
				ctx.fillStyle = ok ? RIGHT : WRONG;
				ctx.fillText(ok ? '✓ right' : '✗ wrong', x + cellW - 62, ty);
			}
		}
		ty += 15;
		ctx.font = '10px sans-serif';
		ctx.fillStyle = MUTED;
		ctx.fillText(ellipsize(ctx, baseName(item.relPath), cellW - 12), x + 6, ty);
	});
	const url = readCanvas(() => canvas.toDataURL('image/png'));
	return { base64: url.slice(url.indexOf(',') + 1), count: layout.count, capped: layout.capped };
}

/** jsPDF's standard fonts are WinAnsi: replace the few non-Latin-1 characters our captions use. */
export function pdfSafe(text: string): string {
	return text
		.replace(/[−–—]/g, '-')
		.replace(/↑/g, 'asc')
		.replace(/↓/g, 'desc')
		.replace(/[^\x20-\x7e\xa0-\xff]/g, '?');
}

/** A4 pages of 4 × 5 thumbnails with captions; the caption says right/wrong in words and colour. */
export async function gridToPdf(items: readonly GridItem[], title: string, subtitle: string, onProgress: ProgressFn): Promise<SheetResult> {
	const chosen = items.slice(0, PDF_MAX_ITEMS);
	const images = await loadAll(chosen, onProgress);
	const doc = new jsPDF({ orientation: 'portrait', unit: 'mm', format: 'a4', compress: true });
	const cols = 4;
	const rows = 5;
	const margin = 10;
	const headerH = 16;
	const cellW = (210 - 2 * margin) / cols;
	const cellH = (297 - 2 * margin - headerH) / rows;
	const img = cellH - 14;
	// One small canvas reused to turn each thumbnail into a JPEG for the PDF.
	const canvas = document.createElement('canvas');
	canvas.width = 256;
	canvas.height = 256;
	const ctx = canvas.getContext('2d');
	if (!ctx) throw new Error('no 2D canvas');
	const pageList = pages(chosen.length, cols * rows);
	pageList.forEach(([start, end], p) => {
		if (p > 0) doc.addPage();
		doc.setTextColor(INK);
		doc.setFont('helvetica', 'bold');
		doc.setFontSize(12);
		doc.text(pdfSafe(title), margin, margin + 4);
		doc.setFont('helvetica', 'normal');
		doc.setFontSize(8);
		doc.setTextColor(MUTED);
		const note = chosen.length < items.length ? ` - first ${chosen.length} of ${items.length}` : ` - ${items.length} images`;
		doc.text(pdfSafe(subtitle + note), margin, margin + 9, { maxWidth: 160 });
		doc.text(`page ${p + 1} / ${pageList.length}`, 210 - margin, margin + 4, { align: 'right' });
		for (let i = start; i < end; i++) {
			const item = chosen[i];
			const k = i - start;
			const x = margin + (k % cols) * cellW;
			const y = margin + headerH + Math.floor(k / cols) * cellH;
			const ix = x + (cellW - img) / 2;
			drawFitted(ctx, images[i], 0, 0, 256, 256);
			const jpeg = readCanvas(() => canvas.toDataURL('image/jpeg', 0.85));
			doc.addImage(jpeg, 'JPEG', ix, y, img, img, undefined, 'FAST');
			const ok = isCorrect(item);
			if (ok !== null) {
				doc.setDrawColor(ok ? RIGHT : WRONG);
				doc.setLineWidth(0.6);
				doc.rect(ix, y, img, img);
			}
			doc.setFontSize(7.5);
			doc.setTextColor(INK);
			doc.text(pdfSafe(`Predicted: ${predictionText(item, 2)}`), x + 1, y + img + 4);
			if (item.label !== null) {
				doc.text(pdfSafe(`${labelCaption(item)}: ${item.label}`), x + 1, y + img + 7.5);
				if (ok !== null) {
					doc.setTextColor(ok ? RIGHT : WRONG);
					doc.setFont('helvetica', 'bold');
					doc.text(ok ? 'right' : 'WRONG', x + cellW - 2, y + img + 7.5, { align: 'right' });
					doc.setFont('helvetica', 'normal');
				}
			}
			doc.setFontSize(6);
			doc.setTextColor(MUTED);
			const name = baseName(item.relPath);
			doc.text(pdfSafe(name.length > 40 ? `...${name.slice(-37)}` : name), x + 1, y + img + 10.5);
		}
	});
	return { base64: arrayBufferToBase64(doc.output('arraybuffer')), count: chosen.length, capped: chosen.length < items.length };
}
