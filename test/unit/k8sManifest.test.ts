// docs/SCALE.md's Kubernetes Indexed Job, as printed, checked offline against Kubernetes' own API schema (no cluster
// here: `kubectl create --dry-run=client` still asks an API server). Two checks, because the OpenAPI schema allows
// unknown fields: kubernetes-models' validate() (the schema's types, enums, required fields), and the same package's
// types (generated from that schema) compiled with TypeScript's excess-property check, which rejects a misspelt
// field the way the API server's strict field validation does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as ts from 'typescript';
import { parse } from 'yaml';
import { fencedBlocks } from './helpers/markdown';

const ROOT = path.resolve(__dirname, '../..');

function manifest(): Record<string, unknown> {
	const blocks = fencedBlocks(path.join(ROOT, 'docs/SCALE.md'), 'Kubernetes: an Indexed Job', 'yaml');
	assert.equal(blocks.length, 1, 'docs/SCALE.md: one manifest');
	return parse(blocks[0]) as Record<string, unknown>;
}

/** Throws with Kubernetes' schema errors when `job` is not a valid batch/v1 Job. */
async function validateSchema(job: unknown): Promise<void> {
	const { Job } = await import('kubernetes-models/batch/v1/Job');
	// Model.validate() comes from @kubernetes-models/base, whose exports-only types this tsconfig does not resolve.
	(new Job(job as ConstructorParameters<typeof Job>[0]) as unknown as { validate(): void }).validate();
}

/** TypeScript's diagnostics for `job` as a literal of the schema's IJob type: unknown fields are errors. */
function unknownFields(job: unknown): string[] {
	const file = path.join(ROOT, 'test', 'unit', '__manifest__.ts');
	const source = `import type { IJob } from 'kubernetes-models/batch/v1/Job';\nexport const job: IJob = ${JSON.stringify(job, null, 1)};\n`;
	const options: ts.CompilerOptions = {
		strict: true,
		noEmit: true,
		module: ts.ModuleKind.CommonJS,
		moduleResolution: ts.ModuleResolutionKind.Node10,
		target: ts.ScriptTarget.ES2022,
		types: [],
		skipLibCheck: true,
	};
	const host = ts.createCompilerHost(options);
	const read = host.getSourceFile.bind(host);
	host.getSourceFile = (name, lang, ...rest) => (path.resolve(name) === file ? ts.createSourceFile(name, source, lang) : read(name, lang, ...rest));
	const fileExists = host.fileExists.bind(host);
	host.fileExists = (name) => path.resolve(name) === file || fileExists(name);
	const program = ts.createProgram([file], options, host);
	return ts.getPreEmitDiagnostics(program, program.getSourceFile(file)).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

test('the documented Indexed Job is a valid batch/v1 Job by Kubernetes’ schema, with no unknown field', async () => {
	const job = manifest();
	await validateSchema(job);
	assert.deepEqual(unknownFields(job), []);
	// What the shard arithmetic relies on.
	const spec = job.spec as { completionMode: string; completions: number; template: { spec: { containers: { args: string[] }[] } } };
	assert.equal(spec.completionMode, 'Indexed');
	assert.match(spec.template.spec.containers[0].args[0], new RegExp(`--shard \\$\\(\\(JOB_COMPLETION_INDEX \\+ 1\\)\\)/${spec.completions}\\b`));
});

test('a misspelt field or a wrong type in the manifest fails the check', async () => {
	const spelt = manifest();
	const spec = spelt.spec as Record<string, unknown>;
	spec.completionMod = spec.completionMode;
	delete spec.completionMode;
	assert.ok(
		unknownFields(spelt).some((m) => /completionMod\b/.test(m)),
		'a misspelt JobSpec field',
	);

	const nested = manifest();
	const container = (nested.spec as { template: { spec: { containers: Record<string, unknown>[] } } }).template.spec.containers[0];
	container.volumeMount = container.volumeMounts;
	delete container.volumeMounts;
	assert.ok(
		unknownFields(nested).some((m) => /volumeMount\b/.test(m)),
		'a misspelt container field',
	);

	const typed = manifest();
	(typed.spec as Record<string, unknown>).parallelism = '16';
	await assert.rejects(validateSchema(typed), /parallelism must be integer/);
	const enumd = manifest();
	(enumd.spec as Record<string, unknown>).completionMode = 'Indexd';
	await assert.rejects(validateSchema(enumd), /completionMode must be equal to one of the allowed values/);
});
