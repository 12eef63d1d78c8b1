// Blinded read panel: one image at a time, decoded by the engine worker and posted as pixels under an opaque
// token. The webview never learns the path, file name, folder, label, prediction or anyone's read, and it has no
// resource root in the dataset: nothing it holds can be turned back into the file.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ClassName } from '../engine/types';
import { sha256 } from '../engine/util/hash';
import { recordReads, removeReads } from '../engine/reads/store';
import type { ViewData } from '../protocol/engine';
import { isBlindedFromWebview, type BlindImage, type BlindedFromWebview, type BlindedToWebview } from '../protocol/blinded';
import type { Services } from '../util/services';
import { BasePanel } from './basePanel';

export interface BlindedSession {
	/** Dataset root (absolute). */
	root: string;
	reader: string;
	classes: readonly ClassName[];
	/** The whole set (dataset-relative paths), in reading order. */
	set: readonly string[];
	/** The images of the set this reader has not read yet, in order. */
	queue: string[];
}

/** The display part of a decoded image: no tags, no notes, no format, no preset names. */
export function blindImage(v: ViewData): BlindImage {
	return {
		width: v.width,
		height: v.height,
		samples: v.samples,
		pixels: v.pixels,
		minStored: v.minStored,
		maxStored: v.maxStored,
		slope: v.slope,
		intercept: v.intercept,
		monochrome1: v.monochrome1,
		windows: v.presets.map((p) => ({ center: p.center, width: p.width })),
	};
}

export class BlindedReadPanel extends BasePanel<BlindedToWebview, BlindedFromWebview> {
	static current: BlindedReadPanel | undefined;

	private token = 0;
	private current: { token: number; path: string; image: BlindImage } | null = null;
	private problem: string | null = null;
	/** This session's reads, newest last (undo takes them back). */
	private readonly history: string[] = [];
	private busy = Promise.resolve();

	static open(services: Services, session: BlindedSession): BlindedReadPanel {
		BlindedReadPanel.current?.dispose();
		const panel = (BlindedReadPanel.current = new BlindedReadPanel(services, session));
		void panel.queue(() => panel.showNext());
		return panel;
	}

	private constructor(
		private readonly services: Services,
		private readonly session: BlindedSession,
	) {
		// No extra roots: the dataset is not a resource root of this webview.
		super(
			{ extensionUri: services.extensionUri, log: services.log },
			{ name: 'blinded', viewType: 'radiographReview.blindedRead', title: `Blinded Read: ${session.reader}`, extraRoots: [], isMessage: isBlindedFromWebview },
		);
		this._register({ dispose: () => BlindedReadPanel.current === this && (BlindedReadPanel.current = undefined) });
	}

	protected snapshot(): BlindedToWebview {
		const { reader, classes, set, queue } = this.session;
		return { type: 'state', reader, classes, done: set.length - queue.length, total: set.length, token: this.current?.token ?? null, image: this.current?.image ?? null, problem: this.problem };
	}

	/** Messages are handled one at a time: a fast reader's keys never race the file writes. */
	private queue(fn: () => Promise<void>): Promise<void> {
		this.busy = this.busy.then(fn).catch((e: unknown) => {
			this.services.log.error(`[blinded] ${(e as Error).stack ?? String(e)}`);
			void vscode.window.showErrorMessage(`Radiograph Review: ${(e as Error).message}`);
		});
		return this.busy;
	}

	protected onMessage(msg: BlindedFromWebview): Promise<void> {
		switch (msg.type) {
			case 'ready':
			case 'error':
				return Promise.resolve();
			case 'read':
				return this.queue(() => this.record(msg.token, msg.label, msg.confidence, msg.flagged, msg.seconds));
			case 'undo':
				return this.queue(() => this.undo());
		}
	}

	/** Decodes the next unread image; one that cannot be decoded is logged with its path and moved to the end. */
	private async showNext(): Promise<void> {
		const { queue, root } = this.session;
		this.current = null;
		this.problem = null;
		for (let tries = 0; tries < queue.length; tries++) {
			const rel = queue[0];
			try {
				const data = await this.services.engine.run({ type: 'viewImage', path: path.join(root, ...rel.split('/')) });
				this.current = { token: ++this.token, path: rel, image: blindImage(data) };
				break;
			} catch (e) {
				this.services.log.warn(`[blinded] ${(e as Error).message}`);
				this.problem = 'An image could not be decoded (the file and the reason are in the Radiograph Review log); it was moved to the end.';
				queue.push(queue.shift()!);
			}
		}
		this.sendSnapshot();
	}

	private async record(token: number, label: ClassName, confidence: number, flagged: boolean, seconds: number): Promise<void> {
		const cur = this.current;
		// A stale token (a double key press after the image changed) is ignored rather than pinned on another image.
		if (!cur || cur.token !== token || !this.session.classes.includes(label)) return;
		const { root, reader, queue } = this.session;
		const bytes = await fs.readFile(path.join(root, ...cur.path.split('/')));
		await recordReads(root, [{ path: cur.path, sha256: sha256(bytes), reader, label, confidence, flags: flagged ? ['flagged'] : [], seconds, time: new Date().toISOString(), blinded: true }]);
		this.history.push(cur.path);
		queue.splice(queue.indexOf(cur.path), 1);
		await this.showNext();
	}

	private async undo(): Promise<void> {
		const last = this.history.pop();
		// Nothing to take back: the answer is the state as it is (a reloaded page gets in step this way too).
		if (!last) return this.sendSnapshot();
		await removeReads(this.session.root, this.session.reader, [last]);
		this.session.queue.unshift(last);
		await this.showNext();
	}
}
