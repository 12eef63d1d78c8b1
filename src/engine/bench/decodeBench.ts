// Preprocessing rows of `radreview bench`: our cold decode (sharp + pixel cache) against Pillow and OpenCV, in
// rounds that alternate between them, so load from other work on a shared machine hits both sides alike.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import type { ImageRecord } from '../types';

export interface DecodeRow {
	section: 'preprocess';
	runtime: string;
	value: number;
	unit: string;
	note?: string;
}

/** One run of the Python peers over the files: wall and CPU seconds per tool, or why it failed. */
export type PeerRun = (files: string[]) => Promise<{ ok: true; result: Record<string, unknown> } | { ok: false; error: string }>;

interface PeerTimes {
	seconds?: number;
	cpuSeconds?: number;
	version?: string;
	error?: string;
}

const median = (xs: number[]): number => {
	const s = [...xs].sort((a, b) => a - b);
	const m = s.length >> 1;
	return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const cpuMs = (c: NodeJS.CpuUsage): number => (c.user + c.system) / 1000;

export interface DecodeBenchOptions {
	tmp: string;
	size: number;
	rounds: number;
	sharpVersion: string;
	peers: PeerRun;
}

/** Cold and warm rows for ours, the peers' rows, and our ratio to each (median of the per-round ratios). */
export async function benchDecode(subset: ImageRecord[], o: DecodeBenchOptions): Promise<{ rows: DecodeRow[]; notes: string[] }> {
	const { loadImages } = await import('../data/cache');
	const n = subset.length;
	const rows: DecodeRow[] = [];
	const notes: string[] = [];
	// Every side reads the files from the page cache: the first round must not pay the disk for ours alone.
	for (const r of subset) await fs.readFile(r.path);
	const ours: { s: number; cpu: number }[] = [];
	const peers: Record<'pillow' | 'opencv', { s: number; cpu: number; version: string }[]> = { pillow: [], opencv: [] };
	const peerErrors = new Set<string>();
	let work = '';
	for (let round = 0; round < o.rounds; round++) {
		work = path.join(o.tmp, `pre-${round}`);
		const c0 = process.cpuUsage();
		const t = performance.now();
		const cold = await loadImages(subset, { workDir: work, size: o.size, resize: 'stretch' });
		ours.push({ s: (performance.now() - t) / 1000, cpu: cpuMs(process.cpuUsage(c0)) / 1000 });
		if (cold.errors.length) throw new Error(`decode bench: ${cold.errors[0].path}: ${cold.errors[0].reason}`);
		const py = await o.peers(subset.map((r) => r.path));
		if (!py.ok) {
			peerErrors.add(`Pillow/OpenCV: ${py.error}`);
			continue;
		}
		for (const k of ['pillow', 'opencv'] as const) {
			const x = py.result[k] as PeerTimes | undefined;
			if (x?.seconds && x.cpuSeconds !== undefined) peers[k].push({ s: x.seconds, cpu: x.cpuSeconds, version: x.version ?? '?' });
			else peerErrors.add(`${k}: ${x?.error ?? 'no result'}`);
		}
	}
	const t = performance.now();
	const warm = await loadImages(subset, { workDir: work, size: o.size, resize: 'stretch' });
	const warmS = (performance.now() - t) / 1000;

	const perImage = (xs: { cpu: number }[]) => `${((median(xs.map((x) => x.cpu)) * 1000) / n).toFixed(1)} ms CPU per image`;
	const rounds = o.rounds > 1 ? `median of ${o.rounds} rounds` : 'one round (indicative)';
	rows.push({
		section: 'preprocess',
		runtime: `ours: sharp ${o.sharpVersion} + pixel cache, cold (decode, resize, write cache)`,
		value: n / median(ours.map((x) => x.s)),
		unit: 'img/s',
		note: `${rounds}; ${perImage(ours)}`,
	});
	rows.push({ section: 'preprocess', runtime: 'ours: pixel cache, warm', value: warm.images.length / warmS, unit: 'img/s', note: `${warm.cached} served from cache` });

	// sharp on its own, one image at a time, with and without JPEG shrink-on-load: what the loader builds on.
	for (const fast of [true, false]) {
		const c0 = process.cpuUsage();
		const t1 = performance.now();
		for (const r of subset)
			await sharp(r.path).flatten({ background: '#000000' }).toColourspace('srgb').resize(o.size, o.size, { fit: 'fill', kernel: 'lanczos3', fastShrinkOnLoad: fast }).raw().toBuffer();
		const s = (performance.now() - t1) / 1000;
		rows.push({
			section: 'preprocess',
			runtime: `sharp alone, one at a time (lanczos3, JPEG shrink-on-load ${fast ? 'on' : 'off'})`,
			value: n / s,
			unit: 'img/s',
			note: `${(cpuMs(process.cpuUsage(c0)) / n).toFixed(1)} ms CPU per image`,
		});
	}

	for (const k of ['pillow', 'opencv'] as const) {
		const xs = peers[k];
		if (!xs.length) continue;
		const name = k === 'pillow' ? 'Pillow' : 'OpenCV';
		rows.push({ section: 'preprocess', runtime: `${name} ${xs[0].version} (LANCZOS)`, value: n / median(xs.map((x) => x.s)), unit: 'img/s', note: `${rounds}; ${perImage(xs)}` });
	}
	for (const k of ['pillow', 'opencv'] as const) {
		const xs = peers[k];
		if (xs.length !== ours.length) continue;
		const name = k === 'pillow' ? 'Pillow' : 'OpenCV';
		const goal = k === 'pillow' ? 2 : 1.5;
		const ratio = median(xs.map((x, i) => x.s / ours[i].s));
		const cpu = median(xs.map((x, i) => x.cpu / ours[i].cpu));
		rows.push({
			section: 'preprocess',
			runtime: `ours cold / ${name} (goal ≥ ${goal}×)`,
			value: ratio,
			unit: '×',
			note: `${ratio >= goal ? 'met' : 'not met'}; per-round ratios ${xs.map((x, i) => (x.s / ours[i].s).toFixed(2)).join(', ')}; CPU time per image ${cpu.toFixed(2)}×`,
		});
	}
	notes.push(...peerErrors);
	return { rows, notes };
}
