// A tiny DOM helper: elements built by code, never from HTML strings (file names are user data).

type Child = Node | string | number | null | undefined | false;

export interface Props {
	class?: string;
	/** data-testid: values from src/protocol/testIds.ts. */
	testid?: string;
	/** Other data-* attributes, without the prefix (camelCase as DOMStringMap). */
	data?: Record<string, string>;
	/** Plain attributes (title, aria-*, role, tabindex, value…). */
	attrs?: Record<string, string | number | boolean | undefined>;
	/** Event listeners. */
	on?: { [K in keyof HTMLElementEventMap]?: (e: HTMLElementEventMap[K]) => void } & Record<string, (e: Event) => void>;
	text?: string;
}

/** Creates an element: `h('div', { class: 'row' }, child, 'text')`. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
	const el = document.createElement(tag);
	if (props.class) el.className = props.class;
	if (props.testid) el.dataset.testid = props.testid;
	if (props.data) for (const [k, v] of Object.entries(props.data)) el.dataset[k] = v;
	if (props.attrs) {
		for (const [k, v] of Object.entries(props.attrs)) {
			if (v === undefined || v === false) continue;
			el.setAttribute(k, v === true ? '' : String(v));
		}
	}
	if (props.on) for (const [k, fn] of Object.entries(props.on)) if (fn) el.addEventListener(k, fn as EventListener);
	if (props.text !== undefined) el.textContent = props.text;
	append(el, ...children);
	return el;
}

export function append(parent: Node, ...children: Child[]): void {
	for (const c of children) {
		if (c === null || c === undefined || c === false) continue;
		parent.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
	}
}

/** Replaces all children. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
	parent.replaceChildren();
	append(parent, ...children);
}

/** A codicon glyph (the codicons css is loaded by the host); decorative, so hidden from screen readers. */
export function icon(name: string, extraClass = ''): HTMLSpanElement {
	return h('span', { class: `codicon codicon-${name}${extraClass ? ` ${extraClass}` : ''}`, attrs: { 'aria-hidden': 'true' } });
}

/**
 * Adopts stylesheets through the CSSOM: constructable sheets are not inline `<style>` blocks, so a
 * strict `style-src` without 'unsafe-inline' still applies them.
 */
export function adoptStyles(...cssTexts: string[]): void {
	const sheets = cssTexts.map((css) => {
		const sheet = new CSSStyleSheet();
		sheet.replaceSync(css);
		return sheet;
	});
	document.adoptedStyleSheets = [...document.adoptedStyleSheets, ...sheets];
}

/** Reads a theme colour (`--vscode-…`) with a fallback, e.g. for canvas drawing that cannot use CSS vars. */
export function themeColor(name: string, fallback: string): string {
	const v = getComputedStyle(document.body).getPropertyValue(name).trim();
	return v || fallback;
}

/** Calls `fn` when VS Code switches theme (it rewrites the body's classes). */
export function onThemeChange(fn: () => void): void {
	new MutationObserver(() => fn()).observe(document.body, { attributes: true, attributeFilter: ['class'] });
}

/** Shows or hides the busy line / notice line of a panel header. */
export function setText(el: HTMLElement, text: string | null): void {
	el.hidden = !text;
	el.textContent = text ?? '';
}
