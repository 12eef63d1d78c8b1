// Sharded feature extraction as a job array runs it: 1, 2 and 4 `radreview features --shard K/N` processes at once
// on this machine (cold feature and pixel caches, one shared work folder), then a merge of separate caches. The
// NIH ChestX-ray14 wall times are computed from these measured rows, never typed in.
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { ImageRecord } from '../types';

export const NIH_IMAGES = 112_120;

/** A bench row (bench.ts's Row; declared here so that the bench can import this file without a cycle). */
interface Row {
	section: 'shard';
	backbone: string;
	runtime: string;
	value: number;
	unit: string;
	note?: string;
}
const BASE = ['--backbone', 'resnet50'];

function features(data: string, work: string, shard?: string): Promise<void> {
	return new Promise((resolve, reject) => {
		const args = [...process.execArgv, process.argv[1], 'features', '--data', data, '--workdir', work, ...BASE, ...(shard ? ['--shard', shard] : [])];
		const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
		let err = '';
		child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
		child.on('error', reject);
		child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`features ${shard ?? ''} exited ${code}: ${err.trim().split('\n').pop()}`))));
	});
}

async function copyImages(records: ImageRecord[], to: string): Promise<void> {
	for (const r of records) {
		const dest = path.join(to, r.relPath);
		await fs.mkdir(path.dirname(dest), { recursive: true });
		await fs.copyFile(r.path, dest);
	}
}

/** Everything of a work folder's cache but the exported base: the next measurement starts cold where it matters. */
async function coldCaches(work: string): Promise<void> {
	const cache = path.join(work, 'cache');
	for (const d of await fs.readdir(cache).catch(() => [] as string[])) if (d !== 'onnx') await fs.rm(path.join(cache, d), { recursive: true, force: true });
}

export async function benchShards(records: ImageRecord[], o: { tmp: string; images: number; quick: boolean; log: (m: string) => void }): Promise<Row[]> {
	const n = Math.min(records.length - 4, o.images);
	const data = path.join(o.tmp, 'shard-data');
	const warm = path.join(o.tmp, 'shard-warm');
	await copyImages(records.slice(0, n), data);
	await copyImages(records.slice(n, n + 4), warm);
	const work = path.join(o.tmp, 'shard-work');
	// The base is exported once before timing (what every task of a real array does once, too, and is in the rows).
	await features(warm, work);
	const rows: Row[] = [];
	const measured = new Map<number, number>();
	for (const k of [1, 2, 4]) {
		await coldCaches(work);
		o.log(`sharded feature extraction: ${k} concurrent shard${k > 1 ? 's' : ''} over ${n} images (resnet50, cold caches)`);
		const t = performance.now();
		await Promise.all(Array.from({ length: k }, (_, i) => features(data, work, `${i + 1}/${k}`)));
		const ips = n / ((performance.now() - t) / 1000);
		measured.set(k, ips);
		rows.push({
			section: 'shard',
			backbone: 'resnet50',
			runtime: `${k} concurrent shard${k > 1 ? 's' : ''} on this machine: radreview features --shard K/${k}, one shared cache`,
			value: ips,
			unit: 'img/s',
			note: `${(ips / measured.get(1)!).toFixed(2)}× one shard; ${n} images, wall time from start to the last task's exit (process start-up included), cold caches`,
		});
	}
	// Separate caches merged (no shared file system): the merge's own throughput.
	const parts = [1, 2].map((i) => path.join(o.tmp, `shard-part-${i}`));
	await Promise.all(parts.map((p, i) => features(data, p, `${i + 1}/2`)));
	const { mergeFeatureCaches } = await import('../scale/shard');
	const t = performance.now();
	const merged = await mergeFeatureCaches(parts, path.join(o.tmp, 'shard-merged'));
	const mergeIps = merged.copied / ((performance.now() - t) / 1000);
	rows.push({ section: 'shard', backbone: 'resnet50', runtime: 'radreview cache merge', value: mergeIps, unit: 'entries/s', note: `${merged.copied} entries` });

	// A machine's best rate (its best concurrency) times the machines; one merge of every entry where caches are separate.
	const [bestK, best] = [...measured].reduce((a, b) => (b[1] > a[1] ? b : a));
	for (const machines of [1, 8, 64]) {
		const wall = NIH_IMAGES / (machines * best) + (machines > 1 ? NIH_IMAGES / mergeIps : 0);
		rows.push({
			section: 'shard',
			backbone: 'resnet50',
			runtime: `NIH ChestX-ray14 (${NIH_IMAGES.toLocaleString('en')} images) on ${machines} machine${machines === 1 ? '' : 's'} like this one`,
			value: wall / 60,
			unit: 'min (extrapolated)',
			note: `from the ${bestK}-shard row (${best.toFixed(1)} img/s per machine)${machines > 1 ? ' and the merge row (separate caches merged once)' : ''}`,
		});
	}
	return rows;
}
