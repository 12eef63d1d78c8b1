// Streamed downloads with Node's http/https only: proxies (env or explicit), redirects, progress, cancel,
// resume of a `.part` with Range, and a hash check before anything appears under the final name.
import * as http from 'node:http';
import * as https from 'node:https';
import * as tls from 'node:tls';
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { JobOptions } from '../types';
import { CancelledError, throwIfAborted } from '../util/cancel';

export interface DownloadOptions extends JobOptions {
	/** md5 (32 hex) or sha256 (64 hex), as keras.utils.get_file's file_hash. */
	expectedHash?: string;
	/** e.g. VS Code's `http.proxy`; otherwise HTTPS_PROXY / HTTP_PROXY / NO_PROXY from the environment. */
	proxy?: string;
	/** Extra trusted CA certificates (PEM), e.g. a corporate proxy's; Node's defaults stay trusted too. */
	ca?: string | Buffer | (string | Buffer)[];
	/** Shown in progress messages (defaults to the file name). */
	label?: string;
	maxRedirects?: number;
	/** Give up when no byte arrives for this long (ms). */
	idleTimeoutMs?: number;
}

export interface DownloadResult {
	path: string;
	bytes: number;
	sha256: string;
	md5: string;
	/** True when an existing `.part` was continued with a Range request. */
	resumed: boolean;
}

export class DownloadError extends Error {
	constructor(
		message: string,
		readonly url: string,
	) {
		super(message);
		this.name = 'DownloadError';
	}
}

/** The proxy to use for `url`, honouring NO_PROXY; undefined for a direct connection. */
export function proxyFor(url: URL, explicit?: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
	const noProxy = env.NO_PROXY ?? env.no_proxy ?? '';
	if (bypassed(url.hostname, noProxy)) return undefined;
	if (explicit) return explicit;
	const https = env.HTTPS_PROXY ?? env.https_proxy;
	const httpP = env.HTTP_PROXY ?? env.http_proxy;
	const p = url.protocol === 'https:' ? https || httpP : httpP;
	return p || undefined;
}

function bypassed(host: string, noProxy: string): boolean {
	const h = host.toLowerCase().replace(/^\[|\]$/g, '');
	for (let entry of noProxy.split(/[,\s]+/)) {
		entry = entry.trim().toLowerCase();
		if (!entry) continue;
		if (entry === '*') return true;
		entry = entry.replace(/:\d+$/, '').replace(/^\*?\./, '.');
		if (entry.startsWith('.') ? h.endsWith(entry) || h === entry.slice(1) : h === entry || h.endsWith('.' + entry)) return true;
	}
	return false;
}

/** Which algorithm keras get_file would use for this hash. */
export function hashAlgorithm(hash: string): 'md5' | 'sha256' {
	if (/^[0-9a-f]{64}$/i.test(hash)) return 'sha256';
	if (/^[0-9a-f]{32}$/i.test(hash)) return 'md5';
	throw new Error(`'${hash}' is neither an md5 nor a sha256 hex digest`);
}

/**
 * Download `url` to `dest`. Bytes go to `<dest>.part`; a `.part` left by an earlier attempt is continued with a
 * Range request when the server allows (else restarted). Only a complete file with the expected hash is renamed
 * to `dest`; a wrong hash deletes the `.part`, a broken transfer keeps it for the next attempt.
 */
export async function downloadFile(url: string, dest: string, opts: DownloadOptions = {}): Promise<DownloadResult> {
	throwIfAborted(opts.signal);
	if (opts.expectedHash) hashAlgorithm(opts.expectedHash);
	await fs.mkdir(path.dirname(dest), { recursive: true });
	const part = `${dest}.part`;
	const label = opts.label ?? path.basename(dest);
	const maxRedirects = opts.maxRedirects ?? 10;

	let have = (await fs.stat(part).catch(() => undefined))?.size ?? 0;
	let target = new URL(url);
	for (let hop = 0; ; hop++) {
		const res = await request(target, have > 0 ? { Range: `bytes=${have}-` } : {}, opts);
		const status = res.statusCode ?? 0;
		if (status >= 300 && status < 400 && res.headers.location) {
			res.resume();
			if (hop >= maxRedirects) throw new DownloadError(`${url}: too many redirects`, url);
			target = new URL(res.headers.location, target);
			continue;
		}
		if (status === 416 && have > 0) {
			// The .part is not a prefix the server can continue (complete or from another file): start over.
			res.resume();
			await fs.rm(part, { force: true });
			have = 0;
			continue;
		}
		let resumed = false;
		if (status === 206 && have > 0) {
			const start = /bytes\s+(\d+)-/.exec(String(res.headers['content-range'] ?? ''));
			if (start && Number(start[1]) === have) resumed = true;
			else {
				res.resume();
				await fs.rm(part, { force: true });
				have = 0;
				continue;
			}
		} else if (status !== 200) {
			res.resume();
			throw new DownloadError(`${url}: the server answered HTTP ${status} ${res.statusMessage ?? ''}`.trim(), url);
		}
		if (!resumed) have = 0; // a 200 to a Range request means the server restarts from byte 0
		return await receive(res, url, dest, part, have, resumed, label, opts);
	}
}

