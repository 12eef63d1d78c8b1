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

/** A header row and data rows as CSV text (LF line ends, a final newline). */
export function toCsv(header: readonly string[], rows: readonly (readonly CsvValue[])[]): string {
	return [header, ...rows].map((r) => r.map(csvField).join(',')).join('\n') + '\n';
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
