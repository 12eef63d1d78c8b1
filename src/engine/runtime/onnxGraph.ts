// Translates a tfjs-layers functional model (the frozen notop bases) into an ONNX graph, so ONNX Runtime can run
// the very weights tfjs holds. NCHW inside; the graph takes and returns NHWC so outputs equal the tfjs model's.
// BatchNormalization is folded into the convolution before it where that conv feeds nothing else.
import { tf, type LayersModel } from '../model/tf';
import { encodeModel, TensorType, type AttrValue, type OnnxInitializer, type OnnxModelDef, type OnnxNode } from './onnxProto';

export const ONNX_INPUT = 'input';
export const ONNX_OUTPUT = 'output';
/** Bumped whenever the emitted graph changes, so cached .onnx files from older builds are not reused. */
export const ONNX_EXPORTER_VERSION = 1;
const OPSET = 17;

type Layer = tf.layers.Layer;
type Shape = (number | null)[];
type Config = Record<string, unknown>;

interface ConvWeights {
	/** ONNX layout [cout, cin/group, kh, kw]. */
	w: Float32Array;
	dims: [number, number, number, number];
	bias: Float32Array | null;
}

/** A convolution waiting to be emitted, so a following BatchNormalization can still be folded into it. */
interface PendingConv {
	input: string;
	output: string;
	conv: ConvWeights;
	attrs: Record<string, AttrValue>;
	activation: string;
	name: string;
}

export interface OnnxExport {
	bytes: Uint8Array;
	/** Counts for tests and logs. */
	stats: { nodes: number; foldedBatchNorms: number; batchNormOps: number; params: number; weightsRead: number };
}

