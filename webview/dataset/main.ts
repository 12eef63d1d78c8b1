// Dataset panel: counts per class × split, patients per split, the patient-leak statement, per-file
// errors, the split form, and small lazy-loaded thumbnails per split.
import '../shared/elements';
import sharedCss from '../../media/webview.css';
import panelCss from '../../media/dataset.css';
import { BACKBONE_IDS, CLASS_NAMES, type BackboneId, type ClassName, type SplitMode, type SplitName } from '../../src/engine/types';
import type { DatasetFromWebview, DatasetImageView, DatasetSnapshotMessage, DatasetToWebview, DatasetView } from '../../src/protocol/dataset';
import { UNKNOWN_SOURCE } from '../../src/engine/data/sources';
import { TestId } from '../../src/protocol/testIds';
import { adoptStyles, h, icon, replaceChildren } from '../shared/dom';
import { baseName, patientsPerSplit, pct } from '../shared/logic';
import { StatusLines } from '../shared/ui';
import { Channel, startPanel } from '../shared/vscodeApi';
import { ThumbAnnotations } from './annotations';

adoptStyles(sharedCss, panelCss);

const channel = new Channel<DatasetToWebview, DatasetFromWebview>();
/** `backbone`: what the user picked here; otherwise the host's default (last trained, else one with weights). */
const ui = channel.uiState<{ thumbClass: ClassName | 'all'; backbone?: BackboneId }>({ thumbClass: 'all' });

const SPLITS: SplitName[] = ['train', 'val', 'test'];
const SPLIT_TITLE: Record<SplitName, string> = { train: 'Train', val: 'Validation', test: 'Test' };
/** Thumbnails shown per split before "Show more"; the browser loads them lazily as they scroll in. */
const THUMB_PAGE = 60;

const status = new StatusLines();
const rootPath = h('div', { class: 'mono muted root-path' });
const content = h('div', { class: 'content' });
const chooseButton = h('vscode-button', { testid: TestId.SelectFolderButton }, icon('folder-opened'), ' Choose folder…');
chooseButton.addEventListener('click', () => channel.post({ type: 'selectFolder' }));
const root = h(
	'div',
	{ class: 'panel dataset', data: { panel: 'dataset' } },
	h('div', { class: 'header' }, h('h1', { text: 'Dataset' }), h('span', { class: 'spacer' }), chooseButton),
	rootPath,
	status.el,
	content,
);
root.hidden = true;
(document.getElementById('app') ?? document.body).appendChild(root);

/** How many thumbnails each split shows now (grows with "Show more"). */
const shownPerSplit = new Map<string, number>();
/** relPath → thumbnail URI, from snapshots and from 'thumbs' messages (made after the scan, in chunks). */
const thumbUris = new Map<string, string>();

function render(msg: DatasetSnapshotMessage): void {
	root.hidden = false;
	root.dataset.testid = TestId.PanelRoot;
	status.setBusy(msg.busy);
	const d = msg.dataset;
	if (!d) {
		rootPath.textContent = '';
		lastKey = '';
		replaceChildren(
			content,
			msg.problem
				? h('div', { class: 'empty problem', testid: TestId.DatasetProblem }, icon('warning'), ` ${msg.problem}`)
				: h('div', { class: 'empty', text: 'No dataset folder chosen. Choose a folder with COVID / NORMAL / PNEUMONIA sub-folders (or a metadata.csv).' }),
		);
		return;
	}
	rootPath.textContent = `${d.root}  ·  layout: ${d.layout}`;
	if (d.root !== thumbRoot) {
		thumbUris.clear();
		thumbRoot = d.root;
	}
	addThumbs(Object.fromEntries(d.images.flatMap((im) => (im.thumbUri ? [[im.relPath, im.thumbUri]] : []))));
	// Progress-only snapshots ("Preprocessing 120/600") must not rebuild the thumbnails or reset the form.
	const key = contentKey(msg);
	if (key === lastKey) return;
	lastKey = key;
	thumbAnnotations.setItems(d.images);
	replaceChildren(content, summary(d), countsTable(d), sourcesSection(d), leakStatement(d), annotationsSection(d), splitForm(msg), errorsSection(d), thumbnails(d));
}

