// A stage of long work in plain words for a panel's busy line ("loading the weights: …", not "weights 0/1").
import type { Stage } from '../engine/types';

const STAGE_WORDS: Record<Stage, string> = {
	scan: 'scanning the images',
	decode: 'decoding the images',
	split: 'splitting by patient',
	weights: 'loading the weights',
	features: 'computing features',
	train: 'training',
	evaluate: 'evaluating',
	classify: 'classifying',
	write: 'writing the results',
};

/** "computing features 40/90", or a one-step stage with what it has loaded: "loading the weights: ImageNet (pretrained)". */
export function stageText(e: { stage: Stage; done: number; total: number; message?: string }): string {
	const words = STAGE_WORDS[e.stage] ?? e.stage;
	// A count of one step (0/1, 1/1) says nothing; what it is doing does.
	if (e.total <= 1 || e.stage === 'weights') return e.message ? `${words}: ${e.message}` : `${words}…`;
	return `${words} ${e.done}/${e.total}${e.message ? ` — ${e.message}` : ''}`;
}
