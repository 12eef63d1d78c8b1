// Paths that arrive from a webview are untrusted: they must resolve, after following symlinks,
// inside one of the allowed roots. No vscode import, so the rules are unit-tested in plain node.
import * as path from 'node:path';

export { confinePath, isInside, PathConfinementError } from '../engine/util/confine';

/** Make a user-suggested file name safe for a save dialog default (no folders, no odd characters). */
export function sanitizeFileName(name: string, fallback = 'export'): string {
	const base = path
		.basename(name.replace(/\\/g, '/'))
		.replace(/[^A-Za-z0-9._ -]/g, '_')
		.replace(/^\.+/, '');
	return base.length > 0 ? base.slice(0, 120) : fallback;
}
