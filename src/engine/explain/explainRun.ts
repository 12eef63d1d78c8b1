// Grad-CAM for a saved run: one forward pass of the run's frozen base per image (the cache holds pooled features, too
// coarse for a map), then the analytic map of gradcam.ts. Writes overlay PNGs with sharp.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { CLASS_NAMES, type ClassName, type FileError, type JobOptions } from '../types';
import { throwIfAborted } from '../util/cancel';
import { writeFileAtomic as writeFileAtomicBytes } from '../util/atomic';
import { getBackbone } from '../model/backbones';
import { headWeightsOf, wrapHead } from '../model/head';
import { initBackend } from '../model/tf';
import { createExtractor, prepareBase } from '../train/base';
import type { FeatureExtractor } from '../runtime/extractor';
import { loadLayersModel, loadRun, RUN_FILES } from '../run/runDir';
import { decodeToRgb } from '../data/decode';
import { normalise as normalisePixels } from '../data/preprocess';
import { gradCam, normalise, overlayRgba, whereItLooks, type HeadWeights, type WhereItLooks } from './gradcam';
import { confineNamed, restricted } from '../util/scope';
import { weightsHome } from '../weights/npmWeights';
import { kerasModelsDir } from '../weights/weights';

export interface Explanation {
	path: string;
	/** The class the map explains. */
	className: ClassName;
	predicted: ClassName;
	probs: number[];
	where: WhereItLooks;
	/** The map on the feature grid, normalised to [0, 1], row-major h × w. */
	grid: { h: number; w: number; values: number[] };
	/** Original image size (after EXIF orientation), to place the map over a letterboxed thumbnail. */
	width: number;
	height: number;
	/** Timing of this image: the base's forward pass and the Grad-CAM arithmetic, in ms. */
	ms: { forward: number; gradcam: number };
}

/** A run's base and head, ready to explain images; dispose() frees the base. */
export interface Explainer {
	runName: string;
	imageSize: number;
	explain(file: string, cls?: ClassName): Promise<Explanation>;
	dispose(): Promise<void>;
}

/** Builds the run's base with the same weights it was trained on (or refuses, naming both). */
export async function openExplainer(runDir: string, opts: JobOptions & { workDir: string }): Promise<Explainer> {
	const run = await loadRun(runDir);
	const cfg = run.config;
	const workDir = path.resolve(opts.workDir);
	if (restricted()) throw new Error(`${run.runDir}: Grad-CAM loads the weights and images a run names; not in Restricted Mode (trust the workspace first)`);
	await initBackend(cfg.backend);
	const spec = getBackbone(cfg.backbone);
	const preprocessing = cfg.preprocessing ?? spec.preprocessing;
	const want = run.weights;
	const source = want.pretrained ? (want.path ?? cfg.weights) : 'none';
	// A weights file the run names is read only inside the workspace or the product's own weights caches.
	const named = want.path ?? (/[\\/]/.test(cfg.weights) ? cfg.weights : undefined);
	if (want.pretrained && named) await confineNamed(named, path.join(run.runDir, want.path ? RUN_FILES.weights : RUN_FILES.config), [workDir, weightsHome(), kerasModelsDir()]);
	const base = await prepareBase(spec, source, cfg.imageSize, cfg.seed, { workDir, signal: opts.signal, onProgress: opts.onProgress });
	if (base.info.sha256 !== want.sha256) {
		throw new Error(
			`${path.join(run.runDir, RUN_FILES.weights)}: the run was trained on weights with sha256 ${want.sha256.slice(0, 12)}, but '${source}' now resolves to sha256 ${base.info.sha256.slice(0, 12)}`,
		);
	}
	const headModel = await loadLayersModel(run.runDir);
	let wts: HeadWeights;
	try {
		wts = headWeightsOf(wrapHead(headModel));
	} finally {
		headModel.dispose();
	}
	throwIfAborted(opts.signal);
	const model = await base.build();
	let ex: FeatureExtractor;
	try {
		ex = await createExtractor(model, spec, cfg.imageSize, cfg.baseRuntime, { cacheDir: path.join(workDir, 'cache', 'onnx'), weightsSha: base.info.sha256, onProgress: opts.onProgress });
	} catch (e) {
		model.dispose();
		throw e;
	}
	const [h, w, c] = ex.outputShape;
	const size = cfg.imageSize;
	const batch = new Float32Array(size * size * 3);
	return {
		runName: run.name,
		imageSize: size,
		async explain(file, cls) {
			const img = await decodeToRgb(await confineNamed(file, path.join(run.runDir, RUN_FILES.predictions)), { size, resize: cfg.resize });
			normalisePixels(img.rgb, preprocessing, batch, 0);
			const t0 = performance.now();
			const raw = await ex.extract(batch, 1);
			const t1 = performance.now();
			const cam = gradCam({ data: raw, h, w, c }, wts, cls === undefined ? undefined : CLASS_NAMES.indexOf(cls));
			const where = whereItLooks(cam.map, h, w);
			const t2 = performance.now();
			const best = cam.probs.indexOf(Math.max(...cam.probs));
			return {
				path: file,
				className: CLASS_NAMES[cam.cls],
				predicted: CLASS_NAMES[best],
				probs: cam.probs,
				where,
				grid: { h, w, values: Array.from(normalise(cam.map)) },
				width: img.width,
				height: img.height,
				ms: { forward: t1 - t0, gradcam: t2 - t1 },
			};
		},
		async dispose() {
			await ex.dispose();
			model.dispose();
		},
	};
}

