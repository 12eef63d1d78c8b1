// Find the images of a dataset folder and their labels and patients. Layouts, tried in order:
// - metadata: an ieee8023-style metadata.csv at the root (frontal X-rays only, findings → classes);
// - folders:  the first path component naming a class labels the image ('train/COVID/x.png' → COVID);
//             images under no class folder are skipped and reported as one FileError per folder;
// - flat:     no class folder anywhere, every image is unlabelled (classify a folder).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { CLASS_NAMES, type ClassName, type FileError, type ImageRecord, type JobOptions, type ScanResult } from '../types';
import { throwIfAborted } from '../util/cancel';
import { parseCsvRecords } from './csv';
import { foldLabel, normaliseLabel } from './labels';
import { dicomFlag, readDicomTags } from './dicom';
import { EMPTY_FILE, IMAGE_EXTENSIONS, sniffFile, type ImageFormat } from './sniff';

export interface ScanOptions extends JobOptions {
	/** Extra folder-name / finding aliases, e.g. { 'Viral Pneumonia': 'PNEUMONIA' }. */
	aliases?: Record<string, ClassName>;
	/** Keep DICOM images flagged as non-radiographs or lateral views (default: radreview-labels.json's keepFlagged, else false). */
	keepFlagged?: boolean;
}

const toPosix = (p: string) => p.split(path.sep).join('/');
const byPath = <T extends { path: string }>(a: T, b: T) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);

/**
 * Patient id from a Kermany 2018 file name, as namespaced in ../shared/cxr/dev/manifest.csv:
 * person123_bacteria_456 → kermany-person123, IM-0117-0001 → kermany-IM-0117,
 * NORMAL2-IM-1427-0001 → kermany-NORMAL2-IM-1427 (the NORMAL2 series numbers its patients separately).
 */
export function kermanyPatientId(fileName: string): string | null {
	const base = path.basename(fileName);
	const m = /^(person\d+)_(?:bacteria|virus)_\d+\./i.exec(base) ?? /^((?:NORMAL2-)?IM-\d{4})-\d{4}(?:-\d{4})?\./i.exec(base);
	return m ? `kermany-${m[1]}` : null;
}

/** Why a path is refused: it leaves the dataset folder. */
export const SYMLINK_LEAVES = 'symlink leaves the dataset folder';
export const PATH_LEAVES = 'path leaves the dataset folder';

