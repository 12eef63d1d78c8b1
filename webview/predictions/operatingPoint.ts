// The grid at the run's operating point: a toggle that asks the host for the threshold on p(COVID) chosen on the
// validation split, then marks every tile "COVID at t" or "not COVID at t" and states the test sensitivity and
// specificity it gives. The model's argmax labels, filters and confusion matrix stay as they are.
import type { OperatingPoint } from '../../src/engine/report/report';
import { fmtInterval } from '../../src/engine/report/format';
import { CLASS_NAMES } from '../../src/engine/types';
import type { OperatingPointMessage, PredictionsFromWebview } from '../../src/protocol/predictions';
import { TestId } from '../../src/protocol/testIds';
import { h, icon } from '../shared/dom';

export class OperatingPointView {
	readonly toggle: HTMLElement;
	/** One line under the header: the threshold and what it gives on test. */
	readonly line = h('div', { class: 'op-line muted', testid: TestId.GridOperatingPoint });
	private enabled = false;
	private op: OperatingPoint | null = null;
	private frame = 0;

	constructor(
		private readonly root: HTMLElement,
		private readonly post: (msg: PredictionsFromWebview) => void,
		/** Probabilities of a shown image by relPath. */
		private readonly probsOf: (relPath: string) => number[] | undefined,
	) {
		this.toggle = h(
			'vscode-button',
			{ testid: TestId.OperatingPointToggle, attrs: { secondary: true, 'aria-pressed': 'false', title: 'Mark each image as called COVID or not at the threshold chosen on the validation split' } },
			icon('target'),
			' Operating point',
		);
		this.toggle.addEventListener('click', () => this.setEnabled(!this.enabled));
		this.line.hidden = true;
		new MutationObserver(() => this.schedule()).observe(root, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-rel-path'] });
	}

	/** A new view: its threshold is asked for again. */
	reset(): void {
		this.op = null;
		if (this.enabled) this.post({ type: 'operatingPoint' });
		this.schedule();
	}

	setEnabled(on: boolean): void {
		this.enabled = on;
		this.toggle.setAttribute('aria-pressed', String(on));
		this.toggle.toggleAttribute('secondary', !on);
		if (on && !this.op) {
			this.line.hidden = false;
			this.line.textContent = 'Choosing the threshold on the validation split…';
			this.post({ type: 'operatingPoint' });
		}
		if (!on) this.line.hidden = true;
		this.schedule();
	}

	onResult(msg: OperatingPointMessage): void {
		this.op = msg.operatingPoint;
		if (!this.enabled) return;
		this.line.hidden = false;
		const op = this.op;
		this.line.textContent = op
			? `${op.positiveClass} if p ≥ ${op.threshold.toFixed(3)} (chosen on validation, n = ${op.val.n}, by ${op.rule.kind === 'youden' ? "Youden's J" : `sensitivity ≥ ${op.rule.target}`}); on test: sensitivity ${fmtInterval(op.test.sensitivity)}, specificity ${fmtInterval(op.test.specificity)} (n = ${op.test.n}).`
			: `No operating point: ${msg.error ?? 'unavailable'}.`;
		this.schedule();
	}

	private schedule(): void {
		if (this.frame) return;
		this.frame = requestAnimationFrame(() => {
			this.frame = 0;
			this.decorate();
		});
	}

	private decorate(): void {
		const op = this.enabled ? this.op : null;
		const c = op ? CLASS_NAMES.indexOf(op.positiveClass) : -1;
		for (const cell of this.root.querySelectorAll<HTMLElement>('.cell[data-rel-path]')) {
			let chip = cell.querySelector<HTMLElement>(':scope .op-chip');
			const probs = op ? this.probsOf(cell.dataset.relPath!) : undefined;
			if (!op || !probs || cell.hidden) {
				if (chip) chip.hidden = true;
				continue;
			}
			if (!chip) {
				chip = h('span', { class: 'op-chip' });
				cell.querySelector('.thumb-box')?.appendChild(chip);
			}
			const positive = probs[c] >= op.threshold;
			const text = positive ? `${op.positiveClass} at t` : `not ${op.positiveClass} at t`;
			if (chip.textContent !== text) chip.textContent = text;
			chip.classList.toggle('positive', positive);
			chip.dataset.positive = String(positive);
			chip.hidden = false;
		}
	}
}
