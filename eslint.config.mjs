// @ts-check
// ESLint as every NestJS project has it (typescript-eslint with type information), plus the rules
// that catch what review kept finding: floating promises and unsafe `any`. Prettier owns layout.
import eslint from '@eslint/js';
import eslintConfigPrettier from 'eslint-config-prettier';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'libs/proto/src/generated/**', '.federation/**', 'eslint.config.mjs'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  eslintConfigPrettier,
  {
    languageOptions: {
      globals: { ...globals.node, ...globals.jest },
      sourceType: 'commonjs',
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false, attributes: false } }],
      '@typescript-eslint/no-unsafe-argument': 'error',
      '@typescript-eslint/no-unsafe-assignment': 'error',
      '@typescript-eslint/no-unsafe-call': 'error',
      '@typescript-eslint/no-unsafe-member-access': 'error',
      '@typescript-eslint/no-unsafe-return': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Off: `async` without `await` is how a callback meets a Promise-returning contract (gauges,
      // gRPC handlers, Nest factories) and turns a synchronous throw into a rejection the caller
      // handles; removing `async` there would change behaviour. no-floating-promises and
      // no-misused-promises catch the mistakes that matter.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Plain-JS scripts (launcher, benchmarks, checks): no type information.
    files: ['**/*.js', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    rules: {
      '@typescript-eslint/no-require-imports': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', caughtErrors: 'none' }],
      // `const crypto = require('node:crypto')` in a CommonJS module shadows the global, it does not redeclare it.
      'no-redeclare': ['error', { builtinGlobals: false }],
    },
  },
);