/**
 * The map alone as a transparent RGBA PNG, `size` px square, laid out like the panels' letterboxed thumbnails: a
 * letterbox run saw exactly that square; a stretch run saw the whole image, which sits centred in the square.
 */
export async function overlayOnlyPng(e: Explanation, size: number, resize: 'stretch' | 'letterbox'): Promise<Buffer> {
	if (resize === 'letterbox') {
		const rgba = overlayRgba(e.grid.values, e.grid.h, e.grid.w, size, size);
		return sharp(Buffer.from(rgba), { raw: { width: size, height: size, channels: 4 } })
			.png()
			.toBuffer();
	}
	const scale = size / Math.max(e.width, e.height);
	const rw = Math.max(1, Math.round(e.width * scale));
	const rh = Math.max(1, Math.round(e.height * scale));
	const rgba = overlayRgba(e.grid.values, e.grid.h, e.grid.w, rw, rh);
	return sharp({ create: { width: size, height: size, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } })
		.composite([{ input: Buffer.from(rgba), raw: { width: rw, height: rh, channels: 4 }, left: Math.floor((size - rw) / 2), top: Math.floor((size - rh) / 2) }])
		.png()
		.toBuffer();
}

/** The image as the model saw it (square, the run's resize) with the map blended over it. */
export async function compositePng(e: Explanation, resize: 'stretch' | 'letterbox', size = 512): Promise<Buffer> {
	const img = await decodeToRgb(e.path, { size, resize });
	const rgba = overlayRgba(e.grid.values, e.grid.h, e.grid.w, size, size);
	return sharp(Buffer.from(img.rgb), { raw: { width: size, height: size, channels: 3 } })
		.composite([{ input: Buffer.from(rgba), raw: { width: size, height: size, channels: 4 } }])
		.png()
		.toBuffer();
}

export interface ExplainResult {
	explanations: (Explanation & { png: string })[];
	errors: FileError[];
}

/** `radreview explain`: overlay PNGs (and where-it-looks shares) for images, one bad file never stops the batch. */
export async function explainImages(
	runDir: string,
	files: string[],
	opts: JobOptions & { workDir: string; outDir: string; cls?: ClassName; overlayOnly?: boolean; size?: number; fileName?: (file: string, cls: ClassName) => string },
): Promise<ExplainResult> {
	const run = await loadRun(runDir);
	const explainer = await openExplainer(runDir, opts);
	const out: ExplainResult = { explanations: [], errors: [] };
	await fs.mkdir(opts.outDir, { recursive: true });
	try {
		for (let i = 0; i < files.length; i++) {
			throwIfAborted(opts.signal);
			const file = path.resolve(files[i]);
			try {
				const e = await explainer.explain(file, opts.cls);
				const png = path.join(opts.outDir, opts.fileName?.(file, e.className) ?? `${path.parse(file).name}-gradcam-${e.className}.png`);
				const bytes = opts.overlayOnly ? await overlayOnlyPng(e, opts.size ?? 256, run.config.resize) : await compositePng(e, run.config.resize, opts.size ?? 512);
				await fs.writeFile(png, bytes);
				out.explanations.push({ ...e, png });
			} catch (err) {
				if ((err as Error).name === 'CancelledError') throw err;
				const reason = err instanceof Error ? err.message.replace(`${file}: `, '') : String(err);
				out.errors.push({ path: file, reason });
				opts.onProgress?.({ kind: 'fileError', error: { path: file, reason } });
			}
			opts.onProgress?.({ kind: 'stage', stage: 'classify', done: i + 1, total: files.length, message: 'Grad-CAM' });
		}
	} finally {
		await explainer.dispose();
	}
	return out;
}

