// Static int8 quantization of an exported base, as QDQ (QuantizeLinear / DequantizeLinear pairs) that ONNX Runtime's
// CPU provider fuses into integer kernels (QLinearConv, QLinearAdd, int8 pools) where its VNNI / AVX-512 paths apply.
// Weights: int8, symmetric, one scale per output channel. Activations: uint8, asymmetric, one scale per tensor,
// from ranges observed on calibration images. Everything here is pure graph rewriting: no runtime is touched.
import { ONNX_INPUT, ONNX_OUTPUT } from './onnxGraph';
import { TensorType, type OnnxInitializer, type OnnxModelDef, type OnnxNode } from './onnxProto';

/** Bumped whenever the quantized graph changes, so cached int8 files from older builds are not reused. */
export const QUANTIZER_VERSION = 2;

export type Range = [number, number];

/** Float tensors the graph computes (activations), in order, except the graph's own input and output. */
export function activationTensors(def: OnnxModelDef): string[] {
	const out: string[] = [];
	for (const n of def.graph.nodes) for (const o of n.outputs) if (o !== ONNX_OUTPUT) out.push(o);
	return out;
}

/** The same graph with `tensors` as extra outputs (rank unknown), to observe their ranges on calibration images. */
export function withObservedOutputs(def: OnnxModelDef, tensors: string[]): OnnxModelDef {
	const outputs = [...def.graph.outputs, ...tensors.map((name) => ({ name, elemType: TensorType.FLOAT }))];
	return { ...def, graph: { ...def.graph, outputs } };
}

/**
 * Running range of each tensor over the calibration images. The tails are clipped at a high percentile of each
 * image's absolute values (then averaged over images): a min/max over a few outlier pixels would spend the 256
 * levels on values that almost never occur.
 */
export class RangeObserver {
	private readonly sums = new Map<string, { lo: number; hi: number; n: number }>();

	constructor(private readonly percentile = 0.9999) {}

	/** Observes one image's values of `name`. */
	observe(name: string, values: Float32Array): void {
		const [lo, hi] = clippedRange(values, this.percentile);
		const s = this.sums.get(name) ?? { lo: 0, hi: 0, n: 0 };
		s.lo += lo;
		s.hi += hi;
		s.n++;
		this.sums.set(name, s);
	}

	ranges(): Map<string, Range> {
		const out = new Map<string, Range>();
		for (const [name, s] of this.sums) out.set(name, [s.lo / s.n, s.hi / s.n]);
		return out;
	}
}

/** [lo, hi] holding `percentile` of the values on each side of zero (exact for small arrays, sampled for big ones). */
export function clippedRange(values: Float32Array, percentile: number): Range {
	// A strided sample of at most ~64k values keeps this cheap next to the forward pass; the extremes are exact.
	const stride = Math.max(1, Math.floor(values.length / 65_536));
	const neg = new Float32Array(Math.ceil(values.length / stride));
	const pos = new Float32Array(neg.length);
	let nn = 0;
	let np = 0;
	let min = 0;
	let max = 0;
	for (let i = 0; i < values.length; i++) {
		const v = values[i];
		if (v < min) min = v;
		else if (v > max) max = v;
	}
	if (percentile >= 1) return [min, max];
	for (let i = 0; i < values.length; i += stride) {
		const v = values[i];
		if (v < 0) neg[nn++] = -v;
		else pos[np++] = v;
	}
	const q = (a: Float32Array): number => {
		if (a.length === 0) return 0;
		a.sort();
		return a[Math.min(a.length - 1, Math.floor(percentile * (a.length - 1) + 0.5))];
	};
	return [-q(neg.subarray(0, nn)), q(pos.subarray(0, np))];
}

export interface QuantizeStats {
	/** Convolutions with int8 weights. */
	convs: number;
	/** Activation tensors given a uint8 QDQ pair. */
	activations: number;
	/** ReLUs folded into the uint8 range of the tensor before them (the range starts at 0). */
	foldedRelus: number;
}

/** Activation scale and zero point for uint8 over [lo, hi] (widened to contain 0, as QuantizeLinear needs). */
export function uint8Params([lo, hi]: Range): { scale: number; zeroPoint: number } {
	const a = Math.min(lo, 0);
	const b = Math.max(hi, 0);
	const scale = b > a ? (b - a) / 255 : 1;
	const zeroPoint = Math.min(255, Math.max(0, Math.round(-a / scale)));
	return { scale, zeroPoint };
}

/**
 * Rewrites `def` into a QDQ graph. `ranges` must hold every activation tensor (from RangeObserver). The graph's last
 * tensor stays float: the features are the product, and their resolution should not be the activation grid's.
 */
