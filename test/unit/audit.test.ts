// The dataset audit on the real dev radiographs (600, ResNet50 offline ImageNet features, cached in a stable
// temp folder so reruns are warm). Each test plants a known problem in a linked copy and checks it is found:
// label flips, resized + recompressed near-duplicates, pictures that are not chest X-rays; and the dev set's own
// source confound (COVID only from ieee8023 adults, Kermany children only NORMAL / PNEUMONIA).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { CLASS_NAMES, type ImageRecord } from '../../src/engine/types';
import { shutdownBackend } from '../../src/engine/model/tf';
import { mulberry32, splitDataset, splitIndex } from '../../src/engine/data/splits';
import { scanDataset } from '../../src/engine/data/scan';
import { auditDataset } from '../../src/engine/audit/run';
import { confidentLearning } from '../../src/engine/audit/labelIssues';
import { hamming, perceptualHash } from '../../src/engine/audit/pixels';
import { missingPrereq } from './prereq';
import { withCacheLock } from './helpers/cacheLock';

const DEV = path.resolve(__dirname, '../../../shared/cxr/dev');
const SKIMAGE = ['/usr/lib/python3/dist-packages/skimage/data', '/usr/share/python3-skimage/data'].find((d) => existsSync(path.join(d, 'astronaut.png')));
/** Shared by reruns: features are keyed by file content, so the linked copies hit the same entries. */
const WORK = path.join(os.tmpdir(), 'radreview-audit-test-cache');
let tmp: string;

/** Hard links (else copies) of the dev set (class folders + manifest) into `dir`, minus `omit`. */
async function linkDev(dir: string, omit = new Set<string>()): Promise<string[]> {
	const rels: string[] = [];
	for (const c of CLASS_NAMES) {
		await fs.mkdir(path.join(dir, c), { recursive: true });
		for (const f of (await fs.readdir(path.join(DEV, c))).sort()) {
			const rel = `${c}/${f}`;
			rels.push(rel);
			// Hard links (a copy across file systems): the scanner follows no symlink that leaves the dataset folder.
			if (!omit.has(rel)) await fs.link(path.join(DEV, rel), path.join(dir, rel)).catch(() => fs.copyFile(path.join(DEV, rel), path.join(dir, rel)));
		}
	}
	await fs.copyFile(path.join(DEV, 'manifest.csv'), path.join(dir, 'manifest.csv'));
	return rels;
}

/**
 * Precision@k floor for the planted flips. Chance is k/n = 5 %. The dev set caps what any feature classifier
 * can see: its ~90 adult non-COVID images (ieee8023 NORMAL / PNEUMONIA) sit among the 200 adult COVID ones
 * (out-of-fold accuracy ≈ 0.76), so a flip into or out of that group looks like the natural confusion and
 * competes with it. Measured 0.43–0.50 (λ from 1e-3 to 1e-1, seed 11); the floor, 6× chance, leaves room
 * for backend rounding without letting a broken ranking (≈ 0.05) pass.
 */
const FLIP_FLOOR = 0.3;

// Under the lock: oodClassify.test.ts fills the same cache and may run alongside.
const audit = (dataDir: string) => withCacheLock(WORK, () => auditDataset({ dataDir, workDir: WORK, backbone: 'resnet50', weights: 'auto' }));

before(async () => {
	tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-audit-'));
});

after(async () => {
	shutdownBackend();
	await fs.rm(tmp, { recursive: true, force: true });
});

test('confident learning: thresholds are per-class mean self-confidence; off-diagonal confident images are issues', () => {
	// Class 0 images mostly confident; row 2 is labelled 0 but confidently 1.
	const probs = [0.9, 0.1, 0.8, 0.2, 0.1, 0.9, 0.2, 0.8, 0.3, 0.7];
	const r = confidentLearning(probs, [0, 0, 0, 1, 1], 2);
	assert.deepEqual(
		r.thresholds.map((t) => +t.toFixed(4)),
		[0.6, 0.75],
	);
	assert.deepEqual(r.issues, [2]);
	assert.deepEqual(r.confidentJoint, [
		[2, 1],
		[0, 1],
	]);
	assert.equal(r.ranking[0], 2);
	assert.equal(r.suggested[2], 1);
});