let lastKey = '';
let thumbRoot = '';

/** Remember new thumbnails and swap them into the placeholders already on screen (no re-render). */
function addThumbs(thumbs: Record<string, string>): void {
	for (const [rel, uri] of Object.entries(thumbs)) {
		if (thumbUris.get(rel) === uri) continue;
		thumbUris.set(rel, uri);
		for (const ph of content.querySelectorAll<HTMLElement>('.thumb-missing')) if (ph.dataset.relPath === rel) ph.replaceWith(thumbImg(rel, uri));
	}
}

function thumbImg(relPath: string, uri: string): HTMLElement {
	return h('img', { testid: TestId.DatasetThumb, attrs: { src: uri, alt: relPath, loading: 'lazy', decoding: 'async', width: 96, height: 96 } });
}

function contentKey(msg: DatasetSnapshotMessage): string {
	const d = msg.dataset;
	if (!d) return 'none';
	const first = d.images[0];
	const last = d.images.at(-1);
	return JSON.stringify([
		d.root,
		d.total,
		d.patients,
		d.classCounts,
		d.splitCounts,
		d.sources?.sources,
		d.sources?.warnings.length,
		d.split,
		d.errors.length,
		d.preprocessed,
		d.images.length,
		first,
		last,
		msg.settings,
		msg.busy !== null,
		msg.defaultBackbone,
		msg.backbones?.map((b) => b.available),
		d.annotations,
	]);
}

/** What the user typed in the split form and has not submitted yet (kept across re-renders). */
let draft: { mode: string; seed: string; test: string; val: string } | null = null;

function summary(d: DatasetView): HTMLElement {
	return h(
		'div',
		{ class: 'summary' },
		h('div', { class: 'big' }, h('span', { class: 'big-number', testid: TestId.DatasetCount, text: String(d.total) }), h('span', { class: 'muted', text: ' images' })),
		h('div', { class: 'big' }, h('span', { class: 'big-number', text: String(d.patients) }), h('span', { class: 'muted', text: ' patients' })),
		d.classCounts.unlabelled > 0 ? h('div', { class: 'big' }, h('span', { class: 'big-number', text: String(d.classCounts.unlabelled) }), h('span', { class: 'muted', text: ' unlabelled' })) : null,
		d.preprocessed !== undefined
			? h('div', { class: `pre ${d.preprocessed ? 'right' : 'muted'}` }, icon(d.preprocessed ? 'pass-filled' : 'circle-large-outline'), d.preprocessed ? ' preprocessed' : ' not preprocessed yet')
			: null,
	);
}

function countsTable(d: DatasetView): HTMLElement {
	const split = d.split;
	const sc = d.splitCounts;
	const head = h('tr', {}, h('th', { text: 'Class' }), h('th', { text: 'Total' }), ...(sc ? SPLITS.map((s) => h('th', { text: SPLIT_TITLE[s] })) : []));
	const rows = CLASS_NAMES.map((c) =>
		h(
			'tr',
			{},
			h('th', { text: c }),
			h('td', { testid: TestId.ClassCount, data: { class: c }, text: String(d.classCounts[c]) }),
			...(sc ? SPLITS.map((s) => h('td', { text: String(sc[c][s]) })) : []),
		),
	);
	const known = d.images.length >= d.total;
	const pps = patientsPerSplit(d.images);
	const foot = [
		h(
			'tr',
			{},
			h('th', { text: 'Images' }),
			h('td', { text: String(d.total) }),
			...(split ? SPLITS.map((s) => h('td', { testid: TestId.SplitCount, data: { split: s }, text: String(split.counts[s]) })) : []),
		),
		split
			? h('tr', { class: 'patients-row' }, h('th', { text: known ? 'Patients' : 'Patients*' }), h('td', { text: String(d.patients) }), ...SPLITS.map((s) => h('td', { text: String(pps[s]) })))
			: null,
		split
			? h('tr', { class: 'share-row muted' }, h('th', { text: 'Share' }), h('td', { text: '100%' }), ...SPLITS.map((s) => h('td', { text: pct(d.total ? split.counts[s] / d.total : NaN, 0) })))
			: null,
	];
	return h(
		'section',
		{},
		h('h2', { text: split ? 'Images per class and split' : 'Images per class' }),
		h('table', { class: 'data counts' }, h('thead', {}, head), h('tbody', {}, ...rows), h('tfoot', {}, ...foot)),
		split && !known ? h('p', { class: 'muted small', text: `* Patients per split counted over the ${d.images.length} images listed here.` }) : null,
		split
			? h('p', {
					class: 'muted small',
					text: `Split: ${split.mode === 'patient' ? 'by patient, stratified' : 'by image (as the reference work)'} · seed ${split.seed} · test ${pct(split.testFraction, 0)} · validation ${pct(split.valFraction, 0)}`,
				})
			: null,
	);
}

