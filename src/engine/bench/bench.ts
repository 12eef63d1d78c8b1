// `radreview bench`: our preprocessing, base forward and head training against the tools people would use
// instead (Pillow, OpenCV, PyTorch, ONNX Runtime on PyTorch-exported graphs), on the real radiographs in
// ../shared/cxr/dev. Each tfjs backend can only be chosen once per process, so every measurement runs in a child
// process (which also gives a clean peak RSS per row). Writes bench-results.json and bench-results.md.
import { spawn, spawnSync } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { BACKBONE_IDS, type BackboneId, type ImageRecord, type Preprocessing } from '../types';
import { PY_PREPROCESS, PY_TORCH } from './python';

const SIZE = 237;
const RESULT = 'BENCH_RESULT ';

interface Args {
	quick: boolean;
	out: string;
	data: string;
	threads: number;
	backbones: BackboneId[];
	sections: Set<string>;
	child?: string;
	/** Install the Python peers with apt-get when missing (only when asked: a benchmark never changes the system by itself). */
	installPeers: boolean;
	/** Replace only the measured sections' rows in the existing bench-results.json, keeping the others. */
	merge: boolean;
}

const USAGE = `radreview bench [--quick] [--out DIR] [--data DIR] [--threads N] [--backbones vgg16,resnet50v2,...]
                [--sections env,preprocess,viewer,grid,forward,int8,train,classify,shard,audit,report,gradcam] [--install-peers] [--merge]
Benchmarks preprocessing, base forward (ONNX Runtime, WASM threads, WASM 1 thread, pure JS) and head training
against Pillow, OpenCV and PyTorch on the radiographs in DIR (default ../shared/cxr/dev). Writes
bench-results.json and bench-results.md to --out (default: the current folder). --quick: a smoke run.
Missing Python peers are reported with the command that installs them; --install-peers runs it (root, apt-get).
--merge: re-measure only --sections and put their rows into the existing bench-results.json (the rest is kept).`;

function parseArgs(argv: string[]): Args {
	const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
	const a: Args = {
		quick: false,
		out: process.cwd(),
		data: path.resolve('../shared/cxr/dev'),
		threads: cores,
		backbones: [...BACKBONE_IDS],
		sections: new Set(['env', 'preprocess', 'viewer', 'grid', 'forward', 'int8', 'train', 'classify', 'shard', 'audit', 'report', 'gradcam']),
		installPeers: false,
		merge: false,
	};
	for (let i = 0; i < argv.length; i++) {
		const v = argv[i];
		const next = (): string => {
			const x = argv[++i];
			if (x === undefined) throw new Error(`${v} needs a value\n${USAGE}`);
			return x;
		};
		if (v === '--quick') a.quick = true;
		else if (v === '--out') a.out = path.resolve(next());
		else if (v === '--data') a.data = path.resolve(next());
		else if (v === '--threads') a.threads = Math.max(1, Number(next()) | 0);
		else if (v === '--backbones') a.backbones = next().split(',') as BackboneId[];
		else if (v === '--sections') a.sections = new Set(next().split(','));
		else if (v === '--install-peers') a.installPeers = true;
		else if (v === '--merge') a.merge = true;
		// The old opt-out is now the default; accepted so existing scripts keep working.
		else if (v === '--no-install') a.installPeers = false;
		else if (v === '--child') a.child = next();
		else if (v === '--help' || v === '-h') {
			console.log(USAGE);
			process.exit(0);
		} else throw new Error(`unknown option ${v}\n${USAGE}`);
	}
	return a;
}

// ---- child tasks ---------------------------------------------------------------------------------------------

type Runtime = 'onnx' | 'wasm-threads' | 'wasm-1' | 'cpu' | 'onnx-torch';

interface ForwardTask {
	kind: 'forward';
	runtime: Runtime;
	backbone: BackboneId;
	input: string;
	batches: number[];
	minSeconds: number;
	maxIters: number;
	threads: number;
	cacheDir: string;
	/** Pure JS: a smaller input, extrapolated by GMACs. */
	size: number;
	/** onnx-torch: the PyTorch-exported file (NCHW input). */
	onnxFile?: string;
}

interface TrainTask {
	kind: 'train';
	backbone: BackboneId;
	n: number;
	epochs: number;
	batchSize: number;
}

interface ClassifyTask {
	kind: 'classify';
	backbone: BackboneId;
	data: string;
	perClass: number;
	work: string;
}

interface AuditTask {
	kind: 'audit';
	data: string;
	work: string;
}

type Task = ForwardTask | TrainTask | ClassifyTask | AuditTask;

async function runChild(json: string): Promise<void> {
	const task = JSON.parse(json) as Task;
	let result: unknown;
	if (task.kind === 'forward') result = await childForward(task);
	else if (task.kind === 'train') result = await childTrain(task);
	else if (task.kind === 'audit') result = await childAudit(task);
	else result = await childClassify(task);
	const rss = process.resourceUsage().maxRSS / 1024;
	process.stdout.write(`${RESULT}${JSON.stringify({ ...(result as object), maxRssMB: rss })}\n`);
}

async function timeLoop(fn: () => Promise<unknown>, minSeconds: number, maxIters: number): Promise<number> {
	let it = 0;
	const t0 = performance.now();
	while (it < 1 || ((performance.now() - t0) / 1000 < minSeconds && it < maxIters)) {
		await fn();
		it++;
	}
	return (performance.now() - t0) / 1000 / it;
}

