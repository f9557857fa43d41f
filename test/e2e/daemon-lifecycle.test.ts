import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { patchBuiltCore } from "../support/built-core.js";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, RepriseSandbox, text } from "../support/reprise-env.js";
import { daemonNodeFlags } from "../../packages/core/src/client/spawn-daemon.js";
import { expectSameAsPlain } from "../support/compare.js";

let sb: RepriseSandbox;
let w: string;

beforeAll(() => {
  sb = new RepriseSandbox();
  w = join(sb.root, "src");
  mkdirSync(w, { recursive: true });
  // Incompressible data, so each entry really takes a few KiB of the cache.
  for (let i = 0; i < 8; i++) writeFileSync(join(w, `s${i}.c`), `const char big${i}[] = "${randomBytes(2048).toString("hex")}";\n`);
});

afterAll(async () => {
  await sb.dispose();
});

async function daemonInfo(): Promise<{ version: string; pid: number }> {
  const r = await sb.run(["--show-stats", "--json"], sb.root);
  return JSON.parse(text(r.stdout)) as { version: string; pid: number };
}

describe("daemon lifecycle", () => {
  it("--start-server, --stop-server and a fresh start on the next call", async () => {
    expect((await sb.run(["--start-server"], sb.root)).exitCode).toBe(0);
    const first = await daemonInfo();
    const stop = await sb.run(["--stop-server"], sb.root);
    expect(text(stop.stdout)).toContain(`pid ${first.pid}`);
    expect(existsSync(join(sb.runtimeDir, "daemon.sock"))).toBe(false);
    await expectSameAsPlain(sb, w, ["gcc", "-c", "s0.c", "-o", "s0.o"], ["s0.o"]);
    expect((await daemonInfo()).pid).not.toBe(first.pid);
  });

  it("the daemon's own process gets its V8 flags (Node 20: a larger interrupt budget), the client's none", async () => {
    await sb.run(["--stop-server"], sb.root);
    expect((await sb.run(["--start-server"], sb.root)).exitCode).toBe(0);
    const { pid } = await daemonInfo();
    const argv = readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0").slice(1, -1);
    expect(argv.slice(0, -1)).toEqual(daemonNodeFlags(process.versions.node));
    expect(argv.at(-1)).toMatch(/daemon\/entry\.js$/);
    if (process.versions.node.startsWith("20.")) expect(argv).toContain("--interrupt-budget=675840");
    expect(daemonNodeFlags("22.1.0")).toEqual([]);
  });

  it("a daemon of another version is replaced by the client's own", async () => {
    await sb.run(["--stop-server"], sb.root);
    // A real older build: the same daemon with another version string.
    mkdirSync(join(REPO_ROOT, ".test-tmp"), { recursive: true });
    const old = mkdtempSync(join(REPO_ROOT, ".test-tmp", "old-core-"));
    try {
      cpSync(join(REPO_ROOT, "packages/core/dist"), join(old, "dist"), { recursive: true });
      patchBuiltCore(join(old, "dist"), { version: "0.0.1-old" });
      const start = await execa(process.execPath, [join(old, "dist/bin/reprise.js"), "--start-server"], { env: sb.env({ REPRISE_LOG: "info" }), reject: false });
      expect(start.exitCode, start.stderr).toBe(0);
      expect((await execa(process.execPath, [join(old, "dist/bin/reprise.js"), "--show-stats", "--json"], { env: sb.env() })).stdout).toContain("0.0.1-old");
      await expectSameAsPlain(sb, w, ["gcc", "-c", "s1.c", "-o", "s1.o"], ["s1.o"]);
      const now = await daemonInfo();
      expect(now.version).not.toBe("0.0.1-old");
      expect(readFileSync(join(sb.runtimeDir, "daemon.log"), "utf8")).toMatch(/version 0\.1\.\d+.*restarting|client of version/);
    } finally {
      rmSync(old, { recursive: true, force: true });
    }
  });

  it("exits by itself after the idle timeout", async () => {
    await sb.run(["--stop-server"], sb.root);
    await sb.run(["gcc", "-c", "s2.c", "-o", "s2.o"], w, { env: { REPRISE_IDLE_TIMEOUT: "1" } });
    const lock = join(sb.runtimeDir, "daemon.lock");
    expect(existsSync(lock)).toBe(true);
    const deadline = Date.now() + 10_000;
    while (existsSync(lock) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(existsSync(lock)).toBe(false);
    expect(existsSync(join(sb.runtimeDir, "daemon.sock"))).toBe(false);
  });
});

describe("cache size limit", () => {
  it("keeps the cache under its limit by evicting the least recently used, and still compiles right", async () => {
    const limit = 24 * 1024;
    const env = { REPRISE_CACHE_SIZE: String(limit), REPRISE_DIR: join(sb.root, "small-cache") };
    for (let i = 0; i < 8; i++) await expectSameAsPlain(sb, w, ["gcc", "-g", "-c", `s${i}.c`, "-o", `s${i}.o`], [`s${i}.o`], env);
    const r = await sb.run(["--show-stats", "--json"], w, { env });
    const storages = (JSON.parse(text(r.stdout)) as { storages: { location: string; sizeBytes: number; entries: number }[] }).storages;
    const small = storages.find((s) => s.location.includes("small-cache"))!;
    expect(small.sizeBytes).toBeLessThanOrEqual(limit);
    expect(small.entries).toBeLessThan(16);
  });
});
