// radreview-reads.csv: one row per (image, reader), sorted by path then reader, so that two readers' commits touch
// different lines and merge cleanly. Parsing is strict and names the line; a file that does not parse is never
// rewritten.
import { CLASS_NAMES, type ClassName } from '../types';
import { csvField, parseCsvLines } from '../data/csv';
import { checkRelPath, normaliseFlag } from '../annotations/format';

export const READS_FILE = 'radreview-reads.csv';

export const READ_COLUMNS = ['path', 'sha256', 'reader', 'label', 'confidence', 'flags', 'seconds', 'time', 'blinded'] as const;

/** One reader's read of one image. */
export interface Read {
	/** Relative to the dataset root, '/'-separated. */
	path: string;
	/** sha256 of the image's bytes when read ('' when unknown, e.g. imported). */
	sha256: string;
	reader: string;
	label: ClassName;
	/** 1 (guess) … 5 (certain); null when not given. */
	confidence: number | null;
	/** Sorted, unique; built-in flag ids or free text. */
	flags: string[];
	/** Seconds spent on the image; null when unknown. */
	seconds: number | null;
	/** ISO 8601. */
	time: string;
	/** Read without folder, file name, label, prediction or others' reads in view. */
	blinded: boolean;
}

export class ReadsParseError extends Error {
	constructor(
		readonly file: string,
		readonly line: number,
		readonly reason: string,
	) {
		super(`${file}:${line}: ${reason}`);
		this.name = 'ReadsParseError';
	}
}

/** The one order of rows: path, then reader (code-unit order, locale-independent). */
export function compareReads(a: Pick<Read, 'path' | 'reader'>, b: Pick<Read, 'path' | 'reader'>): number {
	if (a.path !== b.path) return a.path < b.path ? -1 : 1;
	return a.reader < b.reader ? -1 : a.reader > b.reader ? 1 : 0;
}

export const readKey = (r: Pick<Read, 'path' | 'reader'>): string => `${r.path}\u0000${r.reader}`;

/** Reader names are free text on one line, without leading / trailing blanks. */
export function checkReaderName(name: string): string | null {
	const n = name.trim();
	return n === '' || /[\r\n]/.test(n) || n.includes('\u0000') ? null : n;
}

export function serialiseReads(reads: Iterable<Read>): string {
	const lines = [READ_COLUMNS.join(',')];
	for (const r of [...reads].sort(compareReads)) {
		const flags = [...new Set(r.flags)].sort().join(';');
		lines.push([r.path, r.sha256, r.reader, r.label, r.confidence ?? '', flags, r.seconds === null ? '' : Number(r.seconds.toFixed(1)), r.time, r.blinded ? 'yes' : ''].map(csvField).join(','));
	}
	return lines.join('\n') + '\n';
}

const SHA = /^[0-9a-f]{64}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;
const CONFLICT = /^(<{7}|={7}|>{7}|\|{7})(\s|$)/;

/** A class name as written by people: case-insensitive, trimmed. Null when it is none of the classes. */
export function parseClass(v: string): ClassName | null {
	const u = v.trim().toUpperCase();
	return (CLASS_NAMES as readonly string[]).includes(u) ? (u as ClassName) : null;
}

/** A confidence 1–5, or null for ''; undefined when it is not one. */
export function parseConfidence(v: string): number | null | undefined {
	const t = v.trim();
	if (t === '') return null;
	return /^[1-5]$/.test(t) ? Number(t) : undefined;
}

/** The text of a CSV file; a merge-conflict marker is an error on its line. */
export function csvTextOf(bytes: Uint8Array | string, file: string, err: (file: string, line: number, reason: string) => Error): string {
	let text: string;
	try {
		text = typeof bytes === 'string' ? bytes : new TextDecoder('utf-8', { fatal: true }).decode(bytes);
	} catch {
		throw err(file, 1, 'not valid UTF-8 (save the file as UTF-8)');
	}
	const lines = text.split('\n');
	const marker = lines.findIndex((l) => CONFLICT.test(l.replace(/\r$/, '')));
	if (marker >= 0) throw err(file, marker + 1, 'a merge-conflict marker: resolve the git conflict first');
	return text;
}

/**
 * Parses the file. Throws ReadsParseError naming the line for: bad UTF-8, merge-conflict markers, a bad header, a
 * row with the wrong number of fields, a path outside the dataset, an unknown label, a bad confidence, sha256,
 * seconds, time or blinded value, an empty reader, and a second row for the same image and reader.
 */
export function parseReads(bytes: Uint8Array | string, file: string = READS_FILE): Read[] {
	const err = (f: string, line: number, reason: string) => new ReadsParseError(f, line, reason);
	const { rows: recs, unclosedQuoteLine } = parseCsvLines(csvTextOf(bytes, file, err));
	if (unclosedQuoteLine) throw err(file, unclosedQuoteLine, 'a quoted field is never closed');
	if (recs.length === 0) return [];
	const [header, ...rows] = recs;
	const expected = READ_COLUMNS.join(',');
	if (header.fields.map((h) => h.trim()).join(',') !== expected) throw err(file, header.line, `bad header; expected '${expected}'`);
	const first = new Map<string, number>();
	const out: Read[] = [];
	for (const { line, fields } of rows) {
		if (fields.length !== READ_COLUMNS.length) throw err(file, line, `${fields.length} fields, expected ${READ_COLUMNS.length}`);
		const [p, sha, readerText, labelText, conf, flags, secs, time, blinded] = fields;
		const rel = checkRelPath(p);
		if (!rel) throw err(file, line, `path '${p}' is not a relative '/'-separated path inside the dataset`);
		if (sha !== '' && !SHA.test(sha)) throw err(file, line, `sha256 '${sha}' is not 64 lower-case hex digits`);
		const reader = checkReaderName(readerText);
		if (!reader || reader !== readerText) throw err(file, line, `reader '${readerText}' must be a non-empty name without surrounding blanks`);
		if (!(CLASS_NAMES as readonly string[]).includes(labelText)) throw err(file, line, `label '${labelText}' is not a class (${CLASS_NAMES.join(', ')})`);
		const confidence = parseConfidence(conf);
		if (confidence === undefined) throw err(file, line, `confidence '${conf}' must be 1–5 or empty`);
		const seconds = secs === '' ? null : Number(secs);
		if (seconds !== null && !(Number.isFinite(seconds) && seconds >= 0 && /^\d+(\.\d+)?$/.test(secs))) throw err(file, line, `seconds '${secs}' must be a number ≥ 0 or empty`);
		if (!ISO.test(time)) throw err(file, line, `time '${time}' is not an ISO 8601 time`);
		if (blinded !== '' && blinded !== 'yes') throw err(file, line, `blinded '${blinded}' must be 'yes' or empty`);
		const key = readKey({ path: rel, reader });
		const prior = first.get(key);
		if (prior !== undefined) throw err(file, line, `duplicate row for '${rel}' by '${reader}' (first on line ${prior})`);
		first.set(key, line);
		out.push({
			path: rel,
			sha256: sha,
			reader,
			label: labelText as ClassName,
			confidence,
			flags: flags === '' ? [] : [...new Set(flags.split(';').map(normaliseFlag).filter(Boolean))].sort(),
			seconds,
			time,
			blinded: blinded === 'yes',
		});
	}
	return out;
}
