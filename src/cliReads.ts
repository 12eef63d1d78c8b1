// `radreview reads import|export` and `radreview readers`: the reader study from the shell, with the engine code
// the extension uses (lock, atomic writes, strict parsing that names the line).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { datasetLabels } from './engine/data/scan';
import { parseImport } from './engine/reads/importReads';
import { readReads, recordReads } from './engine/reads/store';
import { serialiseReads } from './engine/reads/format';
import { readersReport } from './engine/reads/study';
import { readersMarkdown, readersSummary } from './engine/reads/markdown';
import { writeFileAtomic, writeJsonAtomic } from './engine/util/atomic';

export const READS_USAGE = `Usage: radreview reads <action> [--data DIR]

Actions:
  import FILE.csv [--reader NAME]  add reads made elsewhere: columns path, reader, label and optional confidence
                                   (1–5); --reader names the reader of rows without one. Paths are relative to
                                   DIR. A bad line (unknown path or label, duplicate) refuses the whole file.
  export [--out FILE]              the reads as CSV (stdout without --out)

Reads live in DIR/radreview-reads.csv (default DIR: the current folder), one row per image and reader. A reader's
new read replaces only their own row. Add 'radreview-reads.csv merge=union' to DIR/.gitattributes so that two
readers' branches merge without conflicts.`;

export const READERS_USAGE = `Usage: radreview readers --data DIR [--run R] [--json FILE] [--md FILE] [options]

Agreement between readers (Cohen's κ per pair, Fleiss' κ for three or more, per-class specific agreement, each
with a 95 % bootstrap interval over patients), reader-by-reader confusion matrices, and each reader against the
reference standard (adjudicated label, else folder label) with Wilson intervals.
  --run R          also the model of run folder R against the readers, on exactly the images they read
  --json FILE      the full report as JSON (to stdout when neither --json nor --md is given)
  --md FILE        the report as Markdown
  --resamples N    bootstrap resamples, default 1000
  --seed N         bootstrap seed, default 12345`;

export class ReadsUsageError extends Error {}

type Values = Record<string, string | boolean | undefined>;
const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined);

function int(v: string | boolean | undefined, name: string, fallback: number, min: number): number {
	if (v === undefined) return fallback;
	const n = Number(v);
	if (typeof v !== 'string' || !Number.isInteger(n) || n < min) throw new ReadsUsageError(`--${name} must be an integer ≥ ${min} (got '${String(v)}')`);
	return n;
}

export async function cmdReads(values: Values, positionals: string[]): Promise<void> {
	const root = path.resolve(str(values.data) ?? '.');
	const [action, ...args] = positionals;
	const usage = (why: string) => new ReadsUsageError(`${why}\n\n${READS_USAGE}`);
	if (action === 'import') {
		if (args.length !== 1) throw usage(`'import' takes one FILE.csv, got ${args.length}`);
		const from = path.resolve(args[0]);
		const images = await datasetLabels(root);
		const reads = await parseImport(await fs.readFile(from), from, root, images, { reader: str(values.reader) });
		const r = await recordReads(root, reads);
		const readers = [...new Set(reads.map((x) => x.reader))].sort();
		process.stdout.write(`imported ${reads.length} read(s) by ${readers.join(', ')} from ${from}: ${r.added} new, ${r.replaced} replaced; ${r.snapshot.reads.length} read(s) in ${r.snapshot.file}\n`);
		return;
	}
	if (action === 'export') {
		if (args.length) throw usage(`'export' takes no argument (use --out FILE)`);
		const { reads } = await readReads(root);
		const out = str(values.out);
		if (!out) return void process.stdout.write(serialiseReads(reads));
		await writeFileAtomic(path.resolve(out), serialiseReads(reads));
		process.stderr.write(`exported ${reads.length} read(s) to ${path.resolve(out)}\n`);
		return;
	}
	throw usage(action ? `unknown action '${action}'` : 'an action is required');
}

export async function cmdReaders(values: Values, signal?: AbortSignal): Promise<void> {
	const data = str(values.data);
	if (!data) throw new ReadsUsageError(`--data DIR is required\n\n${READERS_USAGE}`);
	const report = await readersReport(data, {
		signal,
		run: str(values.run) && path.resolve(str(values.run)!),
		resamples: int(values.resamples, 'resamples', 1000, 1),
		seed: int(values.seed, 'seed', 12345, 0),
	});
	const json = str(values.json);
	const md = str(values.md);
	if (json) await writeJsonAtomic(path.resolve(json), report);
	if (md) await writeFileAtomic(path.resolve(md), readersMarkdown(report));
	if (!json && !md) return void process.stdout.write(JSON.stringify(report, null, 2) + '\n');
	process.stdout.write(readersSummary(report) + '\n');
}
