// Class × source table and confound warnings, on the real dev manifest (../shared/cxr/dev) and extra-nih.
import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseCsvRecords } from '../../src/engine/data/csv';
import { scanDataset } from '../../src/engine/data/scan';
import { UNKNOWN_SOURCE, classSourceTable, sourceOf } from '../../src/engine/data/sources';
import type { ClassName } from '../../src/engine/types';

const SHARED = path.resolve(__dirname, '../../../shared/cxr');
const DEV = path.join(SHARED, 'dev');
const NIH = path.join(SHARED, 'extra-nih');
const manifest = (dir: string) => parseCsvRecords(readFileSync(path.join(dir, 'manifest.csv'), 'utf8'));

/** counts[class][source] straight from a manifest's columns: the independent answer the scan must match. */
function manifestCounts(rows: Record<string, string>[]): Map<string, number> {
	const m = new Map<string, number>();
	for (const r of rows) m.set(`${r.label}|${r.source_dataset}`, (m.get(`${r.label}|${r.source_dataset}`) ?? 0) + 1);
	return m;
}

let tmp: string;
before(async () => (tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-sources-'))));
after(async () => fs.rm(tmp, { recursive: true, force: true }));

describe('classSourceTable', () => {
	test('dev: counts per class and source match manifest.csv; COVID comes from one source', async () => {
		const scan = await scanDataset(DEV);
		const t = classSourceTable(scan.images);
		const want = manifestCounts(manifest(DEV));
		const got = new Map<string, number>();
		for (const [c, row] of Object.entries(t.counts)) for (const [s, n] of Object.entries(row)) got.set(`${c}|${s}`, n);
		assert.deepEqual([...got].sort(), [...want].sort());
		assert.equal(t.total, scan.images.length);
		assert.ok(!t.sources.includes(UNKNOWN_SOURCE), 'every dev image has a source in manifest.csv');
		// Columns largest first; totals line up with the columns.
		assert.deepEqual(
			t.sourceTotals,
			[...t.sourceTotals].sort((a, b) => b - a),
		);
		assert.equal(
			t.sourceTotals.reduce((a, b) => a + b, 0),
			t.total,
		);

		// COVID is ieee8023 only; Kermany holds NORMAL and PNEUMONIA, ieee8023 all three: one warning.
		const covidSources = new Set(
			manifest(DEV)
				.filter((r) => r.label === 'COVID')
				.map((r) => r.source_dataset),
		);
		assert.equal(covidSources.size, 1);
		const [covidSource] = covidSources;
		assert.equal(t.warnings.length, 1, JSON.stringify(t.warnings));
		const w = t.warnings[0];
		assert.equal(w.kind, 'classFromOneSource');
		assert.equal(w.className, 'COVID');
		assert.equal(w.source, covidSource);
		assert.equal(w.count, t.classTotals[0]);
		assert.match(w.message, new RegExp(`^every COVID image \\(\\d+\\) comes from ${covidSource}: a model can score by recognising the source$`));
	});

	test('extra-nih alone: one source, so no warning; with dev it adds a third NORMAL/PNEUMONIA source', async () => {
		const nih = await scanDataset(NIH);
		const alone = classSourceTable(nih.images);
		assert.equal(alone.sources.length, 1);
		assert.deepEqual(alone.warnings, []);
		const dev = await scanDataset(DEV);
		const both = classSourceTable([...dev.images, ...nih.images]);
		assert.equal(both.sources.length, new Set([...manifest(DEV), ...manifest(NIH)].map((r) => r.source_dataset)).size);
		// NIH brings NORMAL and PNEUMONIA (no new warning); COVID is still from one source.
		assert.deepEqual(
			both.warnings.map((w) => [w.kind, w.className]),
			[['classFromOneSource', 'COVID']],
		);
	});

	test('a source holding one class is named; unlabelled images are left out', () => {
		const im = (label: ClassName | null, source?: string) => ({ label, source });
		const t = classSourceTable([im('COVID', 'a'), im('NORMAL', 'a'), im('NORMAL', 'b'), im('NORMAL', 'b'), im('PNEUMONIA', 'a'), im(null, 'c')]);
		assert.deepEqual(t.sources, ['a', 'b']);
		assert.equal(t.total, 5);
		assert.deepEqual(
			t.warnings.map((w) => [w.kind, w.className, w.source, w.count]),
			[
				['classFromOneSource', 'COVID', 'a', 1],
				['classFromOneSource', 'PNEUMONIA', 'a', 1],
				['sourceHoldsOneClass', 'NORMAL', 'b', 2],
			],
		);
		assert.equal(t.warnings[2].message, 'every image from b (2) is NORMAL: a model can score by recognising the source');
	});

	test('no source anywhere: one "unknown" column and no warning; blanks count as unknown', () => {
		assert.equal(sourceOf({ source: '  ' }), UNKNOWN_SOURCE);
		const t = classSourceTable([{ label: 'COVID' }, { label: 'NORMAL', source: '' }]);
		assert.deepEqual(t.sources, [UNKNOWN_SOURCE]);
		assert.deepEqual(t.warnings, []);
	});

	test('folders without a manifest read as unknown; a metadata.csv source_dataset column is carried', async () => {
		const plain = path.join(tmp, 'plain');
		const rows = manifest(DEV);
		const pick = (label: string) => rows.find((r) => r.label === label)!;
		for (const label of ['COVID', 'NORMAL']) {
			await fs.mkdir(path.join(plain, label), { recursive: true });
			await fs.copyFile(path.join(DEV, pick(label).path), path.join(plain, label, path.basename(pick(label).path)));
		}
		const t = classSourceTable((await scanDataset(plain)).images);
		assert.deepEqual(t.sources, [UNKNOWN_SOURCE]);

		const meta = path.join(tmp, 'meta');
		await fs.mkdir(path.join(meta, 'images'), { recursive: true });
		const lines = ['patientid,finding,view,modality,folder,filename,source_dataset'];
		for (const [k, label] of (['COVID', 'NORMAL', 'PNEUMONIA'] as const).entries()) {
			const r = pick(label);
			await fs.copyFile(path.join(DEV, r.path), path.join(meta, 'images', `img${k}${path.extname(r.path)}`));
			lines.push(`${r.patient_id},${label === 'NORMAL' ? 'No Finding' : label},PA,X-ray,images,img${k}${path.extname(r.path)},${r.source_dataset}`);
		}
		await fs.writeFile(path.join(meta, 'metadata.csv'), lines.join('\n'));
		const scanned = await scanDataset(meta);
		assert.equal(scanned.layout, 'metadata');
		assert.deepEqual(
			scanned.images.map((i) => i.source),
			(['COVID', 'NORMAL', 'PNEUMONIA'] as const).map((l) => pick(l).source_dataset),
		);
	});
});