async function childForward(t: ForwardTask): Promise<Record<string, unknown>> {
	const all = new Float32Array(readFileSync(t.input).buffer.slice(0));
	const per = t.size * t.size * 3;
	const out: Record<string, unknown> = {};
	let extract: (n: number) => Promise<unknown>;
	let dispose: () => Promise<void>;
	if (t.runtime === 'onnx-torch') {
		const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
		const session = await ort.InferenceSession.create(t.onnxFile!, {
			graphOptimizationLevel: 'all',
			executionMode: 'sequential',
			intraOpNumThreads: t.threads,
			interOpNumThreads: 1,
		});
		// PyTorch graphs take NCHW: transpose once, outside the timing.
		const nchw = new Float32Array(all.length);
		const n0 = all.length / per;
		for (let b = 0; b < n0; b++)
			for (let y = 0; y < t.size; y++) for (let x = 0; x < t.size; x++) for (let c = 0; c < 3; c++) nchw[b * per + c * t.size * t.size + y * t.size + x] = all[b * per + (y * t.size + x) * 3 + c];
		extract = (n) => session.run({ input: new ort.Tensor('float32', nchw.subarray(0, n * per), [n, 3, t.size, t.size]) });
		dispose = () => session.release();
		out.runtime = `onnxruntime-node ${ort.env.versions?.node ?? ''} (PyTorch-exported graph)`;
	} else {
		const { initBackend, shutdownBackend } = await import('../model/tf');
		const { buildBackbone, getBackbone } = await import('../model/backbones/index');
		const report = await initBackend(t.runtime === 'cpu' ? 'cpu' : 'wasm');
		const spec = getBackbone(t.backbone);
		const model = buildBackbone(t.backbone, t.size, { seed: 1 });
		let fx: import('../runtime/extractor').FeatureExtractor;
		if (t.runtime === 'onnx') {
			const { createOnnxExtractor } = await import('../runtime/onnx');
			const t0 = performance.now();
			fx = await createOnnxExtractor(model, spec, { cacheDir: t.cacheDir, weightsSha: 'bench-seed-1', threads: t.threads });
			out.setupSeconds = (performance.now() - t0) / 1000;
		} else {
			const { createTfjsExtractor } = await import('../runtime/tfjsExtractor');
			fx = createTfjsExtractor(model, t.size);
		}
		out.runtime = fx.runtime;
		out.backend = report.label;
		extract = (n) => fx.extract(all.subarray(0, n * per), n);
		dispose = async () => {
			await fx.dispose();
			model.dispose();
			shutdownBackend();
		};
	}
	try {
		await extract(1); // warm-up: kernels, allocations
		for (const b of t.batches) {
			if (b > 1 && t.runtime !== 'wasm-1' && t.runtime !== 'wasm-threads' && t.runtime !== 'cpu') await extract(b);
			out[`b${b}`] = await timeLoop(() => extract(b), t.minSeconds, t.maxIters);
		}
	} finally {
		await dispose();
	}
	return out;
}

async function childTrain(t: TrainTask): Promise<Record<string, unknown>> {
	const { initBackend, shutdownBackend } = await import('../model/tf');
	const { getBackbone } = await import('../model/backbones/index');
	const { buildHead, featureDim } = await import('../model/head');
	const { trainHead, headTrainerLabel } = await import('../train/train');
	const { DEFAULT_TRAIN_CONFIG } = await import('../types');
	const report = await initBackend('wasm');
	const spec = getBackbone(t.backbone);
	const baseShape = spec.outputShape(SIZE);
	const dim = featureDim(baseShape);
	// Stand-in feature vectors (ReLU-like, seeded): training time depends on their size, not their values.
	let s = 12345;
	const feats = new Float32Array(t.n * dim);
	for (let i = 0; i < feats.length; i++) {
		s = (s * 1664525 + 1013904223) >>> 0;
		feats[i] = s % 3 === 0 ? 0 : (s / 2 ** 32) * 2;
	}
	const labels = Array.from({ length: t.n }, (_, i) => i % 3);
	const nVal = Math.round(t.n * 0.1);
	const train = { feats: feats.subarray(0, (t.n - nVal) * dim), labels: labels.slice(0, t.n - nVal), n: t.n - nVal, dim };
	const val = { feats: feats.subarray((t.n - nVal) * dim), labels: labels.slice(t.n - nVal), n: nVal, dim };
	const head = buildHead({ baseShape, dropout: 0.2, seed: 1 });
	const t0 = performance.now();
	const trained = await trainHead(head, train, val, { epochs: t.epochs, batchSize: t.batchSize, learningRate: 1e-3, seed: 1, reduceLr: DEFAULT_TRAIN_CONFIG.reduceLr });
	const seconds = (performance.now() - t0) / 1000;
	head.model.dispose();
	shutdownBackend();
	return { seconds, dim, backend: report.label, headTrainer: headTrainerLabel(trained) };
}

async function childClassify(t: ClassifyTask): Promise<Record<string, unknown>> {
	const api = await import('../api');
	const { shutdownBackend } = await import('../model/tf');
	// Two disjoint folders from the dev set: one to train a (random-weights, 2-epoch) run, one to classify.
	const trainDir = path.join(t.work, 'train');
	const classifyDir = path.join(t.work, 'classify');
	for (const cls of ['COVID', 'NORMAL', 'PNEUMONIA']) {
		const files = (await fs.readdir(path.join(t.data, cls))).sort();
		for (const [dir, pick] of [
			[trainDir, files.slice(0, 10)],
			[classifyDir, files.slice(10, 10 + t.perClass)],
		] as const) {
			await fs.mkdir(path.join(dir, cls), { recursive: true });
			// Copies: a symlink leaving the dataset's root is not followed (scan.ts), so the folders would be empty.
			for (const f of pick) await fs.copyFile(path.join(t.data, cls, f), path.join(dir, cls, f));
		}
	}
	const workDir = path.join(t.work, 'work');
	const cfg = api.resolveTrainConfig({ backbone: t.backbone, dataDir: trainDir, workDir, weights: 'none', epochs: 2, splitMode: 'image' });
	const summary = await api.trainRun(cfg, {});
	const t0 = performance.now();
	const res = await api.classifyFolder(summary.runDir, classifyDir, { workDir });
	const seconds = (performance.now() - t0) / 1000;
	shutdownBackend();
	return { seconds, images: res.predictions.length, errors: res.errors.length, backend: summary.backend };
}

