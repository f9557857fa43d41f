import { defineConfig } from "vitest/config";
import base from "../vitest.config.js";
import { E2E_SLOW_SUITES } from "./e2e-slow-suites.js";

/** `npm run test:e2e-slow`: only the slow end-to-end suites (test/e2e-slow-suites.ts), with the default suite's settings. */
export default defineConfig({
  test: {
    ...base.test,
    root: new URL("..", import.meta.url).pathname,
    include: E2E_SLOW_SUITES,
    exclude: base.test!.exclude!.filter((p) => !E2E_SLOW_SUITES.includes(p)),
  },
});
