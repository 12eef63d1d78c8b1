// Bias-corrected and accelerated (BCa) bootstrap intervals over clusters (patients). κ's sampling distribution is
// skewed and biased in small studies, where plain percentile intervals cover the true value less often than 95 %.
import { clusterBootstrap, quantileSorted, type Interval } from '../report/stats';

/** Standard normal CDF (erf by Abramowitz & Stegun 7.1.26, |error| < 1.5e-7: ample for interval levels). */
export function normalCdf(z: number): number {
	const x = Math.abs(z) / Math.SQRT2;
	const t = 1 / (1 + 0.3275911 * x);
	const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
	const erf = 1 - poly * Math.exp(-x * x);
	return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/** Inverse of normalCdf by bisection (monotone; 80 halvings reach double precision on [−40, 40]). */
export function normalQuantile(p: number): number {
	if (!(p > 0 && p < 1)) return p === 0 ? -Infinity : p === 1 ? Infinity : NaN;
	let lo = -40;
	let hi = 40;
	for (let i = 0; i < 80; i++) {
		const mid = (lo + hi) / 2;
		if (normalCdf(mid) < p) lo = mid;
		else hi = mid;
	}
	return (lo + hi) / 2;
}

/**
 * 95 % BCa intervals of several statistics: `stat(weights)` with integer weights per row (undefined = the sample).
 * Bias correction from the share of resamples below the estimate, acceleration from a leave-one-cluster-out
 * jackknife. Falls back to the percentile interval where either is undefined.
 */
export function bcaIntervals(groups: number[][], nRows: number, resamples: number, seed: number, stat: (weights?: ArrayLike<number>) => number[]): Interval[] {
	const est = stat();
	const boot = clusterBootstrap(groups, nRows, resamples, seed, (w) => stat(w));
	const w = new Int32Array(nRows).fill(1);
	const jack: number[][] = groups.map((g) => {
		for (const r of g) w[r] = 0;
		const v = stat(w);
		for (const r of g) w[r] = 1;
		return v;
	});
	return est.map((e, j) => {
		const values = boot
			.map((b) => b[j])
			.filter((x) => Number.isFinite(x))
			.sort((a, b) => a - b);
		if (!Number.isFinite(e) || values.length === 0) return { est: e, lo: NaN, hi: NaN };
		const below = values.filter((x) => x < e).length + 0.5 * values.filter((x) => x === e).length;
		const z0 = normalQuantile(below / values.length);
		const js = jack.map((v) => v[j]).filter((x) => Number.isFinite(x));
		const mean = js.reduce((a, b) => a + b, 0) / (js.length || 1);
		let num = 0;
		let den = 0;
		for (const x of js) {
			num += (mean - x) ** 3;
			den += (mean - x) ** 2;
		}
		const a = den > 0 ? num / (6 * den ** 1.5) : 0;
		const level = (zq: number) => normalCdf(z0 + (z0 + zq) / (1 - a * (z0 + zq)));
		let qlo = level(-1.959963984540054);
		let qhi = level(1.959963984540054);
		if (!Number.isFinite(z0) || !Number.isFinite(qlo) || !Number.isFinite(qhi)) [qlo, qhi] = [0.025, 0.975];
		return { est: e, lo: quantileSorted(values, qlo), hi: quantileSorted(values, qhi) };
	});
}
