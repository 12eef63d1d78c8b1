// Training and classify on the real dev radiographs (ResNet50 offline features, cached in the audit tests' stable
// folder so reruns are warm), with the audit's findings applied: planted resized / recompressed copies stay on one
// side of the training split, and classify flags pictures that are not chest X-rays (outOfDistribution) while
// leaving held-out radiographs alone, from the reference the run stored or, for an older run, recomputed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { CLASS_NAMES, DEFAULT_TRAIN_CONFIG, type SplitResult } from '../../src/engine/types';
import { shutdownBackend } from '../../src/engine/model/tf';
import { mulberry32, splitDataset, splitIndex } from '../../src/engine/data/splits';
import { scanDataset } from '../../src/engine/data/scan';
import { classifyFolder, trainRun } from '../../src/engine/api';
import { readPredictionsCsv } from '../../src/engine/infer/classify';
import { missingPrereq } from './prereq';
import { withCacheLock } from './helpers/cacheLock';

const DEV = path.resolve(__dirname, '../../../shared/cxr/dev');
const SKIMAGE = ['/usr/lib/python3/dist-packages/skimage/data', '/usr/share/python3-skimage/data'].find((d) => existsSync(path.join(d, 'astronaut.png')));
/** The audit tests' feature cache: features are keyed by file content, so linked dev images are warm. */
const WORK = path.join(os.tmpdir(), 'radreview-audit-test-cache');
const PHOTOS = ['astronaut.png', 'chelsea.png', 'coffee.png', 'camera.png', 'horse.png', 'rocket.jpg', 'brick.png', 'motorcycle_left.png'];
/**
 * Held-out radiographs the check may flag. The audit measures ≤ 5 % of the 600 dev radiographs flagged; of 30
 * unseen ones a 10 % allowance (3) leaves room for sampling, while a check that flags everything fails.
 */
const MAX_REAL_FLAGGED = 3;

let tmp: string;
let runDir: string | undefined;
let split: SplitResult;
const planted: [string, string][] = [];
const heldOut: string[] = [];

const link = (from: string, to: string) => fs.link(from, to).catch(() => fs.copyFile(from, to));

before(async () => {
	tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-ood-'));
});

after(async () => {
	shutdownBackend();
	await fs.rm(tmp, { recursive: true, force: true });
	if (runDir) await fs.rm(runDir, { recursive: true, force: true });
});

test('training links planted near-duplicates and records them in splits.json; the run keeps its OOD reference', async (t) => {
	if (!existsSync(DEV)) return missingPrereq(t, DEV);
	const data = path.join(tmp, 'data');
	const rand = mulberry32(5);
	const rels: string[] = [];
	for (const c of CLASS_NAMES) {
		await fs.mkdir(path.join(data, c), { recursive: true });
		const files = (await fs.readdir(path.join(DEV, c))).sort();
		// 10 per class are held out for classify: images the run never saw.
		const out = new Set<string>();
		while (out.size < 10) out.add(files[Math.floor(rand() * files.length)]);
		for (const f of files) (out.has(f) ? heldOut : rels).push(`${c}/${f}`);
	}
	for (const rel of rels) await link(path.join(DEV, rel), path.join(data, rel));
	await fs.copyFile(path.join(DEV, 'manifest.csv'), path.join(data, 'manifest.csv'));
	while (planted.length < 12) {
		const rel = rels[Math.floor(rand() * rels.length)];
		if (planted.some(([a]) => a === rel)) continue;
		const meta = await sharp(path.join(DEV, rel)).metadata();
		// As the audit test plants them: resized to 60–90 %, recompressed as JPEG quality 55–85.
		const copy = `${path.dirname(rel)}/copy-${planted.length}.jpg`;
		await sharp(path.join(DEV, rel))
			.resize({ width: Math.round(meta.width! * (0.6 + 0.3 * rand())) })
			.jpeg({ quality: Math.round(55 + 30 * rand()) })
			.toFile(path.join(data, copy));
		planted.push([rel, copy]);
	}

	// Under the lock: audit.test.ts fills the same cache and may run alongside.
	const run = await withCacheLock(WORK, () => trainRun({ ...DEFAULT_TRAIN_CONFIG, backbone: 'resnet50', dataDir: data, workDir: WORK, head: 'linear-probe' }));
	runDir = run.runDir;
	split = JSON.parse(await fs.readFile(path.join(run.runDir, 'splits.json'), 'utf8')) as SplitResult;
	const sorted = (g: string[][]) => g.map((x) => [...x].sort().join(' | ')).sort();
	// Exactly the planted pairs: no two distinct dev radiographs are linked.
	assert.deepEqual(sorted(split.linked ?? []), sorted(planted));
	assert.equal(split.linkedGroups, planted.length);
	const idx = splitIndex(split);
	for (const [a, b] of planted) assert.equal(idx.get(a), idx.get(b), `${a} (${idx.get(a)}) and its copy ${b} (${idx.get(b)})`);
	// The same seed without the links puts some pair across the split: the assertion above can fail.
	const plain = splitIndex(splitDataset((await scanDataset(data)).images, { mode: 'patient', seed: 40, testFraction: 0.2, valFraction: 0.1 }));
	const crossing = planted.filter(([a, b]) => plain.get(a) !== plain.get(b));
	console.log(`# ${planted.length} planted copies linked; ${crossing.length} of them would cross the plain patient split`);
	assert.ok(crossing.length > 0);
	await fs.access(path.join(run.runDir, 'ood.json'));
	await fs.access(path.join(run.runDir, 'ood.bin'));
	// The run's own predictions carry the verdict too.
	const own = await readPredictionsCsv(path.join(run.runDir, 'predictions.csv'));
	assert.ok(own.every((p) => typeof p.outOfDistribution === 'boolean'));
});

