// Bench rows for the int8 base: speed against fp32 in the same process (interleaved, so load hits both alike) and
// the fidelity the product would judge it by. Backbones without pretrained weights here run on seeded random
// weights: their speed is real, their fidelity says nothing about ImageNet features and is marked so.
import * as path from 'node:path';
import sharp from 'sharp';
import type { BackboneId, ImageRecord } from '../types';
import { getBackbone } from '../model/backbones/index';
import { poolFeatures } from '../model/head';
import { normalise } from '../data/preprocess';
import { prepareBase } from '../train/base';
import { buildOnnxModel } from '../runtime/onnxGraph';
import { encodeModel } from '../runtime/onnxProto';
import { buildInt8, INT8_MIN_COSINE, type CalibrationImage } from '../runtime/int8';
import { loadOrt } from '../runtime/onnx';

export interface Int8Row {
	backbone: string;
	fp32: number;
	int8: number;
	cosineMin: number;
	cosineP1: number;
	pretrained: boolean;
	accepted: boolean;
	calibration: number;
	check: number;
}

/** Calibrates each backbone on `calib` images, checks on `check` others, and times batch-8 forwards of both graphs. */
export async function benchInt8(
	backbones: BackboneId[],
	records: ImageRecord[],
	o: { workDir: string; threads: number; calib: number; check: number; seconds: number; log: (m: string) => void },
): Promise<Int8Row[]> {
	const ort = loadOrt();
	const rows: Int8Row[] = [];
	const size = 237;
	for (const id of backbones) {
		const spec = getBackbone(id);
		let base = await prepareBase(spec, 'auto', size, 1, { workDir: o.workDir }).catch(() => undefined);
		base ??= await prepareBase(spec, 'none', size, 1, { workDir: o.workDir });
		o.log(`int8 ${spec.displayName} (${base.info.pretrained ? 'pretrained' : 'random weights'}): calibrating on ${o.calib} images`);
		const model = await base.build();
		try {
			const def = buildOnnxModel(model).def;
			const load = async (r: ImageRecord): Promise<CalibrationImage> => {
				const rgb = await sharp(r.path).removeAlpha().toColourspace('srgb').resize(size, size, { fit: 'fill' }).raw().toBuffer();
				return { sha256: path.basename(r.path), x: normalise(new Uint8Array(rgb), spec.preprocessing) };
			};
			const images = await Promise.all(records.slice(0, o.calib + o.check).map(load));
			const pool = (raw: Float32Array) => poolFeatures(raw, 1, spec.outputShape(size));
			const built = await buildInt8(ort, def, images.slice(0, o.calib), images.slice(o.calib), { size, threads: o.threads, pool });
			const int8Bytes = built.bytes ?? (await import('../runtime/int8')).int8FromRanges(def, built.ranges);
			const opts = { graphOptimizationLevel: 'all' as const, intraOpNumThreads: o.threads, interOpNumThreads: 1, executionMode: 'sequential' as const };
			const s32 = await ort.InferenceSession.create(encodeModel(def), opts);
			const s8 = await ort.InferenceSession.create(int8Bytes, opts);
			const B = 8;
			const batch = new Float32Array(B * size * size * 3);
			for (let i = 0; i < B; i++) batch.set(images[i % images.length].x, i * size * size * 3);
			const time = { fp32: 0, int8: 0 };
			const n = { fp32: 0, int8: 0 };
			const t0 = performance.now();
			// Interleaved, one warm-up each, until the time budget is spent.
			for (let round = 0; round < 2 || performance.now() - t0 < o.seconds * 1000; round++) {
				for (const [k, s] of [
					['fp32', s32],
					['int8', s8],
				] as const) {
					const t = performance.now();
					await s.run({ input: new ort.Tensor('float32', batch, [B, size, size, 3]) });
					if (round > 0) {
						time[k] += performance.now() - t;
						n[k] += B;
					}
				}
				if (round > 50) break;
			}
			await s32.release();
			await s8.release();
			const r = built.report;
			rows.push({
				backbone: spec.displayName,
				fp32: (n.fp32 / time.fp32) * 1000,
				int8: (n.int8 / time.int8) * 1000,
				cosineMin: r.cosineMin,
				cosineP1: r.cosineP1,
				pretrained: base.info.pretrained,
				accepted: r.accepted,
				calibration: r.calibrationImages,
				check: r.checkImages,
			});
		} finally {
			model.dispose();
		}
	}
	return rows;
}

export const INT8_BENCH_NOTE = `int8: QDQ graph (per-channel int8 weights, uint8 activations; input and residual sums float), calibrated on the bench images; a run keeps int8 only when the pooled-feature cosine's 1st percentile is ≥ ${INT8_MIN_COSINE}. Paired test agreement and McNemar's test are per run (metrics.json int8).`;
