import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RepriseSandbox, text } from "../support/reprise-env.js";

let sb: RepriseSandbox;
let w: string;

function daemonLog(): string {
  const path = join(sb.runtimeDir, "daemon.log");
  return existsSync(path) ? readFileSync(path, "utf8") : "";
}

/** The log lines written while `work` ran. */
async function linesDuring(work: () => Promise<unknown>): Promise<string> {
  const before = daemonLog().length;
  await work();
  // The per-call lines of a miss are written once its store finished, after the answer.
  await sb.stats();
  return daemonLog().slice(before);
}

beforeAll(async () => {
  sb = new RepriseSandbox();
  w = join(sb.root, "src");
  mkdirSync(w, { recursive: true });
  for (const name of ["quiet", "loud", "after"]) writeFileSync(join(w, `${name}.c`), `int ${name}(void) { return 1; }\n`);
  // A daemon started at the default (quiet) level, without REPRISE_LOG.
  const started = await sb.run(["--start-server"], sb.root, { env: { REPRISE_LOG: "" } });
  expect(started.exitCode, text(started.stderr)).toBe(0);
});

afterAll(async () => {
  await sb.dispose();
});

describe("REPRISE_LOG=debug in one call's environment", () => {
  it("a call without it adds no per-call line to the log of a quiet daemon", async () => {
    const lines = await linesDuring(() => sb.run(["gcc", "-c", "quiet.c", "-o", "quiet.o"], w, { env: { REPRISE_LOG: "" } }));
    expect(lines).not.toContain("quiet.c");
  });

  it("logs that call's source, key, where it compiled and its result, without a restart", async () => {
    const miss = await linesDuring(() => sb.run(["gcc", "-c", "loud.c", "-o", "loud.o"], w, { env: { REPRISE_LOG: "debug" } }));
    expect(miss).toMatch(/DEBUG.*loud\.c: gcc -c loud\.c -o loud\.o \(cwd /);
    expect(miss).toMatch(/loud\.c: direct mode, manifest key [0-9a-f]+/);
    expect(miss).toMatch(/loud\.c: key parts: compiler gcc \S+ \(identity [0-9a-f]+\), language c, args \["-c",/);
    expect(miss).toContain("loud.c: compiling locally");
    expect(miss).toMatch(/loud\.c: miss, exit 0, [\d.]+ ms/);
    const hit = await linesDuring(() => sb.run(["gcc", "-c", "loud.c", "-o", "loud.o"], w, { env: { REPRISE_LOG: "debug" } }));
    expect(hit).toMatch(/loud\.c: hit-direct, exit 0, [\d.]+ ms/);
    const notCached = await linesDuring(() => sb.run(["gcc", "loud.o", "-o", "loud"], w, { env: { REPRISE_LOG: "debug" } }));
    expect(notCached).toMatch(/not cached \(linking\): gcc loud\.o -o loud/);
  });

  it("the daemon stays quiet for the calls after it", async () => {
    const lines = await linesDuring(() => sb.run(["gcc", "-c", "after.c", "-o", "after.o"], w, { env: { REPRISE_LOG: "" } }));
    expect(lines).not.toContain("after.c");
  });
});
