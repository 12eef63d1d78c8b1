// One head training step (Dense relu → Dropout → Dense softmax, categorical cross-entropy, tfjs' Adam) with the
// features and the first kernel in WASM memory (headKernels.ts) and the tiny rest (20×3) in plain JS.
// The gradients are worked out by hand, term for term what tfjs' autodiff computes for the same graph
// (including the clip and renormalisation of the cross-entropy), so the numbers match the tfjs loop.
import { CLASS_NAMES } from '../types';
import { tf } from '../model/tf';
import { headVariables, type Head } from '../model/head';
import { ADAM_SCALARS, createHeadKernels, KERNEL_UNITS, type HeadKernels } from './headKernels';
import type { FeatureSet } from './featureSet';

const fr = Math.fround;
const EPS = 1e-7; // tfjs' float32 epsilon(), as in crossEntropy() and Keras
const BETA1 = 0.9;
const BETA2 = 0.999;
const ADAM_EPS = 1e-7;
/** Kernel rows per block of the fused update + next forward (20 units: 40 KB of kernel, L2-resident). */
const BLOCK = 512;

/** A step's result: mean loss over the batch and the (training-mode) probabilities, m × classes. */
export interface StepResult {
	loss: number;
	probs: Float32Array;
}

export class FastHeadTrainer {
	private readonly k: HeadKernels;
	private readonly d: number;
	private readonly units: number;
	private readonly classes = CLASS_NAMES.length;
	// Byte offsets in WASM memory.
	private readonly trainAt: number;
	private readonly valAt: number;
	private readonly w1At: number;
	private readonly m1At: number;
	private readonly v1At: number;
	private readonly rowsAt: number;
	private readonly nextRowsAt: number;
	private readonly outAt: number;
	private readonly dhAt: number;
	private readonly scAt: number;
	private readonly nVal: number;
	// The small variables and their Adam moments, in JS.
	private readonly small: Array<{ value: Float32Array; m: Float32Array; v: Float32Array }>;
	private accBeta1 = fr(BETA1);
	private accBeta2 = fr(BETA2);
	private lr = 0;
	/** The rows whose first-layer sums are already in `out` (computed with the current weights). */
	private ready: number[] | 'val' | undefined;

	/** The trainer, or the reason it does not apply (the caller falls back to the tfjs loop and says why). */
	static create(head: Head, train: FeatureSet, val: FeatureSet | undefined): FastHeadTrainer | string {
		const units = head.dense.getConfig().units as number;
		const layout = memoryLayout(train.n, val?.n ?? 0, train.dim, units);
		if (units !== KERNEL_UNITS) return `the WASM kernels are written for ${KERNEL_UNITS} hidden units, not ${units}`;
		if (layout.bytes > 3.5 * 2 ** 30) return `the features need ${(layout.bytes / 2 ** 30).toFixed(1)} GiB, over the 3.5 GiB of WASM memory`;
		let k: HeadKernels;
		try {
			k = createHeadKernels(units, layout.bytes);
		} catch (e) {
			return `the WASM kernels could not be loaded (${e instanceof Error ? e.message : String(e)})`;
		}
		return new FastHeadTrainer(k, layout, head, train, val, units);
	}

	private constructor(
		k: HeadKernels,
		layout: Layout,
		private readonly head: Head,
		train: FeatureSet,
		val: FeatureSet | undefined,
		units: number,
	) {
		this.k = k;
		this.d = train.dim;
		this.units = units;
		this.nVal = val?.n ?? 0;
		const d = this.d;
		({
			trainAt: this.trainAt,
			valAt: this.valAt,
			w1At: this.w1At,
			m1At: this.m1At,
			v1At: this.v1At,
			rowsAt: this.rowsAt,
			nextRowsAt: this.nextRowsAt,
			outAt: this.outAt,
			dhAt: this.dhAt,
			scAt: this.scAt,
		} = layout);
		const f = this.f32();
		f.set(train.feats.subarray(0, train.n * d), this.trainAt / 4);
		if (val && this.nVal) f.set(val.feats.subarray(0, this.nVal * d), this.valAt / 4);
		const [k1, b1, k2, b2] = headVariables(head);
		f.set(k1.dataSync(), this.w1At / 4);
		this.small = [b1, k2, b2].map((v) => {
			const value = Float32Array.from(v.dataSync() as Float32Array);
			return { value, m: new Float32Array(value.length), v: new Float32Array(value.length) };
		});
	}

	// Views are taken afresh: memory never grows here, but a view must not outlive the buffer.
	private f32(): Float32Array {
		return new Float32Array(this.k.memory.buffer);
	}

	setLearningRate(lr: number): void {
		this.lr = lr;
	}

