// The files of a run folder and the shapes of the ones the engine writes itself.
import type { BackboneId, Metrics, WeightsInfo } from '../types';
import type { Int8Fidelity } from '../train/int8Base';

export const RUN_FILES = {
	config: 'config.json',
	splits: 'splits.json',
	history: 'history.json',
	metrics: 'metrics.json',
	predictions: 'predictions.csv',
	weights: 'weights.json',
	model: 'model.json',
	modelWeights: 'weights.bin',
	/** In a `.partial` folder only: which process is writing it (see recoverPartialRuns). */
	owner: 'owner.json',
	/** Marks a run whose training was cut off (window reload, crash): history so far, no model, no metrics. */
	interrupted: 'interrupted.json',
	/** int8 runs: the calibration report and the activation ranges (classification rebuilds the same graph). */
	quantization: 'quantization.json',
	/** The out-of-distribution reference of the training images: calibration (JSON) and unit vectors (float32). */
	ood: 'ood.json',
	oodVectors: 'ood.bin',
} as const;

/** metrics.json: the test metrics plus what produced them. */
export interface StoredMetrics extends Metrics {
	backbone: BackboneId;
	backend: string;
	/** Which runtime computed the base features ('tfjs …' or 'onnxruntime-node …'; 'cache' when all were cached). */
	baseRuntime: string;
	weights: WeightsInfo;
	createdAt: string;
	timing: Record<string, number>;
	counts: { train: number; val: number; test: number; decodeErrors: number };
	/** Which head trainer ran: 'fused WASM' or 'tfjs loop (…reason)'; absent in runs from before it was recorded. */
	headTrainer?: string;
	/** Stop and keep: training ended after this epoch (of config.epochs). */
	stoppedAt?: number;
	/** restoreBestWeights: the model holds the weights of this epoch (lowest val_loss). */
	restoredEpoch?: number;
	/** int8 runs: calibration, fidelity against fp32, and whether int8 was used. */
	int8?: Int8Fidelity;
}

/** weights.json: which backbone weights the head was trained on (not a copy of them). */
export interface StoredWeights extends WeightsInfo {
	backbone: BackboneId;
}
