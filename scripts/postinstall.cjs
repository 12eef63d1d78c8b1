// After `npm ci` / `npm install`: say so when onnxruntime-node was dropped. Its install script downloads CUDA
// parts from NuGet unless told to skip (the repo's .npmrc does); offline that download throws and npm silently
// removes the optional package (the base then runs on TensorFlow.js, several times slower). An install that
// bypassed .npmrc gets this hint instead of a silent slowdown. Never fails the install.
'use strict';
const path = require('node:path');

try {
	require.resolve('onnxruntime-node/package.json', { paths: [path.join(__dirname, '..')] });
} catch {
	process.stderr.write(
		'radiograph-review: onnxruntime-node is not installed (its CUDA download fails offline).\n' +
			'  Reinstall with: npm ci   in the repository (its .npmrc skips only the CUDA download),\n' +
			'  or: ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node\n' +
			'  Without it the frozen base runs on TensorFlow.js, which is slower.\n',
	);
}
