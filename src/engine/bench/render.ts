// The figures in README.md and docs/PERFORMANCE.md, rendered from bench-results.json (what `npm run bench` writes)
// between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` markers. `npm run bench:render` rewrites the blocks;
// `--check` (part of `npm run lint`) fails when a block differs from what the JSON renders, so no figure in the docs
// comes from anywhere but the bench. A row the JSON lacks is shown as "not measured yet", never guessed.
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { BenchResult, Row } from './bench';

export const NOT_MEASURED = 'not measured yet';
const BACKBONES = ['VGG16', 'ResNet50V2', 'Xception', 'ResNet50'];
/** The documents and the blocks each holds, relative to the repository root. */
export const DOCUMENTS: Record<string, string[]> = {
	'README.md': ['summary', 'targets'],
	'docs/PERFORMANCE.md': ['environment', 'preprocess', 'viewer', 'grid', 'forward', 'int8', 'train', 'shard', 'explain', 'targets'],
};

/** 4,661 / 92 / 5.32: thousands grouped from 100 up, `digits` decimals below. */
export function fmt(x: number | undefined, digits = 1): string {
	if (x === undefined || !Number.isFinite(x)) return '–';
	return Math.abs(x) >= 100 ? Math.round(x).toLocaleString('en') : x.toFixed(digits);
}

const ran = (r: BenchResult, section: string): boolean => r.sections.includes(section);
const cell = (s: string | undefined): string => (s ?? '').replace(/\|/g, '\\|');

function find(r: BenchResult, section: string, runtime: RegExp, backbone?: string): Row | undefined {
	return r.rows.find((x) => x.section === section && runtime.test(x.runtime) && (backbone === undefined || x.backbone?.toLowerCase() === backbone.toLowerCase()));
}

/** Best images/s of a forward row over its two batch sizes. */
const best = (x: Row | undefined): number | undefined => (x && (x.b1 !== undefined || x.b16 !== undefined) ? Math.max(x.b1 ?? 0, x.b16 ?? 0) : undefined);

