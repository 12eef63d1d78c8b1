// Small pieces of wording shared by the CLI, the panels and the webviews (pure: no Node, no vscode).

/** "1 image", "2 images". */
export function plural(n: number, one: string, many = `${one}s`): string {
	return `${n} ${n === 1 ? one : many}`;
}

/** "resnet50 features, weights ImageNet … (pretrained)": the weights' own label may hold parentheses, so no wrapping pair. */
export function featuresText(backbone: string, weights: string): string {
	return `${backbone} features, weights ${weights}`;
}

/**
 * The audit's out-of-distribution finding: it also lists frontal films flagged only for colour or shape, so the
 * heading says what they have in common (unlike the training radiographs), not that none is a frontal chest X-ray.
 */
export const OOD_HEADING = 'Unusual images (out of distribution)';

/** The images of a dataset that no split holds: unlabelled ones and ones a reviewer excluded. */
export function unsplitText(n: number): string {
	return `${plural(n, 'image')} in no split (unlabelled or excluded)`;
}