export interface QuantizeOptions {
	/** Activation tensors to leave in float (their consumers then run in float too). */
	floatTensors?: string[];
	/** Leave the image itself in float: the first convolution then sees the exact normalised pixels. */
	floatInput?: boolean;
	/** Leave the sums of residual connections in float: they carry the signal of every block before them. */
	floatAdds?: boolean;
	/** Nodes (by name prefix, e.g. the stem 'conv1_' or the last block 'conv5_block3_') run wholly in float: float weights, float outputs. */
	floatNodes?: string[];
	/** The stem: the first convolution and the activation right after it run in float. */
	floatStem?: boolean;
	/** The last N convolutions and everything after the first of them run in float (ResNet50's last block: 3). */
	floatTailConvs?: number;
}

/** The nodes that floatStem / floatTailConvs / floatNodes leave in float, by position in the (topological) node list. */
function floatNodeSet(nodes: OnnxNode[], opts: QuantizeOptions): Set<OnnxNode> {
	const out = new Set<OnnxNode>(nodes.filter((n) => (opts.floatNodes ?? []).some((p) => n.name.startsWith(p))));
	const convs = nodes.flatMap((n, i) => (n.opType === 'Conv' ? [i] : []));
	if (opts.floatStem && convs.length) {
		const i = convs[0];
		out.add(nodes[i]);
		const next = nodes[i + 1];
		if (next && next.opType === 'Relu' && next.inputs[0] === nodes[i].outputs[0]) out.add(next);
	}
	const tail = Math.min(convs.length, opts.floatTailConvs ?? 0);
	if (tail > 0) for (let i = convs[convs.length - tail]; i < nodes.length; i++) out.add(nodes[i]);
	return out;
}