/** Class × source counts, and a plain warning wherever the source alone gives the class away. */
function sourcesSection(d: DatasetView): HTMLElement | null {
	const t = d.sources;
	if (!t || t.total === 0) return null;
	const onlyUnknown = t.sources.length === 1 && t.sources[0] === UNKNOWN_SOURCE;
	const table = h(
		'table',
		{ class: 'data by-source-counts', testid: TestId.ClassSourceTable },
		h('thead', {}, h('tr', {}, h('th', { text: 'Class' }), ...t.sources.map((s) => h('th', { class: 'source', data: { source: s }, attrs: { title: s }, text: s })), h('th', { text: 'Total' }))),
		h(
			'tbody',
			{},
			...CLASS_NAMES.map((c, i) =>
				h(
					'tr',
					{},
					h('th', { text: c }),
					...t.sources.map((s) => {
						const n = t.counts[c][s] ?? 0;
						return h('td', { class: n === 0 ? 'muted' : undefined, attrs: { title: `${n} ${c} image${n === 1 ? '' : 's'} from ${s}` }, text: String(n) });
					}),
					h('td', { text: String(t.classTotals[i]) }),
				),
			),
		),
		h('tfoot', {}, h('tr', {}, h('th', { text: 'Total' }), ...t.sourceTotals.map((n) => h('td', { text: String(n) })), h('td', { text: String(t.total) }))),
	);
	const warnings = t.warnings.length
		? h(
				'div',
				{ class: 'leak leak-bad card confound', attrs: { role: 'alert' } },
				h(
					'div',
					{},
					icon('warning'),
					h('strong', { text: ' Source confound: ' }),
					'the source alone gives the class away here, so accuracy on this data can come from recognising the source (age group, scanner, processing) rather than the disease.',
				),
				h('ul', { class: 'confound-list' }, ...t.warnings.map((w) => h('li', { testid: TestId.ConfoundWarning, data: { kind: w.kind, class: w.className, source: w.source }, text: w.message }))),
				h('div', { class: 'muted small', text: 'Check the per-source results after training (Predictions and Compare panels), and test on images from another source.' }),
			)
		: null;
	const note = onlyUnknown
		? 'No source recorded: add a source_dataset column to manifest.csv (or metadata.csv) to check whether a class comes from one source.'
		: t.sources.length === 1
			? `Every image comes from ${t.sources[0]}: no class is tied to a source within this dataset.`
			: t.warnings.length === 0
				? 'Every class comes from more than one source and every source holds more than one class.'
				: null;
	return h('section', {}, h('h2', { text: 'Images per class and source' }), h('div', { class: 'table-scroll' }, table), warnings, note ? h('p', { class: 'muted small', text: note }) : null);
}

