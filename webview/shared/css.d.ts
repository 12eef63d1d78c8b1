// esbuild's `.css: text` loader turns a stylesheet import into its text (see .esbuild.config.mjs).
declare module '*.css' {
	const text: string;
	export default text;
}
