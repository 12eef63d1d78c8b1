import * as vscode from 'vscode';

/**
 * VS Code's `http.proxy` as the proxy variables the engine's downloader honours. An explicit HTTPS_PROXY in the
 * environment wins, as it does for the CLI. Read when the worker starts.
 */
export function proxyEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
	const proxy = vscode.workspace.getConfiguration('http').get<string>('proxy')?.trim();
	if (!proxy || env.HTTPS_PROXY || env.https_proxy) return {};
	return { HTTPS_PROXY: proxy, HTTP_PROXY: env.HTTP_PROXY ?? env.http_proxy ?? proxy };
}
