// Which backbone the one-click Train buttons offer, how the pickers mark the others, and how runs are named.
// Pure: no vscode, so it is unit-tested; the weights check itself runs in the engine worker (weightsStatus).
import { BACKBONE_IDS, type BackboneId, type WeightsStatus } from '../engine/types';
import type { BackboneChoice } from '../protocol/common';

export const BACKBONE_LABELS: Record<BackboneId, string> = { vgg16: 'VGG16', resnet50v2: 'ResNet50V2', xception: 'Xception', resnet50: 'ResNet50' };

/** The last trained backbone if its weights resolve, else the first whose weights resolve, else the last trained (or the first). */
export function defaultBackbone(statuses: readonly WeightsStatus[], lastTrained?: BackboneId): BackboneId {
	const ok = (b: BackboneId | undefined): boolean => b !== undefined && statuses.some((s) => s.backbone === b && s.available);
	if (lastTrained && ok(lastTrained)) return lastTrained;
	const first = BACKBONE_IDS.find((b) => ok(b));
	return first ?? lastTrained ?? BACKBONE_IDS[0];
}

export function backboneChoices(statuses: readonly WeightsStatus[]): BackboneChoice[] {
	return BACKBONE_IDS.map((id) => {
		const s = statuses.find((x) => x.backbone === id);
		const label = BACKBONE_LABELS[id];
		if (!s) return { id, label, available: false, detail: 'weights not checked yet' };
		if (s.available) return { id, label, available: true, detail: s.pretrained ? (s.name ?? 'pretrained') : `${s.name ?? 'random'} (not pretrained)` };
		const download = s.downloadable ? ' A download is tried first (it fails offline).' : '';
		return { id, label, available: false, detail: `No weights: ${s.reason ?? 'not found'}.${download} Fix: ${s.fix ?? 'choose a .h5 file'}.` };
	});
}

/** "ResNet50 · 14:03:07" (local time of the start; with the date when not today): runs of one backbone are told apart by when they ran. */
export function runName(backbone: BackboneId, startedAt: string, now = new Date()): string {
	const d = new Date(startedAt);
	if (Number.isNaN(d.getTime())) return `${BACKBONE_LABELS[backbone] ?? backbone} · ${startedAt}`;
	const p = (n: number): string => String(n).padStart(2, '0');
	const clock = `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
	const time = d.toDateString() === now.toDateString() ? clock : `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${clock}`;
	return `${BACKBONE_LABELS[backbone] ?? backbone} · ${time}`;
}

/** One backbone Train All did not train, and why. */
export interface SkippedBackbone {
	backbone: BackboneId;
	reason: string;
}

/** "trained ResNet50. skipped VGG16 (…); Xception (…)." — Train All's closing line. */
export function trainAllSummary(trained: BackboneId[], skipped: SkippedBackbone[], failed: SkippedBackbone[], cancelled: boolean): string {
	const names = (l: BackboneId[]): string => l.map((b) => BACKBONE_LABELS[b]).join(', ');
	const parts = [trained.length ? `trained ${names(trained)}` : 'trained nothing'];
	if (skipped.length) parts.push(`skipped ${skipped.map((x) => `${BACKBONE_LABELS[x.backbone]} (${x.reason})`).join('; ')}`);
	if (failed.length) parts.push(`failed ${failed.map((x) => `${BACKBONE_LABELS[x.backbone]} (${x.reason})`).join('; ')}`);
	if (cancelled) parts.push('cancelled before the rest');
	return `${parts.join('. ')}.`;
}
