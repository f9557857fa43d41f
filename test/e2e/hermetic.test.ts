import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientCommand, plain, RepriseSandbox, text, type StatsJson } from "../support/reprise-env.js";
import { expectSameAsPlain } from "../support/compare.js";
import { writeGeneratedProject } from "../support/generated-project.js";
import { ensureDebianPackages } from "../support/sandbox-engines.js";

/**
 * Hermetic mode end to end: `REPRISE_HERMETIC=<sandbox>` compiles every miss
 * from the packaged toolchain inside the sandbox, with only the source and
 * its include closure, and the result must be byte for byte what a plain
 * compile gives — objects with debug info, dependency files, warnings,
 * errors and exit status — and then hit as any miss. Where the sandbox cannot
 * run, or the closure cannot be trusted, the call is compiled locally and
 * stats say why.
 *
 * One daemon and cache directory serve both sandboxes (toolchains are packaged
 * once); each sandbox compiles in its own project directory, so its calls are
 * misses (direct mode keys by the working directory). The container case
 * uses podman with runc, installed if missing (containers-here.md): it never
 * skips.
 */

const SANDBOXES = ["bwrap", "docker"] as const;
const PACKAGES: Record<(typeof SANDBOXES)[number], string[]> = { bwrap: ["bubblewrap"], docker: ["podman", "runc"] };
// podman, runc as runtime (crun refuses this machine's hybrid cgroups); bwrap takes its defaults.
const SANDBOX_OPTIONS = { docker: { engine: "podman", runtime: "runc" } };
const GENERATED_FILES = 6;

let sb: RepriseSandbox;

beforeAll(() => {
  sb = new RepriseSandbox();
});

afterAll(async () => {
  await sb.dispose();
});

function writeProject(root: string): void {
  for (const d of ["include/lib", "src", "build"]) mkdirSync(join(root, d), { recursive: true });
  writeFileSync(join(root, ".repriserc.json"), JSON.stringify({ sandboxOptions: SANDBOX_OPTIONS }));
  writeFileSync(join(root, "include/lib/util.h"), "#pragma once\n#include <string.h>\n#define TWICE(x) ((x) * 2)\nstatic inline int util_len(const char *s) { return (int)strlen(s); }\n");
  writeFileSync(join(root, "include/lib/optional.h"), "#define OPTIONAL_FEATURE 7\n");
  writeFileSync(
    join(root, "src/warn.c"),
    '#include <stdio.h>\n#include "lib/util.h"\nint answer(int x) { int unused; static const char *f = __FILE__; printf("%s %d\\n", f, __LINE__); if (x = 3) return TWICE(x) + util_len(f); }\n',
  );
  writeFileSync(
    join(root, "src/vec.cpp"),
    '#include <vector>\n#include <string>\n#include <map>\n#include "lib/util.h"\nstd::map<std::string, std::vector<int>> m;\nint f(unsigned n) { int i = 0; m["a"].push_back(TWICE(2)); return (int)m.size() + (i < n); }\n',
  );
  writeFileSync(join(root, "src/broken.c"), '#include "lib/util.h"\nint h(void) { return undefined_thing + TWICE(1); }\n');
  // A probe of a header that is not included: no dependency list names it, yet it decides what is compiled.
  writeFileSync(join(root, "src/probe.c"), '#if __has_include("lib/optional.h")\nint probe_found = 1;\n#else\nint probe_found = 0;\n#endif\nint probe(void) { return probe_found; }\n');
  // A probe through a macro cannot be resolved ahead of the compile: the closure is not known.
  writeFileSync(join(root, "src/probe-macro.c"), '#define OPT "lib/optional.h"\n#if __has_include(OPT)\nint probe_found = 1;\n#endif\nint probe(void) { return 2; }\n');
}

const hermeticCount = (s: StatsJson) => Object.values(s.hermetic ?? {}).reduce((a, b) => a + b, 0);

/** The daemon's warnings (why a miss was compiled locally), for failure messages. */
function daemonWarnings(): string {
  try {
    return readFileSync(join(sb.runtimeDir, "daemon.log"), "utf8")
      .split("\n")
      .filter((l) => l.includes("WARN"))
      .slice(-5)
      .join("\n");
  } catch {
    return "(no daemon log)";
  }
}