function leakStatement(d: DatasetView): HTMLElement {
	const split = d.split;
	if (!split) return h('div', { class: 'leak muted' }, icon('info'), ' Splits not computed yet: compute them below to see which patient goes where.');
	const leaked = split.leakedPatients;
	if (leaked.length === 0) {
		return h(
			'div',
			{ class: 'leak leak-ok card', attrs: { role: 'status' } },
			icon('shield'),
			h('strong', { text: ' No patient crosses splits: ' }),
			`each of the ${d.patients} patients has all their images in exactly one of train, validation and test.`,
		);
	}
	const MAX = 40;
	return h(
		'div',
		{ class: 'leak leak-bad card', attrs: { role: 'alert' } },
		h(
			'div',
			{},
			icon('warning'),
			h('strong', { text: ` ${leaked.length} patient${leaked.length === 1 ? '' : 's'} cross${leaked.length === 1 ? 'es' : ''} splits` }),
			split.mode === 'image' ? ' (image-level split, as the reference work): their images are in more than one of train, validation and test, so test accuracy is optimistic.' : '.',
		),
		h('div', { class: 'leak-list mono' }, leaked.slice(0, MAX).join(', '), leaked.length > MAX ? ` … and ${leaked.length - MAX} more` : ''),
	);
}

function splitForm(msg: DatasetSnapshotMessage): HTMLElement {
	const s = msg.settings;
	const mode = h(
		'vscode-single-select',
		{ attrs: { 'aria-label': 'Split mode' } },
		h('vscode-option', { attrs: { value: 'patient' } }, 'By patient (no leak)'),
		h('vscode-option', { attrs: { value: 'image' } }, 'By image (reference)'),
	);
	mode.value = msg.dataset?.split?.mode ?? s.splitMode;
	const num = (label: string, value: number, step: string): HTMLElement & { value: string } => {
		const f = h('vscode-textfield', { class: 'field-narrow', attrs: { type: 'number', step, min: '0', 'aria-label': label } });
		f.value = String(value);
		return f;
	};
	const seed = num('Seed', s.seed, '1');
	const test = num('Test fraction', s.testFraction, '0.05');
	const val = num('Validation fraction', s.valFraction, '0.05');
	if (draft) {
		mode.value = draft.mode;
		seed.value = draft.seed;
		test.value = draft.test;
		val.value = draft.val;
	}
	const keep = (): void => {
		draft = { mode: mode.value, seed: seed.value, test: test.value, val: val.value };
	};
	for (const f of [mode, seed, test, val]) f.addEventListener('change', keep);
	const error = h('span', { class: 'form-error' });
	const compute = h('vscode-button', { testid: TestId.ComputeSplitsButton }, icon('split-horizontal'), ' Compute splits');
	compute.addEventListener('click', () => {
		const seedN = Number(seed.value);
		const testN = Number(test.value);
		const valN = Number(val.value);
		if (!Number.isSafeInteger(seedN) || !(testN >= 0 && testN < 1) || !(valN >= 0 && valN < 1) || testN + valN >= 1) {
			error.textContent = 'Seed must be an integer; fractions in [0, 1) and test + validation < 1.';
			return;
		}
		error.textContent = '';
		draft = null;
		channel.post({ type: 'computeSplits', mode: mode.value as SplitMode, seed: seedN, testFraction: testN, valFraction: valN });
	});
	const preprocess = h(
		'vscode-button',
		{ testid: TestId.PreprocessButton, attrs: { secondary: true, title: `Decode and resize every image to ${s.imageSize}px once (cached)` } },
		icon('gear'),
		` Preprocess (${s.imageSize}px)`,
	);
	preprocess.addEventListener('click', () => channel.post({ type: 'preprocess' }));
	// Backbones without weights stay pickable (a .h5 may be chosen on the error), marked with why and the fix.
	const choices = msg.backbones ?? BACKBONE_IDS.map((id) => ({ id, label: id, available: true, detail: '' }));
	const picked = ui.backbone && choices.some((c) => c.id === ui.backbone && c.available) ? ui.backbone : (msg.defaultBackbone ?? choices[0].id);
	const backbone = h(
		'vscode-single-select',
		{ attrs: { 'aria-label': 'Backbone' } },
		...choices.map((c) => h('vscode-option', { attrs: { value: c.id, description: c.detail || undefined, selected: c.id === picked } }, c.available ? c.label : `${c.label} — no weights`)),
	);
	backbone.value = picked;
	backbone.addEventListener('change', () => {
		ui.backbone = backbone.value as BackboneId;
		channel.saveUiState(ui);
	});
	const train = h('vscode-button', {}, icon('play'), ' Train');
	train.addEventListener('click', () => channel.post({ type: 'train', backbone: backbone.value as BackboneId }));
	const busy = msg.busy !== null;
	for (const b of [compute, preprocess, train]) b.toggleAttribute('disabled', busy);
	return h(
		'section',
		{},
		h('h2', { text: 'Split and prepare' }),
		h(
			'div',
			{ class: 'toolbar' },
			h('label', {}, h('span', { text: 'Mode' }), mode),
			h('label', {}, h('span', { text: 'Seed' }), seed),
			h('label', {}, h('span', { text: 'Test' }), test),
			h('label', {}, h('span', { text: 'Validation' }), val),
			compute,
			preprocess,
		),
		error,
		h('div', { class: 'toolbar' }, h('label', {}, h('span', { text: 'Backbone' }), backbone), train),
	);
}

