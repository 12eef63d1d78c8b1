// One-off measurement of int8 recipes on pretrained ResNet50 (docs/PERFORMANCE.md): calibrate on N dev images,
// check the pooled-feature cosine to fp32 on M others. Run: node --import tsx scripts/int8Steps.ts N M
import * as path from 'node:path';
import { promises as fs } from 'node:fs';
import sharp from 'sharp';
import { getBackbone } from '../src/engine/model/backbones/index';
import { poolFeatures } from '../src/engine/model/head';
import { normalise } from '../src/engine/data/preprocess';
import { prepareBase } from '../src/engine/train/base';
import { buildOnnxModel, ONNX_INPUT, ONNX_OUTPUT } from '../src/engine/runtime/onnxGraph';
import { encodeModel } from '../src/engine/runtime/onnxProto';
import { cosine } from '../src/engine/runtime/int8';
import { loadOrt } from '../src/engine/runtime/onnx';
import { activationTensors, quantizeModel, RangeObserver, withObservedOutputs, type QuantizeOptions } from '../src/engine/runtime/quantize';
import { createHash } from 'node:crypto';

async function main() {
	const NCAL = Number(process.argv[2] ?? 64),
		NCHK = Number(process.argv[3] ?? 64);
	const ort = loadOrt();
	const spec = getBackbone('resnet50');
	const size = 237;
	const base = await prepareBase(spec, 'auto', size, 1, { workDir: '/tmp/h24-int8work' });
	console.log('pretrained', base.info.pretrained);
	const model = await base.build();
	const def = buildOnnxModel(model).def;
	const dev = path.resolve('../shared/cxr/dev');
	const files: string[] = [];
	for (const c of ['COVID', 'NORMAL', 'PNEUMONIA']) for (const f of await fs.readdir(path.join(dev, c))) files.push(path.join(dev, c, f));
	const keyed = files.map((f) => ({ f, k: createHash('sha256').update(f).digest('hex') })).sort((a, b) => (a.k < b.k ? -1 : 1));
	const load = async (f: string) => normalise(new Uint8Array(await sharp(f).removeAlpha().toColourspace('srgb').resize(size, size, { fit: 'fill' }).raw().toBuffer()), spec.preprocessing);
	const cal = await Promise.all(keyed.slice(0, NCAL).map((x) => load(x.f)));
	const chk = await Promise.all(keyed.slice(NCAL, NCAL + NCHK).map((x) => load(x.f)));
	const pool = (raw: Float32Array) => poolFeatures(raw, 1, spec.outputShape(size));
	const opts = { graphOptimizationLevel: 'all' as const, intraOpNumThreads: 2, interOpNumThreads: 1, executionMode: 'sequential' as const };
	const T = (x: Float32Array) => new ort.Tensor('float32', x, [1, size, size, 3]);
	const s32 = await ort.InferenceSession.create(encodeModel(def), opts);
	const ref: Float32Array[] = [];
	for (const x of chk) ref.push(pool((await s32.run({ [ONNX_INPUT]: T(x) }))[ONNX_OUTPUT].data as Float32Array));
	await s32.release();
	const tensors = activationTensors(def);
	const pcts = [1, 0.99999, 0.9999];
	const obs = pcts.map((p) => new RangeObserver(p));
	const cs = await ort.InferenceSession.create(encodeModel(withObservedOutputs(def, tensors)), { ...opts, graphOptimizationLevel: 'basic' });
	for (const x of cal) {
		const r = await cs.run({ [ONNX_INPUT]: T(x) });
		for (const t of tensors) for (const o of obs) o.observe(t, r[t].data as Float32Array);
	}
	await cs.release();
	console.log('calibrated', new Date().toISOString());
	const variants: [string, number, QuantizeOptions][] = [];
	const baseO = { floatInput: true, floatAdds: true };
	const sel = process.argv[4] ?? 'all';
	variants.push(['minmax in+adds float', 0, baseO]);
	variants.push(['p0.99999 in+adds float', 1, baseO]);
	variants.push(['p0.9999 in+adds float', 2, baseO]);
	variants.push(['p0.99999 +stem+last block', 1, { ...baseO, floatNodes: ['conv1_', 'conv5_block3_'] }]);
	variants.push(['p0.9999 +stem+last block', 2, { ...baseO, floatNodes: ['conv1_', 'conv5_block3_'] }]);
	variants.push(['minmax +stem+last block', 0, { ...baseO, floatNodes: ['conv1_', 'conv5_block3_'] }]);
	variants.push(['p0.9999 +stem+conv5', 2, { ...baseO, floatNodes: ['conv1_', 'conv5_'] }]);
	for (const [name, i, o] of variants) {
		const q = quantizeModel(def, obs[i].ranges(), o);
		const s8 = await ort.InferenceSession.create(encodeModel(q.def), opts);
		const cos: number[] = [];
		for (const [j, x] of chk.entries()) cos.push(cosine(ref[j], pool((await s8.run({ [ONNX_INPUT]: T(x) }))[ONNX_OUTPUT].data as Float32Array)));
		await s8.release();
		cos.sort((a, b) => a - b);
		const at = (p: number) => cos[Math.floor(p * (cos.length - 1))];
		console.log(`${name.padEnd(36)} min ${cos[0].toFixed(4)} p1 ${at(0.01).toFixed(4)} p5 ${at(0.05).toFixed(4)} med ${at(0.5).toFixed(4)}  convs ${q.stats.convs} acts ${q.stats.activations}`);
	}
	model.dispose();
}
main().catch((e) => {
	console.error(e);
	process.exit(1);
});
