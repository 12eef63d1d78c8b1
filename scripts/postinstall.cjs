// After `npm ci` / `npm install`: say so when onnxruntime-node was dropped. Its install script downloads CUDA
// parts from NuGet unless ONNXRUNTIME_NODE_INSTALL=skip; offline that download throws and npm silently removes
// the optional package (the base then runs on TensorFlow.js, several times slower). scripts/setup.sh sets the
// variable; a bare `npm ci` gets this hint instead of a silent slowdown. Never fails the install.
'use strict';
const path = require('node:path');

try {
	require.resolve('onnxruntime-node/package.json', { paths: [path.join(__dirname, '..')] });
} catch {
	process.stderr.write(
		'radiograph-review: onnxruntime-node is not installed (its CUDA download fails offline).\n' +
			'  Reinstall with: ONNXRUNTIME_NODE_INSTALL=skip npm ci   (scripts/setup.sh does this)\n' +
			'  Without it the frozen base runs on TensorFlow.js, which is slower.\n',
	);
}
