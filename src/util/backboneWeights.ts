// The weights check of every backbone, run in the engine worker (no download, no hashing) and kept until a
// weights setting changes, so Train buttons and pickers know what can train without blocking the host.
import * as vscode from 'vscode';
import type { EngineClient } from '../engine/client';
import type { BackboneId, WeightsStatus } from '../engine/types';
import type { BackboneChoice } from '../protocol/common';
import { backboneChoices, defaultBackbone } from './backboneChoices';
import { Disposable } from './dispose';
import { readSettings } from './settings';

export class BackboneWeights extends Disposable {
	private cached: Promise<WeightsStatus[]> | undefined;
	private readonly emitter = this._register(new vscode.EventEmitter<void>());
	/** Fires when the weights settings changed (the next status() checks again). */
	readonly onDidChange = this.emitter.event;

	constructor(
		private readonly engine: EngineClient,
		private readonly log: vscode.LogOutputChannel,
	) {
		super();
		this._register(
			vscode.workspace.onDidChangeConfiguration((e) => {
				if (e.affectsConfiguration('radiographReview.weights')) this.invalidate();
			}),
		);
	}

	invalidate(): void {
		this.cached = undefined;
		this.emitter.fire();
	}

	/** Never rejects: a failed check reads as "not checked" (with the reason in the log). */
	status(): Promise<WeightsStatus[]> {
		this.cached ??= this.engine.run({ type: 'weightsStatus', settings: readSettings().weights }).catch((e: unknown) => {
			this.log.warn(`Weights check failed: ${(e as Error).message}`);
			this.cached = undefined;
			return [];
		});
		return this.cached;
	}

	async choices(lastTrained?: BackboneId): Promise<{ choices: BackboneChoice[]; defaultBackbone: BackboneId }> {
		const st = await this.status();
		return { choices: backboneChoices(st), defaultBackbone: defaultBackbone(st, lastTrained) };
	}
}
