// Tests run the real bundled binaries (dist/), so `npm test` builds first; ts-jest only
// transpiles the test files and the modules they import directly (isolatedModules in tsconfig.json
// makes that a per-file transpile, without type checking: `npm run typecheck` does that).
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { diagnostics: false }] },
  testTimeout: 60000,
  globalSetup: '<rootDir>/test/support/global-setup.js',
};