/** The audit (ResNet50 offline weights) twice in one workdir: cold (decode + features computed) and warm. */
async function childAudit(t: AuditTask): Promise<Record<string, unknown>> {
	const { auditDataset } = await import('../audit/run');
	const { shutdownBackend } = await import('../model/tf');
	const seconds: number[] = [];
	let images = 0;
	for (let i = 0; i < 2; i++) {
		const t0 = performance.now();
		const r = await auditDataset({ dataDir: t.data, workDir: t.work, backbone: 'resnet50' });
		seconds.push((performance.now() - t0) / 1000);
		images = r.images;
	}
	shutdownBackend();
	return { cold: seconds[0], warm: seconds[1], images };
}

// ---- parent --------------------------------------------------------------------------------------------------

interface ChildOut {
	ok: boolean;
	result?: Record<string, unknown>;
	error?: string;
	wall: number;
}

function spawnOut(cmd: string, args: string[], env: NodeJS.ProcessEnv, timeoutS: number): Promise<ChildOut> {
	return new Promise((resolve) => {
		const t0 = performance.now();
		const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
		let stdout = '';
		let stderr = '';
		child.stdout.on('data', (d) => (stdout += d));
		child.stderr.on('data', (d) => (stderr += d));
		const timer = setTimeout(() => child.kill('SIGKILL'), timeoutS * 1000);
		child.on('close', (code) => {
			clearTimeout(timer);
			const wall = (performance.now() - t0) / 1000;
			const line = stdout.split('\n').find((l) => l.startsWith(RESULT));
			if (line) resolve({ ok: true, result: JSON.parse(line.slice(RESULT.length)), wall });
			else {
				const why =
					(stderr
						.trim()
						.split('\n')
						.filter((l) => /error|Error/.test(l))
						.pop() ??
						stderr.trim().split('\n').pop() ??
						'') ||
					`exit ${code}`;
				resolve({ ok: false, error: code === null ? `killed after ${timeoutS} s` : why.slice(0, 300), wall });
			}
		});
	});
}

function nodeChild(task: Task, env: NodeJS.ProcessEnv, timeoutS: number): Promise<ChildOut> {
	const args = [...process.execArgv, process.argv[1], 'bench', '--child', JSON.stringify(task)];
	return spawnOut(process.execPath, args, { ...process.env, ...env }, timeoutS);
}

/** glibc settings that PyTorch needs here (with the defaults its batch-16 throughput halves: page faults). */
const TORCH_MALLOC = { MALLOC_MMAP_MAX_: '0', MALLOC_TRIM_THRESHOLD_: '68719476736', MALLOC_TOP_PAD_: '1073741824' };

async function pyChild(script: string, cfg: unknown, env: NodeJS.ProcessEnv, timeoutS: number, tmp: string): Promise<ChildOut> {
	const file = path.join(tmp, `peer-${Math.random().toString(36).slice(2)}.py`);
	await fs.writeFile(file, script);
	return spawnOut(python(), [file, JSON.stringify(cfg)], { ...process.env, ...env }, timeoutS);
}

let pythonExe: string | undefined;
/** Debian's python3 carries the apt peers; a pyenv or venv python3 earlier on PATH may not. */
function python(): string {
	if (pythonExe) return pythonExe;
	const candidates = ['python3', '/usr/bin/python3'];
	const ok = (exe: string, mods: string) => spawnSync(exe, ['-c', `import ${mods}`], { stdio: 'ignore' }).status === 0;
	pythonExe = candidates.find((c) => ok(c, 'torch, torchvision, numpy')) ?? candidates.find((c) => ok(c, 'PIL, numpy')) ?? 'python3';
	return pythonExe;
}

function pyHas(modules: string): boolean {
	return spawnSync(python(), ['-c', `import ${modules}`], { stdio: 'ignore' }).status === 0;
}

const PEER_PACKAGES = ['python3-pil', 'python3-opencv', 'python3-torch', 'python3-torchvision', 'python3-numpy'];

