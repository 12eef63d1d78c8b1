// radreview-annotations.csv: one row per annotated image, sorted by path, quoted only where RFC 4180 needs it,
// so that `git diff` shows exactly the rows a reviewer changed. Parsing is strict and names the line: a file
// the product could not read is never rewritten.
import { CLASS_NAMES, type ClassName } from '../types';

/** The file at the dataset root. */
export const ANNOTATIONS_FILE = 'radreview-annotations.csv';

/** Columns, in file order. */
export const ANNOTATION_COLUMNS = ['path', 'sha256', 'label', 'original_label', 'flags', 'note', 'reviewer', 'updated', 'reviewed'] as const;

/** Built-in flag reasons; any other non-empty text is a free-text flag. */
export const BUILTIN_FLAGS = {
	exclude: 'exclude from training',
	'not-frontal': 'not a frontal chest X-ray',
	duplicate: 'duplicate',
	'poor-quality': 'poor quality',
	'label-doubtful': 'label doubtful',
} as const;
export type BuiltinFlag = keyof typeof BUILTIN_FLAGS;

/** Flags that take an image out of training and evaluation. */
export const EXCLUDING_FLAGS: readonly string[] = ['exclude', 'not-frontal', 'duplicate'] satisfies BuiltinFlag[];

/** One row: what a reviewer said about one image. */
export interface Annotation {
	/** Relative to the dataset root, '/'-separated. */
	path: string;
	/** sha256 of the image's bytes (finds the row again after a move or rename); '' when unknown. */
	sha256: string;
	/** The corrected label, or null when the reviewer kept the original. */
	label: ClassName | null;
	/** The folder / metadata label when the row was made (null for an unlabelled image). */
	originalLabel: ClassName | null;
	/** Sorted, unique; built-in ids or free text (no ';'). */
	flags: string[];
	note: string;
	reviewer: string;
	/** ISO 8601. */
	updated: string;
	reviewed: boolean;
}

/** A file that cannot be used, with the 1-based line at fault. */
export class AnnotationParseError extends Error {
	constructor(
		readonly file: string,
		readonly line: number,
		readonly reason: string,
	) {
		super(`${file}:${line}: ${reason}`);
		this.name = 'AnnotationParseError';
	}
}

/** Normalises a flag as stored: a built-in id for its id or its wording, else trimmed free text without ';'. */
export function normaliseFlag(text: string): string {
	const t = text.trim().replace(/[;\r\n]+/g, ',');
	const folded = t.toLowerCase();
	for (const [id, words] of Object.entries(BUILTIN_FLAGS)) if (folded === id || folded === words.toLowerCase()) return id;
	return t;
}

/** How a flag reads to a person. */
export const flagText = (flag: string): string => (BUILTIN_FLAGS as Record<string, string>)[flag] ?? flag;

/** The first excluding flag of a row, or undefined. */
export const exclusionOf = (a: Pick<Annotation, 'flags'>): string | undefined => a.flags.find((f) => EXCLUDING_FLAGS.includes(f));

/** The label training uses: the correction when there is one. */
export const effectiveLabel = (a: Annotation | undefined, folderLabel: ClassName | null): ClassName | null => a?.label ?? folderLabel;

/** A row with nothing in it says nothing and is dropped on write. */
export const isEmptyAnnotation = (a: Annotation): boolean => a.label === null && a.flags.length === 0 && a.note === '' && !a.reviewed;

/** Same content (who and when aside). */
export function sameContent(a: Annotation | undefined, b: Annotation | undefined): boolean {
	if (!a || !b) return a === b;
	return a.path === b.path && a.label === b.label && a.note === b.note && a.reviewed === b.reviewed && a.flags.join(';') === b.flags.join(';') && a.originalLabel === b.originalLabel;
}

