// Training panel controller: live curves of every session plus the workspace's recent runs, overlaid.
import * as vscode from 'vscode';
import { isTrainingFromWebview, type TrainingFromWebview, type TrainingToWebview } from '../protocol/training';
import type { BackboneId } from '../engine/types';
import type { BackboneChoice } from '../protocol/common';
import type { Services } from '../util/services';
import { workDir } from '../util/workspace';
import { BasePanel } from './basePanel';
import { exportDir, saveExport } from './exportFile';

export class TrainingPanel extends BasePanel<TrainingToWebview, TrainingFromWebview> {
	static current: TrainingPanel | undefined;
	static readonly viewType = 'radiographReview.training';
	/** The Train picker (backbones marked by whether their weights resolve) and its default. */
	private picker: { choices: BackboneChoice[]; defaultBackbone: BackboneId } | undefined;

	/** Open (or reveal) the panel; finished runs are read from disk in the background. */
	static show(services: Services, preserveFocus = false): TrainingPanel {
		if (TrainingPanel.current) {
			if (!preserveFocus) TrainingPanel.current.reveal();
		} else {
			TrainingPanel.current = new TrainingPanel(services);
		}
		const wd = workDir();
		if (wd) void services.sessions.loadFromDisk(wd); // never rejects: problems go to the log
		void TrainingPanel.current.refreshPicker();
		return TrainingPanel.current;
	}

	/** Recheck the picker (in the worker); never rejects. */
	async refreshPicker(): Promise<void> {
		try {
			this.picker = await this.services.backboneWeights.choices(this.services.sessions.lastTrained());
			this.sendSnapshot();
		} catch (e) {
			this.services.log.warn(`Training panel: backbone check failed: ${(e as Error).message}`);
		}
	}

	/** After a window reload: VS Code hands back the panel it restored. */
	static revive(services: Services, panel: vscode.WebviewPanel): void {
		// Hidden panels are restored only when first shown: a command may have opened a new one meanwhile.
		if (TrainingPanel.current) {
			panel.dispose();
			return;
		}
		TrainingPanel.current = new TrainingPanel(services, panel);
		TrainingPanel.show(services, true);
	}

	private constructor(
		private readonly services: Services,
		existing?: vscode.WebviewPanel,
	) {
		super(
			{ extensionUri: services.extensionUri, log: services.log },
			{ name: 'training', viewType: TrainingPanel.viewType, title: 'Radiograph Training', extraRoots: [], isMessage: isTrainingFromWebview, existing },
		);
		this._register({ dispose: () => (TrainingPanel.current = undefined) });
		this._register(services.backboneWeights.onDidChange(() => void this.refreshPicker()));
		this._register(
			services.sessions.onDidChange((e) => {
				switch (e.kind) {
					case 'epoch':
						this.post({ type: 'epoch', id: e.id, logs: e.logs, epochs: e.epochs });
						return;
					case 'series': {
						const { history: _history, ...series } = e.series;
						this.post({ type: 'seriesUpdate', series });
						// A finished run changes the default ("last trained").
						if (e.series.state === 'done') void this.refreshPicker();
						return;
					}
					case 'reset':
						this.sendSnapshot();
						// Runs read from disk may change "last trained".
						void this.refreshPicker();
						return;
				}
			}),
		);
	}

	protected snapshot(): TrainingToWebview {
		// A fast head can log hundreds of thousands of epochs; the curves draw ~1000 points, so send a thinned history.
		return {
			type: 'snapshot',
			series: this.services.sessions.all().map((s) => (s.history.length > SNAPSHOT_EPOCHS ? { ...s, history: thinned(s.history, SNAPSHOT_EPOCHS) } : s)),
			backbones: this.picker?.choices,
			defaultBackbone: this.picker?.defaultBackbone,
		};
	}

	protected async onMessage(msg: TrainingFromWebview): Promise<void> {
		switch (msg.type) {
			case 'ready':
			case 'error':
				return; // handled by the base
			case 'stop': {
				const n = this.services.sessions.cancel(msg.id);
				this.services.log.info(`Stop requested from the training panel (${n} session(s)).`);
				return;
			}
			case 'stopKeep': {
				const n = this.services.sessions.stopAndKeep(msg.id);
				this.services.log.info(`Stop and keep requested from the training panel (${n} session(s)).`);
				return;
			}
			case 'dismiss':
				await this.services.sessions.dismiss(msg.id);
				return;
			case 'label': {
				const s = this.services.sessions.all().find((x) => x.id === msg.id);
				if (!s) return;
				const label = await vscode.window.showInputBox({
					title: `Label for ${s.displayName}`,
					value: s.label ?? '',
					prompt: 'Shown after the run name in the legend and on the card; empty removes it.',
				});
				if (label !== undefined) await this.services.sessions.setLabel(msg.id, label);
				return;
			}
			case 'train':
				await vscode.commands.executeCommand(trainCommandFor(msg.backbone));
				return;
			case 'openPredictions':
				await vscode.commands.executeCommand('radiographReview.openPredictions', msg.runDir);
				return;
			case 'export': {
				const json = msg.format === 'json' ? JSON.stringify(this.services.sessions.all(), null, 2) : undefined;
				this.post(await saveExport(msg, exportDir(), json));
				return;
			}
		}
	}
}

/** Epochs per series a snapshot carries at most (the full history stays in the session and history.json). */
const SNAPSHOT_EPOCHS = 5000;

/** Evenly spaced items, first and last kept. */
function thinned<T>(items: readonly T[], max: number): T[] {
	return Array.from({ length: max }, (_, i) => items[Math.round((i * (items.length - 1)) / (max - 1))]);
}

/** Command id of a backbone's train command (kept in sync with commands/index.ts). */
export function trainCommandFor(backbone: string): string {
	switch (backbone) {
		case 'vgg16':
			return 'radiographReview.trainVgg16';
		case 'resnet50v2':
			return 'radiographReview.trainResnet50v2';
		case 'xception':
			return 'radiographReview.trainXception';
		default:
			return 'radiographReview.trainResnet50';
	}
}
