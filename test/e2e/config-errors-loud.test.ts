// Issue 13: a bad setting is printed on the terminal, once per build, and
// costs no waiting: the client notices a daemon that died at start-up at once.
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientCommand, plain, RepriseSandbox, text } from "../support/reprise-env.js";

const BAD_SETTINGS: { name: string; config?: string; env?: Record<string, string>; says: RegExp }[] = [
  { name: "a typo'd key", config: '{ "cachSize": "1G" }', says: /invalid config in .*\.repriserc\.json: unknown key "cachSize"/ },
  { name: "a wrong type", config: '{ "maxJobs": "many" }', says: /invalid config in .*\.repriserc\.json: .*maxJobs/ },
  { name: "a bad size", config: '{ "cacheSize": "huge" }', says: /"cacheSize": "huge" is not a size/ },
  { name: "broken JSON", config: '{ "cacheSize": "1G"', says: /\.repriserc\.json/ },
  { name: "a plugin that does not exist", config: '{ "plugins": ["reprise-plugin-nonexistent"] }', says: /reprise-plugin-nonexistent/ },
  { name: "REPRISE_CACHE_SIZE=abc", env: { REPRISE_CACHE_SIZE: "abc" }, says: /"cacheSize": "abc" is not a size/ },
];

describe.each(["node", "native"] as const)("bad settings are loud and cost no waiting (%s client)", (client) => {
  let sb: RepriseSandbox;
  let n = 0;

  beforeAll(() => {
    sb = new RepriseSandbox({}, client);
  });

  afterAll(async () => {
    await sb.dispose();
  });

  /** A project directory with a.c and, when given, a .repriserc.json. */
  function project(config?: string, files = 1): string {
    const dir = join(sb.root, `p${++n}`);
    mkdirSync(dir, { recursive: true });
    for (let i = 0; i < files; i++) writeFileSync(join(dir, `f${i}.c`), `#include <stdio.h>\nint f${i}(void) { return printf("${i}"); }\n`);
    if (config !== undefined) writeFileSync(join(dir, ".repriserc.json"), config);
    return dir;
  }

  /** A new build: no daemon, and no notice printed lately. */
  async function freshStart(): Promise<void> {
    await sb.run(["--stop-server"], sb.root);
    mkdirSync(sb.runtimeDir, { recursive: true, mode: 0o700 });
    for (const f of readdirSync(sb.runtimeDir)) if (f.startsWith("notice-") || f === "daemon.failed") rmSync(join(sb.runtimeDir, f));
  }

  it.each(BAD_SETTINGS)("$name, no daemon running: the error is printed, the compile is a plain one, at once", async (bad) => {
    await freshStart();
    const dir = project(bad.config);
    const ref = await plain("gcc", ["-c", "f0.c", "-o", "ref.o"], dir);
    expect(ref.exitCode).toBe(0);
    const started = performance.now();
    const r = await sb.run(["gcc", "-c", "f0.c", "-o", "f0.o"], dir, { env: bad.env ?? {} });
    const seconds = (performance.now() - started) / 1000;
    expect(r.exitCode, text(r.stderr)).toBe(0);
    expect(readFileSync(join(dir, "f0.o")).equals(readFileSync(join(dir, "ref.o")))).toBe(true);
    expect(text(r.stderr)).toMatch(/^reprise: /);
    expect(text(r.stderr)).toMatch(bad.says);
    expect(text(r.stderr)).toContain("(compiling without cache)");
    expect(seconds, "no polling for a daemon that died at start-up").toBeLessThan(5);
    // The next call of the same build: silent, and starts no daemon (the native client not even the Node one,
    // which would log the failure again).
    const failuresLogged = () => (readFileSync(join(sb.runtimeDir, "daemon.log"), "utf8").match(/daemon could not start/g) ?? []).length;
    const logged = failuresLogged();
    const failedAt = statSync(join(sb.runtimeDir, "daemon.failed")).mtimeMs;
    const again = await sb.run(["gcc", "-c", "f0.c", "-o", "f0.o"], dir, { env: bad.env ?? {} });
    expect(again.exitCode).toBe(0);
    expect(text(again.stderr)).toBe("");
    expect(statSync(join(sb.runtimeDir, "daemon.failed")).mtimeMs, "no second daemon started").toBe(failedAt);
    expect(failuresLogged()).toBe(client === "native" ? logged : logged + 1);
  });

  it("a 9-file make -j2 with a bad config takes about plain time and prints the error once", async () => {
    await freshStart();
    const dir = project('{ "cachSize": "1G" }', 9);
    const objects = Array.from({ length: 9 }, (_, i) => `f${i}.o`);
    writeFileSync(join(dir, "Makefile"), `all: ${objects.join(" ")}\n%.o: %.c\n\t$(CC) -O2 -c $< -o $@\n`);
    const timedMake = async (cc: string) => {
      for (const o of objects) rmSync(join(dir, o), { force: true });
      const started = performance.now();
      const r = await plain("make", ["-j2", `CC=${cc}`], dir, sb.env());
      expect(r.exitCode, text(r.stderr)).toBe(0);
      return { seconds: (performance.now() - started) / 1000, stderr: text(r.stderr), objects: objects.map((o) => readFileSync(join(dir, o))) };
    };
    const reference = await timedMake("gcc");
    const cached = await timedMake(`${clientCommand(client).join(" ")} gcc`);
    expect(cached.objects.every((o, i) => o.equals(reference.objects[i]!))).toBe(true);
    expect(cached.stderr.match(/unknown key "cachSize"/g) ?? [], cached.stderr).toHaveLength(1);
    console.info(`9-file make -j2 with a bad config (${client} client): ${cached.seconds.toFixed(2)} s, plain ${reference.seconds.toFixed(2)} s`);
    // Before: 10 s of polling per call (55.9 s against 8.1 s plain).
    // Every call through the Node client starts Node (0.15 s on a quiet machine, 0.5 s and more on a busy one): a few seconds more.
    expect(cached.seconds, `plain ${reference.seconds.toFixed(2)} s`).toBeLessThan(3 * reference.seconds + (client === "node" ? 8 : 5));
  });

  it("--start-server with a bad config says why, at once, and fails", async () => {
    await freshStart();
    const dir = project('{ "cachSize": "1G" }');
    const started = performance.now();
    const r = await sb.run(["--start-server"], dir);
    expect(r.exitCode).toBe(1);
    expect(text(r.stderr)).toMatch(/reprise: invalid config in .*unknown key "cachSize"/);
    expect((performance.now() - started) / 1000).toBeLessThan(5);
  });

  it("with a daemon already running, a call whose config is invalid prints the error too (once)", async () => {
    await freshStart();
    expect((await sb.run(["--start-server"], sb.root)).exitCode).toBe(0);
    await sb.zeroStats();
    const dir = project('{ "cacheSize": "lots" }');
    const first = await sb.run(["gcc", "-c", "f0.c", "-o", "f0.o"], dir);
    expect(first.exitCode).toBe(0);
    expect(text(first.stderr)).toMatch(/^reprise: invalid config in .*"cacheSize": "lots" is not a size.*\(compiling without cache\)\n$/);
    const second = await sb.run(["gcc", "-c", "f0.c", "-o", "f0.o"], dir);
    expect(second.exitCode).toBe(0);
    expect(text(second.stderr)).toBe("");
    expect((await sb.stats()).errors.E_CONFIG).toBe(2);
  });
});