/** Mean where-it-looks shares per group (class or source) and how many images were flagged. */
export function summariseLooks(items: { group: string; where: WhereItLooks }[]): { group: string; n: number; border: number; corners: number; flagged: number }[] {
	const by = new Map<string, WhereItLooks[]>();
	for (const it of items) if (Number.isFinite(it.where.border)) by.set(it.group, [...(by.get(it.group) ?? []), it.where]);
	return [...by]
		.sort(([a], [b]) => a.localeCompare(b))
		.map(([group, ws]) => ({
			group,
			n: ws.length,
			border: ws.reduce((s, w) => s + w.border, 0) / ws.length,
			corners: ws.reduce((s, w) => s + w.corners, 0) / ws.length,
			flagged: ws.filter((w) => w.outside).length,
		}));
}

/** The panels' overlays: one explainer kept open per run (building a base takes seconds), results kept per image. */
let open: { runDir: string; explainer: Promise<Explainer>; timer?: ReturnType<typeof setTimeout> } | undefined;
const done = new Map<string, { png: string; e: Explanation }>();
/** Free the base after two idle minutes: it holds hundreds of MB. */
const IDLE_MS = 120_000;

async function explainerFor(runDir: string, opts: JobOptions & { workDir: string }): Promise<Explainer> {
	if (open && open.runDir !== runDir) {
		const old = open.explainer;
		open = undefined;
		await old.then((x) => x.dispose()).catch(() => undefined);
	}
	if (!open) {
		const explainer = openExplainer(runDir, opts);
		open = { runDir, explainer };
		explainer.catch(() => (open = undefined));
	}
	if (open.timer) clearTimeout(open.timer);
	return open.explainer;
}

function scheduleRelease(): void {
	if (!open) return;
	const current = open;
	current.timer = setTimeout(() => {
		if (open !== current) return;
		open = undefined;
		void current.explainer.then((x) => x.dispose()).catch(() => undefined);
	}, IDLE_MS);
	current.timer.unref?.();
}

export interface PanelOverlay {
	png: string;
	explanation: Explanation;
}

/** Overlay PNGs (transparent, thumbnail layout) for the panels; a file that fails is reported, not fatal. */
export async function explainForPanel(
	runDir: string,
	files: string[],
	opts: JobOptions & { workDir: string; outDir: string; size: number; cls?: ClassName; nameOf: (file: string, cls: ClassName) => string },
): Promise<{ overlays: Map<string, PanelOverlay>; errors: FileError[] }> {
	const run = await loadRun(runDir);
	const overlays = new Map<string, PanelOverlay>();
	const errors: FileError[] = [];
	await fs.mkdir(opts.outDir, { recursive: true });
	let explainer: Explainer | undefined;
	try {
		for (let i = 0; i < files.length; i++) {
			throwIfAborted(opts.signal);
			const file = files[i];
			const key = `${run.runDir}\0${file}\0${opts.cls ?? ''}\0${opts.size}`;
			const hit = done.get(key);
			if (
				hit &&
				(await fs.stat(hit.png).then(
					() => true,
					() => false,
				))
			) {
				overlays.set(file, { png: hit.png, explanation: hit.e });
				continue;
			}
			try {
				explainer ??= await explainerFor(run.runDir, opts);
				const e = await explainer.explain(file, opts.cls);
				const png = path.join(opts.outDir, opts.nameOf(file, e.className));
				await writeFileAtomicBytes(png, await overlayOnlyPng(e, opts.size, run.config.resize));
				done.set(key, { png, e });
				overlays.set(file, { png, explanation: e });
			} catch (err) {
				if ((err as Error).name === 'CancelledError') throw err;
				errors.push({ path: file, reason: err instanceof Error ? err.message.replace(`${file}: `, '') : String(err) });
			}
			opts.onProgress?.({ kind: 'stage', stage: 'classify', done: i + 1, total: files.length, message: 'Grad-CAM' });
		}
	} finally {
		scheduleRelease();
	}
	return { overlays, errors };
}