const byPath = (a: Annotation, b: Annotation) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/** RFC 4180: quote a field only when it holds a comma, a quote or a line break; double inner quotes. */
function quote(field: string): string {
	return /[",\r\n]/.test(field) ? `"${field.replace(/"/g, '""')}"` : field;
}

/** The file's bytes for a set of rows: header, then rows sorted by path, LF line ends, trailing newline. */
export function serialiseAnnotations(rows: Iterable<Annotation>): string {
	const sorted = [...rows].filter((a) => !isEmptyAnnotation(a)).sort(byPath);
	const lines = [ANNOTATION_COLUMNS.join(',')];
	for (const a of sorted) {
		const flags = [...new Set(a.flags)].sort().join(';');
		lines.push([a.path, a.sha256, a.label ?? '', a.originalLabel ?? '', flags, a.note, a.reviewer, a.updated, a.reviewed ? 'yes' : ''].map(quote).join(','));
	}
	return lines.join('\n') + '\n';
}

interface RawRecord {
	line: number;
	fields: string[];
}

/** RFC 4180 records with the line each starts on; an unterminated quote is an error at its line. */
function records(text: string, file: string): RawRecord[] {
	const out: RawRecord[] = [];
	let fields: string[] = [];
	let field = '';
	let quoted = false;
	let line = 1;
	let start = 1;
	let quoteLine = 1;
	let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
	const end = () => {
		fields.push(field);
		if (fields.length > 1 || fields[0] !== '') out.push({ line: start, fields });
		fields = [];
		field = '';
	};
	for (; i < text.length; i++) {
		const c = text[i];
		if (quoted) {
			if (c === '"') {
				if (text[i + 1] === '"') {
					field += '"';
					i++;
				} else quoted = false;
			} else {
				if (c === '\n') line++;
				field += c;
			}
		} else if (c === '"') {
			if (field !== '') throw new AnnotationParseError(file, line, 'a quote inside an unquoted field');
			quoted = true;
			quoteLine = line;
		} else if (c === ',') {
			fields.push(field);
			field = '';
		} else if (c === '\n') {
			end();
			line++;
			start = line;
		} else if (c === '\r' && text[i + 1] === '\n') continue;
		else field += c;
	}
	if (quoted) throw new AnnotationParseError(file, quoteLine, 'a quoted field is never closed');
	if (field !== '' || fields.length) end();
	return out;
}

/** Decodes UTF-8 strictly; a bad byte is an error on its line. */
function decodeUtf8(bytes: Uint8Array, file: string): string {
	try {
		return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
	} catch {
		// Find the first bad byte by decoding line by line.
		let line = 1;
		let from = 0;
		const dec = new TextDecoder('utf-8', { fatal: true });
		for (let i = 0; i <= bytes.length; i++) {
			if (i === bytes.length || bytes[i] === 0x0a) {
				try {
					dec.decode(bytes.subarray(from, i));
				} catch {
					throw new AnnotationParseError(file, line, 'not valid UTF-8 (save the file as UTF-8)');
				}
				line++;
				from = i + 1;
			}
		}
		throw new AnnotationParseError(file, line - 1, 'not valid UTF-8 (save the file as UTF-8)');
	}
}

const SHA = /^[0-9a-f]{64}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

function classOrNull(v: string, column: string, file: string, line: number): ClassName | null {
	if (v === '') return null;
	if (!(CLASS_NAMES as readonly string[]).includes(v)) throw new AnnotationParseError(file, line, `${column} '${v}' is not a class (${CLASS_NAMES.join(', ')})`);
	return v as ClassName;
}

/** A relative, '/'-separated path inside the dataset; null when it is not one. */
export function checkRelPath(p: string): string | null {
	if (p === '' || p.includes('\\') || p.startsWith('/') || /^[a-zA-Z]:/.test(p)) return null;
	return p.split('/').some((s) => s === '' || s === '.' || s === '..') ? null : p;
}

/** One data row; throws AnnotationParseError naming its line. */
function parseRow({ line, fields }: RawRecord, file: string, firstLine: ReadonlyMap<string, number>): Annotation {
	if (fields.length !== ANNOTATION_COLUMNS.length) throw new AnnotationParseError(file, line, `${fields.length} fields, expected ${ANNOTATION_COLUMNS.length}`);
	const [p, sha, label, original, flags, note, reviewer, updated, reviewed] = fields;
	const rel = checkRelPath(p);
	if (!rel) throw new AnnotationParseError(file, line, `path '${p}' is not a relative '/'-separated path inside the dataset`);
	if (sha !== '' && !SHA.test(sha)) throw new AnnotationParseError(file, line, `sha256 '${sha}' is not 64 lower-case hex digits`);
	if (updated !== '' && !ISO.test(updated)) throw new AnnotationParseError(file, line, `updated '${updated}' is not an ISO 8601 time`);
	if (reviewed !== '' && reviewed !== 'yes') throw new AnnotationParseError(file, line, `reviewed '${reviewed}' must be 'yes' or empty`);
	const prior = firstLine.get(rel);
	if (prior !== undefined) throw new AnnotationParseError(file, line, `duplicate row for '${rel}' (first on line ${prior})`);
	return {
		path: rel,
		sha256: sha,
		label: classOrNull(label, 'label', file, line),
		originalLabel: classOrNull(original, 'original_label', file, line),
		flags: flags === '' ? [] : flags.split(';').map(normaliseFlag).filter(Boolean),
		note,
		reviewer,
		updated,
		reviewed: reviewed === 'yes',
	};
}

/**
 * Parses the file's bytes. Throws AnnotationParseError naming the line for: bad UTF-8, merge-conflict markers,
 * a bad header, a row with the wrong number of fields, an unknown class, a bad path, sha256, date or reviewed
 * value, and a path that occurs twice. With `collect`, a bad row is pushed there instead and the others are kept
 * (for showing a malformed file read-only; the file, the header and quoting must still be sound).
 */
export function parseAnnotations(bytes: Uint8Array | string, file: string = ANNOTATIONS_FILE, collect?: AnnotationParseError[]): Map<string, Annotation> {
	const text = typeof bytes === 'string' ? bytes : decodeUtf8(bytes, file);
	const lines = text.split('\n');
	const marker = lines.findIndex((l) => /^(<{7}|={7}|>{7}|\|{7})(\s|$)/.test(l.replace(/\r$/, '')));
	if (marker >= 0) throw new AnnotationParseError(file, marker + 1, 'a merge-conflict marker: resolve the git conflict first');
	const recs = records(text, file);
	const out = new Map<string, Annotation>();
	if (recs.length === 0) return out;
	const [header, ...rows] = recs;
	const names = header.fields.map((h) => h.trim());
	const expected = ANNOTATION_COLUMNS.join(',');
	if (names.join(',') !== expected) {
		const missing = ANNOTATION_COLUMNS.filter((c) => !names.includes(c));
		const extra = names.filter((n) => !(ANNOTATION_COLUMNS as readonly string[]).includes(n));
		const why = missing.length ? `missing ${missing.join(', ')}` : extra.length ? `unknown column(s) ${extra.join(', ')}` : 'columns out of order';
		throw new AnnotationParseError(file, header.line, `bad header (${why}); expected '${expected}'`);
	}
	const firstLine = new Map<string, number>();
	for (const rec of rows) {
		try {
			const a = parseRow(rec, file, firstLine);
			firstLine.set(a.path, rec.line);
			out.set(a.path, a);
		} catch (e) {
			// Collecting: the bad row is left out and named; the rest stays readable.
			if (!(e instanceof AnnotationParseError && collect)) throw e;
			collect.push(e);
		}
	}
	return out;
}
