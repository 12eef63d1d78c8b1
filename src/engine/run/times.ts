// Where a run's time went, from metrics.json's `timing`. Pure (no fs): the Compare webview and its CSV export share it.

/** Where a run's time went: preparing features (scan, decode, base weights, feature extraction) vs training the head. */
export interface RunTimes {
	features: number;
	head: number;
	total: number;
}

/** Stages before the head: the frozen base's share of a run (near zero when every feature came from the cache). */
export const FEATURE_STAGES = ['scan', 'decode', 'weights', 'features'] as const;

/**
 * Run times from metrics.json's `timing` (seconds per stage); NaN where unknown. Without `timing` (older runs) the
 * head time falls back to the sum of the epoch times, and the feature time stays unknown.
 */
export function runTimes(timing: Readonly<Record<string, number>> | undefined, history: ReadonlyArray<{ seconds: number }>): RunTimes {
	const t = timing ?? {};
	const known = FEATURE_STAGES.filter((k) => Number.isFinite(t[k]));
	const epochs = history.length ? history.reduce((a, h) => a + h.seconds, 0) : NaN;
	return {
		features: known.length ? known.reduce((a, k) => a + t[k], 0) : NaN,
		head: Number.isFinite(t.train) ? t.train : epochs,
		total: Number.isFinite(t.total) ? t.total : NaN,
	};
}
