import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { plain, RepriseSandbox, runningDaemonPid, text } from "../support/reprise-env.js";

/**
 * The daemon runs compilers through its launcher (`reprise-native
 * --spawn-helper`), a child of its own; `REPRISE_SPAWN_HELPER=0` makes it
 * spawn them itself. Either way the miss is a plain compile's bytes.
 */
const sandboxes: RepriseSandbox[] = [];

afterAll(async () => {
  for (const sb of sandboxes) await sb.dispose();
});

/** The daemon's children running the launcher. */
function launchers(daemon: number): number[] {
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const cmdline = readFileSync(`/proc/${name}/cmdline`, "utf8").split("\0");
      if (ppid === daemon && cmdline.includes("--spawn-helper")) found.push(Number(name));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe.each([
  ["with the launcher", {}, 1],
  ["with REPRISE_SPAWN_HELPER=0", { REPRISE_SPAWN_HELPER: "0" }, 0],
] as const)("a miss %s", (_name, env, expected) => {
  it("compiles the plain compile's bytes, through the launcher when there is one", async () => {
    const sb = new RepriseSandbox(env);
    sandboxes.push(sb);
    const w = join(sb.root, "src");
    mkdirSync(w, { recursive: true });
    writeFileSync(join(w, "m.c"), "#include <stdio.h>\nint m(void) { return puts(\"m\"); }\nint unused_warning(int a) { int b; return a; }\n");
    const argv = ["gcc", "-O2", "-Wall", "-c", "m.c", "-o", "m.o"];
    const ref = await plain("gcc", argv.slice(1), w);
    expect(ref.exitCode, text(ref.stderr)).toBe(0);
    const want = readFileSync(join(w, "m.o"));
    rmSync(join(w, "m.o"));
    const before = await sb.stats();
    const r = await sb.run(argv, w);
    expect(r.exitCode, text(r.stderr)).toBe(0);
    expect(text(r.stderr)).toBe(text(ref.stderr));
    expect(readFileSync(join(w, "m.o")).equals(want)).toBe(true);
    expect((await sb.stats()).misses - before.misses).toBe(1);
    const daemon = runningDaemonPid(sb.runtimeDir);
    expect(daemon, "the daemon runs").toBeGreaterThan(0);
    expect(launchers(daemon!)).toHaveLength(expected);
  });
});