test('perceptual hash: a resized, recompressed radiograph stays within 10 bits; another radiograph does not', async () => {
	const [a, b] = (await fs.readdir(path.join(DEV, 'NORMAL')))
		.sort()
		.slice(0, 2)
		.map((f) => path.join(DEV, 'NORMAL', f));
	const px = async (input: string | Buffer) => new Uint8Array((await sharp(input).removeAlpha().toColourspace('srgb').resize(237, 237, { fit: 'fill' }).raw().toBuffer()).buffer.slice(0));
	const copy = await sharp(a).resize({ width: 300 }).jpeg({ quality: 60 }).toBuffer();
	const ha = perceptualHash(await px(a), 237);
	assert.ok(hamming(ha, perceptualHash(await px(copy), 237)) <= 10);
	assert.ok(hamming(ha, perceptualHash(await px(b), 237)) > 10);
});

test('the split keeps a linked (near-duplicate) group on one side, like a patient', () => {
	const recs: ImageRecord[] = [];
	for (let i = 0; i < 60; i++) recs.push({ path: `/x/${i}`, relPath: `${CLASS_NAMES[i % 3]}/${i}.png`, label: CLASS_NAMES[i % 3], patientId: `p${i}` });
	const linked = [
		['COVID/0.png', 'COVID/3.png', 'NORMAL/1.png'],
		['PNEUMONIA/2.png', 'PNEUMONIA/5.png'],
	];
	for (let seed = 0; seed < 20; seed++) {
		const idx = splitIndex(splitDataset(recs, { mode: 'patient', seed, testFraction: 0.2, valFraction: 0.1, linked }));
		for (const g of linked) assert.equal(new Set(g.map((p) => idx.get(p))).size, 1, `seed ${seed}: ${g.join(', ')}`);
	}
	// Without links the same seeds separate them at least once: the test can fail.
	const apart = Array.from({ length: 20 }, (_, seed) => splitIndex(splitDataset(recs, { mode: 'patient', seed, testFraction: 0.2, valFraction: 0.1 }))).some(
		(idx) => new Set(linked[0].map((p) => idx.get(p))).size > 1,
	);
	assert.ok(apart);
});

test('planted label flips rank at the top of the label issues (precision at k)', async (t) => {
	if (!existsSync(DEV)) return missingPrereq(t, DEV);
	const dir = path.join(tmp, 'flips');
	const rels = await linkDev(dir);
	// 30 flips (5 %), 10 per class, each to a seeded other class.
	const rand = mulberry32(11);
	const flipped = new Map<string, string>();
	for (const c of CLASS_NAMES) {
		const pool = rels.filter((r) => r.startsWith(`${c}/`));
		while ([...flipped.keys()].filter((r) => r.startsWith(`${c}/`)).length < 10) {
			const rel = pool[Math.floor(rand() * pool.length)];
			if (flipped.has(rel)) continue;
			const others = CLASS_NAMES.filter((o) => o !== c);
			const to = others[Math.floor(rand() * others.length)];
			const dest = `${to}/${path.basename(rel)}`;
			await fs.rename(path.join(dir, rel), path.join(dir, dest));
			flipped.set(rel, dest);
		}
	}
	const report = await audit(dir);
	const planted = new Set(flipped.values());
	const k = planted.size;
	const top = report.labelIssues.issues.slice(0, k).map((x) => x.relPath);
	const hits = top.filter((r) => planted.has(r)).length;
	const found = report.labelIssues.issues.filter((x) => planted.has(x.relPath)).length;
	console.log(
		`# label flips: precision@${k} = ${(hits / k).toFixed(2)}; ${found}/${k} flagged among ${report.labelIssues.issues.length} issues; out-of-fold accuracy ${report.labelIssues.outOfFoldAccuracy.toFixed(3)}`,
	);
	assert.ok(hits / k >= FLIP_FLOOR, `precision@${k} ${hits / k} < ${FLIP_FLOOR}`);
	assert.ok(found / k >= 0.5, `only ${found} of ${k} flips flagged`);
});

