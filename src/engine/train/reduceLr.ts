// ReduceLROnPlateau with Keras 2's semantics (tf.keras.callbacks.ReduceLROnPlateau, mode 'min'): tfjs has none.
import type { ReduceLrConfig } from '../types';

export interface ReduceLrState {
	best: number;
	wait: number;
	cooldownCounter: number;
}

export class ReduceLrOnPlateau {
	readonly factor: number;
	readonly patience: number;
	readonly cooldown: number;
	readonly minLr: number;
	readonly minDelta: number;
	private best = Infinity;
	private wait = 0;
	private cooldownCounter = 0;

	constructor(cfg: ReduceLrConfig & { minDelta?: number }) {
		if (cfg.factor >= 1) throw new Error('ReduceLROnPlateau does not support a factor >= 1');
		this.factor = cfg.factor;
		this.patience = cfg.patience;
		this.cooldown = cfg.cooldown;
		this.minLr = cfg.minLr;
		this.minDelta = cfg.minDelta ?? 1e-4;
	}

	/**
	 * Call once per epoch with the monitored value (val_loss) and the rate used in that epoch;
	 * returns the rate for the next epoch (float32, as Keras stores it).
	 */
	onEpochEnd(current: number, lr: number): number {
		if (this.cooldownCounter > 0) {
			this.cooldownCounter--;
			this.wait = 0;
		}
		if (current < this.best - this.minDelta) {
			this.best = current;
			this.wait = 0;
		} else if (this.cooldownCounter <= 0) {
			this.wait++;
			if (this.wait >= this.patience) {
				if (lr > Math.fround(this.minLr)) {
					const next = Math.fround(Math.max(lr * this.factor, this.minLr));
					this.cooldownCounter = this.cooldown;
					this.wait = 0;
					return next;
				}
			}
		}
		return lr;
	}

	state(): ReduceLrState {
		return { best: this.best, wait: this.wait, cooldownCounter: this.cooldownCounter };
	}
}
