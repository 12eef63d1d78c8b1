// Optional prerequisites of a test (ONNX Runtime, h5py, scikit-image photos): missing ones skip locally and fail in
// CI, where setup installs everything and a silent skip would hide a broken setup.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';

export const CI = process.env.CI === 'true';

/** Skip `t` for a missing prerequisite, or fail it under CI=true. */
export function missingPrereq(t: TestContext, what: string): void {
	if (CI) assert.fail(`${what} (CI=true: prerequisites must be installed, see scripts/setup.sh)`);
	t.skip(what);
}
