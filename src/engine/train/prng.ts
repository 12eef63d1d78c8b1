// A small seeded PRNG in plain JS: shuffles and dropout masks must not depend on tfjs' Math.random fallback.

/** mulberry32: 32-bit state, fast, good enough for shuffling and masks. */
export class Prng {
	private state: number;

	constructor(seed: number) {
		this.state = (seed | 0) ^ 0x9e3779b9;
	}

	/** Uniform in [0, 1). */
	next(): number {
		let t = (this.state = (this.state + 0x6d2b79f5) | 0);
		t = Math.imul(t ^ (t >>> 15), t | 1);
		t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	}

	/** In-place Fisher–Yates. */
	shuffle<T>(a: T[]): T[] {
		for (let i = a.length - 1; i > 0; i--) {
			const j = Math.floor(this.next() * (i + 1));
			const t = a[i];
			a[i] = a[j];
			a[j] = t;
		}
		return a;
	}
}
