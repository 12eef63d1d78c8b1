// The slice of playwright-core's API the e2e tests use. playwright-core lives in test/e2e/host (its own
// lockfile, installed by setup.sh), so `npm run typecheck` on a clean checkout must not depend on it.

export interface Locator {
	first(): Locator;
	nth(i: number): Locator;
	locator(selector: string, options?: { hasText?: string | RegExp }): Locator;
	filter(options: { hasText?: string | RegExp }): Locator;
	waitFor(options?: { state?: 'attached' | 'detached' | 'visible' | 'hidden'; timeout?: number }): Promise<void>;
	click(options?: { button?: 'left' | 'right' | 'middle'; modifiers?: Array<'Alt' | 'Control' | 'Meta' | 'Shift'>; timeout?: number }): Promise<void>;
	fill(value: string, options?: { timeout?: number }): Promise<void>;
	focus(options?: { timeout?: number }): Promise<void>;
	press(key: string, options?: { timeout?: number }): Promise<void>;
	count(): Promise<number>;
	textContent(options?: { timeout?: number }): Promise<string | null>;
	inputValue(options?: { timeout?: number }): Promise<string>;
	innerText(options?: { timeout?: number }): Promise<string>;
	allTextContents(): Promise<string[]>;
	getAttribute(name: string, options?: { timeout?: number }): Promise<string | null>;
	isVisible(): Promise<boolean>;
	hover(options?: { timeout?: number }): Promise<void>;
	evaluateAll<R>(fn: (elements: Element[]) => R): Promise<R>;
	evaluate<R, A = undefined>(fn: (element: Element, arg: A) => R | Promise<R>, arg?: A): Promise<R>;
	scrollIntoViewIfNeeded(options?: { timeout?: number }): Promise<void>;
	boundingBox(options?: { timeout?: number }): Promise<{ x: number; y: number; width: number; height: number } | null>;
}

export interface FrameLocator {
	locator(selector: string, options?: { hasText?: string | RegExp }): Locator;
	nth(i: number): FrameLocator;
	last(): FrameLocator;
	frameLocator(selector: string): FrameLocator;
}

export interface Page {
	goto(url: string): Promise<unknown>;
	locator(selector: string, options?: { hasText?: string | RegExp }): Locator;
	frameLocator(selector: string): FrameLocator;
	keyboard: { press(key: string): Promise<void>; type(text: string, options?: { delay?: number }): Promise<void> };
	evaluate<R>(fn: () => R | Promise<R>): Promise<R>;
	mouse: {
		move(x: number, y: number, options?: { steps?: number }): Promise<void>;
		down(options?: { button?: 'left' | 'right' | 'middle' }): Promise<void>;
		up(options?: { button?: 'left' | 'right' | 'middle' }): Promise<void>;
	};
	screenshot(options: { path: string }): Promise<unknown>;
	waitForTimeout(ms: number): Promise<void>;
	setDefaultTimeout(ms: number): void;
	on(event: 'console', listener: (message: { type(): string; text(): string }) => void): void;
	frames(): Frame[];
	mainFrame(): Frame;
}

export interface Frame {
	/** A function, or an expression as a string (run as the page's own script). */
	evaluate<R>(fn: (() => R | Promise<R>) | string): Promise<R>;
}

export interface BrowserContext {
	pages(): Page[];
	newPage(): Promise<Page>;
	close(): Promise<void>;
}

export interface Chromium {
	launchPersistentContext(
		userDataDir: string,
		options: { executablePath: string; headless: boolean; viewport: { width: number; height: number }; env?: NodeJS.ProcessEnv; args: string[] },
	): Promise<BrowserContext>;
}