/** Missing Debian Python peers are reported with the command; installed only with --install-peers (root, apt-get). */
function ensurePythonPeers(install: boolean, notes: string[]): void {
	if (pyHas('PIL, cv2, torch, torchvision, numpy')) return;
	const command = `apt-get install -y ${PEER_PACKAGES.join(' ')}`;
	const root = typeof process.getuid === 'function' && process.getuid() === 0;
	const apt = spawnSync('sh', ['-c', 'command -v apt-get'], { stdio: 'ignore' }).status === 0;
	if (!install || !root || !apt) {
		const why = !install ? 'run with --install-peers, or install them yourself' : !root ? 'not root' : 'no apt-get';
		notes.push(`Python peers missing, their rows are left out (${why}): ${command}`);
		process.stderr.write(`Python peers (Pillow, OpenCV, PyTorch) are missing: their rows are left out. To install: ${root ? '' : 'sudo '}${command}\n`);
		return;
	}
	process.stderr.write(`Installing the Python peers (--install-peers): ${command}\n`);
	spawnSync('apt-get', ['update'], { stdio: 'ignore' });
	const r = spawnSync('apt-get', ['install', '-y', ...PEER_PACKAGES], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
	if (r.status !== 0) notes.push('apt-get install of the Python peers failed: their rows are missing');
	pythonExe = undefined;
}

function environment(threads: number): Record<string, string> {
	let cpu = os.cpus()[0]?.model ?? '?';
	let flags = '';
	try {
		const info = readFileSync('/proc/cpuinfo', 'utf8');
		const f = /^flags\s*:\s*(.*)$/m.exec(info)?.[1].split(' ') ?? [];
		flags = ['avx2', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'fma'].filter((x) => f.includes(x)).join(' ');
		cpu = /^model name\s*:\s*(.*)$/m.exec(info)?.[1] ?? cpu;
	} catch {
		// not Linux
	}
	const ver = (pkg: string): string => {
		try {
			return (require(`${pkg}/package.json`) as { version: string }).version;
		} catch {
			return 'not installed';
		}
	};
	const py = spawnSync(python(), ['-c', 'import torch, torchvision, cv2, PIL, numpy; print(torch.__version__, torchvision.__version__, cv2.__version__, PIL.__version__, numpy.__version__)'], {
		encoding: 'utf8',
	});
	return {
		cpu,
		flags,
		cores: String(os.cpus().length),
		threads: String(threads),
		memory: `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB`,
		node: process.version,
		tfjs: ver('@tensorflow/tfjs'),
		'tfjs-backend-wasm': ver('@tensorflow/tfjs-backend-wasm'),
		'onnxruntime-node': ver('onnxruntime-node'),
		sharp: (require('sharp') as { versions?: { sharp?: string } }).versions?.sharp ?? '?',
		'python peers (torch, torchvision, opencv, pillow, numpy)': py.status === 0 ? py.stdout.trim() : 'not installed',
		gpu: gpuName(),
		'base device (RADREVIEW_BASE_DEVICE)': process.env.RADREVIEW_BASE_DEVICE || 'auto',
		load: os
			.loadavg()
			.map((x) => x.toFixed(2))
			.join(' '),
	};
}

/** The GPUs nvidia-smi names, so GPU rows say which machine they came from. */
function gpuName(): string {
	const r = spawnSync('nvidia-smi', ['--query-gpu=name,driver_version', '--format=csv,noheader'], { encoding: 'utf8', timeout: 10_000 });
	return r.status === 0 && r.stdout.trim() ? r.stdout.trim().split('\n').join('; ') : 'none (no nvidia-smi)';
}

function normalise(rgb: Uint8Array, mode: Preprocessing, out: Float32Array, offset: number): void {
	const mean = [103.939, 116.779, 123.68];
	for (let p = 0, k = offset; p < rgb.length; p += 3) {
		if (mode === 'caffe') {
			out[k++] = rgb[p + 2] - mean[0];
			out[k++] = rgb[p + 1] - mean[1];
			out[k++] = rgb[p] - mean[2];
		} else for (let c = 0; c < 3; c++) out[k++] = mode === 'tf' ? rgb[p + c] / 127.5 - 1 : rgb[p + c] / 255;
	}
}

async function listImages(data: string): Promise<ImageRecord[]> {
	const out: ImageRecord[] = [];
	for (const cls of ['COVID', 'NORMAL', 'PNEUMONIA'] as const) {
		const dir = path.join(data, cls);
		for (const f of (await fs.readdir(dir)).sort()) {
			if (!/\.(jpe?g|png)$/i.test(f)) continue;
			out.push({ path: path.join(dir, f), relPath: `${cls}/${f}`, label: cls, patientId: `${cls}/${f}` });
		}
	}
	return out;
}

/** Interleave classes so a prefix of the list is balanced. */
function interleave(records: ImageRecord[]): ImageRecord[] {
	const by = new Map<string, ImageRecord[]>();
	for (const r of records) by.set(r.label!, [...(by.get(r.label!) ?? []), r]);
	const lists = [...by.values()];
	const out: ImageRecord[] = [];
	for (let i = 0; out.length < records.length; i++) for (const l of lists) if (i < l.length) out.push(l[i]);
	return out;
}

export interface Row {
	section: string;
	backbone?: string;
	runtime: string;
	b1?: number;
	b16?: number;
	value?: number;
	unit?: string;
	gflops?: number;
	maxRssMB?: number;
	note?: string;
}

/** bench-results.json. */
export interface BenchResult {
	date: string;
	quick: boolean;
	seconds: number;
	sections: string[];
	backbones: string[];
	environment: Record<string, string>;
	rows: Row[];
	notes: string[];
	/** Later runs with --merge: which sections they replaced, when, and the load then. */
	updates?: BenchUpdate[];
}

export interface BenchUpdate {
	date: string;
	sections: string[];
	seconds: number;
	load: string;
	loadAfter: string;
}

const fmt = (x: number | undefined, d = 1): string => (x === undefined || !Number.isFinite(x) ? '–' : x >= 100 ? x.toFixed(0) : x.toFixed(d));

export async function runBench(argv: string[]): Promise<void> {
	const args = parseArgs(argv);
	if (args.child) return runChild(args.child);
	const t0 = performance.now();
	const q = args.quick;
	const notes: string[] = ['Ratios matter more than absolute numbers: the machine may be shared with other work while this runs (see the load average).'];
	const rows: Row[] = [];
	const log = (m: string) => process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(0)} s] ${m}\n`);
	const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'radreview-bench-'));
	const T = args.threads;
	try {
		if (args.sections.has('preprocess') || args.sections.has('forward')) ensurePythonPeers(args.installPeers, notes);
		const env = environment(T);
		log(`${env.cpu} [${env.flags}], ${env.cores} cores, load ${env.load}`);
		const records = interleave(await listImages(args.data));
		if (records.length === 0) throw new Error(`${args.data}: no images`);

		// ---- preprocessing ----
		if (args.sections.has('preprocess')) {
			const n = Math.min(records.length, q ? 24 : 150);
			const subset = records.slice(0, n);
			log(`preprocessing ${n} images`);
			const { benchDecode } = await import('./decodeBench');
			const peers = async (files: string[]) => {
				const py = await pyChild(PY_PREPROCESS, { files, size: SIZE, threads: T }, {}, 600, tmp);
				return py.ok ? { ok: true as const, result: py.result! } : { ok: false as const, error: py.error ?? 'failed' };
			};
			const dec = await benchDecode(subset, { tmp, size: SIZE, rounds: q ? 1 : 3, sharpVersion: env.sharp, peers });
			rows.push(...dec.rows);
			notes.push(...dec.notes);
		}

		// ---- radiograph viewer ----
		if (args.sections.has('viewer')) {
			log('viewer: open a 4000×5000 16-bit DICOM');
			const { benchViewer } = await import('./viewerBench');
			const big = path.resolve(args.data, '../awkward/very_large_4280x3520_gray.jpeg');
			for (const r of await benchViewer(big, tmp, q ? 2 : 5)) rows.push({ section: 'viewer', ...r });
		}

		// ---- the Predictions grid in headless chromium ----
		if (args.sections.has('grid')) {
			log('Predictions grid: 5,000 annotated predictions in headless chromium');
			const { benchGrid } = await import('./gridBench');
			for (const r of await benchGrid(process.cwd(), q)) rows.push({ section: 'grid', ...r });
		}

		// ---- base forward ----
		if (args.sections.has('forward')) {
			const { getBackbone, availableBackbones } = await import('../model/backbones/index');
			const { onnxAvailable } = await import('../runtime/onnx');
			const haveOnnx = await onnxAvailable();
			if (!haveOnnx) notes.push('onnxruntime-node is not installed: no ONNX Runtime rows.');
			const haveTorch = pyHas('torch, torchvision, numpy');
			if (!haveTorch) notes.push('PyTorch (python3-torch, python3-torchvision) not available: no PyTorch rows.');
			const ids = args.backbones.filter((id) => availableBackbones().includes(id));
			const B = q ? [1, 4] : [1, 16];
			const nImg = Math.max(...B);
			// One real batch per preprocessing mode, shared by every child through a file.
			const inputs: Record<string, string> = {};
			const small = 80; // Xception needs ≥ 71
			for (const mode of ['caffe', 'tf'] as const) {
				for (const size of [SIZE, small]) {
					const buf = new Float32Array(nImg * size * size * 3);
					for (let i = 0; i < nImg; i++) {
						const rgb = await sharp(records[i].path).removeAlpha().toColourspace('srgb').resize(size, size, { fit: 'fill' }).raw().toBuffer();
						normalise(new Uint8Array(rgb), mode, buf, i * size * size * 3);
					}
					inputs[`${mode}-${size}`] = path.join(tmp, `input-${mode}-${size}.f32`);
					await fs.writeFile(inputs[`${mode}-${size}`], new Uint8Array(buf.buffer));
				}
			}
			const cacheDir = path.join(tmp, 'onnx');
			const torchArch: Record<string, string> = { vgg16: 'vgg16', resnet50: 'resnet50', resnet50v2: 'resnet50', xception: 'xception' };
			const torchDone = new Map<string, ChildOut>();
			for (const id of ids) {
				const spec = getBackbone(id);
				const input = inputs[`${spec.preprocessing === 'caffe' ? 'caffe' : 'tf'}-${SIZE}`];
				const base = { kind: 'forward' as const, backbone: id, input, threads: T, cacheDir, size: SIZE };
				const addRow = (runtime: string, out: ChildOut, gmacs: number, note?: string, scale = 1) => {
					if (!out.ok) {
						rows.push({ section: 'forward', backbone: spec.displayName, runtime, note: `failed: ${out.error}` });
						return;
					}
					const r = out.result!;
					const ips = (b: number) => (typeof r[`b${b}`] === 'number' ? b / (r[`b${b}`] as number) / scale : undefined);
					const best = Math.max(ips(B[0]) ?? 0, ips(B[1]) ?? 0);
					rows.push({
						section: 'forward',
						backbone: spec.displayName,
						runtime: String(r.runtime ?? runtime),
						b1: ips(B[0]),
						b16: ips(B[1]),
						gflops: 2 * gmacs * best,
						maxRssMB: r.maxRssMB as number,
						note,
					});
				};
				const heavy = id === 'vgg16' ? 1 : 2; // WASM iterations: VGG16 is 3–4× the others' cost
				const ours = async () => {
					if (!haveOnnx) return;
					log(`${id}: ONNX Runtime (ours)`);
					addRow('onnx', await nodeChild({ ...base, runtime: 'onnx', batches: B, minSeconds: q ? 1 : 3, maxIters: 20 }, {}, 600), spec.gmacs, 'our TypeScript export of the tfjs model');
				};
				// Ours runs right before ONNX Runtime on the PyTorch export, so the pair sees the same machine load.
				if (!haveTorch) await ours();
				log(`${id}: WASM threads`);
				addRow('wasm-threads', await nodeChild({ ...base, runtime: 'wasm-threads', batches: B, minSeconds: 0, maxIters: heavy }, {}, 900), spec.gmacs);
				log(`${id}: WASM 1 thread`);
				addRow(
					'wasm-1',
					await nodeChild({ ...base, runtime: 'wasm-1', batches: q ? [1] : [1, 16].slice(0, id === 'vgg16' ? 1 : 2), minSeconds: 0, maxIters: 1 }, { RADREVIEW_WASM_THREADS: '0' }, 900),
					spec.gmacs,
				);
				if (!q) {
					log(`${id}: pure JS (64×64, extrapolated)`);
					const smallInput = inputs[`${spec.preprocessing === 'caffe' ? 'caffe' : 'tf'}-${small}`];
					const scale = (SIZE * SIZE) / (small * small);
					addRow(
						'cpu',
						await nodeChild({ ...base, runtime: 'cpu', input: smallInput, size: small, batches: [1], minSeconds: 0, maxIters: 1 }, { RADREVIEW_BACKEND: 'cpu' }, 600),
						spec.gmacs,
						`measured at ${small}×${small}, scaled by pixel count ×${scale.toFixed(1)}`,
						scale,
					);
				}
				if (haveTorch) {
					const arch = torchArch[id];
					let out = torchDone.get(arch);
					if (!out) {
						log(`${id}: PyTorch (${arch})`);
						const onnxOut = haveOnnx ? path.join(tmp, `torch-${arch}.onnx`) : undefined;
						out = await pyChild(PY_TORCH, { arch, input, size: SIZE, threads: T, batches: B, minSeconds: q ? 1 : 3, maxIters: 10, onnxOut }, TORCH_MALLOC, 900, tmp);
						torchDone.set(arch, out);
					}
					const stand = arch === 'resnet50' && id === 'resnet50v2' ? 'ResNet50 v1 as stand-in' : arch === 'xception' ? 'Xception-shaped nn.Module' : 'torchvision';
					const r = out.result;
					await ours();
					addRow('torch', out.ok ? { ...out, result: { ...r, runtime: `PyTorch ${r?.torch} (${T} threads, tuned malloc)` } } : out, spec.gmacs, stand);
					if (out.ok && r?.onnx) {
						log(`${id}: ONNX Runtime on the PyTorch export`);
						addRow('onnx-torch', await nodeChild({ ...base, runtime: 'onnx-torch', onnxFile: String(r.onnx), batches: B, minSeconds: q ? 1 : 3, maxIters: 20 }, {}, 600), spec.gmacs, stand);
					} else if (out.ok && r?.onnxError) notes.push(`torch.onnx.export ${arch}: ${r.onnxError}`);
				}
			}
		}

		// ---- training ----
		if (args.sections.has('train')) {
			for (const id of q ? (['vgg16'] as BackboneId[]) : (['vgg16', 'resnet50v2'] as BackboneId[])) {
				if (!args.backbones.includes(id)) continue;
				// All 80 epochs: the fused head trainer takes seconds even on ResNet50V2's 32,768-float features.
				const epochs = q ? 5 : 80;
				log(`${id}: head training, ${epochs} epochs on 600 cached feature vectors`);
				const out = await nodeChild({ kind: 'train', backbone: id, n: 600, epochs, batchSize: 15 }, {}, 900);
				if (!out.ok) {
					rows.push({ section: 'train', backbone: id, runtime: 'head on cached features', note: `failed: ${out.error}` });
					continue;
				}
				const s80 = ((out.result!.seconds as number) * 80) / epochs;
				rows.push({
					section: 'train',
					backbone: id,
					runtime: `ours: head on 600 cached feature vectors (${out.result!.headTrainer}; ${out.result!.backend})`,
					value: s80,
					unit: 's / 80 epochs',
					maxRssMB: out.result!.maxRssMB as number,
					note: epochs === 80 ? undefined : `${epochs} epochs measured, scaled to 80`,
				});
				// The reference: every epoch forwards all images through the frozen base (tfjs WASM, default threads).
				const fwd = rows.find((r) => r.section === 'forward' && r.backbone?.toLowerCase() === id && /WASM \(SIMD, 1 thread/.test(r.runtime));
				const ips = fwd ? Math.max(fwd.b1 ?? 0, fwd.b16 ?? 0) : undefined;
				if (ips)
					rows.push({
						section: 'train',
						backbone: id,
						runtime: 'reference: frozen base forward every epoch (tfjs WASM default, 1 thread)',
						value: (600 * 80) / ips + s80,
						unit: 's / 80 epochs',
						note: `extrapolated from ${fmt(ips)} img/s measured above + head time`,
					});
				const cache = rows.find((r) => r.section === 'forward' && r.backbone?.toLowerCase() === id && /onnxruntime-node .*CPU/.test(r.runtime));
				const cips = cache ? Math.max(cache.b1 ?? 0, cache.b16 ?? 0) : undefined;
				if (cips)
					rows.push({
						section: 'train',
						backbone: id,
						runtime: 'ours incl. caching the 600 features once (ONNX Runtime)',
						value: 600 / cips + s80,
						unit: 's total',
						note: 'features extracted once, head trained 80 epochs',
					});
			}
		}

		// ---- report card and Grad-CAM ----
		if (args.sections.has('report')) {
			log('report card, 1000 predictions × 1000 bootstrap resamples');
			const { benchReport } = await import('./explainBench');
			rows.push(...(await benchReport(q)));
		}
		if (args.sections.has('gradcam')) {
			const id: BackboneId = args.backbones.includes('vgg16') ? 'vgg16' : args.backbones[0];
			log(`Grad-CAM per image (${id})`);
			const { benchGradcam } = await import('./explainBench');
			rows.push(...(await benchGradcam(records, id, SIZE, q)));
		}

		// ---- classify ----
		if (args.sections.has('classify')) {
			const perClass = q ? 5 : 40;
			const id: BackboneId = args.backbones.includes('resnet50v2') ? 'resnet50v2' : args.backbones[0];
			log(`classify a folder of ${perClass * 3} images (${id})`);
			const out = await nodeChild({ kind: 'classify', backbone: id, data: args.data, perClass, work: path.join(tmp, 'classify') }, {}, 900);
			if (out.ok) {
				const r = out.result!;
				rows.push({
					section: 'classify',
					backbone: id,
					runtime: `radreview classify, end to end, cold caches (${r.backend})`,
					value: (r.images as number) / (r.seconds as number),
					unit: 'img/s',
					maxRssMB: r.maxRssMB as number,
					note: `${r.images} images; peak RSS includes a 30-image training run before it`,
				});
			} else rows.push({ section: 'classify', backbone: id, runtime: 'radreview classify', note: `failed: ${out.error}` });
		}

		// ---- int8 base against fp32 ----
		if (args.sections.has('int8')) {
			const { benchInt8, INT8_BENCH_NOTE } = await import('./int8Bench');
			try {
				const r8 = await benchInt8(args.backbones, records, { workDir: path.join(tmp, 'int8'), threads: T, calib: q ? 8 : 64, check: q ? 4 : 32, seconds: q ? 3 : 20, log });
				for (const r of r8) {
					const fidelity = `pooled-feature cosine vs fp32 on ${r.check} held-out images: min ${r.cosineMin.toFixed(4)}, p1 ${r.cosineP1.toFixed(4)}`;
					rows.push({
						section: 'int8',
						backbone: r.backbone,
						runtime: `onnxruntime-node int8 vs fp32, batch 8 (${r.pretrained ? 'pretrained' : 'random weights: fidelity not meaningful'})`,
						b1: r.fp32,
						b16: r.int8,
						value: r.int8 / r.fp32,
						unit: '× fp32',
						note: `${fidelity}; ${r.accepted ? 'kept' : 'a run would stay fp32'}; calibrated on ${r.calibration}`,
					});
				}
				notes.push(INT8_BENCH_NOTE);
			} catch (e) {
				rows.push({ section: 'int8', runtime: 'int8 base', note: `failed: ${(e as Error).message.split('\n')[0]}` });
			}
		}

		// ---- sharding: 1, 2 and 4 concurrent shards measured, extrapolated to NIH ChestX-ray14 ----
		if (args.sections.has('shard')) {
			const { benchShards } = await import('./shardBench');
			try {
				rows.push(...(await benchShards(records, { tmp, images: q ? 12 : 48, quick: q, log })));
			} catch (e) {
				rows.push({ section: 'shard', backbone: 'resnet50', runtime: 'sharded feature extraction', note: `failed: ${(e as Error).message.split('\n')[0]}` });
			}
		}

		// ---- audit ----
		if (args.sections.has('audit')) {
			log('audit of the dataset, cold then warm (resnet50, offline weights)');
			const out = await nodeChild({ kind: 'audit', data: args.data, work: path.join(tmp, 'audit') }, {}, 3600);
			if (out.ok) {
				const r = out.result!;
				rows.push({
					section: 'audit',
					backbone: 'resnet50',
					runtime: 'radreview audit, cold caches (decode + features + analysis)',
					value: r.cold as number,
					unit: 's',
					maxRssMB: r.maxRssMB as number,
					note: `${r.images} images`,
				});
				rows.push({ section: 'audit', backbone: 'resnet50', runtime: 'radreview audit, warm features (goal < 10 s for 600)', value: r.warm as number, unit: 's', note: `${r.images} images` });
			} else rows.push({ section: 'audit', backbone: 'resnet50', runtime: 'radreview audit', note: `failed: ${out.error}` });
		}

		const envAfter = environment(T);
		// The sections and backbones asked for: what a renderer may call "not measured yet" rather than missing.
		let result: BenchResult = {
			date: new Date().toISOString(),
			quick: q,
			seconds: (performance.now() - t0) / 1000,
			sections: [...args.sections],
			backbones: args.backbones,
			environment: { ...env, loadAfter: envAfter.load },
			rows,
			notes,
		};
		if (args.merge) result = mergeResults(JSON.parse(await fs.readFile(path.join(args.out, 'bench-results.json'), 'utf8')) as BenchResult, result);
		const md = toMarkdown(result);
		await fs.mkdir(args.out, { recursive: true });
		const { writeFileAtomic, writeJsonAtomic } = await import('../util/atomic');
		await writeJsonAtomic(path.join(args.out, 'bench-results.json'), result);
		await writeFileAtomic(path.join(args.out, 'bench-results.md'), md);
		process.stdout.write(md);
		log(`done; wrote ${path.join(args.out, 'bench-results.{json,md}')} (npm run bench:render puts the JSON's figures into README.md and docs/PERFORMANCE.md)`);
	} finally {
		await fs.rm(tmp, { recursive: true, force: true });
	}
}

