// Bench rows for the Radiograph Viewer: open a 4,000 × 5,000, 16-bit (12 bits stored) DICOM derived from the
// 15 MP awkward radiograph, as the worker does for the viewer, and one window/level redraw of all 20 MP as the
// webview does on every drag frame (lookup table + one pass). Not included: copying the 40 MB of stored values
// from the worker to the host and on to the webview.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import { viewImage } from '../data/view';
import { displayLut } from '../data/voi';

export interface ViewerBenchRow {
	runtime: string;
	value: number;
	unit: string;
	note?: string;
}

const W = 4000;
const H = 5000;

/** A minimal Explicit VR Little Endian Part-10 file holding 16-bit MONOCHROME2 pixels. */
function dicom16(pixels: Uint16Array, width: number, height: number): Buffer {
	const parts: Buffer[] = [Buffer.alloc(128), Buffer.from('DICM')];
	const el = (g: number, e: number, vr: string, value: Buffer) => {
		const long = vr === 'OW';
		const head = Buffer.alloc(long ? 12 : 8);
		head.writeUInt16LE(g, 0);
		head.writeUInt16LE(e, 2);
		head.write(vr, 4, 'latin1');
		if (long) head.writeUInt32LE(value.length, 8);
		else head.writeUInt16LE(value.length, 6);
		parts.push(head, value);
	};
	const us = (v: number) => Buffer.from(new Uint16Array([v]).buffer);
	const text = (s: string, pad = ' ') => Buffer.from(s.length % 2 ? s + pad : s, 'latin1');
	el(0x0002, 0x0010, 'UI', text('1.2.840.10008.1.2.1', '\0'));
	el(0x0008, 0x0060, 'CS', text('DX'));
	el(0x0028, 0x0002, 'US', us(1));
	el(0x0028, 0x0004, 'CS', text('MONOCHROME2'));
	el(0x0028, 0x0010, 'US', us(height));
	el(0x0028, 0x0011, 'US', us(width));
	el(0x0028, 0x0100, 'US', us(16));
	el(0x0028, 0x0101, 'US', us(12));
	el(0x0028, 0x0102, 'US', us(11));
	el(0x0028, 0x0103, 'US', us(0));
	el(0x0028, 0x1050, 'DS', text('2048'));
	el(0x0028, 0x1051, 'DS', text('4096'));
	el(0x7fe0, 0x0010, 'OW', Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength));
	return Buffer.concat(parts);
}

export async function benchViewer(source: string, tmp: string, repeats: number): Promise<ViewerBenchRow[]> {
	// 8-bit source, resampled to 4000 × 5000 in 16 bits and scaled to 12 bits: a derived fixture.
	const { data } = await sharp(source).greyscale().resize(W, H, { fit: 'fill' }).toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true });
	const px = new Uint16Array(data.buffer, data.byteOffset, data.length / 2).map((v) => v >> 4);
	const file = path.join(tmp, 'viewer-4000x5000-16bit.dcm');
	await fs.writeFile(file, dicom16(px, W, H));
	let open = Infinity;
	let openCpu = Infinity;
	let redraw = Infinity;
	let redrawCpu = Infinity;
	for (let r = 0; r < repeats; r++) {
		let t = performance.now();
		const cpu = process.cpuUsage();
		const img = await viewImage(file);
		open = Math.min(open, performance.now() - t);
		const used = process.cpuUsage(cpu);
		openCpu = Math.min(openCpu, (used.user + used.system) / 1000);
		// The webview's redraw: a LUT for the new window, then one Uint32 write per pixel.
		t = performance.now();
		const cpu2 = process.cpuUsage();
		const count = img.maxStored - img.minStored + 1;
		const lut = displayLut(img.minStored, count, img.slope, img.intercept, { center: 1500 + r, width: 2500, fn: 'LINEAR' }, false);
		const lut32 = new Uint32Array(count);
		for (let i = 0; i < count; i++) lut32[i] = 0xff000000 | (lut[i] << 16) | (lut[i] << 8) | lut[i];
		const out = new Uint32Array(img.width * img.height);
		const lo = img.minStored;
		const p = img.pixels;
		for (let i = 0; i < out.length; i++) out[i] = lut32[p[i] - lo];
		redraw = Math.min(redraw, performance.now() - t);
		const used2 = process.cpuUsage(cpu2);
		redrawCpu = Math.min(redrawCpu, (used2.user + used2.system) / 1000);
	}
	return [
		{
			runtime: 'viewer: open a 4000×5000 16-bit DICOM (read, parse, stored values, presets)',
			value: open,
			unit: 'ms',
			note: `best of ${repeats}; CPU ${Math.round(openCpu)} ms (wall time counts other processes on a shared machine); excludes the 40 MB copy to the webview`,
		},
		{ runtime: 'viewer: one window/level redraw of 20 MP (LUT + pass, as the webview)', value: redraw, unit: 'ms', note: `best of ${repeats}; CPU ${Math.round(redrawCpu)} ms; Node, not the browser` },
	];
}
