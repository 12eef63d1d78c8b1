// Preview only (not shipped): a fake acquireVsCodeApi that logs what the panel posts and answers `ready`
// with sample snapshots built from the real dev radiographs (dist/preview-sample.js).
/* eslint-disable */
(function () {
	const q = new URLSearchParams(location.search);
	const panel = q.get('panel') || 'predictions';
	const theme = q.get('theme') || 'dark';
	document.body.className = theme === 'light' ? 'vscode-light' : theme === 'hc' ? 'vscode-high-contrast' : 'vscode-dark';
	const CLASSES = ['COVID', 'NORMAL', 'PNEUMONIA'];
	const sample = window.PREVIEW_SAMPLE || { root: '/data', rows: [] };
	let seed = 7;
	const rnd = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
	const hash = (s) => [...s].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
	const splitOf = (patient) => { const v = hash(patient) % 10; return v < 7 ? 'train' : v < 8 ? 'val' : 'test'; };
	const uri = (rel) => 'file://' + (sample.thumbs ? sample.thumbs + '/' + rel + '.jpg' : sample.root + '/' + rel);
	const sent = [];
	window.__posted = sent;

	function probsFor(label) {
		const right = rnd() < 0.84;
		const pred = right ? label : CLASSES.filter((c) => c !== label)[Math.floor(rnd() * 2)];
		const raw = CLASSES.map((c) => (c === pred ? 2 + rnd() * 3 : rnd() * 1.5));
		const ex = raw.map(Math.exp);
		const s = ex.reduce((a, b) => a + b, 0);
		return { pred, probs: ex.map((e) => e / s) };
	}
	function metricsOf(items) {
		const m = CLASSES.map(() => CLASSES.map(() => 0));
		let loss = 0;
		for (const it of items) { m[CLASSES.indexOf(it.label)][CLASSES.indexOf(it.predicted)]++; loss -= Math.log(it.probs[CLASSES.indexOf(it.label)]); }
		const perClass = CLASSES.map((c, i) => {
			const tp = m[i][i], fp = m.reduce((s, r, j) => s + (j === i ? 0 : r[i]), 0), fn = m[i].reduce((s, v, j) => s + (j === i ? 0 : v), 0);
			const precision = tp / (tp + fp || 1), recall = tp / (tp + fn || 1);
			return { className: c, precision, recall, f1: (2 * precision * recall) / (precision + recall || 1), support: tp + fn };
		});
		const avg = (k) => perClass.reduce((s, p) => s + p[k], 0) / 3;
		const acc = m.reduce((s, r, i) => s + r[i], 0) / items.length;
		return { loss: loss / items.length, accuracy: acc, confusion: m, perClass, macroAvg: { precision: avg('precision'), recall: avg('recall'), f1: avg('f1'), support: items.length }, weightedAvg: { precision: avg('precision'), recall: avg('recall'), f1: avg('f1'), support: items.length }, support: items.length, bySource: [{ source: 'kermany', n: 60, accuracy: 0.93, recall: [null, 0.9, 0.95], support: [0, 30, 30] }, { source: 'ieee8023', n: 40, accuracy: 0.71, recall: [0.8, null, 0.4], support: [35, 0, 5] }] };
	}
	const weights = { pretrained: true, name: 'imagenet (vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5)', sha256: 'ab12cd34' };
	const random = { pretrained: false, name: 'random (not pretrained)', sha256: 'random-40' };
	function history(n, base, speed) {
		const out = [];
		for (let e = 0; e < n; e++) {
			const acc = base + (0.95 - base) * (1 - Math.exp(-e / speed));
			out.push({ epoch: e, acc, loss: 1.1 * (1 - acc) + 0.05, val_acc: acc - 0.03 + 0.02 * Math.sin(e), val_loss: 1.2 * (1 - acc) + 0.08 + 0.03 * Math.cos(e), lr: e > 10 ? 2e-4 : 1e-3, seconds: 18 + rnd() * 4 });
		}
		return out;
	}

	function snapshots() {
		const rows = sample.rows;
		if (panel === 'predictions') {
			// ?n=5000 repeats the sample to check the virtual grid with thousands of images.
			const n = Number(q.get('n') || rows.length);
			const items = Array.from({ length: n }, (_, i) => { const [rel, label] = rows[i % rows.length]; const p = probsFor(label); return { relPath: i < rows.length ? rel : `copy${Math.floor(i / rows.length)}/${rel}`, label, predicted: p.pred, probs: p.probs, split: 'test', thumbUri: uri(rel) }; });
			const snap = { type: 'snapshot', busy: null, view: { title: 'VGG16 — test split', source: 'run', backbone: 'vgg16', weights, backend: 'WASM (SIMD, 2 threads)', runDir: '/ws/.radreview/runs/vgg16-1', root: sample.root, items, metrics: metricsOf(items), errors: [{ path: 'COVID/broken.png', reason: 'not an image (unsupported format)' }], csvPath: '/ws/.radreview/runs/vgg16-1/predictions.csv' } };
			for (const it of items) originals[it.relPath] = it.label;
			// ?annot=1: annotation rows on every 3rd / 5th / 7th / 2nd image (relabelled, flagged, note, reviewed).
			if (q.get('annot') !== '1') return [snap];
			const annRows = {};
			items.forEach((it, i) => {
				const a = { label: null, originalLabel: it.label, flags: [], note: '', reviewed: false };
				if (i % 3 === 0) a.label = it.label === 'NORMAL' ? 'COVID' : 'NORMAL';
				if (i % 5 === 0) a.flags = ['label-doubtful'];
				if (i % 7 === 0) a.note = 'check the costophrenic angle';
				if (i % 2 === 0) a.reviewed = true;
				if (a.label || a.flags.length || a.note || a.reviewed) annRows[it.relPath] = a;
			});
			annotations = annRows;
			return [snap, { type: 'annotations', rows: annRows, canUndo: true, canRedo: false }];
		}
		if (panel === 'training') {
			const m = metricsOf(rows.slice(0, 120).map(([rel, label]) => { const p = probsFor(label); return { relPath: rel, label, predicted: p.pred, probs: p.probs }; }));
			return [{ type: 'snapshot', series: [
				{ id: 'r1', backbone: 'vgg16', displayName: 'VGG16', weights, backend: 'tensorflow (CPU)', epochs: 15, history: history(15, 0.55, 4), state: 'done', metrics: m, runDir: '/ws/runs/vgg16-1' },
				{ id: 'r2', backbone: 'resnet50v2', displayName: 'ResNet50V2', weights: { ...weights, name: 'imagenet resnet50v2' }, backend: 'WASM (SIMD, 2 threads)', epochs: 20, history: history(8, 0.6, 3), state: 'running' },
				{ id: 'r3', backbone: 'xception', displayName: 'Xception', weights: random, backend: 'WASM (SIMD, 2 threads)', epochs: 20, history: history(5, 0.35, 9), state: 'running', stage: { stage: 'train', done: 5, total: 20 } },
			] }];
		}
		if (panel === 'dataset') {
			const images = rows.map(([rel, label, patient]) => ({ relPath: rel, label, patientId: patient, split: splitOf(patient), thumbUri: uri(rel) }));
			for (const it of images) originals[it.relPath] = it.label;
			const classCounts = { COVID: 0, NORMAL: 0, PNEUMONIA: 0, unlabelled: 0 };
			const splitCounts = { COVID: { train: 0, val: 0, test: 0 }, NORMAL: { train: 0, val: 0, test: 0 }, PNEUMONIA: { train: 0, val: 0, test: 0 } };
			const counts = { train: 0, val: 0, test: 0 };
			for (const im of images) { classCounts[im.label]++; splitCounts[im.label][im.split]++; counts[im.split]++; }
			const leak = q.get('leak') === '1';
			return [{ type: 'snapshot', busy: null, settings: { splitMode: leak ? 'image' : 'patient', seed: 40, testFraction: 0.2, valFraction: 0.1, imageSize: 237 }, dataset: {
				root: sample.root, layout: 'folders', classCounts, splitCounts, total: images.length, patients: new Set(images.map((i) => i.patientId)).size,
				split: { mode: leak ? 'image' : 'patient', seed: 40, testFraction: 0.2, valFraction: 0.1, counts, leakedPatients: leak ? ['ieee8023-46', 'ieee8023-77', 'ieee8023-226'] : [] },
				images, errors: [{ path: 'NORMAL/scan-0042.dcm', reason: 'DICOM without pixel data' }, { path: 'PNEUMONIA/x.jpg', reason: 'PNG data in a .jpg file: decoded as PNG' }], preprocessed: false,
				...(q.get('annot') === '1' ? { annotations: { file: sample.root + '/radreview-annotations.csv', rows: 4, relabelled: 1, excluded: 1, flagged: 2, noted: 1, reviewed: 1, moved: 0, excludedImages: [{ path: images[1].relPath, reason: 'not-frontal' }] } } : {}) } },
				...(q.get('annot') === '1' ? [{ type: 'annotations', canUndo: true, canRedo: false, rows: annotations = {
					[images[0].relPath]: { label: 'NORMAL', originalLabel: images[0].label, flags: [], note: '', reviewed: true },
					[images[1].relPath]: { label: null, originalLabel: images[1].label, flags: ['not-frontal'], note: '', reviewed: false },
					[images[2].relPath]: { label: null, originalLabel: images[2].label, flags: ['label-doubtful'], note: 'lateral?', reviewed: false },
				} }] : [])];
		}
		if (panel === 'compare') {
			const mk = (id, backbone, displayName, w, acc, secs) => ({ runDir: '/ws/runs/' + id, name: id, backbone, displayName, weights: w, backend: 'WASM (SIMD, 2 threads)', createdAt: '2026-11-25T' + String(8 + id.length).padStart(2, '0') + ':00:00Z',
				metrics: metricsOf(rows.filter((_, i) => i % 5 === 0).map(([rel, label]) => { const p = probsFor(label); return { relPath: rel, label, predicted: rnd() < acc ? label : p.pred, probs: p.probs }; })), history: [], trainSeconds: secs });
			return [{ type: 'snapshot', busy: null, runs: [mk('vgg16-1', 'vgg16', 'VGG16', weights, 0.7, 830), mk('resnet50v2-12', 'resnet50v2', 'ResNet50V2', weights, 0.8, 610), mk('xception-123', 'xception', 'Xception', random, 0.1, 1220)] }];
		}
		return [];
	}

	// Like the host: every annotation edit is answered with the rows it changed.
	let annotations = {};
	const originals = {};
	function annotate(edits) {
		for (const e of edits) {
			const a = { ...(annotations[e.path] || { label: null, originalLabel: originals[e.path] ?? null, flags: [], note: '', reviewed: false }) };
			if (e.kind === 'label') a.label = e.label === a.originalLabel ? null : e.label;
			else if (e.kind === 'flag') a.flags = [...new Set([...a.flags, e.flag])];
			else if (e.kind === 'note') a.note = e.note.trim();
			else if (e.kind === 'reviewed') a.reviewed = e.reviewed;
			annotations[e.path] = a;
		}
		const rows = {};
		const paths = [...new Set(edits.map((e) => e.path))];
		for (const p of paths) {
			const a = annotations[p];
			if (a.label || a.flags.length || a.note || a.reviewed) rows[p] = a;
			else delete annotations[p];
		}
		// ?full=1: all the rows, as the host sent them before it sent only the changed ones.
		if (q.get('full') === '1') window.postMessage({ type: 'annotations', rows: annotations, canUndo: true, canRedo: false }, '*');
		else window.postMessage({ type: 'annotations', rows, paths, canUndo: true, canRedo: false }, '*');
	}

	window.acquireVsCodeApi = function () {
		let state;
		return {
			postMessage(msg) {
				sent.push(msg);
				// For headless checks (--dump-dom): the last message's type, format and payload size.
				const pre = document.getElementById('preview-log') || document.body.appendChild(Object.assign(document.createElement('pre'), { id: 'preview-log', hidden: true }));
				pre.textContent += JSON.stringify({ type: msg.type, format: msg.format, name: msg.suggestedName, base64: msg.base64 ? (q.get('keep') ? msg.base64 : msg.base64.length) : undefined }) + '\n';
				console.log('[webview → host]', JSON.stringify(msg).slice(0, 200));
				if (msg.type === 'annotate') setTimeout(() => annotate(msg.edits), 0);
				if (msg.type === 'ready') setTimeout(() => {
					for (const m of snapshots()) window.postMessage(m, '*');
					setTimeout(after, 50);
				}, 0);
			},
			getState: () => state,
			setState: (s) => { state = s; },
		};
	};

	// Interactions for screenshots: ?cell=NORMAL,COVID clicks that confusion cell; ?detail=N opens item N.
	function after() {
		const cell = q.get('cell');
		if (cell) { const [t, p] = cell.split(','); document.querySelector(`.cm-button[data-true="${t}"][data-predicted="${p}"]`)?.click(); }
		const detail = q.get('detail');
		if (detail !== null) setTimeout(() => document.querySelectorAll('[data-testid="grid-item"]')[Number(detail)]?.click(), 100);
		const scroll = q.get('scroll');
		if (scroll) { const sc = document.querySelector('.grid-scroller'); if (sc) sc.scrollTop = Number(scroll); }
		if (q.get('queue') === '1') setTimeout(() => document.querySelector('[data-testid="review-queue"]')?.click(), 100);
		if (q.get('select') === '1') setTimeout(() => { const g = document.querySelectorAll(panel === 'dataset' ? '[data-testid="dataset-thumb-button"]' : '[data-testid="grid-item"]'); g[1]?.dispatchEvent(new MouseEvent('click', { bubbles: true, ctrlKey: true })); g[4]?.dispatchEvent(new MouseEvent('click', { bubbles: true, ctrlKey: true })); }, 100);
		if (q.get('flag') === '1') setTimeout(() => document.querySelector('[data-testid="annotation-flag"]')?.click(), 200);
		if (q.get('help') === '1') setTimeout(() => { const g = document.querySelector('[data-testid="grid-item"]'); g?.focus(); g?.dispatchEvent(new KeyboardEvent('keydown', { key: '?', bubbles: true })); }, 100);
		const exp = q.get('export');
		if (exp) setTimeout(() => document.querySelector(`[data-testid="export-${exp}"]`)?.click(), 200);
		if (q.get('live') === '1' && panel === 'training') {
			let e = 8;
			setInterval(() => { const h = history(e + 1, 0.6, 3)[e]; window.postMessage({ type: 'epoch', id: 'r2', logs: [h], epochs: 20 }, '*'); e++; }, 300);
		}
	}

	// ?csp=1: the host's policy (file: standing in for webview.cspSource), to catch anything it would block.
	if (q.get('csp') === '1') {
		const meta = document.createElement('meta');
		meta.httpEquiv = 'Content-Security-Policy';
		meta.content = "default-src 'none'; img-src file: blob: data:; font-src file:; style-src file:; script-src file:";
		document.head.appendChild(meta);
		document.addEventListener('securitypolicyviolation', (e) => console.error('CSP violation:', e.violatedDirective, e.blockedURI, e.sourceFile, e.lineNumber));
	}
	const s = document.createElement('script');
	// ?bundle=FILE: another build of the panel (the grid bench compares a previous one).
	s.src = q.get('bundle') || '../dist/webview/' + panel + '.js';
	document.body.appendChild(s);
})();
