// ESLint flat config: typescript-eslint's type-aware recommended rules on the extension, engine, webviews and tests.
// Disabled or loosened rules carry their reason.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
	{ ignores: ['dist/**', 'node_modules/**', 'test/e2e/host/**', 'test-results/**', 'scripts/**', 'bench/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
	js.configs.recommended,
	...tseslint.configs.recommendedTypeChecked,
	{
		languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
		rules: {
			// House style: unused parameters and rest-sibling picks start with '_'.
			'@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true }],
			// Optional native packages (tfjs-node, onnxruntime-node, the wasm backend) load lazily with require() so a missing one is caught.
			'@typescript-eslint/no-require-imports': 'off',
			// Errors are rethrown with the file and the reason in the message, which is all the user and the log show.
			'preserve-caught-error': 'off',
			// `ok ? a++ : b++` and `x && f()` are used on purpose in tight loops.
			'@typescript-eslint/no-unused-expressions': ['error', { allowShortCircuit: true, allowTernary: true }],
			// Error messages stringify unknown values read from foreign files (HDF5 attributes, JSON) on purpose.
			'@typescript-eslint/no-base-to-string': 'off',
		},
	},
	{
		files: ['src/engine/bench/**/*.ts'],
		rules: {
			// Bench rows are built from the JSON its child processes print: loosely typed by nature.
			'@typescript-eslint/restrict-template-expressions': 'off',
			'@typescript-eslint/no-unsafe-assignment': 'off',
		},
	},
	{
		files: ['test/**/*.ts'],
		rules: {
			// node:test's test() and describe() return promises the runner itself awaits.
			'@typescript-eslint/no-floating-promises': 'off',
			// Tests poke at parsed JSON and hand-built hostile inputs on purpose.
			'@typescript-eslint/no-explicit-any': 'off',
			'@typescript-eslint/no-unsafe-member-access': 'off',
			'@typescript-eslint/no-unsafe-assignment': 'off',
			// Test doubles implement async interfaces without awaiting anything.
			'@typescript-eslint/require-await': 'off',
			// tfjs tensor casts (`as tf.Tensor4D`) read better than rank generics.
			'@typescript-eslint/no-unnecessary-type-assertion': 'off',
		},
	},
);
