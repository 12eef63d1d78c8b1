// Where the frozen base runs on ONNX Runtime: the CPU, or CUDA where onnxruntime-node's CUDA provider is installed.
// Nothing here loads ONNX Runtime, so a bad RADREVIEW_BASE_DEVICE is reported before any runtime is chosen.
import { existsSync } from 'node:fs';
import * as path from 'node:path';

/** Where the base runs on ONNX Runtime: 'auto' takes CUDA when its provider is installed and starts, else the CPU. */
export type BaseDevice = 'auto' | 'cpu' | 'cuda';
export const BASE_DEVICES: readonly BaseDevice[] = ['auto', 'cpu', 'cuda'];

/** The env var that picks the device for every ONNX base (CLI, worker, bench): no GPU may be assumed anywhere. */
export const BASE_DEVICE_ENV = 'RADREVIEW_BASE_DEVICE';

/** The device asked for in RADREVIEW_BASE_DEVICE (default 'auto'); a value it does not know is an error naming it. */
export function baseDeviceFromEnv(env: NodeJS.ProcessEnv = process.env): BaseDevice {
	const v = env[BASE_DEVICE_ENV]?.trim().toLowerCase();
	if (!v) return 'auto';
	if ((BASE_DEVICES as readonly string[]).includes(v)) return v as BaseDevice;
	throw new Error(`${BASE_DEVICE_ENV}=${env[BASE_DEVICE_ENV]}: expected one of ${BASE_DEVICES.join(', ')}`);
}

/**
 * Whether onnxruntime-node's CUDA execution provider is installed: its install script downloads the provider
 * libraries beside the binding only when asked (`ONNXRUNTIME_NODE_INSTALL=cuda12`), never offline.
 */
export function cudaProvider(bindingDir = ortBindingDir()): { installed: boolean; reason?: string } {
	if (!bindingDir) return { installed: false, reason: 'onnxruntime-node is not installed' };
	if (process.platform !== 'linux' && process.platform !== 'win32') return { installed: false, reason: `no CUDA provider for ${process.platform}` };
	const lib = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';
	const file = path.join(bindingDir, lib);
	return existsSync(file) ? { installed: true } : { installed: false, reason: `${file} is missing (install it with ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci; it needs CUDA 12 and cuDNN 9)` };
}

function ortBindingDir(): string | undefined {
	try {
		return path.join(path.dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch);
	} catch {
		return undefined;
	}
}

/** Which providers to try for a device; `note` says why the CPU serves a request for CUDA. */
export function chooseProviders(device: BaseDevice, o: { int8: boolean; cuda: { installed: boolean; reason?: string } }): { providers: Array<'cuda' | 'cpu'>; note?: string } {
	if (device === 'cpu') return { providers: ['cpu'] };
	// The int8 graph is built for the CPU's integer kernels (QLinearConv on VNNI / AVX-512).
	if (o.int8) return { providers: ['cpu'], note: device === 'cuda' ? 'an int8 base runs on the CPU (its integer kernels); CUDA not used' : undefined };
	if (!o.cuda.installed) return { providers: ['cpu'], note: device === 'cuda' ? `CUDA execution provider not used: ${o.cuda.reason}` : undefined };
	return { providers: ['cuda', 'cpu'] };
}
