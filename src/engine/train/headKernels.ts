// The two big operations of a head training step as a small hand-assembled WASM SIMD module:
//   fwd:      out[i, :] += X[row_i, k0:k1] · W[k0:k1, :]          (first Dense, no bias)
//   gradAdam: g[k, :] = Σ_i X[row_i, k] · dH[i, :], then tfjs' Adam update of W[k, :] with g, in place
// Why: tfjs-wasm sends any matMul with a transpose (the kernel gradient X^T·dH) to a scalar loop (≈ 28 ms per
// step at 32,768 features), repacks the changed kernel for XNNPACK on every forward, and runs Adam as 13 separate
// kernels over 655k floats. Here the gradient never leaves the cache: it is summed and applied in one pass.
// Every float op is a single f32 op in tfjs' order (no FMA), so the kernel gradient and the Adam update are the
// same IEEE operations tfjs performs.

/** Float offsets of Adam's scalars in the block passed to gradAdam. */
export const ADAM_SCALARS = ['beta1', 'oneMinusBeta1', 'beta2', 'oneMinusBeta2', 'oneMinusAccBeta1', 'oneMinusAccBeta2', 'epsilon', 'negLr'] as const;

export interface HeadKernels {
	memory: WebAssembly.Memory;
	/** (rows ptr: i32 byte offsets of the m rows, m, k0, k1, w ptr, out ptr) */
	fwd(rows: number, m: number, k0: number, k1: number, w: number, out: number): void;
	/** (rows ptr, m, k0, k1, dh ptr [m, units], w, firstMoment, secondMoment, scalars ptr) */
	gradAdam(rows: number, m: number, k0: number, k1: number, dh: number, w: number, mom1: number, mom2: number, scalars: number): void;
}

const I32 = 0x7f;
const V128 = 0x7b;

function uleb(n: number): number[] {
	const out: number[] = [];
	do {
		let b = n & 0x7f;
		n >>>= 7;
		if (n !== 0) b |= 0x80;
		out.push(b);
	} while (n !== 0);
	return out;
}

function sleb(n: number): number[] {
	const out: number[] = [];
	for (;;) {
		const b = n & 0x7f;
		n >>= 7;
		if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
			out.push(b);
			return out;
		}
		out.push(b | 0x80);
	}
}

const str = (s: string): number[] => [...uleb(s.length), ...Buffer.from(s, 'utf8')];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

// Instructions.
const get = (i: number) => [0x20, ...uleb(i)];
const set = (i: number) => [0x21, ...uleb(i)];
const i32c = (v: number) => [0x41, ...sleb(v)];
const i32Add = [0x6a];
const i32Sub = [0x6b];
const i32Mul = [0x6c];
const i32LtU = [0x49];
const i32Load = (offset = 0) => [0x28, 2, ...uleb(offset)];
const f32Load = (offset = 0) => [0x2a, 2, ...uleb(offset)];
const simd = (op: number) => [0xfd, ...uleb(op)];
const vLoad = (offset = 0) => [...simd(0x00), 4, ...uleb(offset)];
const vStore = (offset = 0) => [...simd(0x0b), 4, ...uleb(offset)];
const vZero = [...simd(0x0c), ...new Array<number>(16).fill(0)];
const splat = simd(0x13);
const fSqrt = simd(0xe3);
const fAdd = simd(0xe4);
const fMul = simd(0xe6);
const fDiv = simd(0xe7);
const loop = (body: number[]) => [0x03, 0x40, ...body, 0x0b];
const brIf = (depth: number) => [0x0d, ...uleb(depth)];

/** Locals: a function's params first, then the declared ones, numbered in order. */
function code(locals: Array<[number, number]>, body: number[]): number[] {
	const fn = [...vec(locals.map(([n, t]) => [...uleb(n), t])), ...body, 0x0b];
	return [...uleb(fn.length), ...fn];
}

