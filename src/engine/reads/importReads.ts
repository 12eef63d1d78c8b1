// Reads made elsewhere: a CSV with columns path, reader, label and optional confidence. Every line is checked
// against the dataset before anything is written; one bad line refuses the whole file, naming each bad line.
import * as path from 'node:path';
import type { ClassName } from '../types';
import { CLASS_NAMES } from '../types';
import { parseCsvLines } from '../data/csv';
import { sha256File } from '../util/hash';
import { checkRelPath } from '../annotations/format';
import { checkReaderName, csvTextOf, parseClass, parseConfidence, readKey, type Read } from './format';

export interface ImportProblem {
	line: number;
	reason: string;
}

export class ReadsImportError extends Error {
	constructor(
		readonly file: string,
		readonly problems: ImportProblem[],
	) {
		super(
			`${file}: nothing imported; ${problems.length} bad line(s):\n${problems
				.slice(0, 20)
				.map((p) => `  ${file}:${p.line}: ${p.reason}`)
				.join('\n')}${problems.length > 20 ? `\n  … and ${problems.length - 20} more` : ''}`,
		);
		this.name = 'ReadsImportError';
	}
}

export interface ImportOptions {
	/** The reader of rows without a reader column / value. */
	reader?: string;
	/** ISO time stamped on the rows (default now). */
	time?: string;
}

/**
 * Parses an import file against the dataset's images (relPath → folder label). Throws ReadsImportError listing
 * every bad line: unknown path or label, bad confidence, missing reader, a reader other than --reader, duplicates.
 */
export async function parseImport(bytes: Uint8Array | string, file: string, root: string, images: ReadonlyMap<string, ClassName | null>, opts: ImportOptions = {}): Promise<Read[]> {
	const fail = (f: string, line: number, reason: string) => new ReadsImportError(f, [{ line, reason }]);
	const { rows, unclosedQuoteLine } = parseCsvLines(csvTextOf(bytes, file, fail));
	if (unclosedQuoteLine) throw fail(file, unclosedQuoteLine, 'a quoted field is never closed');
	if (rows.length === 0) throw fail(file, 1, 'empty file; expected a header path,reader,label[,confidence]');
	const [header, ...body] = rows;
	const cols = header.fields.map((h) => h.trim().toLowerCase());
	const at = (name: string) => cols.indexOf(name);
	const missing = ['path', 'label'].filter((c) => at(c) < 0);
	if (at('reader') < 0 && !opts.reader) missing.push('reader (or give --reader NAME)');
	if (missing.length) throw fail(file, header.line, `missing column(s): ${missing.join(', ')}`);
	const given = opts.reader === undefined ? undefined : checkReaderName(opts.reader);
	if (given === null) throw fail(file, header.line, `--reader '${opts.reader}' is not a usable name`);
	const problems: ImportProblem[] = [];
	const seen = new Map<string, number>();
	const out: Read[] = [];
	const time = opts.time ?? new Date().toISOString();
	for (const { line, fields } of body) {
		const cell = (name: string) => (at(name) >= 0 ? (fields[at(name)] ?? '').trim() : '');
		const why: string[] = [];
		const rel = checkRelPath(cell('path').replace(/^\.\//, ''));
		if (!rel || !images.has(rel)) why.push(`'${cell('path')}' is not an image of the dataset ${root}`);
		const label = parseClass(cell('label'));
		if (!label) why.push(`label '${cell('label')}' is not a class (${CLASS_NAMES.join(', ')})`);
		const confidence = parseConfidence(cell('confidence'));
		if (confidence === undefined) why.push(`confidence '${cell('confidence')}' must be 1–5 or empty`);
		const inFile = cell('reader');
		const reader: string | null | undefined = inFile === '' ? given : checkReaderName(inFile);
		if (!reader) why.push(inFile === '' ? 'no reader (add a reader column or give --reader NAME)' : `reader '${inFile}' is not a usable name`);
		else if (given && reader !== given) why.push(`reader '${reader}' is not --reader '${given}'`);
		if (why.length === 0) {
			const key = readKey({ path: rel!, reader: reader! });
			const prior = seen.get(key);
			if (prior !== undefined) why.push(`duplicate read of '${rel}' by '${reader}' (first on line ${prior})`);
			seen.set(key, line);
		}
		if (why.length) {
			problems.push({ line, reason: why.join('; ') });
			continue;
		}
		out.push({ path: rel!, sha256: '', reader: reader!, label: label!, confidence: confidence ?? null, flags: [], seconds: null, time, blinded: false });
	}
	if (problems.length) throw new ReadsImportError(file, problems);
	// The hash ties each read to the image's bytes (a later move or edit of the image shows).
	for (const r of out) r.sha256 = await sha256File(path.join(root, r.path));
	return out;
}