	/**
	 * One Adam step on the given training rows; `mask` (m × units, 0 or 1/(1−rate)) applies dropout. `next` (the
	 * next batch's rows, or 'val') has its forward sums computed in the same pass over the kernel as the update,
	 * block by block while the block is in cache; pass that same array as `rows` next time.
	 */
	step(rows: number[], labels: number[], mask: Float32Array | undefined, next?: number[] | 'val'): StepResult {
		const { d, units: U, classes: C } = this;
		const m = rows.length;
		const f = this.f32();
		const i32 = new Int32Array(this.k.memory.buffer);
		for (let i = 0; i < m; i++) i32[this.rowsAt / 4 + i] = this.trainAt + rows[i] * d * 4;
		const out = this.outAt / 4;
		if (this.ready !== rows) {
			f.fill(0, out, out + m * U);
			this.k.fwd(this.rowsAt, m, 0, d, this.w1At, this.outAt);
		}
		this.ready = undefined;

		const [b1, w2] = this.small.map((s) => s.value);
		const pre = new Float32Array(m * U); // x·W1 + b1
		const hid = new Float32Array(m * U); // relu, then dropout
		for (let j = 0; j < m * U; j++) {
			const a = fr(f[out + j] + b1[j % U]);
			pre[j] = a;
			const h = a > 0 ? a : 0;
			hid[j] = mask ? fr(h * mask[j]) : h;
		}
		const probs = this.dense2Softmax(hid, m);

		// Backward: mean of per-sample cross-entropy (renormalised, clipped to [ε, 1−ε]) through softmax.
		let loss = 0;
		const dz = new Float32Array(m * C);
		for (let i = 0; i < m; i++) {
			const p = probs.subarray(i * C, (i + 1) * C);
			let s = 0;
			for (let c = 0; c < C; c++) s += p[c];
			const y = labels[i];
			const r = p[y] / s;
			const q = Math.min(Math.max(r, EPS), 1 - EPS);
			loss -= Math.log(q);
			// d loss/d r_y (zero where the clip is active), then through r = p / Σp, then through softmax.
			const gr = r >= EPS && r <= 1 - EPS ? -1 / (q * m) : 0;
			const gp = new Array<number>(C);
			for (let c = 0; c < C; c++) gp[c] = (c === y ? gr / s : 0) - (gr * p[y]) / (s * s);
			let dot = 0;
			for (let c = 0; c < C; c++) dot += gp[c] * p[c];
			for (let c = 0; c < C; c++) dz[i * C + c] = p[c] * (gp[c] - dot);
		}
		const gW2 = new Float32Array(U * C);
		const gB2 = new Float32Array(C);
		const gB1 = new Float32Array(U);
		const dh = new Float32Array(this.k.memory.buffer, this.dhAt, m * U);
		for (let i = 0; i < m; i++) {
			for (let c = 0; c < C; c++) gB2[c] += dz[i * C + c];
			for (let u = 0; u < U; u++) {
				let g = 0;
				for (let c = 0; c < C; c++) {
					gW2[u * C + c] += hid[i * U + u] * dz[i * C + c];
					g += dz[i * C + c] * w2[u * C + c];
				}
				const j = i * U + u;
				const dj = pre[j] > 0 ? (mask ? g * mask[j] : g) : 0;
				dh[j] = dj;
				gB1[u] += dh[j];
			}
		}

		// Adam, exactly tfjs' AdamOptimizer.applyGradients (float32 scalars, its order of operations).
		const oneMinusAcc1 = fr(1 - this.accBeta1);
		const oneMinusAcc2 = fr(1 - this.accBeta2);
		const sc = [fr(BETA1), fr(1 - BETA1), fr(BETA2), fr(1 - BETA2), oneMinusAcc1, oneMinusAcc2, fr(ADAM_EPS), fr(-this.lr)];
		f.set(sc, this.scAt / 4);
		const nNext = next === undefined ? 0 : this.setRows(this.nextRowsAt, next);
		f.fill(0, out, out + nNext * U);
		for (let k0 = 0; k0 < d; k0 += BLOCK) {
			const k1 = Math.min(d, k0 + BLOCK);
			this.k.gradAdam(this.rowsAt, m, k0, k1, this.dhAt, this.w1At, this.m1At, this.v1At, this.scAt);
			if (nNext) this.k.fwd(this.nextRowsAt, nNext, k0, k1, this.w1At, this.outAt);
		}
		if (nNext) this.ready = next;
		[gB1, gW2, gB2].forEach((g, q) => adamSmall(this.small[q], g, sc));
		this.accBeta1 = fr(this.accBeta1 * fr(BETA1));
		this.accBeta2 = fr(this.accBeta2 * fr(BETA2));
		return { loss: loss / m, probs };
	}