const OURS = /onnxruntime-node .*\(CPU/;
const ORT_TORCH = /PyTorch-exported/;
const TORCH = /^PyTorch/;
const WASM_1 = /WASM \(SIMD, 1 thread/;
const WASM_N = /WASM \(SIMD, [2-9]/;

/** A value with its unit, "failed" (the row's reason is in the JSON) or not measured. */
function shown(r: BenchResult, x: Row | undefined, section: string, digits = 1, unit = ''): string {
	if (x?.value !== undefined) return `${fmt(x.value, digits)}${unit}`;
	if (x) return 'failed (see bench-results.json)';
	return ran(r, section) ? 'not in this run' : NOT_MEASURED;
}

function environment(r: BenchResult): string {
	const e = r.environment;
	const missing = ['preprocess', 'viewer', 'grid', 'forward', 'int8', 'train', 'classify', 'shard', 'audit', 'report', 'gradcam'].filter((s) => !ran(r, s));
	const L = [
		`Measured ${r.date.slice(0, 10)} by \`radreview bench${r.quick ? ' --quick' : ''} --sections ${r.sections.join(',')}${r.backbones.length < BACKBONES.length ? ` --backbones ${r.backbones.join(',')}` : ''}\` (${fmt(r.seconds, 0)} s) on ${e.cpu} [${e.flags}], ` +
			`${e.cores} cores (${e.threads} threads used), ${e.memory}; Node ${e.node}, tfjs ${e.tfjs}, tfjs-backend-wasm ${e['tfjs-backend-wasm']}, ` +
			`onnxruntime-node ${e['onnxruntime-node']}, sharp ${e.sharp}; Python peers (torch, torchvision, OpenCV, Pillow, numpy): ` +
			`${e['python peers (torch, torchvision, opencv, pillow, numpy)']}${e.gpu ? `; GPU: ${e.gpu} (base device ${e['base device (RADREVIEW_BASE_DEVICE)'] ?? 'auto'})` : ''}. Load average (1, 5, 15 min) before / after: ${e.load} / ${e.loadAfter}.`,
	];
	for (const u of r.updates ?? [])
		L.push(
			'',
			`Sections ${u.sections.join(', ')} re-measured ${u.date.slice(0, 10)} by \`radreview bench --sections ${u.sections.join(',')} --merge\` (${fmt(u.seconds, 0)} s; load before / after ${u.load} / ${u.loadAfter}): their rows replace that run's.`,
		);
	if (missing.length) L.push('', `Sections ${NOT_MEASURED}: ${missing.join(', ')} (their tables say so).`);
	const skipped = BACKBONES.filter((b) => !r.backbones.some((x) => x.toLowerCase() === b.toLowerCase()));
	if (skipped.length) L.push('', `Backbones ${NOT_MEASURED}: ${skipped.join(', ')}.`);
	if (r.notes.length) L.push('', ...r.notes.map((n) => `- ${n}`));
	return L.join('\n');
}

function preprocess(r: BenchResult): string {
	const rows = r.rows.filter((x) => x.section === 'preprocess');
	if (!rows.length) return `Preprocessing: ${NOT_MEASURED} (\`radreview bench --sections preprocess\`).`;
	const speeds = rows.filter((x) => x.unit !== '×');
	const L = ['| tool | images/s | note |', '|---|---:|---|', ...speeds.map((x) => `| ${cell(x.runtime)} | ${fmt(x.value)} | ${cell(x.note)} |`)];
	const ratios = [/^Pillow/, /^OpenCV/].map((re) => {
		const name = re.source.slice(1);
		const d = decodeRatio(r, name);
		return d ? `${d.ratio.toFixed(2)}× ${name}${d.note ? ` (${d.note})` : ''}` : `${name}: ${NOT_MEASURED}`;
	});
	L.push('', `Cold, ours against the Python peers: ${ratios.join(', ')}.`);
	return L.join('\n');
}

/** Ours cold against a peer: the bench's paired ratio row (median over alternating rounds) when it has one. */
function decodeRatio(r: BenchResult, peer: string): { ratio: number; note?: string } | undefined {
	const paired = r.rows.find((x) => x.section === 'preprocess' && x.unit === '×' && x.runtime.startsWith(`ours cold / ${peer}`));
	if (paired?.value !== undefined) return { ratio: paired.value, note: paired.note?.replace(/^(not )?met; /, '') };
	const ours = find(r, 'preprocess', /, cold/)?.value;
	const other = find(r, 'preprocess', new RegExp(`^${peer}`))?.value;
	return ours && other ? { ratio: ours / other } : undefined;
}

function viewer(r: BenchResult): string {
	const rows = r.rows.filter((x) => x.section === 'viewer');
	if (!rows.length) return `Viewer: ${NOT_MEASURED} (\`radreview bench --sections viewer\`).`;
	return ['| what | ms | note |', '|---|---:|---|', ...rows.map((x) => `| ${cell(x.runtime)} | ${fmt(x.value, 0)} | ${cell(x.note)} |`)].join('\n');
}

function forward(r: BenchResult): string {
	const rows = r.rows.filter((x) => x.section === 'forward');
	const bs = r.quick ? ['1', '4'] : ['1', '16'];
	const L = [`| backbone | runtime | img/s b${bs[0]} | img/s b${bs[1]} | GFLOP/s | peak RSS MB | note |`, '|---|---|---:|---:|---:|---:|---|'];
	for (const x of rows) L.push(`| ${x.backbone ?? ''} | ${cell(x.runtime)} | ${fmt(x.b1, 2)} | ${fmt(x.b16, 2)} | ${fmt(x.gflops)} | ${fmt(x.maxRssMB, 0)} | ${cell(x.note)} |`);
	for (const b of BACKBONES) if (!rows.some((x) => x.backbone === b)) L.push(`| ${b} | ${NOT_MEASURED} | | | | | |`);
	return L.join('\n');
}

function train(r: BenchResult): string {
	const rows = r.rows.filter((x) => ['train', 'classify', 'audit'].includes(x.section));
	const L = ['| backbone | what | value | unit | peak RSS MB | note |', '|---|---|---:|---|---:|---|'];
	for (const x of rows) L.push(`| ${x.backbone ?? ''} | ${cell(x.runtime)} | ${fmt(x.value)} | ${x.unit ?? ''} | ${fmt(x.maxRssMB, 0)} | ${cell(x.note)} |`);
	for (const [section, what] of [
		['train', 'head training on 600 cached feature vectors'],
		['classify', '`radreview classify` of a folder, end to end'],
		['audit', '`radreview audit`, cold and warm'],
	])
		if (!rows.some((x) => x.section === section)) L.push(`| | ${what} | ${NOT_MEASURED} | | | |`);
	return L.join('\n');
}

function explain(r: BenchResult): string {
	const rows = r.rows.filter((x) => x.section === 'report' || x.section === 'gradcam');
	const L = ['| backbone | what | value | unit | note |', '|---|---|---:|---|---|'];
	for (const x of rows) L.push(`| ${x.backbone ?? ''} | ${cell(x.runtime)} | ${fmt(x.value, 2)} | ${x.unit ?? ''} | ${cell(x.note)} |`);
	for (const [section, what] of [
		['report', 'report card'],
		['gradcam', 'Grad-CAM'],
	])
		if (!rows.some((x) => x.section === section)) L.push(`| | ${what} | ${NOT_MEASURED} | | |`);
	return L.join('\n');
}

function summary(r: BenchResult): string {
	const e = r.environment;
	const L = [
		`Measured ${r.date.slice(0, 10)} on ${e.cpu}, ${e.cores} cores (${e.threads} threads used), load average ${e.load.split(' ')[0]} → ${e.loadAfter.split(' ')[0]}` +
			`${r.quick ? ', a `--quick` run' : ''}. Shared machines are noisy: compare ratios within one run, not absolute numbers.`,
		'',
		'| what | ours | the alternative |',
		'|---|---:|---:|',
	];
	const pre = (re: RegExp) => find(r, 'preprocess', re);
	const peers = [/^Pillow/, /^OpenCV/].map((re) => `${re.source.slice(1)}: ${shown(r, pre(re), 'preprocess')}`).join(', ');
	L.push(`| decode + resize to 237×237, images/s (cold / warm cache) | ${shown(r, pre(/, cold/), 'preprocess')} / ${shown(r, pre(/cache, warm/), 'preprocess')} | ${peers} |`);
	for (const b of BACKBONES) {
		// A backbone left out by --backbones was not measured; one asked for but missing a row was not in this run.
		const asked = ran(r, 'forward') && r.backbones.some((x) => x.toLowerCase() === b.toLowerCase());
		const fw = (re: RegExp) => {
			const v = best(find(r, 'forward', re, b));
			return v === undefined ? (asked ? 'not in this run' : NOT_MEASURED) : fmt(v, 1);
		};
		const ours = best(find(r, 'forward', OURS, b));
		L.push(
			`| ${b} base forward, img/s | ${ours === undefined ? fw(OURS) : `**${fmt(ours, 1)}** (ONNX Runtime, graph built in TS)`} | PyTorch: ${fw(TORCH)} · ORT on a PyTorch export: ${fw(ORT_TORCH)} · tfjs WASM, 1 thread: ${fw(WASM_1)} |`,
		);
	}
	const head = (b: string) => find(r, 'train', /^ours: head/, b);
	const ref = (b: string) => find(r, 'train', /^reference/, b);
	L.push(
		`| head, 80 epochs on 600 cached features: VGG16 / ResNet50V2, s | **${shown(r, head('vgg16'), 'train')} / ${shown(r, head('resnet50v2'), 'train')}** (${trainer(head('vgg16'))}) | ` +
			`base forward every epoch: ${shown(r, ref('vgg16'), 'forward', 0)} / ${shown(r, ref('resnet50v2'), 'forward', 0)} |`,
	);
	L.push(`| peak RSS of head training, VGG16 / ResNet50V2, MB | ${fmt(head('vgg16')?.maxRssMB, 0)} / ${fmt(head('resnet50v2')?.maxRssMB, 0)} | |`);
	L.push(`| \`classify\` a folder end to end, cold caches, images/s | ${shown(r, find(r, 'classify', /classify/), 'classify')} | |`);
	L.push(`| report card (1,000 predictions × 1,000 bootstrap resamples), s | ${shown(r, find(r, 'report', /report card/), 'report', 2)} | |`);
	L.push(`| Grad-CAM on top of one forward, ms / image | ${shown(r, find(r, 'gradcam', /^Grad-CAM/), 'gradcam', 1)} | |`);
	L.push(`| viewer: open a 4000×5000 16-bit DICOM, ms | ${shown(r, find(r, 'viewer', /open/), 'viewer', 0)} | |`);
	return L.join('\n');
}

/** Which head trainer the bench row says ran (fused WASM or the tfjs loop, with its reason). */
function trainer(x: Row | undefined): string {
	const m = /\((fused WASM|tfjs loop.*?); /.exec(x?.runtime ?? '');
	return m ? (m[1] === 'fused WASM' ? 'fused WASM SIMD trainer' : m[1]) : 'head trainer not recorded by this run';
}

type Status = { state: 'met' | 'not met' | 'unknown'; detail: string };

/** Each goal, judged from the run's rows only. */
function targets(r: BenchResult): string {
	const ratioTarget = (num: RegExp, den: RegExp, min: number): Status => {
		const parts: string[] = [];
		let all = true;
		for (const b of BACKBONES) {
			const a = best(find(r, 'forward', num, b));
			const c = best(find(r, 'forward', den, b));
			if (a === undefined || !c) continue;
			parts.push(`${b} ${(a / c).toFixed(2)}×`);
			all &&= a / c >= min;
		}
		return parts.length ? { state: all ? 'met' : 'not met', detail: parts.join(', ') } : { state: 'unknown', detail: '' };
	};
	const below = (x: Row | undefined, max: number, unit: string): Status =>
		x?.value === undefined ? { state: 'unknown', detail: '' } : { state: x.value <= max ? 'met' : 'not met', detail: `${fmt(x.value, 2)} ${unit}` };
	const heads = (): Status => {
		const v = find(r, 'train', /^ours: head/, 'vgg16')?.value;
		const rn = find(r, 'train', /^ours: head/, 'resnet50v2')?.value;
		if (v === undefined || rn === undefined) return { state: 'unknown', detail: '' };
		return { state: v <= 5 && rn <= 15 ? 'met' : 'not met', detail: `${fmt(v)} s and ${fmt(rn)} s` };
	};
	const preprocessing = (peer: string, goal: number): Status => {
		const d = decodeRatio(r, peer);
		if (!d) return { state: 'unknown', detail: '' };
		return { state: d.ratio >= goal ? 'met' : 'not met', detail: `${d.ratio.toFixed(2)}×` };
	};
	const wholeTraining = (): Status => {
		const whole = find(r, 'train', /incl\. caching/, 'vgg16')?.value;
		const ips = best(find(r, 'forward', OURS, 'VGG16'));
		if (whole === undefined || !ips) return { state: 'unknown', detail: '' };
		const ratio = whole / (600 / ips);
		return { state: ratio <= 1.3 ? 'met' : 'not met', detail: `${ratio.toFixed(2)}×` };
	};
	const rss = (): Status => {
		const rows = r.rows.filter((x) => (x.section === 'train' || x.section === 'classify') && x.maxRssMB !== undefined);
		if (!rows.length) return { state: 'unknown', detail: '' };
		const peak = Math.max(...rows.map((x) => x.maxRssMB!));
		return { state: peak <= 2048 ? 'met' : 'not met', detail: `peak ${fmt(peak, 0)} MB` };
	};
	const int8Target = (): Status => {
		const rows = r.rows.filter((x) => x.section === 'int8' && x.value !== undefined && /\(pretrained\)/.test(x.runtime));
		if (!rows.length) return { state: 'unknown', detail: '' };
		const p1 = (x: Row) => Number(x.note?.match(/p1 ([0-9.]+)/)?.[1] ?? NaN);
		const ok = rows.every((x) => x.value! >= 2 && p1(x) >= 0.99);
		return { state: ok ? 'met' : 'not met', detail: rows.map((x) => `${x.backbone} ${fmt(x.value, 2)}×, p1 ${p1(x).toFixed(3)}`).join('; ') };
	};
	const bench = (): Status => {
		const full =
			!r.quick && ['preprocess', 'viewer', 'grid', 'forward', 'int8', 'train', 'classify', 'shard', 'audit', 'report', 'gradcam'].every((s) => ran(r, s)) && BACKBONES.length === r.backbones.length;
		return full ? { state: r.seconds <= 900 ? 'met' : 'not met', detail: `${fmt(r.seconds, 0)} s` } : { state: 'unknown', detail: '' };
	};
	const list: Array<[string, Status]> = [
		['ours ≥ 0.9× ONNX Runtime on a PyTorch-exported graph of the same architecture', ratioTarget(OURS, ORT_TORCH, 0.9)],
		['ours ≥ 2× PyTorch CPU', ratioTarget(OURS, TORCH, 2)],
		['WASM threads faster than 1 thread', ratioTarget(WASM_N, WASM_1, 1)],
		['decode + resize (cold) ≥ 2× Pillow', preprocessing('Pillow', 2)],
		['decode + resize (cold) ≥ 1.5× OpenCV', preprocessing('OpenCV', 1.5)],
		['head training, 80 epochs on 600 cached vectors: ≤ 5 s VGG16, ≤ 15 s ResNet50V2', heads()],
		['whole VGG16 training (600 features once + head) ≤ 1.3× one forward pass over the 600 images', wholeTraining()],
		['peak RSS of training and classification ≤ 2 GB', rss()],
		['report card < 2 s', below(find(r, 'report', /report card/), 2, 's')],
		['Grad-CAM ≤ 20 ms per image on top of the forward', below(find(r, 'gradcam', /^Grad-CAM/), 20, 'ms')],
		['viewer: open a 4000×5000 16-bit DICOM < 1 s', below(find(r, 'viewer', /open/), 1000, 'ms')],
		['grid of 5,000 annotated predictions: first paint < 1 s', below(find(r, 'grid', /^first paint/), 1000, 'ms')],
		['grid: keystroke → relabelled tile < 50 ms', below(find(r, 'grid', /^keystroke → relabelled/), 50, 'ms')],
		['int8 base ≥ 2× fp32 with pooled-feature cosine p1 ≥ 0.99 (pretrained weights only)', int8Target()],
		['audit with warm features < 10 s for 600 images', below(find(r, 'audit', /warm/), 10, 's')],
		['the full bench < 15 min on 2 cores', bench()],
	];
	const L = ['| target | status in this run |', '|---|---|'];
	for (const [name, s] of list) L.push(`| ${name} | ${s.state === 'unknown' ? NOT_MEASURED : `**${s.state}**: ${s.detail}`} |`);
	return L.join('\n');
}

/** A section's rows as they are: what, backbone, value with its unit, note. */
function rowsTable(section: string, title: string): (r: BenchResult) => string {
	return (r) => {
		const rows = r.rows.filter((x) => x.section === section);
		if (!rows.length) return `${title}: ${NOT_MEASURED} (\`radreview bench --sections ${section}\`).`;
		const L = ['| what | backbone | value | note |', '|---|---|---:|---|'];
		for (const x of rows) L.push(`| ${cell(x.runtime)} | ${cell(x.backbone)} | ${x.value === undefined ? '–' : `${fmt(x.value)} ${cell(x.unit)}`} | ${cell(x.note)} |`);
		return L.join('\n');
	};
}

/** int8 against fp32: both speeds, the ratio and the fidelity note. */
function int8(r: BenchResult): string {
	const rows = r.rows.filter((x) => x.section === 'int8');
	if (!rows.length) return `int8 base: ${NOT_MEASURED} (\`radreview bench --sections int8\`).`;
	const L = ['| backbone | fp32 img/s | int8 img/s | int8 / fp32 | fidelity and verdict |', '|---|---:|---:|---:|---|'];
	for (const x of rows)
		L.push(`| ${cell(x.backbone)} | ${fmt(x.b1)} | ${fmt(x.b16)} | ${x.value === undefined ? '–' : `${fmt(x.value, 2)}×`} | ${cell(x.runtime.match(/\(([^)]*)\)$/)?.[1])}; ${cell(x.note)} |`);
	return L.join('\n');
}

const BLOCKS: Record<string, (r: BenchResult) => string> = {
	environment,
	summary,
	preprocess,
	viewer,
	grid: rowsTable('grid', 'The prediction grid'),
	forward,
	int8,
	train,
	shard: rowsTable('shard', 'Sharded feature extraction'),
	explain,
	targets,
};

/** The rendered text of one block. */
export function renderBlock(name: string, r: BenchResult): string {
	const f = BLOCKS[name];
	if (!f) throw new Error(`unknown bench block "${name}"`);
	return f(r);
}

/** `text` with every `<!-- bench:NAME -->…<!-- /bench:NAME -->` block re-rendered; `file` names it in errors. */
export function renderDocument(text: string, r: BenchResult, file: string): string {
	const open = /<!-- bench:([a-z0-9]+) -->/g;
	let out = '';
	let at = 0;
	for (let m = open.exec(text); m; m = open.exec(text)) {
		const close = `<!-- /bench:${m[1]} -->`;
		const end = text.indexOf(close, m.index);
		if (end < 0) throw new Error(`${file}: <!-- bench:${m[1]} --> has no ${close}`);
		out += `${text.slice(at, m.index + m[0].length)}\n${renderBlock(m[1], r)}\n`;
		at = end;
		open.lastIndex = end + close.length;
	}
	return out + text.slice(at);
}

/** Parses bench-results.json, naming the file and the field that is wrong. */
export function parseBenchResult(json: string, file: string): BenchResult {
	let v: unknown;
	try {
		v = JSON.parse(json);
	} catch (e) {
		throw new Error(`${file}: not JSON (${(e as Error).message})`);
	}
	const o = v as Partial<BenchResult>;
	for (const [k, ok] of [
		['date', typeof o.date === 'string'],
		['seconds', typeof o.seconds === 'number'],
		['sections', Array.isArray(o.sections)],
		['backbones', Array.isArray(o.backbones)],
		['environment', typeof o.environment === 'object' && o.environment !== null],
		['rows', Array.isArray(o.rows)],
		['notes', Array.isArray(o.notes)],
	] as const)
		if (!ok) throw new Error(`${file}: field "${k}" is missing or of the wrong type`);
	return { ...o, quick: o.quick === true } as BenchResult;
}

/** Renders the documents under `root`; returns the files whose blocks changed (written unless `check`). */
export function renderDocuments(root: string, check: boolean): string[] {
	const jsonFile = path.join(root, 'bench-results.json');
	const r = parseBenchResult(readFileSync(jsonFile, 'utf8'), jsonFile);
	const changed: string[] = [];
	for (const [doc, blocks] of Object.entries(DOCUMENTS)) {
		const file = path.join(root, doc);
		const text = readFileSync(file, 'utf8');
		for (const b of blocks) if (!text.includes(`<!-- bench:${b} -->`)) throw new Error(`${doc}: the <!-- bench:${b} --> block is missing`);
		const next = renderDocument(text, r, doc);
		if (next === text) continue;
		changed.push(doc);
		if (!check) writeFileSync(file, next);
	}
	return changed;
}

if (require.main === module) {
	const check = process.argv.includes('--check');
	const changed = renderDocuments(path.resolve(__dirname, '../../..'), check);
	if (check && changed.length) {
		console.error(`bench figures out of date in ${changed.join(', ')}: run npm run bench:render (they come from bench-results.json)`);
		process.exit(1);
	}
	console.log(check ? 'bench:render --check: README.md and docs/PERFORMANCE.md match bench-results.json' : `bench:render: ${changed.length ? `rewrote ${changed.join(', ')}` : 'nothing to change'}`);
}
