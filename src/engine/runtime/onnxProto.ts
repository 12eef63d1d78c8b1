// A minimal protobuf writer for the ONNX messages we emit (ModelProto and what it holds). Only encoding: ONNX Runtime
// parses the result. Field numbers follow onnx/onnx.proto3 (IR version 8).

const enum Wire {
	Varint = 0,
	Fixed32 = 5,
	Bytes = 2,
}

/** Appends protobuf fields to a growing byte buffer. */
export class ProtoWriter {
	private buf = new Uint8Array(256);
	private len = 0;

	private ensure(extra: number): void {
		if (this.len + extra <= this.buf.length) return;
		let size = this.buf.length * 2;
		while (size < this.len + extra) size *= 2;
		const next = new Uint8Array(size);
		next.set(this.buf.subarray(0, this.len));
		this.buf = next;
	}

	private varint(value: number | bigint): void {
		// int64 fields: negative numbers are ten-byte two's complement varints.
		let v = BigInt.asUintN(64, BigInt(value));
		this.ensure(10);
		while (v >= 0x80n) {
			this.buf[this.len++] = Number(v & 0x7fn) | 0x80;
			v >>= 7n;
		}
		this.buf[this.len++] = Number(v);
	}

	private tag(field: number, wire: Wire): void {
		this.varint((field << 3) | wire);
	}

	int(field: number, value: number): this {
		this.tag(field, Wire.Varint);
		this.varint(value);
		return this;
	}

	float(field: number, value: number): this {
		this.tag(field, Wire.Fixed32);
		this.ensure(4);
		new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 4).setFloat32(0, value, true);
		this.len += 4;
		return this;
	}

	bytes(field: number, data: Uint8Array): this {
		this.tag(field, Wire.Bytes);
		this.varint(data.length);
		this.ensure(data.length);
		this.buf.set(data, this.len);
		this.len += data.length;
		return this;
	}

	string(field: number, value: string): this {
		return this.bytes(field, new TextEncoder().encode(value));
	}

	message(field: number, build: (w: ProtoWriter) => void): this {
		const w = new ProtoWriter();
		build(w);
		return this.bytes(field, w.finish());
	}

	packedInts(field: number, values: readonly number[]): this {
		const w = new ProtoWriter();
		for (const v of values) w.varint(v);
		return this.bytes(field, w.finish());
	}

	finish(): Uint8Array {
		return this.buf.slice(0, this.len);
	}
}

// ---- ONNX messages -------------------------------------------------------------------------------------------

export const TensorType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 } as const;

export type AttrValue = { kind: 'int'; value: number } | { kind: 'ints'; value: number[] } | { kind: 'float'; value: number } | { kind: 'string'; value: string };

export interface OnnxNode {
	opType: string;
	name: string;
	inputs: string[];
	outputs: string[];
	attrs?: Record<string, AttrValue>;
}

export interface OnnxInitializer {
	name: string;
	dims: number[];
	/** Typed arrays carry raw little-endian bytes (float32, and int8 / uint8 / int32 for quantized graphs); int64 ones small lists. */
	data: Float32Array | Int8Array | Uint8Array | Int32Array | { int64: number[] };
}

/** A dimension: a fixed size or a symbolic name (dynamic batch). */
export type OnnxDim = number | string;

export interface OnnxValueInfo {
	name: string;
	elemType: number;
	/** Absent: unknown rank (calibration outputs). */
	shape?: OnnxDim[];
}

export interface OnnxGraphDef {
	name: string;
	nodes: OnnxNode[];
	initializers: OnnxInitializer[];
	inputs: OnnxValueInfo[];
	outputs: OnnxValueInfo[];
}

export interface OnnxModelDef {
	graph: OnnxGraphDef;
	opset: number;
	producerName: string;
	producerVersion: string;
	docString?: string;
}

const ATTR_TYPE = { float: 1, int: 2, string: 3, ints: 7 } as const;

function writeAttr(w: ProtoWriter, name: string, a: AttrValue): void {
	w.string(1, name);
	switch (a.kind) {
		case 'float':
			w.float(2, a.value);
			break;
		case 'int':
			w.int(3, a.value);
			break;
		case 'string':
			w.string(4, a.value);
			break;
		case 'ints':
			w.packedInts(8, a.value);
			break;
	}
	w.int(20, ATTR_TYPE[a.kind]);
}

function writeNode(w: ProtoWriter, n: OnnxNode): void {
	for (const i of n.inputs) w.string(1, i);
	for (const o of n.outputs) w.string(2, o);
	w.string(3, n.name);
	w.string(4, n.opType);
	for (const [k, v] of Object.entries(n.attrs ?? {})) w.message(5, (a) => writeAttr(a, k, v));
}

function writeTensor(w: ProtoWriter, t: OnnxInitializer): void {
	w.packedInts(1, t.dims);
	const raw = rawType(t.data);
	if (raw !== undefined && !('int64' in t.data)) {
		w.int(2, raw);
		w.string(8, t.name);
		// raw_data is little-endian; so is every platform Node runs on that we support.
		w.bytes(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
	} else if ('int64' in t.data) {
		w.int(2, TensorType.INT64);
		w.packedInts(7, t.data.int64);
		w.string(8, t.name);
	}
}

function rawType(d: OnnxInitializer['data']): number | undefined {
	if (d instanceof Float32Array) return TensorType.FLOAT;
	if (d instanceof Int8Array) return TensorType.INT8;
	if (d instanceof Uint8Array) return TensorType.UINT8;
	if (d instanceof Int32Array) return TensorType.INT32;
	return undefined;
}

function writeValueInfo(w: ProtoWriter, v: OnnxValueInfo): void {
	w.string(1, v.name);
	w.message(2, (type) =>
		type.message(1, (tensor) => {
			tensor.int(1, v.elemType);
			const dims = v.shape;
			if (dims) {
				tensor.message(2, (shape) => {
					for (const d of dims) shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
				});
			}
		}),
	);
}

/** Serialises a ModelProto. */
export function encodeModel(m: OnnxModelDef): Uint8Array {
	const w = new ProtoWriter();
	w.int(1, 8); // ir_version 8 (ONNX 1.10+): opsets up to 17
	w.string(2, m.producerName);
	w.string(3, m.producerVersion);
	if (m.docString) w.string(6, m.docString);
	w.message(7, (g) => {
		for (const n of m.graph.nodes) g.message(1, (x) => writeNode(x, n));
		g.string(2, m.graph.name);
		for (const t of m.graph.initializers) g.message(5, (x) => writeTensor(x, t));
		for (const v of m.graph.inputs) g.message(11, (x) => writeValueInfo(x, v));
		for (const v of m.graph.outputs) g.message(12, (x) => writeValueInfo(x, v));
	});
	w.message(8, (o) => o.string(1, '').int(2, m.opset));
	return w.finish();
}
