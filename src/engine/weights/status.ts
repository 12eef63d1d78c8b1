// Which backbones can train here, cheaply: resolve the weights without downloading or hashing anything, so the
// panels can default to a backbone that works and mark the others with the reason and the fix.
import * as path from 'node:path';
import { BACKBONE_IDS, type BackboneId, type WeightsStatus } from '../types';
import { getBackbone } from '../model/backbones/index';
import { kerasModelsDir, resolveWeights, type ResolveWeightsOptions } from './weights';

export async function weightsStatus(settings: Partial<Record<BackboneId, string>>, opts: Pick<ResolveWeightsOptions, 'kerasHome' | 'weightsHome'> = {}): Promise<WeightsStatus[]> {
	return Promise.all(BACKBONE_IDS.map((b) => statusOf(b, settings[b] ?? 'auto', opts)));
}

async function statusOf(backbone: BackboneId, setting: string, opts: Pick<ResolveWeightsOptions, 'kerasHome' | 'weightsHome'>): Promise<WeightsStatus> {
	const spec = getBackbone(backbone);
	const keras = spec.keras;
	const kerasPath = keras ? path.join(kerasModelsDir(opts.kerasHome), keras.fileName) : undefined;
	const where = { kerasPath, url: keras?.url };
	try {
		const r = await resolveWeights(spec, setting, { ...opts, download: false });
		return { backbone, setting, available: true, downloadable: false, name: r.info.name, pretrained: r.info.pretrained, ...where };
	} catch (e) {
		const message = e instanceof Error ? e.message : String(e);
		const auto = setting === 'auto';
		return {
			backbone,
			setting,
			available: false,
			downloadable: auto && keras !== undefined,
			reason: auto ? `no ImageNet weights for ${spec.displayName} on this machine${kerasPath ? ` (${kerasPath})` : ''}` : message.split('\n')[0],
			fix: auto
				? `choose a Keras .h5 file, ${keras ? `save ${keras.url} as ${kerasPath}, ` : ''}or train with random weights (not pretrained)`
				: `choose another .h5 file, or set radiographReview.weights.${backbone} to 'auto'`,
			...where,
		};
	}
}