async function receive(res: http.IncomingMessage, url: string, dest: string, part: string, have: number, resumed: boolean, label: string, opts: DownloadOptions): Promise<DownloadResult> {
	const sha = createHash('sha256');
	const md5 = createHash('md5');
	if (resumed) await hashFile(part, [sha, md5]);
	const length = Number(res.headers['content-length']);
	const total = Number.isFinite(length) && res.headers['content-length'] !== undefined ? have + length : 0;
	let done = have;
	let lastReport = 0;
	const out = createWriteStream(part, { flags: resumed ? 'a' : 'w' });
	const report = (force = false) => {
		const now = Date.now();
		if (!force && now - lastReport < 250) return;
		lastReport = now;
		const mb = (n: number) => (n / 1e6).toFixed(1);
		opts.onProgress?.({
			kind: 'stage',
			stage: 'weights',
			done,
			total,
			message: `Downloading ${label}: ${mb(done)}${total ? ` / ${mb(total)}` : ''} MB`,
		});
	};
	report(true);
	try {
		await new Promise<void>((resolve, reject) => {
			let settled = false;
			const fail = (e: Error) => {
				if (settled) return;
				settled = true;
				res.destroy();
				// end(), not destroy(): what arrived is kept in the .part for a later resume.
				out.end();
				reject(e);
			};
			const onAbort = () => fail(new CancelledError());
			opts.signal?.addEventListener('abort', onAbort, { once: true });
			res.setTimeout?.(opts.idleTimeoutMs ?? 60_000, () => fail(new DownloadError(`${url}: no data for ${(opts.idleTimeoutMs ?? 60_000) / 1000} s`, url)));
			res.on('data', (chunk: Buffer) => {
				sha.update(chunk);
				md5.update(chunk);
				done += chunk.length;
				if (!out.write(chunk)) {
					res.pause();
					out.once('drain', () => res.resume());
				}
				report();
			});
			res.on('error', (e) => fail(new DownloadError(`${url}: ${e.message}`, url)));
			res.on('aborted', () => fail(new DownloadError(`${url}: the connection closed early`, url)));
			res.on('end', () => {
				if (settled) return;
				if (!res.complete) return fail(new DownloadError(`${url}: the connection closed early`, url));
				out.end(() => {
					if (settled) return;
					settled = true;
					opts.signal?.removeEventListener('abort', onAbort);
					resolve();
				});
			});
			out.on('error', (e) => fail(new DownloadError(`${part}: cannot write (${e.message})`, url)));
		});
	} catch (e) {
		// Wait for the file handle to close so a retry appends to what was really written.
		await new Promise<void>((r) => (out.closed ? r() : out.once('close', () => r())));
		if (e instanceof DownloadError && total) {
			throw new DownloadError(`${e.message}: got ${done} of ${total} bytes; the partial file ${part} is kept to resume`, url);
		}
		throw e;
	}
	report(true);
	if (total && done !== total) {
		throw new DownloadError(`${url}: truncated download, got ${done} of ${total} bytes; the partial file ${part} is kept to resume`, url);
	}
	const digests = { sha256: sha.digest('hex'), md5: md5.digest('hex') };
	if (opts.expectedHash) {
		const algo = hashAlgorithm(opts.expectedHash);
		if (digests[algo] !== opts.expectedHash.toLowerCase()) {
			await fs.rm(part, { force: true });
			throw new DownloadError(`${url}: ${algo} is ${digests[algo]}, expected ${opts.expectedHash.toLowerCase()}; the download was discarded (corrupt file or a proxy page?)`, url);
		}
	}
	await fs.rename(part, dest);
	return { path: dest, bytes: done, sha256: digests.sha256, md5: digests.md5, resumed };
}

