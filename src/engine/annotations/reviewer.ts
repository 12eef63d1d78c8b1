// Who is reviewing: the caller's setting, else `git config user.name` (the name on the commits that carry the
// file), else the OS user.
import { execFile } from 'node:child_process';
import * as os from 'node:os';

export async function defaultReviewer(cwd: string, configured?: string): Promise<string> {
	if (configured?.trim()) return configured.trim();
	const git = await new Promise<string>((resolve) => {
		execFile('git', ['config', 'user.name'], { cwd, timeout: 5000 }, (err, stdout) => resolve(err ? '' : stdout.trim()));
	});
	if (git) return git;
	try {
		return os.userInfo().username;
	} catch {
		return '';
	}
}
