/**
 * The slow end-to-end suites (`npm run test:e2e-slow`, in `npm run test:all`
 * after `npm test`): the build farm (a scheduler and builders as processes),
 * hermetic misses in bwrap and containers, the remote cache servers, and an
 * npm install of the packed release. Each takes tens of seconds to minutes;
 * together about as long as the rest of the suite. `vitest.config.ts` leaves
 * them out, `test/e2e-slow.vitest.config.ts` runs only them.
 */
export const E2E_SLOW_SUITES = [
  "test/e2e/farm*.test.ts",
  "test/e2e/local-farm.test.ts",
  "test/e2e/rust-*-farm.test.ts",
  "test/e2e/hermetic*.test.ts",
  "test/e2e/rust-jobs-hermetic.test.ts",
  "test/e2e/rust-jobs-toolchains.test.ts",
  "packages/plugin-sandbox-docker/test/container-sandbox.test.ts",
  "test/e2e/remote-cache.test.ts",
  "test/e2e/remote-failures.test.ts",
  "test/e2e/npm-install.test.ts",
];