	/** Inference probabilities for the validation set (no dropout). */
	predictVal(): Float32Array {
		const n = this.nVal;
		const { d, units: U } = this;
		if (n === 0) return new Float32Array(0);
		const f = this.f32();
		const out = this.outAt / 4;
		if (this.ready !== 'val') {
			this.setRows(this.rowsAt, 'val');
			f.fill(0, out, out + n * U);
			this.k.fwd(this.rowsAt, n, 0, d, this.w1At, this.outAt);
		}
		this.ready = undefined;
		const b1 = this.small[0].value;
		const hid = new Float32Array(n * U);
		for (let j = 0; j < n * U; j++) {
			const a = fr(f[out + j] + b1[j % U]);
			hid[j] = a > 0 ? a : 0;
		}
		return this.dense2Softmax(hid, n);
	}

	/** Writes the byte offsets of the rows (training rows, or all validation rows) at `at`; returns their count. */
	private setRows(at: number, rows: number[] | 'val'): number {
		const i32 = new Int32Array(this.k.memory.buffer);
		const d4 = this.d * 4;
		if (rows === 'val') {
			for (let i = 0; i < this.nVal; i++) i32[at / 4 + i] = this.valAt + i * d4;
			return this.nVal;
		}
		for (let i = 0; i < rows.length; i++) i32[at / 4 + i] = this.trainAt + rows[i] * d4;
		return rows.length;
	}

	/** Copies the trained values into the head's tfjs variables (what is saved and classified with). */
	/** Copies of the current weights in headVariables order (for restore-best-weights). */
	currentWeights(): Float32Array[] {
		return [Float32Array.from(new Float32Array(this.k.memory.buffer, this.w1At, this.d * this.units)), ...this.small.map((s) => Float32Array.from(s.value))];
	}

	writeBack(): void {
		const vars = headVariables(this.head);
		const values = [new Float32Array(this.k.memory.buffer, this.w1At, this.d * this.units), ...this.small.map((s) => s.value)];
		vars.forEach((v, i) => {
			const t = tf.tensor(Float32Array.from(values[i]), v.shape);
			v.assign(t);
			t.dispose();
		});
	}

	private dense2Softmax(hid: Float32Array, m: number): Float32Array {
		const { units: U, classes: C } = this;
		const [, w2, b2] = this.small.map((s) => s.value);
		const probs = new Float32Array(m * C);
		const z = new Array<number>(C);
		for (let i = 0; i < m; i++) {
			let max = -Infinity;
			for (let c = 0; c < C; c++) {
				let s = 0;
				for (let u = 0; u < U; u++) s += hid[i * U + u] * w2[u * C + c];
				z[c] = fr(fr(s) + b2[c]);
				if (z[c] > max) max = z[c];
			}
			let sum = 0;
			for (let c = 0; c < C; c++) sum += z[c] = Math.exp(z[c] - max);
			for (let c = 0; c < C; c++) probs[i * C + c] = z[c] / sum;
		}
		return probs;
	}
}

interface Layout {
	trainAt: number;
	valAt: number;
	w1At: number;
	m1At: number;
	v1At: number;
	rowsAt: number;
	nextRowsAt: number;
	outAt: number;
	dhAt: number;
	scAt: number;
	bytes: number;
}

/** Byte offsets (16-aligned) of everything the kernels touch, and the memory size they need. */
function memoryLayout(nTrain: number, nVal: number, d: number, units: number): Layout {
	let at = 0;
	const take = (nFloats: number) => {
		const here = at;
		at += Math.ceil((nFloats * 4) / 16) * 16;
		return here;
	};
	const rowsMax = Math.max(nTrain, nVal);
	const layout = {
		trainAt: take(nTrain * d),
		valAt: take(nVal * d),
		w1At: take(d * units),
		m1At: take(d * units),
		v1At: take(d * units),
		rowsAt: take(rowsMax),
		nextRowsAt: take(rowsMax),
		outAt: take(rowsMax * units),
		dhAt: take(rowsMax * units),
		scAt: take(ADAM_SCALARS.length),
	};
	return { ...layout, bytes: at };
}

/** tfjs' Adam update for a small variable, float32 op by op (same formula as the WASM kernel). */
function adamSmall(s: { value: Float32Array; m: Float32Array; v: Float32Array }, g: Float32Array, sc: number[]): void {
	const [b1, ob1, b2, ob2, c1, c2, eps, negLr] = sc;
	for (let j = 0; j < g.length; j++) {
		const gj = fr(g[j]);
		const mn = fr(fr(s.m[j] * b1) + fr(gj * ob1));
		const vn = fr(fr(s.v[j] * b2) + fr(fr(gj * gj) * ob2));
		s.m[j] = mn;
		s.v[j] = vn;
		s.value[j] = fr(fr(fr(fr(mn / c1) / fr(fr(Math.sqrt(fr(vn / c2))) + eps)) * negLr) + s.value[j]);
	}
}
