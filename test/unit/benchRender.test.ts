// The README's and docs/PERFORMANCE.md's figures come from bench-results.json: rendered between markers, checked by
// `npm run lint` (render.ts --check). These tests start from the committed JSON and documents, copied to a temp dir.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DOCUMENTS, fmt, NOT_MEASURED, parseBenchResult, renderBlock, renderDocument, renderDocuments } from '../../src/engine/bench/render';
import type { BenchResult } from '../../src/engine/bench/bench';

const ROOT = path.resolve(__dirname, '../..');
let tmp: string;
let committed: BenchResult;

before(() => {
	tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'radreview-benchrender-'));
	fs.mkdirSync(path.join(tmp, 'docs'));
	for (const f of ['README.md', 'docs/PERFORMANCE.md', 'bench-results.json']) fs.copyFileSync(path.join(ROOT, f), path.join(tmp, f));
	committed = parseBenchResult(fs.readFileSync(path.join(ROOT, 'bench-results.json'), 'utf8'), 'bench-results.json');
});

after(() => {
	if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const writeJson = (r: BenchResult) => fs.writeFileSync(path.join(tmp, 'bench-results.json'), JSON.stringify(r));

test('the committed documents match the committed bench-results.json; a changed figure makes --check name both files', () => {
	assert.deepEqual(renderDocuments(tmp, true), []);
	const r: BenchResult = structuredClone(committed);
	const head = r.rows.find((x) => x.section === 'train' && x.backbone === 'vgg16' && x.value !== undefined);
	assert.ok(head, 'the committed run has the VGG16 head-training row');
	head.value = head.value! * 3 + 0.05;
	writeJson(r);
	assert.deepEqual(renderDocuments(tmp, true), ['README.md', 'docs/PERFORMANCE.md']);
	assert.deepEqual(renderDocuments(tmp, false), ['README.md', 'docs/PERFORMANCE.md']);
	const readme = fs.readFileSync(path.join(tmp, 'README.md'), 'utf8');
	assert.ok(readme.includes(`**${fmt(head.value)} / `), 'the README shows the new head time');
	// The committed head times were measured on the fused trainer, and the README says so from the row itself.
	assert.match(head.runtime, /\(fused WASM; /);
	assert.match(readme, /\| head, 80 epochs .*\(fused WASM SIMD trainer\)/);
	// Text outside the markers is left alone; a second render changes nothing.
	assert.ok(readme.startsWith(fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8').slice(0, 2000)));
	assert.deepEqual(renderDocuments(tmp, true), []);
});

test('a section the run did not measure shows "not measured yet", never a number', () => {
	const r: BenchResult = { ...structuredClone(committed), sections: committed.sections.filter((s) => s !== 'train'), rows: committed.rows.filter((x) => x.section !== 'train') };
	const summary = renderBlock('summary', r);
	const headLine = summary.split('\n').find((l) => l.startsWith('| head, 80 epochs'));
	assert.ok(headLine?.includes(`**${NOT_MEASURED} / ${NOT_MEASURED}**`), headLine);
	const target = renderBlock('targets', r)
		.split('\n')
		.find((l) => l.startsWith('| head training'));
	assert.equal(target, `| head training, 80 epochs on 600 cached vectors: ≤ 5 s VGG16, ≤ 15 s ResNet50V2 | ${NOT_MEASURED} |`);
	assert.match(renderBlock('environment', r), /Sections not measured yet: .*train/);
	assert.match(renderBlock('train', r), new RegExp(`head training on 600 cached feature vectors \\| ${NOT_MEASURED}`));
});

test('a missing closing marker, a missing block and a bad JSON field are refused, naming the file', () => {
	assert.throws(() => renderDocument('x\n<!-- bench:summary -->\n| old |\n', committed, 'README.md'), /README\.md: <!-- bench:summary --> has no <!-- \/bench:summary -->/);
	assert.throws(() => renderBlock('nonsense', committed), /unknown bench block "nonsense"/);
	fs.writeFileSync(path.join(tmp, 'docs/PERFORMANCE.md'), '# Performance\n');
	writeJson(committed);
	assert.throws(() => renderDocuments(tmp, true), /docs\/PERFORMANCE\.md: the <!-- bench:environment --> block is missing/);
	assert.throws(() => parseBenchResult(JSON.stringify({ ...committed, rows: 'none' }), 'b.json'), /b\.json: field "rows" is missing or of the wrong type/);
	assert.throws(() => parseBenchResult('{', 'b.json'), /b\.json: not JSON/);
});

test('every block the documents hold is rendered from the JSON (names with digits too, e.g. int8)', () => {
	for (const [doc, blocks] of Object.entries(DOCUMENTS))
		for (const b of blocks) {
			const empty = `<!-- bench:${b} -->\n<!-- /bench:${b} -->`;
			const out = renderDocument(empty, committed, doc);
			assert.notEqual(out, empty, `${doc}: block ${b} was not rendered`);
			assert.equal(out, `<!-- bench:${b} -->\n${renderBlock(b, committed)}\n<!-- /bench:${b} -->`);
		}
});