/** What the reviewers' annotations change: relabelled and excluded counts, and the excluded images with their reason. */
function annotationsSection(d: DatasetView): HTMLElement | null {
	const a = d.annotations;
	if (!a || a.rows === 0) return null;
	const stat = (key: string, label: string, n: number) => h('span', { class: 'annot-stat' }, h('strong', { testid: TestId.AnnotationCount, data: { kind: key }, text: String(n) }), ` ${label}`);
	return h(
		'section',
		{},
		h('h2', { text: 'Annotations' }),
		h('p', { class: 'muted', text: `${a.file} — corrected labels replace folder labels; excluded images are left out of training and evaluation.` }),
		h(
			'p',
			{ class: 'annot-stats' },
			stat('relabelled', 'relabelled', a.relabelled),
			' · ',
			stat('excluded', 'excluded', a.excluded),
			' · ',
			stat('flagged', 'flagged', a.flagged),
			' · ',
			stat('noted', 'with a note', a.noted),
			' · ',
			stat('reviewed', 'reviewed', a.reviewed),
			a.moved ? ` · ${a.moved} followed a moved image` : '',
		),
		a.excludedImages.length
			? h('ul', { class: 'errors-list' }, ...a.excludedImages.map((x) => h('li', { attrs: { title: x.path } }, icon('circle-slash'), h('span', { class: 'mono', text: x.path }), ` — ${x.reason}`)))
			: null,
	);
}

function errorsSection(d: DatasetView): HTMLElement {
	return h(
		'section',
		{ testid: TestId.DatasetErrors },
		h('h2', { text: `Unreadable files (${d.errors.length})` }),
		d.errors.length === 0
			? h('p', { class: 'muted' }, icon('pass'), ' Every file was read.')
			: h('ul', { class: 'errors-list' }, ...d.errors.map((e) => h('li', { attrs: { title: e.path } }, icon('error'), h('span', { class: 'mono', text: e.path }), ` — ${e.reason}`))),
	);
}

