// Preview only (not shipped): writes dist/preview-sample.js with the rows of ../shared/cxr/dev/manifest.csv
// and small JPEG thumbnails in dist/preview-thumbs/ (as the host would make them), so webview/preview.html
// shows real radiographs. Usage: node webview/makePreviewSample.mjs
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import sharp from 'sharp';

const dev = resolve('../shared/cxr/dev');
const thumbs = resolve('dist/preview-thumbs');
const lines = readFileSync(`${dev}/manifest.csv`, 'utf8').trim().split('\n').slice(1);
const rows = lines.map((l) => l.split(',').slice(0, 3));
sharp.concurrency(1);
for (const [path] of rows) {
	const out = `${thumbs}/${path}.jpg`;
	if (existsSync(out)) continue;
	mkdirSync(dirname(out), { recursive: true });
	await sharp(`${dev}/${path}`).resize(192, 192, { fit: 'inside' }).jpeg({ quality: 80 }).toFile(out);
}
mkdirSync('dist', { recursive: true });
writeFileSync('dist/preview-sample.js', `window.PREVIEW_SAMPLE = ${JSON.stringify({ root: dev, thumbs, rows })};\n`);
console.log(`dist/preview-sample.js: ${rows.length} images, thumbnails in ${thumbs}`);
