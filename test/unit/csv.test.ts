// One CSV writer (RFC 4180) for every export, and the reader gets back exactly what it wrote.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { csvField, parseCsv, toCsv, unneutraliseCell } from '../../src/engine/data/csv';

test('fields with commas, quotes and line breaks are quoted; others are not', () => {
	assert.equal(csvField('plain'), 'plain');
	assert.equal(csvField('a,b'), '"a,b"');
	assert.equal(csvField('say "hi"'), '"say ""hi"""');
	assert.equal(csvField('two\nlines'), '"two\nlines"');
	assert.equal(csvField('cr\r'), '"cr\r"');
	assert.equal(csvField(null), '');
	assert.equal(csvField(0.5), '0.5');
	assert.equal(csvField(false), 'false');
	assert.equal(toCsv(['a', 'b'], [['x, y', 1]]), 'a,b\n"x, y",1\n');
});

test('round trip: parseCsv(toCsv(rows)) gives the rows back, formula quotes undone (fast-check, fixed seed)', () => {
	const field = fc.string({ unit: fc.constantFrom('a', 'Z', ' ', ',', '"', '\n', '\r\n', 'é', '0', '=', '-', '+', '@', "'", '\t', '.') });
	fc.assert(
		fc.property(fc.array(fc.array(field, { minLength: 2, maxLength: 5 }), { maxLength: 8 }), (rows) => {
			const width = rows[0]?.length ?? 2;
			const even = rows.map((r) => Array.from({ length: width }, (_, i) => r[i] ?? ''));
			const header = Array.from({ length: width }, (_, i) => `h${i}`);
			assert.deepEqual(
				parseCsv(toCsv(header, even)).map((r) => r.map(unneutraliseCell)),
				[header, ...even],
			);
		}),
		{ seed: 4180, numRuns: 500 },
	);
});