function hashFile(file: string, hashes: Hash[]): Promise<void> {
	return new Promise((resolve, reject) => {
		createReadStream(file)
			.on('data', (c) => hashes.forEach((h) => h.update(c)))
			.on('error', reject)
			.on('end', () => resolve());
	});
}

/** One GET, through a proxy when one applies (absolute-URI for http, CONNECT tunnel for https). */
function request(target: URL, headers: Record<string, string>, opts: DownloadOptions): Promise<http.IncomingMessage> {
	const proxy = proxyFor(target, opts.proxy);
	// One request per connection: nothing is reused, and an idle tunnelled socket would keep Node alive.
	const baseHeaders = { 'User-Agent': 'radiograph-review', Accept: '*/*', Connection: 'close', ...headers };
	return new Promise((resolve, reject) => {
		const onAbort = () => reject(new CancelledError());
		if (opts.signal?.aborted) return onAbort();
		opts.signal?.addEventListener('abort', onAbort, { once: true });
		const done = (f: () => void) => {
			opts.signal?.removeEventListener('abort', onAbort);
			f();
		};
		const fail = (e: Error) => done(() => reject(new DownloadError(`${target.href}: ${e.message}${proxy ? ` (via proxy ${redact(proxy)})` : ''}`, target.href)));
		const isHttps = target.protocol === 'https:';
		if (target.protocol !== 'https:' && target.protocol !== 'http:') return fail(new Error(`unsupported protocol ${target.protocol}`));
		let req: http.ClientRequest;
		const ca = opts.ca ? [...tls.rootCertificates, ...(Array.isArray(opts.ca) ? opts.ca : [opts.ca])] : undefined;
		if (!proxy) {
			req = isHttps ? https.request(target, { headers: baseHeaders, signal: opts.signal, ca }) : http.request(target, { headers: baseHeaders, signal: opts.signal });
		} else {
			const p = new URL(proxy.includes('://') ? proxy : `http://${proxy}`);
			const auth = p.username ? { 'Proxy-Authorization': 'Basic ' + Buffer.from(`${decodeURIComponent(p.username)}:${decodeURIComponent(p.password)}`).toString('base64') } : {};
			const proxyMod = p.protocol === 'https:' ? https : http;
			if (!isHttps) {
				// Plain http through a proxy: send the absolute URI to the proxy.
				req = proxyMod.request({
					host: p.hostname,
					port: p.port || (p.protocol === 'https:' ? 443 : 80),
					method: 'GET',
					path: target.href,
					headers: { ...baseHeaders, Host: target.host, ...auth },
					signal: opts.signal,
				});
			} else {
				const connect = proxyMod.request({
					host: p.hostname,
					port: p.port || (p.protocol === 'https:' ? 443 : 80),
					method: 'CONNECT',
					path: `${target.hostname}:${target.port || 443}`,
					headers: { Host: `${target.hostname}:${target.port || 443}`, ...auth },
					signal: opts.signal,
				});
				connect.once('connect', (res, socket) => {
					if (res.statusCode !== 200) {
						socket.destroy();
						return fail(new Error(`the proxy refused the tunnel (HTTP ${res.statusCode})`));
					}
					const tunnelled = https.request(target, {
						headers: baseHeaders,
						signal: opts.signal,
						createConnection: () => tls.connect({ socket, servername: isIp(target.hostname) ? undefined : target.hostname, ca }),
					});
					tunnelled.once('response', (r) => done(() => resolve(r)));
					tunnelled.once('error', fail);
					tunnelled.end();
				});
				connect.setTimeout(opts.idleTimeoutMs ?? 60_000, () => connect.destroy(new Error('the proxy did not answer')));
				connect.once('error', fail);
				connect.end();
				return;
			}
		}
		const timeout = opts.idleTimeoutMs ?? 60_000;
		req.setTimeout(timeout, () => req.destroy(new Error(`no answer for ${timeout / 1000} s`)));
		req.once('response', (r) => done(() => resolve(r)));
		req.once('error', (e) => (opts.signal?.aborted ? done(onAbort) : fail(e)));
		req.end();
	});
}

function isIp(host: string): boolean {
	return /^[\d.]+$/.test(host) || host.includes(':');
}

function redact(proxy: string): string {
	return proxy.replace(/\/\/[^@/]*@/, '//***@');
}
