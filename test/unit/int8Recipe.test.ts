// The int8 recipe's graph rewriting (which convolutions stay float) and the paired accuracy difference a run reports
// for int8 against fp32. Graph-level and arithmetic only: int8.test.ts runs the recipe on ResNet50 and radiographs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ONNX_INPUT, ONNX_OUTPUT } from '../../src/engine/runtime/onnxGraph';
import { TensorType, type OnnxModelDef, type OnnxNode } from '../../src/engine/runtime/onnxProto';
import { activationTensors, quantizeModel, type Range } from '../../src/engine/runtime/quantize';
import { int8Recipe, INT8_RECIPES } from '../../src/engine/runtime/int8';
import { QUANTIZER_VERSION } from '../../src/engine/runtime/quantize';
import { pairedAccuracyDelta } from '../../src/engine/train/int8Base';
import { mcnemar } from '../../src/engine/report/stats';

/** input → 4 × (Conv → Relu) → Transpose → output, 2 channels, 1×1 kernels. */
function chain(): OnnxModelDef {
	const nodes: OnnxNode[] = [];
	const initializers = [];
	let x = ONNX_INPUT;
	for (let i = 1; i <= 4; i++) {
		initializers.push({ name: `w${i}`, dims: [2, 2, 1, 1], data: Float32Array.of(0.5, -0.25, 0.125, 1) }, { name: `b${i}`, dims: [2], data: Float32Array.of(0.1, -0.1) });
		nodes.push({ opType: 'Conv', name: `c${i}`, inputs: [x, `w${i}`, `b${i}`], outputs: [`c${i}/out`] });
		nodes.push({ opType: 'Relu', name: `r${i}`, inputs: [`c${i}/out`], outputs: [`r${i}/out`] });
		x = `r${i}/out`;
	}
	nodes.push({ opType: 'Transpose', name: 'to_nhwc', inputs: [x], outputs: [ONNX_OUTPUT] });
	return {
		opset: 17,
		producerName: 'test',
		producerVersion: '0',
		graph: {
			name: 'g',
			nodes,
			initializers,
			inputs: [{ name: ONNX_INPUT, elemType: TensorType.FLOAT, shape: [1, 2, 1, 1] }],
			outputs: [{ name: ONNX_OUTPUT, elemType: TensorType.FLOAT, shape: [1, 1, 1, 2] }],
		},
	};
}

const quantizedWeights = (def: OnnxModelDef) =>
	def.graph.initializers
		.filter((t) => t.name.endsWith('/q') && t.name.startsWith('w'))
		.map((t) => t.name)
		.sort();

test('floatStem and floatTailConvs keep the stem convolution and the last block float; the recorded version picks the recipe', () => {
	const def = chain();
	const ranges = new Map<string, Range>(activationTensors(def).map((t) => [t, [0, 4]]));
	assert.deepEqual(quantizedWeights(quantizeModel(def, ranges, INT8_RECIPES[2].options).def), ['w1/q', 'w2/q', 'w3/q', 'w4/q']);
	const stemTail = quantizeModel(def, ranges, { floatStem: true, floatTailConvs: 1 }).def;
	assert.deepEqual(quantizedWeights(stemTail), ['w2/q', 'w3/q']);
	// Float nodes read float tensors: no QDQ pair on the stem's activation nor on anything in the tail.
	const qdq = stemTail.graph.nodes.filter((n) => n.opType === 'QuantizeLinear').map((n) => n.inputs[0]);
	assert.ok(!qdq.includes('r1/out') && !qdq.includes('c1/out'), qdq.join(','));
	assert.ok(!qdq.includes('r4/out') && !qdq.includes('c4/out'), qdq.join(','));
	assert.ok(qdq.includes('r2/out') || qdq.includes('c2/out'), 'the middle stays int8');
	assert.equal(int8Recipe().version, QUANTIZER_VERSION);
	assert.deepEqual(int8Recipe(2).options, { floatInput: true, floatAdds: true });
	assert.throws(() => int8Recipe(99), /quantizer version 99/);
});

test('paired accuracy difference: estimate, interval from the discordant pairs, agrees with McNemar', () => {
	// 100 images: both right on 80, only A right on 12, only B right on 3, both wrong on 5.
	const a: boolean[] = [];
	const b: boolean[] = [];
	const push = (n: number, x: boolean, y: boolean) => {
		for (let i = 0; i < n; i++) {
			a.push(x);
			b.push(y);
		}
	};
	push(80, true, true);
	push(12, true, false);
	push(3, false, true);
	push(5, false, false);
	const d = pairedAccuracyDelta(a, b);
	assert.equal(d.n, 100);
	assert.ok(Math.abs(d.estimate - 0.09) < 1e-12);
	const half = (1.96 * Math.sqrt(15 - 81 / 100)) / 100;
	assert.ok(Math.abs(d.lo - (0.09 - half)) < 1e-12 && Math.abs(d.hi - (0.09 + half)) < 1e-12);
	assert.ok(d.lo > 0, 'significant, as McNemar says');
	assert.ok(mcnemar(a, b).p < 0.05);
	const same = pairedAccuracyDelta([true, false], [true, false]);
	assert.deepEqual([same.estimate, same.lo, same.hi], [0, 0, 0]);
});