/** `old` with the sections `now` measured replaced by its rows (in section order), and the update recorded. */
export function mergeResults(old: BenchResult, now: BenchResult): BenchResult {
	const fresh = new Set(now.sections);
	const measured = new Set(now.backbones.map((b) => b.toLowerCase()));
	// A row is replaced when its section was re-measured and its backbone too (rows of other backbones stay).
	const replaced = (r: Row) =>
		fresh.has(r.section) && (r.backbone === undefined || measured.has(r.backbone.toLowerCase()) || !old.backbones.some((b) => b.toLowerCase() === r.backbone!.toLowerCase()));
	const rows: Row[] = [];
	const placed = new Set<string>();
	for (const r of old.rows) {
		if (!replaced(r)) rows.push(r);
		else if (!placed.has(r.section)) {
			placed.add(r.section);
			rows.push(...now.rows.filter((x) => x.section === r.section));
		}
	}
	for (const r of now.rows) if (!placed.has(r.section)) rows.push(r);
	// A note re-measured replaces its old version (same opening words, e.g. "int8:").
	const head = (n: string) => n.split(' ').slice(0, 2).join(' ');
	const notes = [...old.notes.filter((n) => !now.notes.some((x) => head(x) === head(n) && x !== n)), ...now.notes.filter((n) => !old.notes.includes(n))];
	const update: BenchUpdate = { date: now.date, sections: now.sections, seconds: now.seconds, load: now.environment.load, loadAfter: now.environment.loadAfter };
	return { ...old, sections: [...new Set([...old.sections, ...now.sections])], rows, notes, updates: [...(old.updates ?? []), update] };
}