describe.each(SANDBOXES)("hermetic mode with %s", (name) => {
  let proj: string;
  const env = () => ({ REPRISE_HERMETIC: name });

  beforeAll(() => {
    ensureDebianPackages(PACKAGES[name]);
    proj = join(sb.root, `proj-${name}`);
    writeProject(proj);
  }, 600_000);

  it("compiles gcc, g++ and clang misses in the sandbox: objects (-g), dependency files and warnings as a plain compile", async () => {
    await sb.zeroStats();
    const calls: [string[], string[], Record<string, string>?][] = [
      // UTF-8 quotes in GCC's diagnostics come from the toolchain's C.UTF-8 locale.
      [["gcc", "-O2", "-g", "-Wall", "-Wextra", "-Iinclude", "-MD", "-MF", "build/warn.d", "-c", "src/warn.c", "-o", "build/warn.o"], ["build/warn.o", "build/warn.d"], { LC_ALL: "", LANG: "C.UTF-8" }],
      [["g++", "-O1", "-g", "-Wall", "-Wextra", "-Iinclude", "-MMD", "-c", "src/vec.cpp", "-o", "build/vec.o"], ["build/vec.o", "build/vec.d"]],
      [["clang", "-O2", "-g", "-Wall", "-Wextra", "-Iinclude", "-MD", "-c", "src/warn.c", "-o", "build/warn-clang.o"], ["build/warn-clang.o", "build/warn-clang.d"]],
      [["gcc", "-g", "-Iinclude", "-c", "src/probe.c", "-o", "build/probe.o"], ["build/probe.o"]],
    ];
    for (const [argv, outputs, extraEnv] of calls) {
      const { ref } = await expectSameAsPlain(sb, proj, argv, outputs, { ...env(), ...extraEnv });
      if (argv.includes("-Wall")) expect(ref.stderr, argv.join(" ")).toContain("warning:");
    }
    const s = await sb.stats();
    expect(s.fallbacks, daemonWarnings()).toEqual({});
    expect(s.misses).toBe(calls.length);
    expect(s.hitsDirect).toBe(calls.length);
    expect(s.hermetic[name], JSON.stringify(s.hermetic)).toBe(calls.length);
    expect(readFileSync(join(proj, "build/warn.o")).includes(Buffer.from(proj)), "the compile directory is in the debug info").toBe(true);
  });

  it("a failing compile gives the plain compile's errors and exit status (gcc, clang)", async () => {
    await sb.zeroStats();
    for (const cc of ["gcc", "clang"]) {
      const { first } = await expectSameAsPlain(sb, proj, [cc, "-g", "-Iinclude", "-c", "src/broken.c", "-o", "build/broken.o"], ["build/broken.o"], env());
      expect(first.exitCode).not.toBe(0);
      expect(first.stderr).toContain("undefined_thing");
    }
    const s = await sb.stats();
    expect(s.compileFailures).toBe(4);
    expect(s.fallbacks, daemonWarnings()).toEqual({});
    expect(hermeticCount(s)).toBe(4);
  });

  it("make -j2 in hermetic mode builds objects and dependency files byte-identical to a plain build", async () => {
    const gen = join(proj, "gen");
    const objects = writeGeneratedProject(gen, GENERATED_FILES);
    const outputs = [...objects, ...objects.map((o) => `${o}.d`)];
    const read = () => new Map(outputs.map((o) => [o, readFileSync(join(gen, o))]));
    const ref = await plain("make", ["-j2"], gen);
    expect(ref.exitCode, text(ref.stderr)).toBe(0);
    const reference = read();
    await plain("make", ["clean"], gen);
    await sb.zeroStats();
    const launcher = clientCommand("native").join(" ");
    const r = await plain("make", ["-j2", `CC=${launcher} gcc`, `CXX=${launcher} g++`], gen, sb.env(env()));
    expect(r.exitCode, text(r.stderr)).toBe(0);
    for (const [file, data] of read()) expect(data.equals(reference.get(file)!), `${file} byte-identical to the plain build`).toBe(true);
    const s = await sb.stats();
    expect(s.misses).toBe(GENERATED_FILES);
    expect(s.fallbacks, daemonWarnings()).toEqual({});
    expect(hermeticCount(s)).toBe(GENERATED_FILES);
  });

  it("compiles locally, with the reason in stats, when the sandbox cannot run", async () => {
    const dir = join(proj, "unusable");
    mkdirSync(dir, { recursive: true });
    // Both sandboxes pointed at programs that do not exist.
    writeFileSync(join(dir, ".repriserc.json"), JSON.stringify({ sandboxOptions: { bwrap: { bwrap: "/nonexistent/bwrap" }, docker: { engine: "/nonexistent/podman" } } }));
    // A text of this sandbox's own: the same text compiled for another sandbox would be served through the preprocessed text's key.
    writeFileSync(join(dir, "u.c"), `int u_${name}(void) { return 5; }\n`);
    await sb.zeroStats();
    await expectSameAsPlain(sb, dir, ["gcc", "-g", "-c", "u.c", "-o", "u.o"], ["u.o"], env());
    // No plugin serves this name: the same.
    await expectSameAsPlain(sb, dir, ["gcc", "-O1", "-c", "u.c", "-o", "u1.o"], ["u1.o"], { REPRISE_HERMETIC: "no-such-sandbox" });
    const s = await sb.stats();
    expect(s.misses).toBe(2);
    expect(s.hitsDirect).toBe(2);
    expect(s.fallbacks).toEqual({ "hermetic-sandbox-unusable": 2 });
    expect(hermeticCount(s)).toBe(0);
  });

  it("compiles locally when a __has_include probe cannot be resolved ahead (a macro argument)", async () => {
    await sb.zeroStats();
    await expectSameAsPlain(sb, proj, ["gcc", "-g", "-Iinclude", "-c", "src/probe-macro.c", "-o", "build/probe-macro.o"], ["build/probe-macro.o"], env());
    const s = await sb.stats();
    expect(s.fallbacks).toEqual({ "hermetic-has-include": 1 });
    expect(hermeticCount(s)).toBe(0);
    expect(s.misses).toBe(1);
  });
});
