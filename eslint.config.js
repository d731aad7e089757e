// Lint rules for Roost: typescript-eslint's recommended set, plus the layering of
// docs/ARCHITECTURE.md held as import restrictions per directory.
import tseslint from 'typescript-eslint';

const layer = (files, patterns, message) => ({
  files,
  rules: { 'no-restricted-imports': ['error', { patterns: [{ group: patterns, message }] }] },
});

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench/**', 'var/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  // Protocols see storage only through its API, never a backend or the index.
  layer(['src/protocols/**/*.ts'], ['**/storage/backends/**', '**/storage/list/**', '**/index/**', '**/mta/**'], 'protocols import storage/api.ts, auth/service.ts, mail/ and lib/ only'),
  // Storage never formats protocol replies; only storage imports the index.
  layer(['src/storage/**/*.ts'], ['**/protocols/**', '**/server/**', '**/cli/**'], 'storage never imports protocols, the server or the CLI'),
  layer(['src/index/**/*.ts'], ['**/protocols/**', '**/server/**', '**/cli/**'], 'the index is used by storage only'),
  // mail/ and lib/ are protocol-free helpers.
  layer(['src/mail/**/*.ts', 'src/lib/**/*.ts'], ['**/protocols/**', '**/storage/**', '**/auth/**', '**/server/**', '**/index/**', '**/cli/**'], 'mail/ and lib/ depend on nothing above them'),
  layer(['src/auth/**/*.ts'], ['**/protocols/**', '**/storage/**', '**/server/**', '**/index/**'], 'auth depends on config, lib and mail only'),
);
