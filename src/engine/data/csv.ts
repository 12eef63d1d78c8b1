// A small RFC 4180 reader: quoted fields may hold commas, quotes ("") and newlines; CRLF and a BOM are fine.

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
			else if (text[i + 1] === '"') (field += '"'), i++;
			else quoted = false;
		} else if (c === '"') quoted = true;
		else if (c === ',') row.push(field), (field = '');
		else if (c === '\n') endRow();
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
