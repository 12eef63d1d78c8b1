// Who is reviewing: the caller's setting, else `git config user.name` (the name on the commits that carry the
// file), else the OS user. git reads the folder's .git/config, which a committed workspace controls: it is not
// run for an untrusted folder, and its answer is cached per folder.
import { execFile } from 'node:child_process';
import * as os from 'node:os';

const gitNames = new Map<string, Promise<string>>();

function gitUserName(cwd: string): Promise<string> {
	let name = gitNames.get(cwd);
	if (!name) {
		name = new Promise<string>((resolve) => {
			execFile('git', ['config', 'user.name'], { cwd, timeout: 5000 }, (err, stdout) => resolve(err ? '' : stdout.trim()));
		});
		gitNames.set(cwd, name);
	}
	return name;
}

/** `trusted: false` (Restricted Mode) skips git. */
export async function defaultReviewer(cwd: string, configured?: string, opts: { trusted?: boolean } = {}): Promise<string> {
	if (configured?.trim()) return configured.trim();
	const git = opts.trusted === false ? '' : await gitUserName(cwd);
	if (git) return git;
	try {
		return os.userInfo().username;
	} catch {
		return '';
	}
}
