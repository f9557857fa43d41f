import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // End-to-end suites start daemons and compilers; two cores are shared by all of them.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
