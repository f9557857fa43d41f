import { configDefaults, defineConfig } from "vitest/config";
import { E2E_SLOW_SUITES } from "./test/e2e-slow-suites.js";

export default defineConfig({
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts", "examples/*/test/**/*.test.ts"],
    // The default "**/dist/**" would exclude the whole packages/dist; only build outputs are excluded.
    // test/cross-arch has its own config and script (npm run test:cross-arch).
    // The slow end-to-end suites have their own script (npm run test:e2e-slow, test/e2e-slow-suites.ts).
    exclude: [...configDefaults.exclude.filter((p) => p !== "**/dist/**"), "packages/*/dist/**", "examples/*/dist/**", "test/cross-arch/**", ...E2E_SLOW_SUITES],
    // Whole make/CMake builds run inside single tests; a loaded 2-core machine needs the margin.
    testTimeout: 240_000,
    hookTimeout: 120_000,
    // End-to-end suites start daemons and compilers; two cores are shared by all of them.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
