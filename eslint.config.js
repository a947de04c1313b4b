import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Only the entry points may touch the process (exit codes, signals, env, argv): src/main.ts and src/cli/. */
const PROCESS_MESSAGE =
  'Only src/main.ts and src/cli/ touch `process`: take what you need (env, clock, exit) through your constructor.';

const PROCESS_IMPORTS = [
  { name: 'process', message: PROCESS_MESSAGE },
  { name: 'node:process', message: PROCESS_MESSAGE },
];

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'models/**', 'data/**', 'tmp/**', '.state/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Type-aware rules: a promise nobody awaits or catches is a crash (or a silent failure) at the door.
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/main.ts', 'src/cli/**'],
    rules: {
      'no-restricted-globals': ['error', { name: 'process', message: PROCESS_MESSAGE }],
      'no-restricted-imports': ['error', { paths: PROCESS_IMPORTS }],
    },
  },
  // Dependencies point one way (docs/architecture.md): what the daemon loads never pulls in
  // training code, and the GPIO drivers never depend on the door logic built on them.
  {
    files: ['src/model/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: PROCESS_IMPORTS,
          patterns: [
            { group: ['**/training/*'], message: 'src/model/ is what the daemon loads: no training code' },
          ],
        },
      ],
    },
  },
  {
    files: ['src/gpio/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: PROCESS_IMPORTS,
          patterns: [
            {
              group: ['**/access/*'],
              message: 'src/gpio/ is below src/access/: access imports gpio, not the reverse',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly' } },
  },
);
