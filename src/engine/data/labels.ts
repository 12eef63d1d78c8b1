// Folder names, metadata findings and user aliases → one of the three classes.
import { CLASS_NAMES, type ClassName } from '../types';

/** Lower-case, strip diacritics, and reduce punctuation to single spaces ('INFECÇÕES' → 'infeccoes'). */
export function foldLabel(name: string): string {
	return name
		.normalize('NFD')
		.replace(/\p{M}/gu, '')
		.toLowerCase()
		.replace(/[^a-z0-9]+/g, ' ')
		.trim();
}

const COVID = new Set(['covid', 'covid 19', 'covid19', 'sars cov 2', 'sars cov2', 'sarscov2', '2019 ncov', 'ncov']);
const NORMAL = new Set(['normal', 'no finding', 'nofinding', 'healthy']);
// Whole names of the reference's third class, and words of ieee8023's other infectious findings.
const PNEUMONIA = new Set(['pneumonia', 'infections', 'infection', 'infeccoes', 'infeccao', 'other', 'others']);
const PNEUMONIA_WORDS = new Set([
	'pneumonia',
	'bacteria',
	'bacterial',
	'virus',
	'viral',
	'fungal',
	'aspiration',
	'lipoid',
	'streptococcus',
	'pneumocystis',
	'sars',
	'mers',
	'klebsiella',
	'legionella',
	'mycoplasma',
	'chlamydophila',
	'coli',
	'staphylococcus',
	'mrsa',
	'nocardia',
	'influenza',
	'h1n1',
	'varicella',
	'herpes',
	'aspergillosis',
	'tuberculosis',
]);

function classOf(folded: string): ClassName | null {
	if (/^(non|not|no) (covid|pneumonia|normal)/.test(folded)) return null; // 'non-COVID' names no single class
	if (COVID.has(folded) || /\bcovid\b|\bsars cov ?2\b/.test(folded)) return 'COVID';
	if (NORMAL.has(folded)) return 'NORMAL';
	if (PNEUMONIA.has(folded) || folded.split(' ').some((w) => PNEUMONIA_WORDS.has(w))) return 'PNEUMONIA';
	return null;
}

/**
 * Map a folder name or finding to a class, or null when it names none ('Unknown', 'todo', 'ARDS', 'images').
 * Extra aliases (matched case/diacritic-insensitively) win over the built-in ones. Composite ieee8023 findings
 * ('Pneumonia/Viral/COVID-19', 'COVID-19, ARDS') are COVID when any part is, else PNEUMONIA for any infection.
 */
export function normaliseLabel(name: string, aliases?: Record<string, ClassName>): ClassName | null {
	const folded = foldLabel(name);
	if (!folded) return null;
	if (aliases) {
		for (const [k, v] of Object.entries(aliases)) if (foldLabel(k) === folded && CLASS_NAMES.includes(v)) return v;
	}
	const whole = classOf(folded);
	if (whole) return whole;
	const parts = name
		.split(/[/,;|+]/)
		.map(foldLabel)
		.filter(Boolean);
	const classes = parts.map(classOf);
	if (classes.includes('COVID')) return 'COVID';
	if (classes.includes('PNEUMONIA')) return 'PNEUMONIA';
	return classes.includes('NORMAL') && classes.every((c) => c === 'NORMAL' || c === null) ? 'NORMAL' : null;
}
