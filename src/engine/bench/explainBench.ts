// Bench rows of the report card and of Grad-CAM: the card for 1,000 predictions with 1,000 patient-level bootstrap
// resamples (goal < 2 s), and Grad-CAM per image as one forward pass of the base plus the map (goal ≤ 20 ms on top).
import { CLASS_NAMES, type BackboneId, type ImageRecord, type Prediction } from '../types';
import { Prng } from '../train/prng';

export interface ExplainBenchRow {
	section: string;
	backbone?: string;
	runtime: string;
	value?: number;
	unit?: string;
	note?: string;
}

/** 1,000 synthetic predictions over 500 patients (two images each), with signal, for timing only. */
function syntheticPredictions(n: number, seed: number): Prediction[] {
	const rng = new Prng(seed);
	return Array.from({ length: n }, (_, i) => {
		const t = Math.floor(rng.next() * 3);
		const e = [0, 1, 2].map((c) => Math.exp((c === t ? 1.5 : 0) + rng.next() * 2));
		const s = e.reduce((a, b) => a + b, 0);
		const probs = e.map((v) => v / s);
		const best = probs.indexOf(Math.max(...probs));
		return { relPath: `p${i >> 1}/${i}.png`, path: `/bench/${i}.png`, label: CLASS_NAMES[t], predicted: CLASS_NAMES[best], probs, split: i % 5 === 0 ? 'val' : 'test' };
	});
}

/** Report card timing: median of three builds. */
export async function benchReport(quick: boolean): Promise<ExplainBenchRow[]> {
	const { buildReport } = await import('../report/report');
	const n = 1000;
	const preds = syntheticPredictions(Math.round(n / 0.8), 3).slice(0, 1250);
	const test = preds.filter((p) => p.split === 'test');
	const patients = new Map(preds.map((p) => [p.relPath, { patientId: p.relPath.split('/')[0], source: 'bench' }]));
	const times: number[] = [];
	for (let k = 0; k < (quick ? 1 : 3); k++) {
		const t = performance.now();
		buildReport({
			run: { name: 'bench', backbone: 'bench', createdAt: '', backend: '' },
			predictions: preds,
			patients,
			splitMode: 'patient',
			seed: 1,
			leakedPatients: 0,
			weights: { pretrained: true, name: 'bench' },
			resamples: 1000,
		});
		times.push((performance.now() - t) / 1000);
	}
	times.sort((a, b) => a - b);
	return [
		{
			section: 'report',
			runtime: `report card: ${test.length} test predictions, 1000 patient-level bootstrap resamples (+ curves, calibration, operating point)`,
			value: times[Math.floor(times.length / 2)],
			unit: 's',
			note: 'goal < 2 s',
		},
	];
}

/**
 * Grad-CAM per image on real radiographs: the base's forward pass for one image (ONNX Runtime when it loads) and the
 * analytic map with its where-it-looks shares. Random base weights: the arithmetic and the timing do not depend on them.
 */
export async function benchGradcam(records: ImageRecord[], backbone: BackboneId, size: number, quick: boolean): Promise<ExplainBenchRow[]> {
	const { initBackend } = await import('../model/tf');
	const { buildBackbone, getBackbone } = await import('../model/backbones/index');
	const { buildHead, headWeightsOf } = await import('../model/head');
	const { createExtractor } = await import('../train/base');
	const { decodeToRgb } = await import('../data/decode');
	const { normalise } = await import('../data/preprocess');
	const { gradCam, whereItLooks } = await import('../explain/gradcam');
	const os = await import('node:os');
	const path = await import('node:path');
	await initBackend('auto');
	const spec = getBackbone(backbone);
	const model = buildBackbone(backbone, size, { seed: 1 });
	const fx = await createExtractor(model, spec, size, 'auto', { cacheDir: path.join(os.tmpdir(), 'radreview-bench-onnx'), weightsSha: 'bench-seed-1' });
	const head = buildHead({ baseShape: spec.outputShape(size), dropout: 0.2, seed: 1 });
	const wts = headWeightsOf(head);
	const [h, w, c] = fx.outputShape;
	const batch = new Float32Array(size * size * 3);
	const n = Math.min(records.length, quick ? 4 : 20);
	let forward = 0;
	let cam = 0;
	try {
		for (let i = -1; i < n; i++) {
			const img = await decodeToRgb(records[Math.max(0, i)].path, { size, resize: 'stretch' });
			normalise(img.rgb, spec.preprocessing, batch, 0);
			const t0 = performance.now();
			const raw = await fx.extract(batch, 1);
			const t1 = performance.now();
			const g = gradCam({ data: raw, h, w, c }, wts);
			whereItLooks(g.map, h, w);
			const t2 = performance.now();
			// i = −1 warms up kernels and sessions.
			if (i >= 0) {
				forward += t1 - t0;
				cam += t2 - t1;
			}
		}
	} finally {
		head.model.dispose();
		await fx.dispose();
		model.dispose();
	}
	return [
		{ section: 'gradcam', backbone: spec.displayName, runtime: `base forward, 1 image (${fx.runtime})`, value: forward / n, unit: 'ms / image' },
		{
			section: 'gradcam',
			backbone: spec.displayName,
			runtime: 'Grad-CAM map + where-it-looks, on top of the forward',
			value: cam / n,
			unit: 'ms / image',
			note: `goal ≤ 20 ms; ${n} real radiographs at ${size} px`,
		},
	];
}
