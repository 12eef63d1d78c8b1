// Backbones are data: size, normalisation, layer names, weight files. The builders live beside this file.
import type { BackboneId, Preprocessing } from '../../types';
import type { LayersModel } from '../tf';
import type { BuildOptions } from './common';

export interface KerasWeightsFile {
	/** Keras' own file name in ~/.keras/models. */
	fileName: string;
	/** The URL keras.applications downloads from. */
	url: string;
	/** The file_hash keras.applications passes to get_file (md5 or sha256 by length). */
	fileHash: string;
}

export interface BackboneSpec {
	id: BackboneId;
	displayName: string;
	/** keras.applications.<module>.preprocess_input mode. */
	preprocessing: Preprocessing;
	defaultInputSize: number;
	/** Keras' parameter count with include_top=False. */
	paramCount: number;
	/** Output [h, w, c] of the notop base for a square input. */
	outputShape(inputSize: number): [number, number, number];
	/** Multiply-accumulates per image at the default size (for GFLOP/s in the benchmark). */
	gmacs: number;
	/** Where pretrained notop weights come from, when Keras publishes them. */
	keras?: KerasWeightsFile;
	/** Contains BatchNormalization: must run in inference mode when frozen. */
	hasBatchNorm: boolean;
	/** A fresh, randomly initialised notop base with keras.applications' layer names. */
	build(inputSize: number): LayersModel;
}

/** A spec plus a seedable builder (spec.build(size) is the unseeded form). */
export interface BackboneEntry extends BackboneSpec {
	/** Smallest square input Keras accepts. */
	minInputSize: number;
	buildSeeded(inputSize: number, opts?: BuildOptions): LayersModel;
}
