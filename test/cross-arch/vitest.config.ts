import { configDefaults, defineConfig } from "vitest/config";

/**
 * `npm run test:cross-arch`: genuine other-architecture processes (an ARMv7
 * scheduler, an aarch64 builder and client under qemu-user). Emulation is
 * 15–20× slower than native, so the files run one at a time.
 */
export default defineConfig({
  test: {
    root: new URL("../..", import.meta.url).pathname,
    include: ["test/cross-arch/**/*.test.ts"],
    exclude: [...configDefaults.exclude.filter((p) => p !== "**/dist/**"), "packages/*/dist/**"],
    globalSetup: ["test/cross-arch/global-setup.ts"],
    testTimeout: 900_000,
    hookTimeout: 900_000,
    maxWorkers: 1,
    minWorkers: 1,
    fileParallelism: false,
  },
});
