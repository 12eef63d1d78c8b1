// Agreement statistics over class indices, each with optional integer weights per image (a bootstrap resample).
// Pure; Cohen's κ as scikit-learn's cohen_kappa_score, Fleiss' κ as statsmodels' fleiss_kappa (checked by a test).

/** k × k counts: rows the first reader's class, columns the second's. */
export function pairConfusion(a: ArrayLike<number>, b: ArrayLike<number>, k: number, weights?: ArrayLike<number>): number[][] {
	const m = Array.from({ length: k }, () => new Array<number>(k).fill(0));
	for (let i = 0; i < a.length; i++) m[a[i]][b[i]] += weights ? weights[i] : 1;
	return m;
}

/** Cohen's κ of a confusion matrix: (p_o − p_e) / (1 − p_e); NaN when p_e = 1 or there is nothing. */
export function cohenKappa(m: number[][]): number {
	const k = m.length;
	let n = 0;
	let diag = 0;
	const rows = new Array<number>(k).fill(0);
	const cols = new Array<number>(k).fill(0);
	for (let r = 0; r < k; r++)
		for (let c = 0; c < k; c++) {
			n += m[r][c];
			rows[r] += m[r][c];
			cols[c] += m[r][c];
			if (r === c) diag += m[r][c];
		}
	if (n === 0) return NaN;
	let pe = 0;
	for (let c = 0; c < k; c++) pe += (rows[c] / n) * (cols[c] / n);
	return pe === 1 ? NaN : (diag / n - pe) / (1 - pe);
}

/**
 * Fleiss' κ of a subjects × classes table of counts (each row: how many readers chose each class; the same number
 * of readers per row), with optional weights per subject.
 */
export function fleissKappa(table: readonly (readonly number[])[], weights?: ArrayLike<number>): number {
	const k = table[0]?.length ?? 0;
	let subjects = 0;
	let pBar = 0;
	const colSum = new Array<number>(k).fill(0);
	let total = 0;
	for (let i = 0; i < table.length; i++) {
		const w = weights ? weights[i] : 1;
		if (w === 0) continue;
		const row = table[i];
		let n = 0;
		let sq = 0;
		for (let c = 0; c < k; c++) {
			n += row[c];
			sq += row[c] * row[c];
			colSum[c] += w * row[c];
		}
		total += w * n;
		subjects += w;
		pBar += (w * (sq - n)) / (n * (n - 1));
	}
	if (subjects === 0) return NaN;
	pBar /= subjects;
	let pe = 0;
	for (let c = 0; c < k; c++) pe += (colSum[c] / total) ** 2;
	return pe === 1 ? NaN : (pBar - pe) / (1 - pe);
}

/**
 * Specific agreement for class c over a subjects × classes table (any number of readers ≥ 2 per subject):
 * positive = Σ n_ic(n_ic − 1) / Σ n_ic(n_i − 1), negative the same for "not c". For two readers these are
 * 2a / (2a + b + c) and 2d / (2d + b + c).
 */
export function specificAgreement(table: readonly (readonly number[])[], c: number, weights?: ArrayLike<number>): { positive: number; negative: number } {
	let pn = 0;
	let pd = 0;
	let nn = 0;
	let nd = 0;
	for (let i = 0; i < table.length; i++) {
		const w = weights ? weights[i] : 1;
		if (w === 0) continue;
		const row = table[i];
		let n = 0;
		for (const x of row) n += x;
		const yes = row[c];
		const no = n - yes;
		pn += w * yes * (yes - 1);
		pd += w * yes * (n - 1);
		nn += w * no * (no - 1);
		nd += w * no * (n - 1);
	}
	return { positive: pd ? pn / pd : NaN, negative: nd ? nn / nd : NaN };
}

/** Subjects × classes counts from per-reader class indices (readers[r][i] = class of subject i by reader r). */
export function countsTable(readers: readonly ArrayLike<number>[], k: number): number[][] {
	const n = readers[0]?.length ?? 0;
	const t = Array.from({ length: n }, () => new Array<number>(k).fill(0));
	for (const r of readers) for (let i = 0; i < n; i++) t[i][r[i]]++;
	return t;
}
