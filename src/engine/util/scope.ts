// What a workspace file may make the engine read. Runs, predictions.csv, weights.json, manifests and the annotations
// file are anyone's (a cloned repository): a path they name is read only inside the window's readable roots, and
// in Restricted Mode not at all. The host sets the scope (EngineClient's `scope`); without one (the CLI, tests) the
// user named the files on the command line and every path may be read.
import { confinePath, PathConfinementError } from './confine';

export interface WorkspaceScope {
	/** Folders whose files may be read (workspace folders, folders the user chose). */
	roots: string[];
	/** False in Restricted Mode: nothing a workspace file names is read, decoded, loaded or run. */
	trusted: boolean;
}

let current: WorkspaceScope | undefined;

export function setWorkspaceScope(scope: WorkspaceScope | undefined): void {
	current = scope ? { roots: [...scope.roots], trusted: scope.trusted } : undefined;
}

export const workspaceScope = (): WorkspaceScope | undefined => current;

/** In Restricted Mode: true (callers then skip what a workspace file names). */
export const restricted = (): boolean => current !== undefined && !current.trusted;

/**
 * The real path of `file`, which `source` (a workspace file) names, when it may be read; else an error that says
 * which file named which path and why it is refused.
 */
export async function confineNamed(file: string, source: string, extraRoots: readonly string[] = []): Promise<string> {
	if (!current) return file;
	if (!current.trusted) throw new PathConfinementError(file, `named by ${source}; nothing a workspace file names is read in Restricted Mode (trust the workspace first)`);
	try {
		return await confinePath(file, [...current.roots, ...extraRoots]);
	} catch (e) {
		if (e instanceof PathConfinementError)
			throw new PathConfinementError(file, `named by ${source}: ${e.message.replace(/^Refused path '.*?': /, '')} (${current.roots.join(', ') || 'no readable folders'})`);
		throw e;
	}
}

/** Whether `file` named by a workspace file may be read (for optional extras that are skipped when not). */
export async function mayRead(file: string): Promise<boolean> {
	try {
		await confineNamed(file, 'a workspace file');
		return true;
	} catch {
		return false;
	}
}
