// Head-training micro-benchmark: 80 epochs on 600 seeded stand-in feature vectors (540 train, 60 validation),
// batch 15, Adam 1e-3, dropout 0.2, ReduceLROnPlateau, as `radreview bench` measures it, for either engine.
//   node --import tsx src/engine/bench/headBench.ts [--dims 4608,32768] [--epochs 80] [--engine auto|tfjs|both]
// --epochs below 80 is scaled to 80 in the printed "s / 80 epochs".
import { DEFAULT_TRAIN_CONFIG } from '../types';
import { initBackend, shutdownBackend } from '../model/tf';
import { buildHead } from '../model/head';
import { trainHead, type HeadEngine } from '../train/train';

export interface HeadBenchResult {
	dim: number;
	engine: HeadEngine;
	epochs: number;
	seconds: number;
	secondsPer80: number;
	finalLoss: number;
}

/** Trains one head on n seeded vectors of `dim` floats (ReLU-like: a third zeros, the rest in [0, 2)). */
export async function benchHead(dim: number, engine: HeadEngine, epochs = 80, n = 600): Promise<HeadBenchResult> {
	let s = 12345;
	const feats = new Float32Array(n * dim);
	for (let i = 0; i < feats.length; i++) {
		s = (s * 1664525 + 1013904223) >>> 0;
		feats[i] = s % 3 === 0 ? 0 : (s / 2 ** 32) * 2;
	}
	const labels = Array.from({ length: n }, (_, i) => i % 3);
	const nVal = Math.round(n * 0.1);
	const train = { feats: feats.subarray(0, (n - nVal) * dim), labels: labels.slice(0, n - nVal), n: n - nVal, dim };
	const val = { feats: feats.subarray((n - nVal) * dim), labels: labels.slice(n - nVal), n: nVal, dim };
	// Any [h, w, c] whose 2×2-pooled size is `dim` will do: [2, 2, dim] pools to [1, 1, dim].
	const head = buildHead({ baseShape: [2, 2, dim], dropout: 0.2, seed: 1 });
	try {
		const t0 = performance.now();
		const { history } = await trainHead(head, train, val, { epochs, batchSize: 15, learningRate: 1e-3, seed: 1, reduceLr: DEFAULT_TRAIN_CONFIG.reduceLr, engine });
		const seconds = (performance.now() - t0) / 1000;
		return { dim, engine, epochs, seconds, secondsPer80: (seconds * 80) / epochs, finalLoss: history[history.length - 1].loss };
	} finally {
		head.model.dispose();
	}
}

async function main(argv: string[]): Promise<void> {
	const arg = (name: string, dflt: string) => {
		const i = argv.indexOf(`--${name}`);
		return i >= 0 && argv[i + 1] ? argv[i + 1] : dflt;
	};
	const dims = arg('dims', '4608,32768').split(',').map(Number);
	const epochs = Number(arg('epochs', '80'));
	const which = arg('engine', 'auto');
	const engines: HeadEngine[] = which === 'both' ? ['tfjs', 'auto'] : [which as HeadEngine];
	const report = await initBackend('wasm');
	console.log(`backend: ${report.label}`);
	for (const dim of dims) {
		for (const engine of engines) {
			const r = await benchHead(dim, engine, epochs);
			console.log(`dim ${dim} engine ${engine}: ${r.seconds.toFixed(2)} s for ${epochs} epochs = ${r.secondsPer80.toFixed(2)} s / 80 epochs (final loss ${r.finalLoss.toFixed(5)})`);
		}
	}
	shutdownBackend();
}

if (require.main === module) {
	main(process.argv.slice(2)).catch((e) => {
		console.error(e);
		process.exit(1);
	});
}