test('classify flags photographs as out of distribution, not held-out radiographs; an older run recomputes the reference', async (t) => {
	if (!(existsSync(DEV) && SKIMAGE)) return missingPrereq(t, `${DEV} and python3-skimage (apt-get install python3-skimage)`);
	if (!runDir) return assert.fail('the training test did not produce a run');
	const folder = path.join(tmp, 'incoming');
	await fs.mkdir(folder, { recursive: true });
	for (const rel of heldOut) await link(path.join(DEV, rel), path.join(folder, rel.replace('/', '-')));
	const photos: string[] = [];
	for (const f of PHOTOS.filter((f) => existsSync(path.join(SKIMAGE!, f)))) {
		photos.push(`photo-${path.parse(f).name}.png`);
		await sharp(path.join(SKIMAGE!, f))
			.png()
			.toFile(path.join(folder, photos.at(-1)!));
	}
	assert.ok(photos.length >= 4, 'scikit-image ships its sample photographs');

	const check = async (label: string) => {
		const r = await classifyFolder(runDir!, folder, { workDir: WORK, outCsv: path.join(tmp, `${label}.csv`) });
		const byPath = new Map(r.predictions.map((p) => [p.relPath, p]));
		const missed = photos.filter((f) => !byPath.get(f)?.outOfDistribution);
		const real = r.predictions.filter((p) => !photos.includes(p.relPath));
		const realFlagged = real.filter((p) => p.outOfDistribution);
		console.log(`# ${label}: ${photos.length - missed.length}/${photos.length} photos flagged; ${realFlagged.length}/${real.length} held-out radiographs flagged`);
		for (const f of photos) console.log(`#   ${f}: ${(byPath.get(f)?.oodReasons ?? []).join('; ')}`);
		assert.equal(real.length, heldOut.length);
		assert.deepEqual(missed, []);
		// Grayscale photographs pass the colour check: the feature score must catch them.
		for (const f of photos.filter((f) => /camera/.test(f)))
			assert.ok(
				byPath.get(f)!.oodReasons?.some((x) => /far from every training radiograph/.test(x)),
				f,
			);
		assert.ok(realFlagged.length <= MAX_REAL_FLAGGED, realFlagged.map((p) => `${p.relPath}: ${p.oodReasons?.join('; ')}`).join('\n'));
		// The column reaches the CSV and reads back.
		const csv = await readPredictionsCsv(r.csvPath);
		assert.deepEqual(
			csv.map((p) => p.outOfDistribution),
			r.predictions.map((p) => p.outOfDistribution),
		);
		assert.match((await fs.readFile(r.csvPath, 'utf8')).split('\n')[0], /,outOfDistribution,ood_score,ood_reasons/);
		return r.predictions.map((p) => p.outOfDistribution);
	};
	const stored = await check('stored reference');
	// A run trained before the reference was stored: recomputed from its training split through the caches.
	await fs.rm(path.join(runDir, 'ood.json'));
	await fs.rm(path.join(runDir, 'ood.bin'));
	const recomputed = await check('recomputed reference');
	assert.deepEqual(recomputed, stored);
});
