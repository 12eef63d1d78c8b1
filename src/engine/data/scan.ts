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
import { IMAGE_EXTENSIONS, sniffFile } from './sniff';

export interface ScanOptions extends JobOptions {
	/** Extra folder-name / finding aliases, e.g. { 'Viral Pneumonia': 'PNEUMONIA' }. */
	aliases?: Record<string, ClassName>;
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

/**
 * Recursively list files below `dir`, skipping hidden folders (`.radreview` too), node_modules, and `masks`
 * folders (segmentation masks beside the images, as in the COVID-19 Radiography Database: not radiographs).
 */
async function listFiles(dir: string, signal?: AbortSignal): Promise<string[]> {
	throwIfAborted(signal);
	const out: string[] = [];
	const entries = await fs.readdir(dir, { withFileTypes: true });
	for (const e of entries) {
		if (e.name.startsWith('.') || e.name === 'node_modules' || (e.isDirectory() && /^masks?$/i.test(e.name))) continue;
		const p = path.join(dir, e.name);
		if (e.isDirectory()) out.push(...(await listFiles(p, signal)));
		// Symlinked files are followed; symlinked folders are not (no cycles).
		else if (e.isFile() || (e.isSymbolicLink() && (await fs.stat(p).then((s) => s.isFile(), () => false)))) out.push(p);
	}
	return out;
}

/** What a file is: an image, something else (null), or unreadable (the errno code). */
async function probe(file: string): Promise<'image' | null | { code: string }> {
	try {
		return (await sniffFile(file)) ? 'image' : null;
	} catch (e) {
		return { code: (e as NodeJS.ErrnoException).code ?? String(e) };
	}
}

/** Probe files a few at a time, in order. */
async function probeAll(files: string[], opts: ScanOptions): Promise<Array<'image' | null | { code: string }>> {
	const out = new Array<'image' | null | { code: string }>(files.length);
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

/** A `manifest.csv` at the root with path,patient_id (and optionally source_dataset) columns, paths relative to the root. */
async function readManifest(root: string): Promise<Map<string, { patientId?: string; source?: string }>> {
	const rows = new Map<string, { patientId?: string; source?: string }>();
	try {
		for (const r of parseCsvRecords(await fs.readFile(path.join(root, 'manifest.csv'), 'utf8'))) {
			if (r.path) rows.set(toPosix(path.normalize(r.path)), { patientId: r.patient_id?.trim() || undefined, source: r.source_dataset?.trim() || undefined });
		}
	} catch {
		// No manifest: fall back to file names.
	}
	return rows;
}

const FRONTAL = /^(pa|ap)\b/;
const XRAY = new Set(['x ray', 'xray', 'cr', 'dx', 'radiograph']);

/** The metadata layout: rows of metadata.csv, filtered to frontal X-rays with a known class. */
async function scanMetadata(root: string, opts: ScanOptions): Promise<{ images: ImageRecord[]; errors: FileError[] }> {
	const rows = parseCsvRecords(await fs.readFile(path.join(root, 'metadata.csv'), 'utf8'));
	if (rows.length && !('filename' in rows[0] && 'finding' in rows[0])) throw new Error(`${path.join(root, 'metadata.csv')}: needs 'filename' and 'finding' columns`);
	const images = new Map<string, ImageRecord>();
	const errors: FileError[] = [];
	const skipped = { view: 0, modality: 0, label: 0 };
	const candidates: ImageRecord[] = [];
	for (const r of rows) {
		if (!r.filename) continue;
		if (r.modality && !XRAY.has(foldLabel(r.modality))) { skipped.modality++; continue; }
		if (r.view && !FRONTAL.test(foldLabel(r.view))) { skipped.view++; continue; }
		const label = normaliseLabel(r.finding ?? '', opts.aliases);
		if (!label) { skipped.label++; continue; }
		const rel = toPosix(path.normalize(path.join(r.folder || 'images', r.filename)));
		if (images.has(rel)) continue;
		const abs = path.join(root, rel);
		const rec: ImageRecord = { path: abs, relPath: rel, label, patientId: r.patientid?.trim() || rel, labelSource: `metadata.csv:${r.finding}` };
		// A source column, when the table merges several collections (sources confound classes).
		const source = (r.source_dataset ?? r.source)?.trim();
		if (source) rec.source = source;
		images.set(rel, rec);
		candidates.push(rec);
	}
	const kinds = await probeAll(candidates.map((c) => c.path), opts);
	kinds.forEach((k, i) => {
		if (k === 'image') return;
		const reason = k === null ? 'not an image (unrecognised content)' : k.code === 'ENOENT' ? 'listed in metadata.csv but missing' : `cannot read (${k.code})`;
		errors.push({ path: candidates[i].path, reason });
	});
	const ok = new Set(candidates.filter((_, i) => kinds[i] === 'image'));
	opts.onProgress?.({ kind: 'log', level: 'info', message: `metadata.csv: ${ok.size} images; skipped ${skipped.view} non-frontal, ${skipped.modality} non-X-ray, ${skipped.label} without a known class` });
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
	if (typeof aliases !== 'object' || aliases === null || Array.isArray(aliases)) throw new Error(`${file}: expected { "aliases": { "<folder or finding>": "COVID" | "NORMAL" | "PNEUMONIA" } }`);
	const out: Record<string, ClassName> = {};
	for (const [name, cls] of Object.entries(aliases)) {
		if (!(CLASS_NAMES as readonly unknown[]).includes(cls)) throw new Error(`${file}: alias '${name}' maps to '${String(cls)}', not one of ${CLASS_NAMES.join(', ')}`);
		out[name] = cls as ClassName;
	}
	return out;
}

/** Scan a dataset folder: images (sorted by relPath), per-file errors, and which layout was found. */
export async function scanDataset(root: string, opts: ScanOptions = {}): Promise<ScanResult> {
	root = path.resolve(root);
	const st = await fs.stat(root).catch(() => null);
	if (!st?.isDirectory()) throw new Error(`${root}: not a folder`);
	opts.onProgress?.({ kind: 'stage', stage: 'scan', done: 0, total: 0 });
	opts = { ...opts, aliases: { ...(await readLabelAliases(root)), ...opts.aliases } };
	let layout: ScanResult['layout'];
	let images: ImageRecord[];
	let errors: FileError[];

	if (await fs.stat(path.join(root, 'metadata.csv')).then((s) => s.isFile(), () => false)) {
		layout = 'metadata';
		({ images, errors } = await scanMetadata(root, opts));
	} else {
		const files = await listFiles(root, opts.signal);
		const kinds = await probeAll(files, opts);
		errors = [];
		kinds.forEach((k, i) => {
			// Files that are plainly not images (README, csv) are ignored; an 'x.jpg' that is not an image is reported.
			if (k === null && IMAGE_EXTENSIONS.test(files[i])) errors.push({ path: files[i], reason: 'not an image (unrecognised content)' });
			else if (k && k !== 'image') errors.push({ path: files[i], reason: `cannot read (${k.code})` });
		});
		const manifest = await readManifest(root);
		const all = files.filter((_, i) => kinds[i] === 'image').map((abs): ImageRecord => {
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
	images.sort((a, b) => (a.relPath < b.relPath ? -1 : a.relPath > b.relPath ? 1 : 0));
	errors.sort(byPath);
	for (const error of errors) opts.onProgress?.({ kind: 'fileError', error });
	opts.onProgress?.({ kind: 'stage', stage: 'scan', done: images.length, total: images.length });
	return { root, images, errors, layout };
}