test('planted near-duplicates across splits are all found, and the duplicate-aware split keeps each group together', async (t) => {
	if (!existsSync(DEV)) return missingPrereq(t, DEV);
	const dir = path.join(tmp, 'dups');
	const rels = await linkDev(dir);
	const rand = mulberry32(7);
	const planted: [string, string][] = [];
	while (planted.length < 12) {
		const rel = rels[Math.floor(rand() * rels.length)];
		if (planted.some(([a]) => a === rel)) continue;
		const meta = await sharp(path.join(DEV, rel)).metadata();
		// Resized to 60–90 % and recompressed as JPEG quality 55–85: a copy saved again by some other tool.
		const scale = 0.6 + 0.3 * rand();
		const copy = `${path.dirname(rel)}/copy-${planted.length}.jpg`;
		await sharp(path.join(DEV, rel))
			.resize({ width: Math.round(meta.width! * scale) })
			.jpeg({ quality: Math.round(55 + 30 * rand()) })
			.toFile(path.join(dir, copy));
		planted.push([rel, copy]);
	}
	const report = await audit(dir);
	const key = (a: string, b: string) => [a, b].sort().join(' | ');
	const foundPairs = new Set(report.duplicates.pairs.map((p) => key(p.a.relPath, p.b.relPath)));
	const missing = planted.filter(([a, b]) => !foundPairs.has(key(a, b)));
	const cross = report.duplicates.pairs.filter((p) => p.crossSplit && planted.some(([a, b]) => key(a, b) === key(p.a.relPath, p.b.relPath)));
	console.log(
		`# near-duplicates: ${planted.length - missing.length}/${planted.length} planted found, ${cross.length} of them across splits; ${report.duplicates.pairs.length} pairs in all (${report.duplicates.crossSplitPairs} cross-split)`,
	);
	assert.deepEqual(missing, []);
	assert.ok(cross.length > 0, 'the planted copies should cross splits under the plain patient split (seed 40)');
	assert.equal(report.duplicates.crossSplitAfterLinking, 0);
	// And the split itself, as training calls it.
	const all = (await scanDataset(dir)).images;
	const idx = splitIndex(splitDataset(all, { mode: 'patient', seed: 40, testFraction: 0.2, valFraction: 0.1, linked: report.duplicates.groups }));
	for (const g of report.duplicates.groups) assert.equal(new Set(g.map((p) => idx.get(p))).size, 1, g.join(', '));
});

/** A flowchart: boxes, arrows and labels in colour on white. */
const DIAGRAM = `<svg xmlns="http://www.w3.org/2000/svg" width="800" height="600"><rect width="800" height="600" fill="white"/>
<g font-family="sans-serif" font-size="28" stroke-width="4">
<rect x="60" y="60" width="240" height="110" rx="12" fill="#cfe8ff" stroke="#1f5fa8"/><text x="95" y="125">Load data</text>
<rect x="480" y="60" width="260" height="110" rx="12" fill="#ffe1c4" stroke="#c46a12"/><text x="510" y="125">Train model</text>
<rect x="270" y="380" width="260" height="120" rx="12" fill="#d8f5d0" stroke="#2d8a1e"/><text x="320" y="450">Evaluate</text>
<path d="M300 115 H470 M610 170 V300 H400 V370" fill="none" stroke="#333"/><polygon points="470,105 490,115 470,125" fill="#333"/></g></svg>`;

/** A scanned letter: gray paper, a heading and rows of word-like bars, slightly rotated. */
function documentSvg(): string {
	const rand = mulberry32(3);
	let lines = '';
	for (let y = 260; y < 1500; y += 46) {
		let x = 120;
		while (x < 1000) {
			const w = 30 + rand() * 110;
			lines += `<rect x="${x.toFixed(0)}" y="${y}" width="${w.toFixed(0)}" height="16" fill="#2a2a2a"/>`;
			x += w + 18;
		}
	}
	return `<svg xmlns="http://www.w3.org/2000/svg" width="1100" height="1600"><rect width="1100" height="1600" fill="#ecebe6"/>
<g transform="rotate(0.8 550 800)"><text x="120" y="170" font-family="serif" font-size="54" fill="#222">Quarterly report</text>${lines}</g></svg>`;
}

