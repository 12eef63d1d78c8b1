// The sources a leave-one-source-out run can hold out, with what each choice can and cannot measure.
// Pure: no vscode, so it is unit-tested; the command (commands/train.ts) turns these into a quick pick.
import { CLASS_NAMES, type ClassName, type ImageRecord } from '../engine/types';

export interface SourceChoice {
	source: string;
	/** Images of the source per class, CLASS_NAMES order. */
	counts: number[];
	/** "120 images: COVID 0 · NORMAL 60 · PNEUMONIA 60". */
	description: string;
	/** What the choice cannot show, in plain words; empty when it can show everything. */
	warnings: string[];
}

/** One choice per recorded source (manifest.csv source_dataset), largest first; empty when fewer than two sources. */
export function sourceChoices(records: readonly ImageRecord[]): SourceChoice[] {
	const labelled = records.filter((r): r is ImageRecord & { label: ClassName } => r.label !== null);
	const names = [...new Set(labelled.map((r) => r.source).filter((s): s is string => Boolean(s)))];
	if (names.length < 2) return [];
	const count = (rs: typeof labelled) => CLASS_NAMES.map((c) => rs.filter((r) => r.label === c).length);
	return names
		.map((source) => {
			const counts = count(labelled.filter((r) => r.source === source));
			const rest = count(labelled.filter((r) => r.source !== source));
			const n = counts.reduce((a, b) => a + b, 0);
			const warnings: string[] = [];
			const neverSeen = CLASS_NAMES.filter((_, k) => counts[k] > 0 && rest[k] === 0);
			if (neverSeen.length) warnings.push(`the other sources have no ${neverSeen.join(' or ')} image: the model cannot learn ${neverSeen.length > 1 ? 'those classes' : 'that class'}`);
			const absent = CLASS_NAMES.filter((_, k) => counts[k] === 0);
			if (absent.length) warnings.push(`no ${absent.join(' or ')} image in ${source}: ${absent.join(' and ')} recall cannot be measured`);
			return { source, counts, description: `${n} images: ${CLASS_NAMES.map((c, k) => `${c} ${counts[k]}`).join(' · ')}`, warnings };
		})
		.sort((a, b) => b.counts.reduce((x, y) => x + y, 0) - a.counts.reduce((x, y) => x + y, 0) || (a.source < b.source ? -1 : 1));
}

/** The Predictions panel's title part for a run: its test split, or the source it held out. */
export function testSetLabel(testSource: string | undefined): string {
	return testSource ? `held-out source ${testSource}` : 'test split';
}
