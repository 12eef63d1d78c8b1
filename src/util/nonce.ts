import { randomBytes } from 'node:crypto';

/** A fresh CSP nonce per webview load: 128 random bits, base64url (no '+', '/', '=' to escape). */
export function getNonce(): string {
	return randomBytes(16).toString('base64url');
}
