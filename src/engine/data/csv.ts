// RFC 4180, both ways: the one reader (quoted fields may hold commas, quotes ("") and newlines; CRLF and a BOM are
// fine) and the one writer every CSV of the project goes through.

/** Parse CSV text into rows of fields; blank lines are dropped. */
export function parseCsv(text: string): string[][] {
	const rows: string[][] = [];
	let row: string[] = [];
	let field = '';
	let quoted = false;
	let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
	const endRow = () => {
		row.push(field);
		if (row.length > 1 || row[0] !== '') rows.push(row);
		row = [];
		field = '';
	};
	for (; i < text.length; i++) {
		const c = text[i];
		if (quoted) {
			if (c !== '"') field += c;
			else if (text[i + 1] === '"') {
				field += '"';
				i++;
			} else quoted = false;
		} else if (c === '"') quoted = true;
		else if (c === ',') {
			row.push(field);
			field = '';
		} else if (c === '\n') endRow();
		else if (c !== '\r') field += c;
	}
	if (field !== '' || row.length) endRow();
	return rows;
}

/** Parse CSV with a header row into records keyed by the lower-cased, trimmed header names. */
export function parseCsvRecords(text: string): Record<string, string>[] {
	const [header, ...rows] = parseCsv(text);
	if (!header) return [];
	const keys = header.map((h) => h.trim().toLowerCase());
	return rows.map((r) => Object.fromEntries(keys.map((k, j) => [k, r[j] ?? ''])));
}

export type CsvValue = string | number | boolean | null | undefined;

/** RFC 4180 quoting: a field with a comma, quote or line break is quoted, its quotes doubled. */
export function csvField(v: CsvValue): string {
	const s = v == null ? '' : String(v);
	return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

// A spreadsheet runs a cell that starts with = + - @ (or tab / CR before one) as a formula, and file names, notes
// and manifest values are anyone's. OWASP's advice: a leading single quote. Quotes already leading such a cell
// get one more, so that reading back (unneutraliseCell) is exact; plain numbers such as -0.5 stay numbers.
const FORMULA = /^'*[=+\-@\t\r]/;
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** The cell as written to a CSV meant for people: a would-be formula gets a leading `'`. */
export function neutraliseCell(s: string): string {
	return FORMULA.test(s) && !NUMBER.test(s) ? `'${s}` : s;
}

/** Undoes neutraliseCell (for reading our own exports back, e.g. predictions.csv). */
export function unneutraliseCell(s: string): string {
	return s.startsWith("'") && FORMULA.test(s) && !NUMBER.test(s.slice(1)) ? s.slice(1) : s;
}

/** Records of a CSV written by toCsv, cells as they were before neutralising. */
export const parseOwnCsvRecords = (text: string): Record<string, string>[] => parseCsvRecords(text).map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, unneutraliseCell(v)])));

/**
 * A header row and data rows as CSV text (LF line ends, a final newline), every cell neutralised for spreadsheets.
 * (radreview-annotations.csv has its own raw writer: it is data for git and the product, not a spreadsheet.)
 */
export function toCsv(header: readonly string[], rows: readonly (readonly CsvValue[])[]): string {
	return [header, ...rows].map((r) => r.map((v) => csvField(neutraliseCell(v == null ? '' : String(v)))).join(',')).join('\n') + '\n';
}

/** A parsed row and the 1-based line it starts on (for errors that name the line). */
export interface CsvLine {
	line: number;
	fields: string[];
}

/** parseCsv's rows with the line each starts on; blank lines are dropped, an unclosed quote is reported by line. */
export function parseCsvLines(text: string): { rows: CsvLine[]; unclosedQuoteLine?: number } {
	const rows: CsvLine[] = [];
	let fields: string[] = [];
	let field = '';
	let quoted = false;
	let line = 1;
	let start = 1;
	let quoteLine = 0;
	const endRow = () => {
		fields.push(field);
		if (fields.length > 1 || fields[0] !== '') rows.push({ line: start, fields });
		fields = [];
		field = '';
	};
	for (let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; i < text.length; i++) {
		const c = text[i];
		if (c === '\n') line++;
		if (quoted) {
			if (c !== '"') field += c;
			else if (text[i + 1] === '"') {
				field += '"';
				i++;
			} else quoted = false;
		} else if (c === '"') {
			quoted = true;
			quoteLine = line;
		} else if (c === ',') {
			fields.push(field);
			field = '';
		} else if (c === '\n') {
			endRow();
			start = line;
		} else if (c !== '\r') field += c;
	}
	if (field !== '' || fields.length) endRow();
	return quoted ? { rows, unclosedQuoteLine: quoteLine } : { rows };
}
