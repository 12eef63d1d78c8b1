// `radreview annotate`: read and edit radreview-annotations.csv from the shell, with the same engine code the
// extension uses (atomic writes, merge with what changed on disk, malformed files never rewritten).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CLASS_NAMES, type ClassName } from './engine/types';
import { datasetLabels } from './engine/data/scan';
import { flagText, parseAnnotations, serialiseAnnotations, type Annotation } from './engine/annotations/format';
import { mergeAnnotations, type AnnotationConflict, type AnnotationEdit } from './engine/annotations/merge';
import { editAnnotations, readAnnotations, writeAnnotations } from './engine/annotations/store';
import { defaultReviewer } from './engine/annotations/reviewer';
import { writeFileAtomic } from './engine/util/atomic';

export const ANNOTATE_USAGE = `Usage: radreview annotate --data DIR <action>

Actions (PATH: an image of the dataset, relative to DIR or to the current folder):
  set PATH CLASS           correct the label (COVID, NORMAL or PNEUMONIA; the original label clears it)
  flag PATH --reason TEXT  flag the image: exclude, not-frontal, duplicate, poor-quality, label-doubtful, or free text
                           (exclude, not-frontal and duplicate leave it out of training and evaluation)
  note PATH TEXT           set the image's note (empty text removes it)
  clear PATH               remove the image's annotation
  list [--json]            show every annotation
  export FILE.csv          copy the annotations to FILE.csv
  import FILE.csv          merge FILE.csv's rows in; rows that differ from ours are reported and left as they are

Annotations live in DIR/radreview-annotations.csv (commit it). Reviewer: --reviewer NAME, else git config user.name.`;

export class AnnotateUsageError extends Error {}

/** A dataset image named on the command line, as its path relative to the dataset root. */
function relPathOf(root: string, p: string, images: ReadonlyMap<string, ClassName | null>): string {
	const candidates = [path.resolve(p), path.resolve(root, p)];
	for (const abs of candidates) {
		const rel = path.relative(root, abs).split(path.sep).join('/');
		if (images.has(rel)) return rel;
	}
	throw new Error(`${p}: not an image of the dataset ${root}`);
}

function describe(a: Annotation): string {
	const parts: string[] = [];
	if (a.label) parts.push(`label ${a.originalLabel ?? '(none)'} → ${a.label}`);
	if (a.flags.length) parts.push(`flagged: ${a.flags.map(flagText).join('; ')}`);
	if (a.note) parts.push(`note: ${a.note.replace(/\n/g, ' ⏎ ')}`);
	if (a.reviewed) parts.push('reviewed');
	return `${a.path}  ${parts.join('  ')}${a.reviewer ? `  (${a.reviewer}, ${a.updated})` : ''}`;
}

function printConflicts(conflicts: AnnotationConflict[]): void {
	for (const c of conflicts) {
		process.stderr.write(`conflict ${c.path}:\n  ours:   ${c.ours ? describe(c.ours) : '(no row)'}\n  theirs: ${c.theirs ? describe(c.theirs) : '(no row)'}\n`);
	}
}

export async function cmdAnnotate(values: Record<string, string | boolean | undefined>, positionals: string[]): Promise<void> {
	const data = typeof values.data === 'string' ? values.data : undefined;
	const [action, ...args] = positionals;
	if (!data || !action) throw new AnnotateUsageError(`--data DIR and an action are required\n\n${ANNOTATE_USAGE}`);
	const root = path.resolve(data);
	const usage = (why: string) => new AnnotateUsageError(`${why}\n\n${ANNOTATE_USAGE}`);
	const arity = (n: number) => {
		if (args.length !== n) throw usage(`'${action}' takes ${n} argument(s), got ${args.length}`);
	};

	if (action === 'list') {
		arity(0);
		const { set } = await readAnnotations(root);
		if (values.json) return void process.stdout.write(JSON.stringify([...set.values()], null, 2) + '\n');
		if (set.size === 0) return void process.stdout.write(`no annotations in ${root}\n`);
		for (const a of set.values()) process.stdout.write(describe(a) + '\n');
		return;
	}
	if (action === 'export') {
		arity(1);
		const { set } = await readAnnotations(root);
		await writeFileAtomic(path.resolve(args[0]), serialiseAnnotations(set.values()));
		return void process.stdout.write(`exported ${set.size} annotation(s) to ${path.resolve(args[0])}\n`);
	}
	if (action === 'import') {
		arity(1);
		const from = path.resolve(args[0]);
		const incoming = parseAnnotations(await fs.readFile(from), from);
		const current = await readAnnotations(root);
		const { merged, conflicts } = mergeAnnotations(undefined, current.set, incoming);
		// Conflicting rows keep ours: an import never overwrites what a reviewer here wrote.
		for (const c of conflicts) {
			if (c.ours) merged.set(c.path, c.ours);
			else merged.delete(c.path);
		}
		const r = await writeAnnotations(root, current, merged);
		const all = [...conflicts, ...r.conflicts];
		process.stdout.write(`imported ${from}: ${r.snapshot.set.size} annotation(s) now, ${all.length} conflict(s)\n`);
		if (all.length) {
			printConflicts(all);
			throw new Error(`${all.length} row(s) differ between ${from} and ${current.file}; ours were kept (edit one side and import again)`);
		}
		return;
	}

	const images = await datasetLabels(root);
	let edits: AnnotationEdit[];
	switch (action) {
		case 'set': {
			arity(2);
			const label = args[1].toUpperCase();
			if (!(CLASS_NAMES as readonly string[]).includes(label)) throw usage(`'${args[1]}' is not a class (${CLASS_NAMES.join(', ')})`);
			edits = [{ kind: 'label', path: relPathOf(root, args[0], images), label: label as ClassName }];
			break;
		}
		case 'flag': {
			arity(1);
			const reason = typeof values.reason === 'string' ? values.reason.trim() : '';
			if (!reason) throw usage('flag needs --reason TEXT');
			edits = [{ kind: 'flag', path: relPathOf(root, args[0], images), flag: reason }];
			break;
		}
		case 'note':
			arity(2);
			edits = [{ kind: 'note', path: relPathOf(root, args[0], images), note: args[1] }];
			break;
		case 'clear':
			arity(1);
			edits = [{ kind: 'clear', path: relPathOf(root, args[0], images) }];
			break;
		default:
			throw usage(`unknown action '${action}'`);
	}
	const reviewer = await defaultReviewer(root, typeof values.reviewer === 'string' ? values.reviewer : undefined);
	const { snapshot, conflicts } = await editAnnotations(root, images, edits, { reviewer, updated: new Date().toISOString() });
	const row = snapshot.set.get(edits[0].path);
	process.stdout.write(row ? describe(row) + '\n' : `${edits[0].path}: no annotation\n`);
	if (conflicts.length) {
		printConflicts(conflicts);
		throw new Error(`${conflicts.length} row(s) changed on disk while editing; theirs were kept`);
	}
}
