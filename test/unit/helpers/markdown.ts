// Code blocks taken from the docs as printed, so that a test runs the text users paste and no second copy drifts.
import { readFileSync } from 'node:fs';

/** The fenced blocks of language `lang` in the `## heading` section of `file` (up to the next `## `), in order. */
export function fencedBlocks(file: string, heading: string, lang: string): string[] {
	const md = readFileSync(file, 'utf8');
	const start = md.indexOf(`\n## ${heading}\n`);
	if (start < 0) throw new Error(`${file}: no section '## ${heading}'`);
	const rest = md.slice(start + heading.length + 5);
	const end = rest.search(/\n## /);
	const section = end < 0 ? rest : rest.slice(0, end);
	const blocks: string[] = [];
	const re = new RegExp('^```' + lang + '\\n([\\s\\S]*?)^```$', 'gm');
	for (let m = re.exec(section); m; m = re.exec(section)) blocks.push(m[1]);
	return blocks;
}
