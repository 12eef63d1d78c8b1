// Paths from a webview, a run folder or a dataset's CSV are untrusted: they must resolve, after following
// symlinks, inside one of the allowed roots. Used by the host (webview requests) and the worker (thumbnails).
import * as fs from 'node:fs';
import * as path from 'node:path';

export class PathConfinementError extends Error {
	constructor(
		readonly requested: string,
		reason: string,
	) {
		super(`Refused path '${requested}': ${reason}`);
		this.name = 'PathConfinementError';
	}
}

/** True when `child` is `root` or below it (both absolute and normalised). */
export function isInside(root: string, child: string): boolean {
	const rel = path.relative(root, child);
	return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Resolve `requested` (relative to `roots[0]`, or absolute) to a real path inside one of `roots`.
 * Rejects: empty/NUL strings, any `..` segment, paths that do not exist, and paths whose real
 * location (after symlinks) is outside every root's real location.
 * @returns the real absolute path.
 */
export async function confinePath(requested: string, roots: readonly string[]): Promise<string> {
	if (typeof requested !== 'string' || requested.length === 0) throw new PathConfinementError(String(requested), 'empty');
	if (requested.includes('\0')) throw new PathConfinementError(requested, 'contains NUL');
	if (roots.length === 0) throw new PathConfinementError(requested, 'no allowed roots');
	// A `..` segment is never needed by our webviews (they send relPaths we gave them): refuse it outright.
	if (requested.split(/[\\/]+/).includes('..')) throw new PathConfinementError(requested, "contains '..'");

	const realRoots: string[] = [];
	for (const r of roots) {
		try {
			realRoots.push(await fs.promises.realpath(path.resolve(r)));
		} catch {
			// A root that does not exist confines nothing.
		}
	}
	if (realRoots.length === 0) throw new PathConfinementError(requested, 'no allowed root exists');

	const candidate = path.isAbsolute(requested) ? path.resolve(requested) : path.resolve(roots[0], requested);
	let real: string;
	try {
		real = await fs.promises.realpath(candidate);
	} catch {
		throw new PathConfinementError(requested, 'does not exist');
	}
	if (!realRoots.some((root) => isInside(root, real))) throw new PathConfinementError(requested, 'outside the allowed folders');
	return real;
}
