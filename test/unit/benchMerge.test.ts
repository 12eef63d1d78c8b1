// `radreview bench --sections X --merge` re-measures some sections only: their rows replace the committed run's in
// place, every other row stays, and the rendered environment says which sections were re-measured when.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { mergeResults, type BenchResult } from '../../src/engine/bench/bench';
import { parseBenchResult, renderBlock } from '../../src/engine/bench/render';

const ROOT = path.resolve(__dirname, '../..');

test('merging a re-measured section replaces its rows in place and keeps the rest', () => {
	const old = parseBenchResult(fs.readFileSync(path.join(ROOT, 'bench-results.json'), 'utf8'), 'bench-results.json');
	const others = old.rows.filter((r) => r.section !== 'shard');
	const firstShard = old.rows.findIndex((r) => r.section === 'shard');
	assert.ok(firstShard > 0, 'the committed run has shard rows');
	const now: BenchResult = {
		...structuredClone(old),
		date: '2030-01-02T03:04:05.000Z',
		seconds: 42,
		sections: ['env', 'shard'],
		environment: { ...old.environment, load: '1.00 1.00 1.00', loadAfter: '2.00 2.00 2.00' },
		rows: [
			{ section: 'shard', backbone: 'resnet50', runtime: 'new row A', value: 1, unit: 'img/s' },
			{ section: 'shard', backbone: 'resnet50', runtime: 'new row B', value: 2, unit: 'img/s' },
		],
		notes: ['Sharding: a new note.'],
	};
	const m = mergeResults(old, now);
	assert.deepEqual(
		m.rows.filter((r) => r.section !== 'shard'),
		others,
	);
	assert.deepEqual(
		m.rows.filter((r) => r.section === 'shard').map((r) => r.runtime),
		['new row A', 'new row B'],
	);
	assert.equal(
		m.rows.findIndex((r) => r.section === 'shard'),
		firstShard,
		'in the old rows’ place',
	);
	assert.equal(m.date, old.date);
	assert.deepEqual(m.updates?.at(-1), { date: now.date, sections: ['env', 'shard'], seconds: 42, load: '1.00 1.00 1.00', loadAfter: '2.00 2.00 2.00' });
	assert.ok(m.notes.includes('Sharding: a new note.'));
	assert.match(renderBlock('environment', m), /Sections env, shard re-measured 2030-01-02 by `radreview bench --sections env,shard --merge` \(42 s/);
	assert.match(renderBlock('shard', m), /new row B/);
});