/** Assembles the module for a Dense layer of `units` outputs (a multiple of 4). */
export function assembleHeadKernels(units: number): Uint8Array<ArrayBuffer> {
	if (units % 4 !== 0 || units <= 0) throw new Error(`head kernels need a multiple of 4 units, not ${units}`);
	const V = units / 4;
	const rowBytes = units * 4;
	const range = (n: number) => Array.from({ length: n }, (_, j) => j);

	// fwd(rows 0, m 1, k0 2, k1 3, w 4, out 5) for R rows at a time (m a multiple of R): each kernel vector loaded
	// once serves R rows. Locals: i 6, xp 7, xend 8, wp 9, op 10, base 11, delta 12.. (R−1); v128 acc, then s.
	const fwdR = (R: number) => {
		const [rows, m, k0, k1, w, out, i, xp, xend, wp, op, base] = range(12);
		const delta = (r: number) => 12 + r - 1; // byte distance from row 0 to row r
		const v0 = 12 + (R - 1);
		const acc = (r: number, j: number) => v0 + r * V + j;
		const sp = (r: number) => v0 + R * V + r;
		const rowPtr = (r: number) => [...get(rows), ...get(i), ...i32c(4), ...i32Mul, ...i32Add, ...i32Load(4 * r)];
		const body = [
			...i32c(0),
			...set(i),
			...loop([
				...rowPtr(0),
				...set(base),
				...range(R - 1).flatMap((q) => [...rowPtr(q + 1), ...get(base), ...i32Sub, ...set(delta(q + 1))]),
				...get(base),
				...get(k0),
				...i32c(4),
				...i32Mul,
				...i32Add,
				...set(xp),
				...get(base),
				...get(k1),
				...i32c(4),
				...i32Mul,
				...i32Add,
				...set(xend),
				...get(w),
				...get(k0),
				...i32c(rowBytes),
				...i32Mul,
				...i32Add,
				...set(wp),
				...get(out),
				...get(i),
				...i32c(rowBytes),
				...i32Mul,
				...i32Add,
				...set(op),
				...range(R).flatMap((r) => range(V).flatMap((j) => [...get(op), ...vLoad(r * rowBytes + 16 * j), ...set(acc(r, j))])),
				...loop([
					...get(xp),
					...f32Load(),
					...splat,
					...set(sp(0)),
					...range(R - 1).flatMap((q) => [...get(xp), ...get(delta(q + 1)), ...i32Add, ...f32Load(), ...splat, ...set(sp(q + 1))]),
					...range(V).flatMap((j) => [...get(wp), ...vLoad(16 * j), ...set(sp(R)), ...range(R).flatMap((r) => [...get(acc(r, j)), ...get(sp(r)), ...get(sp(R)), ...fMul, ...fAdd, ...set(acc(r, j))])]),
					...get(xp),
					...i32c(4),
					...i32Add,
					...set(xp),
					...get(wp),
					...i32c(rowBytes),
					...i32Add,
					...set(wp),
					...get(xp),
					...get(xend),
					...i32LtU,
					...brIf(0),
				]),
				...range(R).flatMap((r) => range(V).flatMap((j) => [...get(op), ...get(acc(r, j)), ...vStore(r * rowBytes + 16 * j)])),
				...get(i),
				...i32c(R),
				...i32Add,
				...set(i),
				...get(i),
				...get(m),
				...i32LtU,
				...brIf(0),
			]),
		];
		// sp(R) is the loaded kernel vector.
		return code(
			[
				[6 + R - 1, I32],
				[R * V + R + 1, V128],
			],
			body,
		);
	};

	// gradAdam(rows 0, m 1, k0 2, k1 3, dh 4, w 5, m1 6, m2 7, sc 8) for P kernel rows at a time ((k1−k0) a
	// multiple of P): each dH vector loaded once serves P rows. Locals k 9, i 10, dp 11, rp 12, off 13, xa 14;
	// v128: g (P×V), s (P), dv, 8 splatted scalars, t1, t2.
	const gradAdamP = (P: number) => {
		const [rows, m, k0, k1, dh, w, m1, m2, sc, k, i, dp, rp, off, xa] = range(15);
		const g = (p: number, j: number) => 15 + p * V + j;
		const s = (p: number) => 15 + P * V + p;
		const dv = 15 + P * V + P;
		const c = (q: number) => dv + 1 + q; // ADAM_SCALARS order
		const [B1, OB1, B2, OB2, C1, C2, EPS, NLR] = range(8).map(c);
		const t1 = dv + 9;
		const t2 = dv + 10;
		const adam = (p: number, j: number) => {
			const o = p * rowBytes + 16 * j;
			return [
				// m' = m·β1 + g·(1−β1)
				...get(off),
				...get(m1),
				...i32Add,
				...vLoad(o),
				...get(B1),
				...fMul,
				...get(g(p, j)),
				...get(OB1),
				...fMul,
				...fAdd,
				...set(t1),
				...get(off),
				...get(m1),
				...i32Add,
				...get(t1),
				...vStore(o),
				// v' = v·β2 + g²·(1−β2)
				...get(off),
				...get(m2),
				...i32Add,
				...vLoad(o),
				...get(B2),
				...fMul,
				...get(g(p, j)),
				...get(g(p, j)),
				...fMul,
				...get(OB2),
				...fMul,
				...fAdd,
				...set(t2),
				...get(off),
				...get(m2),
				...i32Add,
				...get(t2),
				...vStore(o),
				// w' = (m'/(1−β1^t)) / (sqrt(v'/(1−β2^t)) + ε) · (−lr) + w
				...get(off),
				...get(w),
				...i32Add,
				...get(t1),
				...get(C1),
				...fDiv,
				...get(t2),
				...get(C2),
				...fDiv,
				...fSqrt,
				...get(EPS),
				...fAdd,
				...fDiv,
				...get(NLR),
				...fMul,
				...get(off),
				...get(w),
				...i32Add,
				...vLoad(o),
				...fAdd,
				...vStore(o),
			];
		};
		const body = [
			...range(8).flatMap((q) => [...get(sc), ...f32Load(4 * q), ...splat, ...set(c(q))]),
			...get(k0),
			...set(k),
			...loop([
				...range(P).flatMap((p) => range(V).flatMap((j) => [...vZero, ...set(g(p, j))])),
				...i32c(0),
				...set(i),
				...get(dh),
				...set(dp),
				...get(rows),
				...set(rp),
				// g[k + p] = Σ_i X[row_i, k + p] · dH[i, :], i ascending (tfjs' order for this shared dim)
				...loop([
					...get(rp),
					...i32Load(),
					...get(k),
					...i32c(4),
					...i32Mul,
					...i32Add,
					...set(xa),
					...range(P).flatMap((p) => [...get(xa), ...f32Load(4 * p), ...splat, ...set(s(p))]),
					...range(V).flatMap((j) => [...get(dp), ...vLoad(16 * j), ...set(dv), ...range(P).flatMap((p) => [...get(g(p, j)), ...get(s(p)), ...get(dv), ...fMul, ...fAdd, ...set(g(p, j))])]),
					...get(dp),
					...i32c(rowBytes),
					...i32Add,
					...set(dp),
					...get(rp),
					...i32c(4),
					...i32Add,
					...set(rp),
					...get(i),
					...i32c(1),
					...i32Add,
					...set(i),
					...get(i),
					...get(m),
					...i32LtU,
					...brIf(0),
				]),
				...get(k),
				...i32c(rowBytes),
				...i32Mul,
				...set(off),
				...range(P).flatMap((p) => range(V).flatMap((j) => adam(p, j))),
				...get(k),
				...i32c(P),
				...i32Add,
				...set(k),
				...get(k),
				...get(k1),
				...i32LtU,
				...brIf(0),
			]),
		];
		return code(
			[
				[6, I32],
				[P * V + P + 11, V128],
			],
			body,
		);
	};

	const fwdType = [0x60, ...vec(range(6).map(() => [I32])), 0];
	const gradType = [0x60, ...vec(range(9).map(() => [I32])), 0];
	const bytes = [
		0x00,
		0x61,
		0x73,
		0x6d,
		0x01,
		0x00,
		0x00,
		0x00,
		...section(1, vec([fwdType, gradType])),
		...section(2, vec([[...str('env'), ...str('memory'), 0x02, 0x00, ...uleb(1)]])),
		...section(3, vec([[0], [0], [1], [1]])),
		...section(
			7,
			vec([
				[...str('fwd1'), 0x00, 0],
				[...str('fwd2'), 0x00, 1],
				[...str('gradAdam1'), 0x00, 2],
				[...str('gradAdam2'), 0x00, 3],
			]),
		),
		...section(10, vec([fwdR(1), fwdR(2), gradAdamP(1), gradAdamP(2)])),
	];
	return new Uint8Array(bytes);
}