function thumbnails(d: DatasetView): HTMLElement {
	const filterSel = h(
		'vscode-single-select',
		{ attrs: { 'aria-label': 'Class' } },
		h('vscode-option', { attrs: { value: 'all' } }, 'All classes'),
		...CLASS_NAMES.map((c) => h('vscode-option', { attrs: { value: c } }, c)),
	);
	filterSel.value = ui.thumbClass;
	const groups = h('div', {});
	const draw = (): void => {
		const cls = ui.thumbClass;
		const pick = (im: DatasetImageView): boolean => cls === 'all' || im.label === cls;
		const keys: Array<SplitName | 'none'> = d.split ? [...SPLITS] : ['none'];
		replaceChildren(
			groups,
			...keys.map((k) =>
				thumbGroup(
					k,
					d.images.filter((im) => (im.split ?? 'none') === k && pick(im)),
				),
			),
		);
	};
	filterSel.addEventListener('change', () => {
		ui.thumbClass = filterSel.value as ClassName | 'all';
		channel.saveUiState(ui);
		shownPerSplit.clear();
		draw();
	});
	draw();
	return h(
		'section',
		{},
		h('div', { class: 'header' }, h('h2', { text: 'Thumbnails' }), h('span', { class: 'spacer' }), h('label', {}, h('span', { text: 'Show ' }), filterSel)),
		thumbAnnotations.toolbar,
		groups,
	);
}

function thumbGroup(key: SplitName | 'none', images: DatasetImageView[]): HTMLElement {
	const title = key === 'none' ? 'All images' : SPLIT_TITLE[key];
	const grid = h('div', { class: 'thumbs' });
	const more = h('vscode-button', { attrs: { secondary: true } });
	const fill = (): void => {
		const n = Math.min(images.length, shownPerSplit.get(key) ?? THUMB_PAGE);
		replaceChildren(grid, ...images.slice(0, n).map(thumb));
		more.hidden = n >= images.length;
		replaceChildren(more, icon('ellipsis'), ` Show ${Math.min(THUMB_PAGE, images.length - n)} more`);
	};
	more.addEventListener('click', () => {
		shownPerSplit.set(key, (shownPerSplit.get(key) ?? THUMB_PAGE) + THUMB_PAGE);
		fill();
	});
	fill();
	return h(
		'div',
		{ class: 'thumb-group' },
		h('h3', {}, `${title} `, h('span', { class: 'muted', text: `(${images.length})` })),
		images.length ? grid : h('p', { class: 'muted', text: 'No images.' }),
		more,
	);
}

const thumbAnnotations = new ThumbAnnotations(
	(m) => channel.post(m),
	(level, message) => status.setNotice(level, message),
	() => [...content.querySelectorAll<HTMLElement>('.thumb-button')],
);

function thumb(im: DatasetImageView): HTMLElement {
	const tip = `${im.relPath}\n${im.label ?? 'unlabelled'} · patient ${im.patientId} · source ${im.source ?? UNKNOWN_SOURCE}`;
	const uri = thumbUris.get(im.relPath);
	const pic = uri ? thumbImg(im.relPath, uri) : h('div', { class: 'thumb-missing', data: { relPath: im.relPath }, attrs: { title: 'Thumbnail not made yet' } }, icon('file-media'));
	const base = `Open ${im.relPath}`;
	const button = h(
		'button',
		{
			class: 'thumb-button',
			testid: TestId.DatasetThumbButton,
			data: { relPath: im.relPath, base },
			attrs: { type: 'button', title: `${tip}\nClick to open · Shift/Ctrl-click to select · keys 1/2/3 label, F flag, X exclude, T note, R reviewed` },
			on: {
				click: (e: Event) => {
					if (!thumbAnnotations.onClick(e as MouseEvent, im.relPath)) channel.post({ type: 'openImage', relPath: im.relPath });
				},
				keydown: (e: Event) => {
					if (thumbAnnotations.onKey(e as KeyboardEvent, im.relPath)) e.preventDefault();
				},
			},
		},
		pic,
		thumbAnnotations.badge(im.relPath),
		h('span', { class: 'thumb-caption', text: `${im.label ?? '–'} · ${baseName(im.relPath)}` }),
	);
	thumbAnnotations.decorate(button, base);
	return button;
}

channel.onMessage((msg) => {
	switch (msg.type) {
		case 'snapshot':
			render(msg);
			break;
		case 'thumbs':
			addThumbs(msg.thumbs);
			break;
		case 'annotations':
			thumbAnnotations.onMessage(msg);
			break;
		case 'notice':
			status.setNotice(msg.level, msg.message);
			break;
		default:
			break;
	}
});

startPanel(channel);
