// CSVs meant for people are safe to open in a spreadsheet: a cell that would start a formula gets a leading quote
// (OWASP), and the engine reads its own files back exactly. classify of a folder holding a real radiograph named
// `=1+2.jpg` (copied from ../shared/cxr/dev), through a small run (VGG16, seeded random weights, 64 px).
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { classifyFolder, trainRun } from '../../src/engine/api';
import { neutraliseCell, parseCsv, toCsv, unneutraliseCell } from '../../src/engine/data/csv';
import { readPredictionsCsv } from '../../src/engine/infer/classify';
import { initBackend, shutdownBackend } from '../../src/engine/model/tf';
import { CLASS_NAMES, DEFAULT_TRAIN_CONFIG } from '../../src/engine/types';
import { ANNOTATION_COLUMNS, parseAnnotations, serialiseAnnotations } from '../../src/engine/annotations/format';

const DEV = path.resolve(__dirname, '../../../shared/cxr/dev');
let tmp: string;

before(async () => {
	await initBackend();
	tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-formula-'));
});
after(async () => {
	shutdownBackend();
	if (tmp) await fs.rm(tmp, { recursive: true, force: true });
});

test('neutraliseCell: formula starts get a quote, numbers stay numbers, and reading back is exact', () => {
	const cases: [string, string][] = [
		['=1+2.jpg', "'=1+2.jpg"],
		['+SUM(A1)', "'+SUM(A1)"],
		['-2+3', "'-2+3"],
		['@cmd', "'@cmd"],
		['\t=x', "'\t=x"],
		['\r=x', "'\r=x"],
		["'=x", "''=x"],
		['-0.5', '-0.5'],
		['1e-3', '1e-3'],
		['NORMAL/a.jpg', 'NORMAL/a.jpg'],
		["it's", "it's"],
		['', ''],
	];
	for (const [raw, cell] of cases) {
		assert.equal(neutraliseCell(raw), cell, JSON.stringify(raw));
		assert.equal(unneutraliseCell(cell), raw, JSON.stringify(cell));
	}
	assert.deepEqual(parseCsv(toCsv(['a', 'b'], [['=HYPERLINK("x")', -1]])), [
		['a', 'b'],
		['\'=HYPERLINK("x")', '-1'],
	]);
});

test('the annotations file stays raw: a formula-like note is kept as written', () => {
	const row = { path: 'NORMAL/a.jpg', sha256: '', label: null, originalLabel: null, flags: ['=bad'], note: '=1+2', reviewer: '@me', updated: '', reviewed: false };
	const text = serialiseAnnotations([row]);
	assert.equal(text, `${ANNOTATION_COLUMNS.join(',')}\nNORMAL/a.jpg,,,,=bad,=1+2,@me,,\n`);
	assert.equal(parseAnnotations(text).get('NORMAL/a.jpg')!.note, '=1+2');
});

test('classify of a folder holding =1+2.jpg writes that cell neutralised, and predictions.csv reads back to real paths', async () => {
	const data = path.join(tmp, 'data');
	for (const c of CLASS_NAMES) {
		await fs.mkdir(path.join(data, c), { recursive: true });
		for (const f of (await fs.readdir(path.join(DEV, c))).sort().slice(0, 4)) await fs.copyFile(path.join(DEV, c, f), path.join(data, c, f));
	}
	const workDir = path.join(tmp, 'work');
	const run = await trainRun({ ...DEFAULT_TRAIN_CONFIG, backbone: 'vgg16', dataDir: data, workDir, weights: 'none', epochs: 1, imageSize: 64, baseRuntime: 'tfjs' });

	const folder = path.join(tmp, 'incoming');
	await fs.mkdir(folder);
	const src = path.join(DEV, 'NORMAL', (await fs.readdir(path.join(DEV, 'NORMAL'))).sort()[10]);
	await fs.copyFile(src, path.join(folder, '=1+2.jpg'));
	await fs.copyFile(src, path.join(folder, '@SUM(1).jpg'));
	const out = path.join(tmp, 'classified.csv');
	const r = await classifyFolder(run.runDir, folder, { workDir, outCsv: out });
	assert.equal(r.predictions.length, 2, JSON.stringify(r.errors));
	const rows = parseCsv(await fs.readFile(out, 'utf8'));
	const cells = rows.slice(1).map((row) => row[0]);
	assert.deepEqual(cells.sort(), ["'=1+2.jpg", "'@SUM(1).jpg"]);
	assert.ok(
		rows.slice(1).every((row) => row[1].startsWith(folder)),
		'absolute paths start with /, not a formula character',
	);
	for (const row of rows) for (const cell of row) assert.doesNotMatch(cell, /^[=+@\t\r]/, `a formula cell: ${cell}`);

	// Round trip: the engine's reader undoes the quote, so the paths still name the files.
	const back = await readPredictionsCsv(out);
	assert.deepEqual(back.map((p) => p.relPath).sort(), ['=1+2.jpg', '@SUM(1).jpg']);
	for (const p of back) await fs.access(p.path);
});
