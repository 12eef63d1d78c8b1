// Whether onnxruntime-node is installed, and what to tell the user when it is not. A bare `npm ci` used to drop it
// silently (its install script's CUDA download fails offline and npm removes the optional package); the repo's
// .npmrc now skips only that download. Either way a missing ORT must be said loudly at start-up, with the fix.
export const ORT_FIX = "run `npm ci` again in the repository (its .npmrc skips only onnxruntime-node's CUDA download), or `ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node`";

/** The start-up warning when onnxruntime-node cannot be found (or, with `load`, loaded); undefined when it is there. */
export function ortMissingWarning(load: (() => unknown) | undefined = undefined): string | undefined {
	try {
		if (load) load();
		else require.resolve('onnxruntime-node');
		return undefined;
	} catch (e) {
		const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
		return `onnxruntime-node is not installed (${why}): the frozen base runs on TensorFlow.js, several times slower. Fix: ${ORT_FIX}.`;
	}
}
