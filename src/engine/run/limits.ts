// The bounds of training settings (package.json: minimum/maximum). Settings, the CLI and run files a workspace
// carries are all held to them: a committed config.json with imageSize 100000 is refused, not allocated.
export const TRAIN_LIMITS = {
	epochs: { min: 1, max: 1000 },
	batchSize: { min: 1, max: 1024 },
	imageSize: { min: 32, max: 1024 },
	testFraction: { min: 0.05, max: 0.5 },
	valFraction: { min: 0, max: 0.5 },
} as const;