export function quantizeModel(def: OnnxModelDef, ranges: Map<string, Range>, opts: QuantizeOptions = {}): { def: OnnxModelDef; stats: QuantizeStats } {
	const nodes = def.graph.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs] }));
	const inits = new Map<string, OnnxInitializer>(def.graph.initializers.map((t) => [t.name, t]));
	const producers = new Map<string, OnnxNode>();
	const consumers = new Map<string, OnnxNode[]>();
	for (const n of nodes) {
		for (const o of n.outputs) producers.set(o, n);
		for (const i of n.inputs) consumers.set(i, [...(consumers.get(i) ?? []), n]);
	}
	const finalNode = producers.get(ONNX_OUTPUT);
	const keepFloat = new Set<string>([ONNX_INPUT, ONNX_OUTPUT, ...(finalNode?.inputs ?? []), ...(opts.floatTensors ?? [])]);
	if (opts.floatInput) for (const n of nodes) if (n.inputs.includes(ONNX_INPUT)) for (const o of n.outputs) keepFloat.add(o);
	if (opts.floatAdds) for (const n of nodes) if (n.opType === 'Add' || n.opType === 'Sum') for (const o of n.outputs) keepFloat.add(o);
	const floats = floatNodeSet(nodes, opts);
	const floatNode = (n: OnnxNode) => floats.has(n);
	for (const n of nodes) if (floatNode(n)) for (const o of n.outputs) keepFloat.add(o);

	// Conv → Relu (its only consumer): the uint8 range of the Relu's output clips at 0 by itself.
	let foldedRelus = 0;
	const dropped = new Set<OnnxNode>();
	for (const n of nodes) {
		if (n.opType !== 'Relu') continue;
		const src = producers.get(n.inputs[0]);
		if (!src || src.opType !== 'Conv' || (consumers.get(n.inputs[0]) ?? []).length !== 1) continue;
		if (keepFloat.has(n.outputs[0])) continue;
		const r = ranges.get(n.outputs[0]);
		if (!r || r[0] < 0) continue;
		src.outputs[0] = n.outputs[0];
		producers.set(n.outputs[0], src);
		dropped.add(n);
		foldedRelus++;
	}
	const live = nodes.filter((n) => !dropped.has(n));

	// One uint8 QDQ pair per activation tensor; consumers read the dequantized copy.
	const qdq: OnnxNode[] = [];
	const newInits: OnnxInitializer[] = [];
	const actParams = new Map<string, { scale: number; zeroPoint: number }>();
	let activations = 0;
	const tensors: string[] = [];
	for (const n of live) for (const o of n.outputs) if (!keepFloat.has(o)) tensors.push(o);
	for (const t of tensors) {
		const r = ranges.get(t);
		if (!r) throw new Error(`int8: no calibration range for '${t}'`);
		const p = uint8Params(r);
		actParams.set(t, p);
		const scale = `${t}/q_scale`;
		const zp = `${t}/q_zero`;
		newInits.push({ name: scale, dims: [], data: Float32Array.of(p.scale) }, { name: zp, dims: [], data: Uint8Array.of(p.zeroPoint) });
		qdq.push(
			{ opType: 'QuantizeLinear', name: `${t}/quantize`, inputs: [t, scale, zp], outputs: [`${t}/q`] },
			{ opType: 'DequantizeLinear', name: `${t}/dequantize`, inputs: [`${t}/q`, scale, zp], outputs: [`${t}/dq`] },
		);
		activations++;
	}
	for (const n of live) n.inputs = n.inputs.map((i) => (actParams.has(i) ? `${i}/dq` : i));

	// Conv weights: int8 per output channel; bias int32 at input scale × weight scale (what QLinearConv needs).
	let convs = 0;
	for (const n of live) {
		if (n.opType !== 'Conv' || floatNode(n)) continue;
		const [x, wName, bName] = n.inputs;
		const w = inits.get(wName);
		if (!w || !(w.data instanceof Float32Array)) throw new Error(`int8: ${n.name}: weights '${wName}' not found`);
		const cout = w.dims[0];
		const per = w.data.length / cout;
		const wq = new Int8Array(w.data.length);
		const ws = new Float32Array(cout);
		for (let o = 0; o < cout; o++) {
			let m = 0;
			for (let i = 0; i < per; i++) m = Math.max(m, Math.abs(w.data[o * per + i]));
			const s = m > 0 ? m / 127 : 1;
			ws[o] = s;
			for (let i = 0; i < per; i++) wq[o * per + i] = Math.max(-127, Math.min(127, Math.round(w.data[o * per + i] / s)));
		}
		inits.delete(wName);
		newInits.push({ name: `${wName}/q`, dims: w.dims, data: wq }, { name: `${wName}/scale`, dims: [cout], data: ws }, { name: `${wName}/zero`, dims: [cout], data: new Int8Array(cout) });
		qdq.push({ opType: 'DequantizeLinear', name: `${n.name}/w_dq`, inputs: [`${wName}/q`, `${wName}/scale`, `${wName}/zero`], outputs: [`${wName}/dq`], attrs: { axis: { kind: 'int', value: 0 } } });
		n.inputs[1] = `${wName}/dq`;
		const xName = x.endsWith('/dq') ? x.slice(0, -3) : undefined;
		const xp = xName ? actParams.get(xName) : undefined;
		if (bName && xp) {
			const b = inits.get(bName);
			if (!b || !(b.data instanceof Float32Array)) throw new Error(`int8: ${n.name}: bias '${bName}' not found`);
			const bs = new Float32Array(cout);
			const bq = new Int32Array(cout);
			for (let o = 0; o < cout; o++) {
				bs[o] = xp.scale * ws[o];
				bq[o] = Math.round(b.data[o] / bs[o]);
			}
			inits.delete(bName);
			newInits.push({ name: `${bName}/q`, dims: [cout], data: bq }, { name: `${bName}/scale`, dims: [cout], data: bs }, { name: `${bName}/zero`, dims: [cout], data: new Int32Array(cout) });
			qdq.push({ opType: 'DequantizeLinear', name: `${n.name}/b_dq`, inputs: [`${bName}/q`, `${bName}/scale`, `${bName}/zero`], outputs: [`${bName}/dq`], attrs: { axis: { kind: 'int', value: 0 } } });
			n.inputs[2] = `${bName}/dq`;
		}
		convs++;
	}

	// Topological order: each Q/DQ right after what it reads.
	const ordered: OnnxNode[] = [];
	const pendingBy = new Map<string, OnnxNode[]>();
	for (const q of qdq) pendingBy.set(q.inputs[0], [...(pendingBy.get(q.inputs[0]) ?? []), q]);
	const emitAfter = (name: string): void => {
		for (const q of pendingBy.get(name) ?? []) {
			ordered.push(q);
			for (const o of q.outputs) emitAfter(o);
		}
		pendingBy.delete(name);
	};
	for (const t of inits.keys()) emitAfter(t);
	for (const t of newInits) emitAfter(t.name);
	for (const n of live) {
		ordered.push(n);
		for (const o of n.outputs) emitAfter(o);
	}
	if (pendingBy.size) throw new Error(`int8: dangling quantization nodes for ${[...pendingBy.keys()].slice(0, 3).join(', ')}`);

	const graph = { ...def.graph, nodes: ordered, initializers: [...inits.values(), ...newInits] };
	return { def: { ...def, opset: Math.max(def.opset, 13), graph }, stats: { convs, activations, foldedRelus } };
}
