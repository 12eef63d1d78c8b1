// Report panel controller: the report card of one run, computed in the engine worker.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ReportCard } from '../engine/report/report';
import { isReportFromWebview, type OperatingOptions, type ReportFromWebview, type ReportToWebview } from '../protocol/report';
import type { Services } from '../util/services';
import { workDir } from '../util/workspace';
import { sanitizeFileName } from '../util/pathConfinement';
import { BasePanel } from './basePanel';

const FILTERS: Record<'pdf' | 'html' | 'json', Record<string, string[]>> = { pdf: { 'PDF document': ['pdf'] }, html: { 'HTML page': ['html'] }, json: { JSON: ['json'] } };

export class ReportPanel extends BasePanel<ReportToWebview, ReportFromWebview> {
	static current: ReportPanel | undefined;

	private runDir: string | null = null;
	private card: ReportCard | null = null;
	private options: OperatingOptions = { positiveClass: 'COVID' };
	private gradcam = false;
	private busy: string | null = null;

	/** Shows the panel for a run and computes its card. */
	static async showRun(services: Services, runDir: string): Promise<ReportPanel> {
		if (ReportPanel.current) ReportPanel.current.reveal();
		else ReportPanel.current = new ReportPanel(services);
		const panel = ReportPanel.current;
		if (panel.runDir !== runDir) {
			panel.runDir = runDir;
			panel.card = null;
			panel.gradcam = false;
		}
		await panel.compute();
		return panel;
	}

	private constructor(private readonly services: Services) {
		super(
			{ extensionUri: services.extensionUri, log: services.log },
			{ name: 'report', viewType: 'radiographReview.report', title: 'Radiograph Report', extraRoots: [], isMessage: isReportFromWebview },
		);
		this._register({ dispose: () => (ReportPanel.current = undefined) });
	}

	private async compute(exportTo?: { format: 'pdf' | 'html' | 'json'; file: string }): Promise<void> {
		const wd = workDir();
		if (!this.runDir || !wd) return;
		const name = path.basename(this.runDir);
		this.panel.title = `Report: ${name}`;
		this.busy = exportTo ? `Writing ${exportTo.format.toUpperCase()}…` : this.gradcam ? `Grad-CAM on the test images of ${name}…` : `Computing the report card of ${name} (1000 bootstrap resamples)…`;
		this.sendSnapshot();
		try {
			this.card = await this.services.engine.run({
				type: 'report',
				runDir: this.runDir,
				workDir: wd,
				positiveClass: this.options.positiveClass,
				targetSensitivity: this.options.targetSensitivity,
				gradcam: this.gradcam,
				exportTo,
			});
		} finally {
			this.busy = null;
			this.sendSnapshot();
		}
	}

	protected snapshot(): ReportToWebview {
		return { type: 'snapshot', runDir: this.runDir, card: this.card, options: this.options, busy: this.busy };
	}

	protected async onMessage(msg: ReportFromWebview): Promise<void> {
		switch (msg.type) {
			case 'ready':
			case 'error':
				return;
			case 'setOptions':
				this.options = { positiveClass: msg.positiveClass, ...(msg.targetSensitivity !== undefined ? { targetSensitivity: msg.targetSensitivity } : {}) };
				await this.compute();
				return;
			case 'computeGradcam':
				this.gradcam = true;
				await this.compute();
				return;
			case 'openGrid':
				if (this.runDir) await vscode.commands.executeCommand('radiographReview.openPredictions', this.runDir);
				return;
			case 'exportReport': {
				const wd = workDir();
				const name = sanitizeFileName(`report-${path.basename(this.runDir ?? 'run')}.${msg.format}`, `report.${msg.format}`);
				const target = await vscode.window.showSaveDialog({ defaultUri: wd ? vscode.Uri.file(path.join(wd, name)) : undefined, filters: FILTERS[msg.format], saveLabel: 'Export' });
				if (!target) {
					this.post({ type: 'notice', level: 'info', message: 'Export cancelled.' });
					return;
				}
				try {
					// The PDF holds Grad-CAM overlays: the card then carries where-it-looks too.
					if (msg.format === 'pdf') this.gradcam = true;
					await this.compute({ format: msg.format, file: target.fsPath });
					this.post({ type: 'notice', level: 'info', message: `Report saved to ${target.fsPath}` });
				} catch (e) {
					this.post({ type: 'notice', level: 'error', message: `Export failed: ${(e as Error).message}` });
				}
				return;
			}
		}
	}
}