/** True when `child` is `root` or below it (both absolute). */
function isInside(root: string, child: string): boolean {
	const rel = path.relative(root, child);
	return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * The one symlink rule, for the folder scanner and for paths listed in metadata.csv: a symlink (of the file or of a
 * folder on its way) is followed only when its target stays inside the dataset root. Returns null when the file may
 * be read, else the reason it is skipped. `realRoot` is the root after symlinks.
 */
export async function leavesRoot(realRoot: string, file: string): Promise<string | null> {
	let real: string;
	try {
		real = await fs.realpath(file);
	} catch {
		return null; // missing: reported by the probe with its own reason
	}
	return isInside(realRoot, real) ? null : SYMLINK_LEAVES;
}

interface Listing {
	files: string[];
	skipped: FileError[];
}

/**
 * Recursively list files below `dir`, skipping hidden folders (`.radreview` too), node_modules, and `masks`
 * folders (segmentation masks beside the images, as in the COVID-19 Radiography Database: not radiographs).
 * Symlinked files are followed when they stay inside the root; symlinked folders are not followed (no cycles), and
 * one pointing outside the root is listed as skipped.
 */
async function listFiles(dir: string, realRoot: string, signal?: AbortSignal, into: Listing = { files: [], skipped: [] }): Promise<Listing> {
	throwIfAborted(signal);
	const entries = await fs.readdir(dir, { withFileTypes: true });
	for (const e of entries) {
		if (e.name.startsWith('.') || e.name === 'node_modules' || (e.isDirectory() && /^masks?$/i.test(e.name))) continue;
		const p = path.join(dir, e.name);
		if (e.isDirectory()) await listFiles(p, realRoot, signal, into);
		else if (e.isFile()) into.files.push(p);
		else if (e.isSymbolicLink()) {
			const st = await fs.stat(p).catch(() => null);
			if (!st || !(st.isFile() || st.isDirectory())) continue;
			const leaves = await leavesRoot(realRoot, p);
			if (leaves) into.skipped.push({ path: p, reason: leaves });
			else if (st.isFile()) into.files.push(p);
		}
	}
	return into;
}

/** What a file is: an image (its format), something else (null), empty, or unreadable (the errno code). */
type Probe = ImageFormat | null | { code: string } | 'empty';
const isImage = (k: Probe): k is ImageFormat => typeof k === 'string' && k !== 'empty';

async function probe(file: string): Promise<Probe> {
	try {
		if ((await fs.stat(file)).size === 0) return 'empty';
		return await sniffFile(file);
	} catch (e) {
		return { code: (e as NodeJS.ErrnoException).code ?? String(e) };
	}
}

/** The reason a probed file is not used (or null for an image / a file that is plainly not one). */
function probeReason(k: Probe, file: string, missing = 'missing'): string | null {
	if (isImage(k)) return null;
	if (k === 'empty') return IMAGE_EXTENSIONS.test(file) ? EMPTY_FILE : null;
	if (k === null) return IMAGE_EXTENSIONS.test(file) ? 'not an image (unrecognised content)' : null;
	return k.code === 'ENOENT' ? missing : `cannot read (${k.code})`;
}

/** Probe files a few at a time, in order. */
async function probeAll(files: string[], opts: ScanOptions): Promise<Probe[]> {
	const out = new Array<Probe>(files.length);
	let next = 0;
	let done = 0;
	const worker = async () => {
		while (next < files.length) {
			throwIfAborted(opts.signal);
			const i = next++;
			out[i] = await probe(files[i]);
			if (++done % 100 === 0) opts.onProgress?.({ kind: 'stage', stage: 'scan', done, total: files.length });
		}
	};
	await Promise.all(Array.from({ length: 8 }, worker));
	return out;
}

/** A path from a CSV, relative to the root: its normalised posix form, or null when it leaves the root (`../`, absolute). */
export function relInside(...parts: string[]): string | null {
	if (parts.some((p) => path.isAbsolute(p) || path.win32.isAbsolute(p) || p.includes('\0'))) return null;
	const rel = toPosix(path.normalize(path.join(...parts)));
	return rel === '..' || rel.startsWith('../') || rel === '.' ? null : rel;
}

/** A `manifest.csv` at the root with path,patient_id (and optionally source_dataset) columns, paths relative to the root. */
async function readManifest(root: string, errors: FileError[]): Promise<Map<string, { patientId?: string; source?: string }>> {
	const rows = new Map<string, { patientId?: string; source?: string }>();
	const file = path.join(root, 'manifest.csv');
	let text: string;
	try {
		text = await fs.readFile(file, 'utf8');
	} catch {
		return rows; // No manifest: fall back to file names.
	}
	parseCsvRecords(text).forEach((r, i) => {
		if (!r.path) return;
		const rel = relInside(r.path);
		if (!rel) errors.push({ path: file, reason: `row ${i + 2}: ${PATH_LEAVES} ('${r.path.slice(0, 200)}'); row ignored` });
		else rows.set(rel, { patientId: r.patient_id?.trim() || undefined, source: r.source_dataset?.trim() || undefined });
	});
	return rows;
}

const FRONTAL = /^(pa|ap)\b/;
const XRAY = new Set(['x ray', 'xray', 'cr', 'dx', 'radiograph']);

/** The metadata layout: rows of metadata.csv, filtered to frontal X-rays with a known class. */
async function scanMetadata(root: string, realRoot: string, opts: ScanOptions, dicomFiles: Set<string>): Promise<{ images: ImageRecord[]; errors: FileError[] }> {
	const csvFile = path.join(root, 'metadata.csv');
	const rows = parseCsvRecords(await fs.readFile(csvFile, 'utf8'));
	if (rows.length && !('filename' in rows[0] && 'finding' in rows[0])) throw new Error(`${csvFile}: needs 'filename' and 'finding' columns`);
	const images = new Map<string, ImageRecord>();
	const errors: FileError[] = [];
	const skipped = { view: 0, modality: 0, label: 0 };
	const candidates: ImageRecord[] = [];
	for (const [i, r] of rows.entries()) {
		if (!r.filename) continue;
		if (r.modality && !XRAY.has(foldLabel(r.modality))) {
			skipped.modality++;
			continue;
		}
		if (r.view && !FRONTAL.test(foldLabel(r.view))) {
			skipped.view++;
			continue;
		}
		const label = normaliseLabel(r.finding ?? '', opts.aliases);
		if (!label) {
			skipped.label++;
			continue;
		}
		const rel = relInside(r.folder || 'images', r.filename);
		if (!rel) {
			errors.push({ path: csvFile, reason: `row ${i + 2}: ${PATH_LEAVES} ('${path.join(r.folder || 'images', r.filename).slice(0, 200)}'); skipped` });
			continue;
		}
		if (images.has(rel)) continue;
		const abs = path.join(root, rel);
		const rec: ImageRecord = { path: abs, relPath: rel, label, patientId: r.patientid?.trim() || rel, labelSource: `metadata.csv:${r.finding}` };
		// A source column, when the table merges several collections (sources confound classes).
		const source = (r.source_dataset ?? r.source)?.trim();
		if (source) rec.source = source;
		images.set(rel, rec);
		candidates.push(rec);
	}
	const leaves = await Promise.all(candidates.map((c) => leavesRoot(realRoot, c.path)));
	const kinds = await probeAll(
		candidates.map((c, i) => (leaves[i] ? '' : c.path)),
		opts,
	);
	kinds.forEach((k, i) => {
		const reason = leaves[i] ?? (k === null ? 'not an image (unrecognised content)' : k === 'empty' ? EMPTY_FILE : probeReason(k, candidates[i].path, 'listed in metadata.csv but missing'));
		if (reason) errors.push({ path: candidates[i].path, reason });
	});
	const ok = new Set(candidates.filter((_, i) => !leaves[i] && isImage(kinds[i])));
	candidates.forEach((c, i) => kinds[i] === 'dicom' && dicomFiles.add(c.path));
	opts.onProgress?.({
		kind: 'log',
		level: 'info',
		message: `metadata.csv: ${ok.size} images; skipped ${skipped.view} non-frontal, ${skipped.modality} non-X-ray, ${skipped.label} without a known class`,
	});
	return { images: [...ok], errors };
}

/** The file in a dataset root that maps its own folder names / findings to classes. */
export const LABELS_FILE = 'radreview-labels.json';

/**
 * `radreview-labels.json` at the dataset root: `{ "aliases": { "Viral Pneumonia": "PNEUMONIA" } }`. It travels with
 * the dataset, so the CLI, the extension and the worker read the same mapping. A broken file is an error naming it.
 */
export async function readLabelAliases(root: string): Promise<Record<string, ClassName>> {
	const file = path.join(root, LABELS_FILE);
	let text: string;
	try {
		text = await fs.readFile(file, 'utf8');
	} catch {
		return {};
	}
	let parsed: unknown;
	try {
		parsed = JSON.parse(text);
	} catch (e) {
		throw new Error(`${file}: not valid JSON (${e instanceof Error ? e.message : String(e)})`);
	}
	const aliases = (parsed as { aliases?: unknown } | null)?.aliases;
	if (aliases === undefined && parsed !== null && typeof parsed === 'object' && 'keepFlagged' in parsed) return {};
	if (typeof aliases !== 'object' || aliases === null || Array.isArray(aliases)) throw new Error(`${file}: expected { "aliases": { "<folder or finding>": "COVID" | "NORMAL" | "PNEUMONIA" } }`);
	const out: Record<string, ClassName> = {};
	for (const [name, cls] of Object.entries(aliases)) {
		if (!(CLASS_NAMES as readonly unknown[]).includes(cls)) throw new Error(`${file}: alias '${name}' maps to '${String(cls)}', not one of ${CLASS_NAMES.join(', ')}`);
		out[name] = cls as ClassName;
	}
	return out;
}

/** How much of a DICOM file is read for its tags: the header precedes the pixel data. */
const DICOM_HEADER_BYTES = 256 * 1024;

/**
 * DICOM tags into the records: PatientID groups patients (unless a manifest or the file name already did),
 * the age goes with the record, and non-radiographs / lateral views are left out unless `keep`, each reported.
 */
async function applyDicomTags(images: ImageRecord[], dicomFiles: Set<string>, errors: FileError[], keep: boolean): Promise<ImageRecord[]> {
	const out: ImageRecord[] = [];
	for (const r of images) {
		if (!dicomFiles.has(r.path)) {
			out.push(r);
			continue;
		}
		let tags;
		try {
			const fh = await fs.open(r.path, 'r');
			try {
				const buf = new Uint8Array(DICOM_HEADER_BYTES);
				const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
				tags = readDicomTags(buf.subarray(0, bytesRead));
			} finally {
				await fh.close();
			}
		} catch {
			out.push(r); // unreadable headers surface as decode errors later, with the reason
			continue;
		}
		if (tags.patientId && r.patientId === r.relPath) r.patientId = `dicom-${tags.patientId}`;
		if (tags.patientAge !== undefined) r.age = tags.patientAge;
		if (tags.viewPosition) r.view = tags.viewPosition;
		const flag = dicomFlag(tags);
		if (flag) {
			r.flag = flag;
			if (!keep) {
				errors.push({ path: r.path, reason: `left out: ${flag} (set "keepFlagged": true in ${LABELS_FILE} to keep such images)` });
				continue;
			}
		}
		out.push(r);
	}
	return out;
}

/** `keepFlagged` of the dataset's radreview-labels.json (false when absent or unreadable: readLabelAliases reports those). */
async function readKeepFlagged(root: string): Promise<boolean> {
	try {
		return (JSON.parse(await fs.readFile(path.join(root, LABELS_FILE), 'utf8')) as { keepFlagged?: unknown }).keepFlagged === true;
	} catch {
		return false;
	}
}

/**
 * Each image's label as training reads it (class folder, metadata.csv finding, DICOM tags): the original_label of
 * annotation rows, alike from the CLI and from VS Code.
 */
export async function datasetLabels(root: string, opts: ScanOptions = {}): Promise<Map<string, ClassName | null>> {
	const scan = await scanDataset(root, opts);
	return new Map(scan.images.map((r) => [r.relPath, r.label]));
}

/** Scan a dataset folder: images (sorted by relPath), per-file errors, and which layout was found. */
export async function scanDataset(root: string, opts: ScanOptions = {}): Promise<ScanResult> {
	root = path.resolve(root);
	const st = await fs.stat(root).catch(() => null);
	if (!st?.isDirectory()) throw new Error(`${root}: not a folder`);
	const realRoot = await fs.realpath(root);
	opts.onProgress?.({ kind: 'stage', stage: 'scan', done: 0, total: 0 });
	opts = { ...opts, aliases: { ...(await readLabelAliases(root)), ...opts.aliases } };
	let layout: ScanResult['layout'];
	let images: ImageRecord[];
	let errors: FileError[];
	const dicomFiles = new Set<string>();

	if (
		await fs.stat(path.join(root, 'metadata.csv')).then(
			(s) => s.isFile(),
			() => false,
		)
	) {
		layout = 'metadata';
		({ images, errors } = await scanMetadata(root, realRoot, opts, dicomFiles));
	} else {
		const { files, skipped } = await listFiles(root, realRoot, opts.signal);
		const kinds = await probeAll(files, opts);
		errors = skipped;
		kinds.forEach((k, i) => {
			// Files that are plainly not images (README, csv) are ignored; an 'x.jpg' that is not an image is reported.
			const reason = probeReason(k, files[i]);
			if (reason) errors.push({ path: files[i], reason });
		});
		const manifest = await readManifest(root, errors);
		files.forEach((f, i) => kinds[i] === 'dicom' && dicomFiles.add(f));
		const all = files
			.filter((_, i) => isImage(kinds[i]))
			.map((abs): ImageRecord => {
				const rel = toPosix(path.relative(root, abs));
				const dirs = rel.split('/').slice(0, -1);
				const classDir = dirs.find((d) => normaliseLabel(d, opts.aliases));
				return {
					path: abs,
					relPath: rel,
					label: classDir ? normaliseLabel(classDir, opts.aliases) : null,
					patientId: kermanyPatientId(rel) ?? manifest.get(rel)?.patientId ?? rel,
					labelSource: classDir ? `folder:${classDir}` : undefined,
					...(manifest.get(rel)?.source ? { source: manifest.get(rel)?.source } : {}),
				};
			});
		layout = all.some((r) => r.label) ? 'folders' : 'flat';
		images = layout === 'flat' ? all : all.filter((r) => r.label);
		if (layout === 'folders') {
			const strays = new Map<string, number>();
			for (const r of all) if (!r.label) strays.set(path.dirname(r.path), (strays.get(path.dirname(r.path)) ?? 0) + 1);
			for (const [dir, n] of strays) errors.push({ path: dir, reason: `${n} image(s) not under a class folder (COVID, NORMAL, PNEUMONIA or an alias); skipped` });
		}
	}
	if (dicomFiles.size) images = await applyDicomTags(images, dicomFiles, errors, opts.keepFlagged ?? (await readKeepFlagged(root)));
	images.sort((a, b) => (a.relPath < b.relPath ? -1 : a.relPath > b.relPath ? 1 : 0));
	errors.sort(byPath);
	for (const error of errors) opts.onProgress?.({ kind: 'fileError', error });
	opts.onProgress?.({ kind: 'stage', stage: 'scan', done: images.length, total: images.length });
	return { root, images, errors, layout };
}