/** The ONNX model as data (nodes, initializers), before encoding: quantization rewrites it. */
export function buildOnnxModel(model: LayersModel): { def: OnnxModelDef; stats: OnnxExport['stats'] } {
	if (model.inputs.length !== 1 || model.outputs.length !== 1) throw new Error('ONNX export: expected one input and one output');
	const inShape = model.inputs[0].shape;
	const outShape = model.outputs[0].shape;
	if (inShape.length !== 4 || outShape.length !== 4) throw new Error('ONNX export: expected NHWC image input and output');

	const nodes: OnnxNode[] = [];
	const inits: OnnxInitializer[] = [];
	const tensorOf = new Map<string, string>(); // layer name → ONNX value (NCHW)
	const consumers = countConsumers(model);
	const outputLayer = model.outputs[0].sourceLayer.name;
	const pending = new Map<string, PendingConv>(); // by layer name
	const consumerLayers = consumersOf(model);
	const padFor = new Map<string, number[]>(); // consumer layer → zero padding [t, l, b, r] it takes over
	let folded = 0;
	let bnOps = 0;
	let params = 0;
	const read = { values: 0 };

	const addInit = (name: string, dims: number[], data: Float32Array | { int64: number[] }): string => {
		inits.push({ name, dims, data });
		if (data instanceof Float32Array) params += data.length;
		return name;
	};
	const emitConv = (p: PendingConv): void => {
		const inputs = [p.input, addInit(`${p.name}/W`, p.conv.dims, p.conv.w)];
		if (p.conv.bias) inputs.push(addInit(`${p.name}/B`, [p.conv.bias.length], p.conv.bias));
		const convOut = p.activation === 'linear' ? p.output : `${p.output}/preact`;
		nodes.push({ opType: 'Conv', name: p.name, inputs, outputs: [convOut], attrs: p.attrs });
		if (p.activation !== 'linear') emitActivation(nodes, p.activation, convOut, p.output, `${p.name}/act`);
	};
	/** Resolve an input: a pending conv that cannot be folded any more gets emitted on first use. */
	const use = (layer: Layer): string => {
		const p = pending.get(layer.name);
		if (p) {
			emitConv(p);
			pending.delete(layer.name);
		}
		const t = tensorOf.get(layer.name);
		if (!t) throw new Error(`ONNX export: layer '${layer.name}' used before it was translated`);
		return t;
	};

	for (const layer of model.layers) {
		const cls = layer.getClassName();
		const cfg = layer.getConfig() as Config;
		const ins = inboundLayers(layer);
		const name = layer.name;
		const out = name;
		if (cfg.dataFormat !== undefined && cfg.dataFormat !== 'channelsLast') throw new Error(`ONNX export: ${name}: only channelsLast is supported`);
		switch (cls) {
			case 'InputLayer': {
				nodes.push({ opType: 'Transpose', name: `${name}/to_nchw`, inputs: [ONNX_INPUT], outputs: [out], attrs: { perm: ints([0, 3, 1, 2]) } });
				tensorOf.set(name, out);
				break;
			}
			case 'ZeroPadding2D': {
				const [[t, b], [l, r]] = cfg.padding as [[number, number], [number, number]];
				const next = consumerLayers.get(name) ?? [];
				const only = next.length === 1 && name !== outputLayer ? next[0] : undefined;
				const onlyCls = only?.getClassName();
				const onlyCfg = only?.getConfig() as Config | undefined;
				if (only && onlyCfg?.padding === 'valid' && (onlyCls === 'Conv2D' || onlyCls === 'DepthwiseConv2D' || onlyCls === 'SeparableConv2D' || onlyCls === 'MaxPooling2D')) {
					// Let the consumer pad: cheaper, and for MaxPool necessary, since ONNX Runtime's Pad fusion turns
					// a zero Pad before MaxPool into MaxPool's own −∞ padding (wrong where inputs are negative).
					padFor.set(only.name, [t, l, b, r]);
					tensorOf.set(name, use(ins[0]));
					break;
				}
				const pads = addInit(`${name}/pads`, [8], { int64: [0, 0, t, l, 0, 0, b, r] });
				nodes.push({ opType: 'Pad', name, inputs: [use(ins[0]), pads], outputs: [out], attrs: { mode: str('constant') } });
				tensorOf.set(name, out);
				break;
			}
			case 'Conv2D':
			case 'DepthwiseConv2D':
			case 'SeparableConv2D': {
				const input = use(ins[0]);
				const inHW = spatial(inputShapeOf(layer), name);
				const k = cfg.kernelSize as [number, number];
				const s = cfg.strides as [number, number];
				const d = (cfg.dilationRate as number | [number, number] | undefined) ?? 1;
				const dil: [number, number] = Array.isArray(d) ? d : [d, d];
				const pads = addPads(tfPads(cfg.padding as string, inHW, k, s, dil), padFor.get(name));
				const w = weightsByName(layer, read);
				const cin = inputShapeOf(layer)[3] as number;
				const activation = activationName(cfg.activation, name);
				const baseAttrs = { kernel_shape: ints(k), strides: ints(s), pads: ints(pads), dilations: ints(dil) };
				if (cls === 'Conv2D') {
					const conv = convWeights(w.kernel, w.bias ?? null);
					pending.set(name, { input, output: out, conv, attrs: { ...baseAttrs, group: int(1) }, activation, name });
				} else {
					const mult = (cfg.depthMultiplier as number | undefined) ?? 1;
					const dw = depthwiseWeights(w.depthwise_kernel, cin, mult);
					if (cls === 'DepthwiseConv2D') {
						dw.bias = w.bias ? Float32Array.from(w.bias.data) : null;
						pending.set(name, { input, output: out, conv: dw, attrs: { ...baseAttrs, group: int(cin) }, activation, name });
					} else {
						// Separable = depthwise (group = C_in, no bias) then a pointwise 1×1 conv with the bias.
						const dwOut = `${name}/depthwise`;
						emitConv({ input, output: dwOut, conv: dw, attrs: { ...baseAttrs, group: int(cin) }, activation: 'linear', name: `${name}/dw` });
						const pw = convWeights(w.pointwise_kernel, w.bias ?? null);
						const pwAttrs = { kernel_shape: ints([1, 1]), strides: ints([1, 1]), pads: ints([0, 0, 0, 0]), dilations: ints([1, 1]), group: int(1) };
						pending.set(name, { input: dwOut, output: out, conv: pw, attrs: pwAttrs, activation, name: `${name}/pw` });
					}
				}
				tensorOf.set(name, out);
				break;
			}
			case 'BatchNormalization': {
				const axis = cfg.axis as number;
				if (axis !== -1 && axis !== 3) throw new Error(`ONNX export: ${name}: BatchNormalization over axis ${axis} is not supported`);
				const eps = cfg.epsilon as number;
				const w = weightsByName(layer, read);
				const mean = w.moving_mean.data;
				const variance = w.moving_variance.data;
				const c = mean.length;
				const gamma = w.gamma?.data ?? new Float32Array(c).fill(1);
				const beta = w.beta?.data ?? new Float32Array(c);
				const src = ins[0];
				const p = pending.get(src.name);
				if (p && p.activation === 'linear' && consumers.get(src.name) === 1 && src.name !== outputLayer) {
					// Fold: W' = W·γ/σ per output channel, b' = (b − μ)·γ/σ + β.
					const [cout, cinG, kh, kw] = p.conv.dims;
					const per = cinG * kh * kw;
					const wNew = new Float32Array(p.conv.w.length);
					const bNew = new Float32Array(cout);
					for (let o = 0; o < cout; o++) {
						const scale = gamma[o] / Math.sqrt(variance[o] + eps);
						for (let i = 0; i < per; i++) wNew[o * per + i] = p.conv.w[o * per + i] * scale;
						bNew[o] = ((p.conv.bias ? p.conv.bias[o] : 0) - mean[o]) * scale + beta[o];
					}
					pending.delete(src.name);
					pending.set(name, { ...p, output: out, conv: { w: wNew, dims: p.conv.dims, bias: bNew }, name: p.name });
					tensorOf.set(name, out);
					folded++;
				} else {
					const input = use(src);
					const inputs = [
						input,
						addInit(`${name}/scale`, [c], Float32Array.from(gamma)),
						addInit(`${name}/bias`, [c], Float32Array.from(beta)),
						addInit(`${name}/mean`, [c], Float32Array.from(mean)),
						addInit(`${name}/var`, [c], Float32Array.from(variance)),
					];
					nodes.push({ opType: 'BatchNormalization', name, inputs, outputs: [out], attrs: { epsilon: flt(eps) } });
					tensorOf.set(name, out);
					bnOps++;
				}
				break;
			}
			case 'Activation': {
				const act = activationName(cfg.activation, name);
				const input = use(ins[0]);
				if (act === 'linear') nodes.push({ opType: 'Identity', name, inputs: [input], outputs: [out] });
				else emitActivation(nodes, act, input, out, name);
				tensorOf.set(name, out);
				break;
			}
			case 'ReLU': {
				const input = use(ins[0]);
				const maxValue = cfg.maxValue as number | null | undefined;
				if (maxValue != null) {
					const lo = addInit(`${name}/min`, [], Float32Array.of(0));
					const hi = addInit(`${name}/max`, [], Float32Array.of(maxValue));
					nodes.push({ opType: 'Clip', name, inputs: [input, lo, hi], outputs: [out] });
				} else nodes.push({ opType: 'Relu', name, inputs: [input], outputs: [out] });
				tensorOf.set(name, out);
				break;
			}
			case 'MaxPooling2D':
			case 'AveragePooling2D': {
				const input = use(ins[0]);
				const k = cfg.poolSize as [number, number];
				const s = (cfg.strides as [number, number] | null) ?? k;
				const inHW = spatial(inputShapeOf(layer), name);
				const zeroPad = padFor.get(name);
				const pads = addPads(tfPads(cfg.padding as string, inHW, k, s, [1, 1]), zeroPad);
				// TF 'same' pools ignore the padding (max: −∞; average: excluded from the count) as ONNX does by default.
				const attrs: Record<string, AttrValue> = { kernel_shape: ints(k), strides: ints(s), pads: ints(pads) };
				if (cls === 'AveragePooling2D') attrs.count_include_pad = int(0);
				const poolOut = zeroPad ? `${name}/neg_inf_padded` : out;
				nodes.push({ opType: cls === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool', name, inputs: [input], outputs: [poolOut], attrs });
				if (zeroPad) {
					// Zeros, not −∞, were padded: every window that reaches into the padding also sees a 0, so take
					// max(·, 0) there and nothing elsewhere (mask 0 at the border, −∞ inside). Exact.
					const mask = borderMask(inHW, k, s, zeroPad);
					nodes.push({ opType: 'Max', name: `${name}/zero_pad`, inputs: [poolOut, addInit(`${name}/zero_pad_mask`, [1, 1, mask.h, mask.w], mask.data)], outputs: [out] });
				}
				tensorOf.set(name, out);
				break;
			}
			case 'Add': {
				const inputs = ins.map(use);
				nodes.push({ opType: inputs.length === 2 ? 'Add' : 'Sum', name, inputs, outputs: [out] });
				tensorOf.set(name, out);
				break;
			}
			default:
				throw new Error(`ONNX export: layer '${name}' of type ${cls} is not supported`);
		}
	}

	const last = use(model.outputs[0].sourceLayer);
	nodes.push({ opType: 'Transpose', name: 'output/to_nhwc', inputs: [last], outputs: [ONNX_OUTPUT], attrs: { perm: ints([0, 2, 3, 1]) } });
	if (pending.size) throw new Error(`ONNX export: unused layers ${[...pending.keys()].join(', ')}`);

	const def: OnnxModelDef = {
		opset: OPSET,
		producerName: 'radiograph-review',
		producerVersion: String(ONNX_EXPORTER_VERSION),
		docString: `tfjs-layers model '${model.name}' exported for ONNX Runtime`,
		graph: {
			name: model.name,
			nodes,
			initializers: inits,
			inputs: [{ name: ONNX_INPUT, elemType: TensorType.FLOAT, shape: ['N', ...(inShape.slice(1) as number[])] }],
			outputs: [{ name: ONNX_OUTPUT, elemType: TensorType.FLOAT, shape: ['N', ...(outShape.slice(1) as number[])] }],
		},
	};
	return { def, stats: { nodes: nodes.length, foldedBatchNorms: folded, batchNormOps: bnOps, params, weightsRead: read.values } };
}

/** Builds an ONNX ModelProto (opset 17, dynamic batch) equivalent to `model`'s inference forward pass. */
export function exportOnnx(model: LayersModel): OnnxExport {
	const { def, stats } = buildOnnxModel(model);
	return { bytes: encodeModel(def), stats };
}

// ---- helpers ---------------------------------------------------------------------------------------------------

const ints = (value: number[]): AttrValue => ({ kind: 'ints', value });
const int = (value: number): AttrValue => ({ kind: 'int', value });
const flt = (value: number): AttrValue => ({ kind: 'float', value });
const str = (value: string): AttrValue => ({ kind: 'string', value });

function emitActivation(nodes: OnnxNode[], act: string, input: string, output: string, name: string): void {
	const op = { relu: 'Relu', sigmoid: 'Sigmoid', tanh: 'Tanh' }[act];
	if (!op) throw new Error(`ONNX export: ${name}: activation '${act}' is not supported`);
	nodes.push({ opType: op, name, inputs: [input], outputs: [output] });
}

function activationName(a: unknown, layer: string): string {
	if (a == null) return 'linear';
	if (typeof a === 'string') return a;
	const cls = (a as { className?: string }).className;
	if (typeof cls === 'string') return cls.toLowerCase();
	throw new Error(`ONNX export: ${layer}: cannot read its activation`);
}

function inboundLayers(layer: Layer): Layer[] {
	if (layer.inboundNodes.length !== 1) throw new Error(`ONNX export: layer '${layer.name}' is shared or unconnected`);
	return layer.inboundNodes[0].inboundLayers;
}

function consumersOf(model: LayersModel): Map<string, Layer[]> {
	const n = new Map<string, Layer[]>();
	for (const layer of model.layers) {
		for (const node of layer.inboundNodes) for (const src of node.inboundLayers) n.set(src.name, [...(n.get(src.name) ?? []), layer]);
	}
	return n;
}

function addPads(a: number[], b: number[] | undefined): number[] {
	return b ? a.map((v, i) => v + b[i]) : a;
}

/**
 * For a valid MaxPool over a zero-padded input of size `padded`: 0 where the window reaches into the padding
 * [t, l, b, r], −∞ elsewhere.
 */
function borderMask(padded: [number, number], k: [number, number], s: [number, number], pad: number[]): { h: number; w: number; data: Float32Array } {
	const [t, l, b, r] = pad;
	const h = Math.floor((padded[0] - k[0]) / s[0]) + 1;
	const w = Math.floor((padded[1] - k[1]) / s[1]) + 1;
	const data = new Float32Array(h * w);
	for (let i = 0; i < h; i++) {
		const rowTouches = i * s[0] < t || i * s[0] + k[0] > padded[0] - b;
		for (let j = 0; j < w; j++) {
			const touches = rowTouches || j * s[1] < l || j * s[1] + k[1] > padded[1] - r;
			data[i * w + j] = touches ? 0 : -Infinity;
		}
	}
	return { h, w, data };
}

function countConsumers(model: LayersModel): Map<string, number> {
	const n = new Map<string, number>();
	for (const layer of model.layers) {
		for (const node of layer.inboundNodes) for (const src of node.inboundLayers) n.set(src.name, (n.get(src.name) ?? 0) + 1);
	}
	return n;
}

function inputShapeOf(layer: Layer): Shape {
	const input = layer.input;
	if (Array.isArray(input)) throw new Error(`ONNX export: layer '${layer.name}' has several inputs`);
	return input.shape;
}

function spatial(shape: Shape, layer: string): [number, number] {
	const h = shape[1];
	const w = shape[2];
	if (typeof h !== 'number' || typeof w !== 'number') throw new Error(`ONNX export: ${layer}: needs a fixed input size`);
	return [h, w];
}

/** TF padding as explicit ONNX pads [top, left, bottom, right]: 'same' puts the odd pixel at the end. */
export function tfPads(padding: string, inHW: [number, number], k: [number, number], s: [number, number], dil: [number, number]): number[] {
	if (padding === 'valid') return [0, 0, 0, 0];
	if (padding !== 'same') throw new Error(`padding '${padding}' is not supported`);
	const before: number[] = [];
	const after: number[] = [];
	for (let i = 0; i < 2; i++) {
		const out = Math.ceil(inHW[i] / s[i]);
		const eff = (k[i] - 1) * dil[i] + 1;
		const total = Math.max((out - 1) * s[i] + eff - inHW[i], 0);
		before.push(Math.floor(total / 2));
		after.push(total - Math.floor(total / 2));
	}
	return [before[0], before[1], after[0], after[1]];
}

interface NamedWeight {
	shape: number[];
	data: Float32Array;
}

/** A layer's weights by their Keras short name (kernel, bias, gamma, moving_mean, depthwise_kernel, …). */
function weightsByName(layer: Layer, read: { values: number }): Record<string, NamedWeight> {
	const out: Record<string, NamedWeight> = {};
	const values = layer.getWeights();
	layer.weights.forEach((v, i) => {
		// 'block1_conv1/kernel' → 'kernel'; tfjs may suffix duplicates ('kernel_1'), none of our names ends in _<digit>.
		const short = (v.originalName ?? v.name).split('/').pop()!.replace(/:\d+$/, '').replace(/_\d+$/, '');
		out[short] = { shape: values[i].shape, data: values[i].dataSync() as Float32Array };
		read.values += values[i].size;
	});
	return out;
}

/** Keras kernel [kh, kw, cin, cout] → ONNX [cout, cin, kh, kw]. */
function convWeights(kernel: NamedWeight, bias: NamedWeight | null): ConvWeights {
	const [kh, kw, cin, cout] = kernel.shape;
	const src = kernel.data;
	const w = new Float32Array(src.length);
	for (let i = 0; i < kh; i++)
		for (let j = 0; j < kw; j++)
			for (let c = 0; c < cin; c++) {
				const base = ((i * kw + j) * cin + c) * cout;
				for (let o = 0; o < cout; o++) w[((o * cin + c) * kh + i) * kw + j] = src[base + o];
			}
	return { w, dims: [cout, cin, kh, kw], bias: bias ? Float32Array.from(bias.data) : null };
}

/** Keras depthwise kernel [kh, kw, cin, mult] → ONNX grouped conv [cin·mult, 1, kh, kw] (channel c·mult + m). */
function depthwiseWeights(kernel: NamedWeight, cin: number, mult: number): ConvWeights {
	const [kh, kw] = kernel.shape;
	const src = kernel.data;
	const w = new Float32Array(src.length);
	for (let i = 0; i < kh; i++)
		for (let j = 0; j < kw; j++) for (let c = 0; c < cin; c++) for (let m = 0; m < mult; m++) w[((c * mult + m) * kh + i) * kw + j] = src[((i * kw + j) * cin + c) * mult + m];
	return { w, dims: [cin * mult, 1, kh, kw], bias: null };
}
