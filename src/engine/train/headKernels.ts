// The two big operations of a head training step, fwd and gradAdam, as a WASM SIMD module written in
// headKernels.wat (which says what they compute and why) and compiled by wabt at build time. This file loads it
// and splits each call between the two-rows-at-a-time and one-row functions.
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

/** Float offsets of Adam's scalars in the block passed to gradAdam. */
export const ADAM_SCALARS = ['beta1', 'oneMinusBeta1', 'beta2', 'oneMinusBeta2', 'oneMinusAccBeta1', 'oneMinusAccBeta2', 'epsilon', 'negLr'] as const;

export interface HeadKernels {
	memory: WebAssembly.Memory;
	/** (rows ptr: i32 byte offsets of the m rows, m, k0, k1, w ptr, out ptr) */
	fwd(rows: number, m: number, k0: number, k1: number, w: number, out: number): void;
	/** (rows ptr, m, k0, k1, dh ptr [m, units], w, firstMoment, secondMoment, scalars ptr) */
	gradAdam(rows: number, m: number, k0: number, k1: number, dh: number, w: number, mom1: number, mom2: number, scalars: number): void;
}

/** The hidden units headKernels.wat is written for (a row is five f32x4 vectors): the head's Dense(20). */
export const KERNEL_UNITS = 20;
const WASM_FILE = 'headKernels.wasm';

function checkUnits(units: number): void {
	if (units % 4 !== 0 || units <= 0) throw new Error(`head kernels need a multiple of 4 units, not ${units}`);
	if (units !== KERNEL_UNITS) throw new Error(`headKernels.wat is written for ${KERNEL_UNITS} units, not ${units}`);
}

/**
 * The kernel module for a Dense layer of `units` outputs, as wabt compiled headKernels.wat at build time
 * (dist/headKernels.wasm: beside the bundle, or the repository's dist/ when run from source under tsx).
 */
export function assembleHeadKernels(units: number): Uint8Array<ArrayBuffer> {
	checkUnits(units);
	const beside = path.join(__dirname, WASM_FILE);
	if (existsSync(beside)) return new Uint8Array(readFileSync(beside));
	const built = path.resolve(__dirname, '../../../dist', WASM_FILE);
	const source = path.join(__dirname, 'headKernels.wat');
	if (!existsSync(built)) throw new Error(`${built} is missing: npm run build compiles it from headKernels.wat`);
	// From source, a stale build would silently test the old kernels.
	if (existsSync(source) && statSync(source).mtimeMs > statSync(built).mtimeMs) throw new Error(`${built} is older than headKernels.wat: run npm run build`);
	return new Uint8Array(readFileSync(built));
}

let compiled: WebAssembly.Module | undefined;

function kernelModule(units: number): WebAssembly.Module {
	checkUnits(units);
	if (compiled) return compiled;
	const bin = assembleHeadKernels(units);
	if (!WebAssembly.validate(bin)) throw new Error(`${WASM_FILE} does not validate (no WASM SIMD in this runtime?)`);
	return (compiled = new WebAssembly.Module(bin));
}

/** Instantiates the kernels over a fresh memory of at least `bytes` bytes; throws where they cannot run. */
export function createHeadKernels(units: number, bytes: number): HeadKernels {
	if (typeof WebAssembly === 'undefined') throw new Error('no WebAssembly in this runtime');
	const mod = kernelModule(units);
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
