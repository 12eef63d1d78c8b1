// Webview-supplied paths must stay inside the allowed roots, also through symlinks.
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, copyFileSync, symlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { confinePath, isInside, PathConfinementError, sanitizeFileName } from '../../src/util/pathConfinement';

// A real radiograph in a dataset root, a secret outside it, and links in both directions.
const tmp = realpathSync(mkdtempSync(path.join(tmpdir(), 'radreview-paths-')));
const root = path.join(tmp, 'dataset');
const other = path.join(tmp, 'other');
mkdirSync(path.join(root, 'COVID'), { recursive: true });
mkdirSync(other);
const image = path.join(root, 'COVID', '00870a9c.jpg');
copyFileSync(path.join(__dirname, '../../../shared/cxr/dev/COVID/00870a9c.jpg'), image);
writeFileSync(path.join(other, 'secret.txt'), 'not yours');
writeFileSync(path.join(tmp, 'dataset-evil.txt'), 'prefix trick');
symlinkSync(path.join(other, 'secret.txt'), path.join(root, 'COVID', 'escape.jpg'));
symlinkSync(other, path.join(root, 'linked-dir'));
symlinkSync(image, path.join(other, 'inward.jpg'));

after(() => rmSync(tmp, { recursive: true, force: true }));

async function refused(p: string, roots = [root]): Promise<void> {
	await assert.rejects(confinePath(p, roots), (e: unknown) => e instanceof PathConfinementError, `accepted ${p}`);
}

test('relative and absolute paths inside the root resolve to the real file', async () => {
	assert.equal(await confinePath('COVID/00870a9c.jpg', [root]), image);
	assert.equal(await confinePath(image, [root]), image);
	assert.equal(await confinePath('COVID//00870a9c.jpg', [root]), image);
	assert.equal(await confinePath('./COVID/00870a9c.jpg', [root]), image);
});

test("'..' segments are refused even when they would land inside", async () => {
	await refused('COVID/../COVID/00870a9c.jpg');
	await refused('../other/secret.txt');
	await refused('..\\other\\secret.txt');
	await refused(`${root}/../other/secret.txt`);
});

test('absolute paths elsewhere, prefix look-alikes and missing files are refused', async () => {
	await refused(path.join(other, 'secret.txt'));
	await refused('/etc/passwd');
	await refused(path.join(tmp, 'dataset-evil.txt'), [root]);
	await refused('COVID/missing.jpg');
	await refused('');
	await refused('COVID/00870a9c.jpg\0.png');
});

test('symlinks that escape the root are refused; links into it are fine when both are allowed', async () => {
	await refused('COVID/escape.jpg');
	await refused('linked-dir/secret.txt');
	// A link elsewhere pointing into the root resolves to the real file inside it.
	assert.equal(await confinePath(path.join(other, 'inward.jpg'), [root]), image);
});

test('several roots: a path in any of them is fine, no roots means nothing is', async () => {
	assert.equal(await confinePath(path.join(other, 'secret.txt'), [root, other]), path.join(other, 'secret.txt'));
	await refused('COVID/00870a9c.jpg', []);
	await refused('COVID/00870a9c.jpg', [path.join(tmp, 'does-not-exist')]);
});

test('isInside and sanitizeFileName', () => {
	assert.ok(isInside('/a/b', '/a/b'));
	assert.ok(isInside('/a/b', '/a/b/c'));
	assert.equal(isInside('/a/b', '/a/bc'), false);
	assert.equal(isInside('/a/b', '/a'), false);
	assert.equal(sanitizeFileName('../../.bashrc'), 'bashrc');
	assert.equal(sanitizeFileName('grid <1>.png'), 'grid _1_.png');
	assert.equal(sanitizeFileName(''), 'export');
	assert.equal(sanitizeFileName('a/b\\c.pdf'), 'c.pdf');
});
