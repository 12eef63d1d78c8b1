// Build media/samples/: 20 redistributable real radiographs per class from ../shared/cxr/dev, downscaled,
// with manifest.csv (patient ids) and ATTRIBUTION.md. Run: node --import tsx scripts/makeSamples.ts
import { promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { parseCsvRecords } from '../src/engine/data/csv';
import { CLASS_NAMES } from '../src/engine/types';

const ROOT = path.resolve(__dirname, '..');
const DEV = path.resolve(ROOT, '../shared/cxr/dev');
const OUT = path.join(ROOT, 'media/samples');
const PER_CLASS = 20;
const LONG_SIDE = 512;
const QUALITY = 90;
/** Adult (ieee8023) images first, up to this many per class, to soften the child/adult confound of the set. */
const ADULT_MAX = 5;

type Row = Record<string, string>;

/** CC BY (any version), CC BY-SA, CC0 or Apache; never NC, ND or unspecified. */
export function redistributable(license: string): boolean {
	const l = license.toLowerCase();
	return /^(cc by\b|cc-by\b|cc0|apache)/.test(l) && !/\b(nc|nd)\b/.test(l.replace(/-/g, ' '));
}

/** One image per patient, in a stable order (by file hash, so not just the lowest ids); alternating findings. */
function pick(rows: Row[], n: number, taken: Set<string>): Row[] {
	const byFinding = new Map<string, Row[]>();
	for (const r of [...rows].sort((a, b) => a.sha256_file.localeCompare(b.sha256_file))) {
		byFinding.set(r.finding, [...(byFinding.get(r.finding) ?? []), r]);
	}
	const queues = [...byFinding.keys()].sort().map((k) => byFinding.get(k)!);
	const out: Row[] = [];
	while (out.length < n && queues.some((q) => q.length)) {
		for (const q of queues) {
			let r: Row | undefined;
			while ((r = q.shift()) && taken.has(r.patient_id));
			if (r && out.length < n) {
				out.push(r);
				taken.add(r.patient_id);
			}
		}
	}
	return out;
}

const csvField = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

async function main() {
	const rows = parseCsvRecords(readFileSync(path.join(DEV, 'manifest.csv'), 'utf8')).filter((r) => redistributable(r.license));
	await fs.rm(OUT, { recursive: true, force: true });
	const chosen: Array<Row & { out: string }> = [];
	for (const label of CLASS_NAMES) {
		const mine = rows.filter((r) => r.label === label);
		const taken = new Set<string>();
		const adult = pick(mine.filter((r) => r.source_dataset === 'ieee8023'), label === 'COVID' ? PER_CLASS : ADULT_MAX, taken);
		const rest = pick(mine.filter((r) => r.source_dataset !== 'ieee8023'), PER_CLASS - adult.length, taken);
		const picked = [...adult, ...rest];
		if (picked.length < PER_CLASS) console.warn(`${label}: only ${picked.length} redistributable images with distinct patients`);
		for (const r of picked) chosen.push({ ...r, out: `${label}/${path.basename(r.path).replace(/\.[^.]+$/, '')}.jpg` });
	}
	let bytes = 0;
	for (const r of chosen) {
		const dest = path.join(OUT, r.out);
		await fs.mkdir(path.dirname(dest), { recursive: true });
		const info = await sharp(path.join(DEV, r.path))
			.autoOrient()
			.flatten({ background: '#000000' })
			.resize(LONG_SIDE, LONG_SIDE, { fit: 'inside', withoutEnlargement: true })
			.jpeg({ quality: QUALITY, mozjpeg: true })
			.toFile(dest);
		bytes += info.size;
	}
	const src = (r: Row) => `${r.source_repo}@${r.source_commit}:${r.source_path}`;
	const manifest = [
		'path,label,patient_id,license,source,source_dataset',
		...chosen.map((r) => [r.out, r.label, r.patient_id, r.license, src(r), r.source_dataset].map(csvField).join(',')),
	];
	await fs.writeFile(path.join(OUT, 'manifest.csv'), manifest.join('\n') + '\n');

	const counts = CLASS_NAMES.map((c) => `${c} ${chosen.filter((r) => r.label === c).length}`).join(', ');
	const md = [
		'# Sample radiographs — attribution',
		'',
		`${chosen.length} real chest radiographs (${counts}), one per patient within each class, chosen only among images whose`,
		'licence allows redistribution (CC BY / CC BY-SA / CC0 / Apache-2.0; never NC, ND or unspecified).',
		`**Changes:** each image was downscaled to at most ${LONG_SIDE} px on its long side and re-encoded as JPEG (quality ${QUALITY});`,
		'transparent pixels were flattened onto black. Built by `scripts/makeSamples.ts` from the project\'s development set.',
		'Not for clinical use. NORMAL and PNEUMONIA images from Kermany 2018 are of children (ages 1–5); ieee8023 images are adults.',
		'',
		'## Datasets and citations',
		'',
		'- **ieee8023 COVID-19 image data collection** — Joseph Paul Cohen, Paul Morrison, Lan Dao, *COVID-19 Image Data Collection*,',
		'  arXiv:2003.11597 (2020), https://github.com/ieee8023/covid-chestxray-dataset. Files copied from the byte-identical mirror',
		'  `s-mostafa-a/covid-chestxray-dataset` @ 173779df5bb2ab06fa1dc7f84ee9a212c759464b (= `ieee8023/covid-chestxray-dataset` @',
		'  0f7245db6f5aa4001ea75cf69fe6cfe091928403). Each image\'s licence, and the article or site it was',
		'  first published in (its original authors), is given in that collection\'s metadata.csv row for the listed path.',
		'- **Kermany 2018** — Daniel Kermany, Kang Zhang, Michael Goldbaum, *Labeled Optical Coherence Tomography (OCT) and Chest X-Ray',
		'  Images for Classification*, Mendeley Data v2 (2018), doi:10.17632/rscbjbr9sj.2, licensed CC BY 4.0. Files copied from',
		'  `lecuong1502/BTL_Machine_Learning` @ 19a2d6171e2b9678617eba9ad207ef416196d08f.',
		'',
		'## Files',
		'',
		'| file | label | patient | licence | source (repository@commit:path) |',
		'|---|---|---|---|---|',
		...chosen.map((r) => `| \`${r.out}\` | ${r.label} | ${r.patient_id} | ${r.license} | \`${src(r)}\` |`),
		'',
	];
	await fs.writeFile(path.join(OUT, 'ATTRIBUTION.md'), md.join('\n'));
	console.log(`${chosen.length} samples (${counts}), ${(bytes / 1e6).toFixed(2)} MB of images in ${path.relative(ROOT, OUT)}`);
}

if (require.main === module) void main().catch((e) => ((process.exitCode = 1), console.error(e)));