test('pictures that are not chest X-rays are flagged, while at most 5 % of the real radiographs are', async (t) => {
	if (!(existsSync(DEV) && SKIMAGE)) return missingPrereq(t, `${DEV} and python3-skimage (apt-get install python3-skimage)`);
	const dir = path.join(tmp, 'ood');
	await linkDev(dir);
	// scikit-image's sample photographs (BSD / public domain), including two grayscale ones.
	const photos = ['astronaut.png', 'chelsea.png', 'coffee.png', 'camera.png', 'horse.png', 'rocket.jpg', 'brick.png', 'motorcycle_left.png'].filter((f) => existsSync(path.join(SKIMAGE!, f)));
	const planted: string[] = [];
	for (const [i, f] of photos.entries()) {
		const rel = `${CLASS_NAMES[i % 3]}/zz-photo-${path.parse(f).name}.png`;
		await sharp(path.join(SKIMAGE!, f)).png().toFile(path.join(dir, rel));
		planted.push(rel);
	}
	await sharp(Buffer.from(DIAGRAM)).png().toFile(path.join(dir, 'NORMAL/zz-diagram.png'));
	await sharp(Buffer.from(documentSvg())).grayscale().jpeg({ quality: 80 }).toFile(path.join(dir, 'COVID/zz-scanned-letter.jpg'));
	planted.push('NORMAL/zz-diagram.png', 'COVID/zz-scanned-letter.jpg');

	const report = await audit(dir);
	const flagged = new Map(report.outOfDistribution.flagged.map((x) => [x.relPath, x]));
	const missed = planted.filter((p) => !flagged.has(p));
	const realFlagged = report.outOfDistribution.flagged.filter((x) => !planted.includes(x.relPath));
	const realShare = realFlagged.length / (report.images - planted.length);
	console.log(
		`# not chest X-rays: ${planted.length - missed.length}/${planted.length} flagged; real radiographs flagged ${realFlagged.length} (${(100 * realShare).toFixed(1)} %); threshold ${report.outOfDistribution.threshold.toFixed(3)}`,
	);
	for (const p of planted) if (flagged.has(p)) console.log(`#   ${p}: ${flagged.get(p)!.details.join('; ')}`);
	assert.deepEqual(missed, []);
	// The feature score alone must catch the grayscale ones (no colour check can).
	for (const p of planted.filter((p) => /camera|letter/.test(p))) assert.ok(flagged.get(p)!.reasons.includes('features'), p);
	assert.ok(realShare <= 0.05, `${realFlagged.length} real radiographs flagged`);
});

test("the dev set's source confound is reported with its warning", async (t) => {
	if (!existsSync(DEV)) return missingPrereq(t, DEV);
	const report = await audit(DEV);
	const s = report.sources;
	assert.equal(s.origin, 'manifest');
	assert.deepEqual(s.sources.sort(), ['Kermany2018', 'ieee8023'].sort());
	const covid = s.warnings.find((w) => w.className === 'COVID');
	assert.ok(covid, JSON.stringify(s.warnings));
	assert.match(covid.message, /COVID is nearly determined by the source/);
	assert.match(covid.message, /100 % of COVID images come from ieee8023/);
	console.log(
		`# sources: label from source ${s.labelFromSource.accuracy.toFixed(3)} (baseline ${s.labelFromSource.baseline.toFixed(3)}); source from features ${s.sourceFromFeatures?.balancedAccuracy.toFixed(3)}; warning AUC ${covid.auc.toFixed(3)}`,
	);
	assert.ok(s.labelFromSource.accuracy > s.labelFromSource.baseline + 0.1);
	assert.ok(s.sourceFromFeatures!.balancedAccuracy > 0.9);
});