function toMarkdown(r: BenchResult): string {
	const e = r.environment;
	const L: string[] = [];
	L.push(`# radreview bench${r.quick ? ' (--quick)' : ''}`, '');
	L.push(
		`${r.date}; ${e.cpu} [${e.flags}]; ${e.cores} cores, ${e.threads} threads used; ${e.memory}; Node ${e.node}; tfjs ${e.tfjs}, tfjs-backend-wasm ${e['tfjs-backend-wasm']}, onnxruntime-node ${e['onnxruntime-node']}, sharp ${e.sharp}; Python peers: ${e['python peers (torch, torchvision, opencv, pillow, numpy)']}. Load average before/after: ${e.load} / ${e.loadAfter}. Took ${r.seconds.toFixed(0)} s.`,
		'',
	);
	const pre = r.rows.filter((x) => x.section === 'preprocess');
	if (pre.length) {
		L.push('## Preprocessing (decode + resize to 237×237 RGB)', '', '| tool | images/s | note |', '|---|---:|---|');
		// Ratio rows carry their unit (×) in the value column.
		for (const x of pre) L.push(`| ${x.runtime} | ${x.unit === '×' ? `${fmt(x.value, 2)}×` : fmt(x.value)} | ${x.note ?? ''} |`);
		L.push('');
	}
	const vw = r.rows.filter((x) => x.section === 'viewer');
	if (vw.length) {
		L.push('## Radiograph Viewer (4000×5000, 16-bit DICOM; target: open < 1 s)', '', '| what | ms | note |', '|---|---:|---|');
		for (const x of vw) L.push(`| ${x.runtime} | ${fmt(x.value, 0)} | ${x.note ?? ''} |`);
		L.push('');
	}
	const gr = r.rows.filter((x) => x.section === 'grid');
	if (gr.length) {
		L.push('## Predictions grid (webview, headless chromium; goals: first paint < 1 s, updates < 50 ms)', '', '| what | value | unit | note |', '|---|---:|---|---|');
		for (const x of gr) L.push(`| ${x.runtime} | ${fmt(x.value)} | ${x.unit ?? ''} | ${x.note ?? ''} |`);
		L.push('');
	}
	const fw = r.rows.filter((x) => x.section === 'forward');
	if (fw.length) {
		const bs = r.quick ? '1 / 4' : '1 / 16';
		L.push(
			`## Base forward at 237×237 (images/s at batch ${bs}; GFLOP/s = 2 × GMAC × best img/s)`,
			'',
			`| backbone | runtime | img/s b${bs.split(' / ')[0]} | img/s b${bs.split(' / ')[1]} | GFLOP/s | peak RSS MB | note |`,
			'|---|---|---:|---:|---:|---:|---|',
		);
		for (const x of fw) L.push(`| ${x.backbone} | ${x.runtime} | ${fmt(x.b1, 2)} | ${fmt(x.b16, 2)} | ${fmt(x.gflops)} | ${fmt(x.maxRssMB, 0)} | ${x.note ?? ''} |`);
		L.push('');
		// Ratios against the targets.
		const ratios: string[] = [];
		for (const bb of [...new Set(fw.map((x) => x.backbone))]) {
			const best = (re: RegExp) => {
				const row = fw.find((x) => x.backbone === bb && re.test(x.runtime));
				return row ? Math.max(row.b1 ?? 0, row.b16 ?? 0) : undefined;
			};
			const ours = best(/onnxruntime-node .*\(CPU/);
			const ortTorch = best(/PyTorch-exported/);
			const torch = best(/^PyTorch/);
			const wasm1 = best(/WASM \(SIMD, 1 thread/);
			const wasmT = best(/WASM \(SIMD, [2-9]/);
			const part = [`**${bb}**`];
			if (ours && ortTorch) part.push(`ours / ORT-on-PyTorch-export = ${(ours / ortTorch).toFixed(2)}× (target ≥ 0.9×)`);
			if (ours && torch) part.push(`ours / PyTorch = ${(ours / torch).toFixed(2)}× (target ≥ 2×)`);
			if (wasmT && wasm1) part.push(`WASM threads / 1 thread = ${(wasmT / wasm1).toFixed(2)}×`);
			if (ours && wasm1) part.push(`ours / tfjs default = ${(ours / wasm1).toFixed(1)}×`);
			ratios.push(`- ${part.join('; ')}`);
		}
		L.push('Ratios (best batch size of each):', '', ...ratios, '');
	}
	const tr = r.rows.filter((x) => x.section === 'train' || x.section === 'classify' || x.section === 'audit');
	if (tr.length) {
		L.push('## Training, classification and audit', '', '| backbone | what | value | unit | peak RSS MB | note |', '|---|---|---:|---|---:|---|');
		for (const x of tr) L.push(`| ${x.backbone ?? ''} | ${x.runtime} | ${fmt(x.value)} | ${x.unit ?? ''} | ${fmt(x.maxRssMB, 0)} | ${x.note ?? ''} |`);
		L.push('');
	}
	const i8 = r.rows.filter((x) => x.section === 'int8');
	if (i8.length) {
		L.push('## int8 base against fp32 (same process, interleaved)', '', '| backbone | what | fp32 img/s | int8 img/s | int8 / fp32 | note |', '|---|---|---:|---:|---:|---|');
		for (const x of i8) L.push(`| ${x.backbone ?? ''} | ${x.runtime} | ${fmt(x.b1)} | ${fmt(x.b16)} | ${fmt(x.value, 2)} | ${x.note ?? ''} |`);
		L.push('');
	}
	const sh = r.rows.filter((x) => x.section === 'shard');
	if (sh.length) {
		L.push('## Datasets larger than one machine (docs/SCALE.md)', '', '| backbone | what | value | unit | note |', '|---|---|---:|---|---|');
		for (const x of sh) L.push(`| ${x.backbone ?? ''} | ${x.runtime} | ${fmt(x.value)} | ${x.unit ?? ''} | ${x.note ?? ''} |`);
		L.push('');
	}
	const ex = r.rows.filter((x) => x.section === 'report' || x.section === 'gradcam');
	if (ex.length) {
		L.push('## Report card and Grad-CAM', '', '| backbone | what | value | unit | note |', '|---|---|---:|---|---|');
		for (const x of ex) L.push(`| ${x.backbone ?? ''} | ${x.runtime} | ${fmt(x.value, 2)} | ${x.unit ?? ''} | ${x.note ?? ''} |`);
		L.push('');
	}
	if (r.notes.length) L.push('Notes:', '', ...r.notes.map((n) => `- ${n}`), '');
	return L.join('\n');
}