const compiled = new Map<number, WebAssembly.Module>();

/** Instantiates the kernels over a fresh memory of at least `bytes` bytes (undefined where WASM SIMD is missing). */
export function createHeadKernels(units: number, bytes: number): HeadKernels {
	if (typeof WebAssembly === 'undefined') throw new Error('no WebAssembly in this runtime');
	let mod = compiled.get(units);
	if (!mod) {
		const bin = assembleHeadKernels(units);
		if (!WebAssembly.validate(bin)) throw new Error(`the kernel module for ${units} units does not validate`);
		mod = new WebAssembly.Module(bin);
		compiled.set(units, mod);
	}
	const pages = Math.ceil(bytes / 65536);
	if (pages > 65536) throw new Error(`${pages} pages of memory exceed WASM's 4 GiB`);
	const memory = new WebAssembly.Memory({ initial: pages });
	const inst = new WebAssembly.Instance(mod, { env: { memory } });
	type Fwd = HeadKernels['fwd'];
	type Grad = HeadKernels['gradAdam'];
	const ex = inst.exports as unknown as { fwd1: Fwd; fwd2: Fwd; gradAdam1: Grad; gradAdam2: Grad };
	const rowBytes = units * 4;
	return {
		memory,
		// Two rows (two kernel rows) per iteration; an odd one left over goes through the one-at-a-time version.
		fwd(rows, m, k0, k1, w, out) {
			const even = m & ~1;
			if (even) ex.fwd2(rows, even, k0, k1, w, out);
			if (m & 1) ex.fwd1(rows + 4 * even, 1, k0, k1, w, out + even * rowBytes);
		},
		gradAdam(rows, m, k0, k1, dh, w, mom1, mom2, scalars) {
			const mid = k0 + ((k1 - k0) & ~1);
			if (mid > k0) ex.gradAdam2(rows, m, k0, mid, dh, w, mom1, mom2, scalars);
			if (k1 > mid) ex.gradAdam1(rows, m, mid, k1, dh, w, mom1, mom2, scalars);
		},
	};
}
