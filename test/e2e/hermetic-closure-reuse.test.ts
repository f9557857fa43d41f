import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RepriseSandbox } from "../support/reprise-env.js";
import { expectSameAsPlain } from "../support/compare.js";
import { ensureDebianPackages } from "../support/sandbox-engines.js";

/**
 * A hermetic job takes its include closure from the lookup's own
 * preprocessing when that ran for the same miss (preprocessor mode, or direct
 * mode's preprocessed fallback for a compile without -g), instead of running
 * a closure scan. That list must be exactly what a fresh scan gives: each
 * step below changes which bytes the compile reads — a header edited, a new
 * header shadowing an old one earlier on the include path, a header only
 * `__has_include` probes, a header found next to its includer before the
 * include path — and each object must be byte-identical to a plain compile
 * (real gcc and clang, real bwrap), and differ from every earlier step's (so
 * the step mattered). The daemon's debug log says where each job's closure
 * came from.
 *
 * Both modes run every step: direct mode's manifest entries record where a
 * new header would shadow one read or answer a probe (absent-path guards),
 * so such a step misses in direct mode too.
 */

let sb: RepriseSandbox;
let proj: string;
const HERMETIC = { REPRISE_HERMETIC: "bwrap" };

beforeAll(() => {
  ensureDebianPackages(["bubblewrap"]);
  sb = new RepriseSandbox({ REPRISE_LOG: "debug" });
  proj = join(sb.root, "proj");
  for (const d of ["inc1", "inc2/sub", "build"]) mkdirSync(join(proj, d), { recursive: true });
  writeFileSync(join(proj, "inc2/a.h"), "#define A_VALUE 1\n");
  // Quoted includes look next to their includer first (inc2/sub), then along -I.
  writeFileSync(join(proj, "inc2/sub/rel.h"), '#include "sibling.h"\n');
  writeFileSync(join(proj, "inc1/sibling.h"), "#define SIBLING 10\n");
  writeFileSync(
    join(proj, "main.c"),
    '#include "a.h"\n#include "sub/rel.h"\n#if __has_include(<probe.h>)\n#include <probe.h>\n#else\n#define PROBED 100\n#endif\nint value(void) { return A_VALUE + SIBLING + PROBED; }\n',
  );
}, 600_000);

afterAll(async () => {
  await sb?.dispose();
});

function daemonLog(): string {
  try {
    return readFileSync(join(sb.runtimeDir, "daemon.log"), "utf8");
  } catch {
    return "";
  }
}

const RESET = () => {
  writeFileSync(join(proj, "inc2/a.h"), "#define A_VALUE 1\n");
  for (const f of ["inc1/a.h", "inc1/probe.h", "inc2/sub/sibling.h"]) rmSync(join(proj, f), { force: true });
};

type Step = [string, () => void];
const FIRST: Step = ["first build", () => {}];
const EDIT: Step = ["a header edited", () => writeFileSync(join(proj, "inc2/a.h"), "#define A_VALUE 2\n")];
const SHADOW: Step = ["a new header shadowing the old one earlier on the include path", () => writeFileSync(join(proj, "inc1/a.h"), "#define A_VALUE 3\n")];
const PROBED: Step = ["a header that only __has_include probes appears", () => writeFileSync(join(proj, "inc1/probe.h"), "#define PROBED 200\n")];
const BESIDE: Step = ["a header appears next to its includer, before the include path", () => writeFileSync(join(proj, "inc2/sub/sibling.h"), "#define SIBLING 20\n")];
const UNSHADOW: Step = ["the shadowing header removed again", () => rmSync(join(proj, "inc1/a.h"))];
const EDIT_AGAIN: Step = ["the header edited again", () => writeFileSync(join(proj, "inc2/a.h"), "#define A_VALUE 4\n")];

const CASES: { mode: "preprocessor" | "direct"; cc: string; steps: Step[] }[] = [
  ...["gcc", "clang"].map((cc) => ({ mode: "preprocessor" as const, cc, steps: [FIRST, EDIT, SHADOW, PROBED, BESIDE, UNSHADOW] })),
  ...["gcc", "clang"].map((cc) => ({ mode: "direct" as const, cc, steps: [FIRST, EDIT, SHADOW, PROBED, BESIDE, UNSHADOW, EDIT_AGAIN] })),
];

describe("hermetic jobs reuse the lookup's preprocessing for their closure", () => {
  it.each(CASES)("$mode mode, $cc: every step byte-identical to a plain compile, without a closure scan where the lookup preprocessed", async ({ mode, cc, steps }) => {
    RESET();
    await sb.zeroStats();
    const env = { ...HERMETIC, REPRISE_KEY_MODE: mode };
    const logBefore = daemonLog().length;
    const object = `build/main-${mode}-${cc}.o`;
    const seen: Buffer[] = [];
    for (const [label, change] of steps) {
      change();
      const argv = [cc, "-O2", "-Iinc1", "-Iinc2", "-MD", "-c", "main.c", "-o", object];
      const { ref } = await expectSameAsPlain(sb, proj, argv, [object, object.replace(/\.o$/, ".d")], env).catch((err: Error) => {
        throw new Error(`${label}: ${err.message}`);
      });
      const obj = ref.files[object];
      expect(obj, label).toBeTruthy();
      expect(seen.some((o) => o.equals(obj!)), `${label}: the object changed`).toBe(false);
      seen.push(obj!);
    }
    const s = await sb.stats();
    expect(s.fallbacks, daemonLog().slice(logBefore).split("\n").filter((l) => l.includes("WARN")).join("\n")).toEqual({});
    expect(s.misses).toBe(steps.length);
    expect(s.hermetic.bwrap).toBe(steps.length);
    const lines = daemonLog().slice(logBefore).split("\n").filter((l) => l.includes("main.c: job of"));
    expect(lines.length, lines.join("\n")).toBe(steps.length);
    // Direct mode preprocesses before compiling only when that can pay now (an entry for the call exists but no longer
    // matches): its cold first miss compiles at once, so that job runs its own scan; every later step reuses the list.
    lines.forEach((l, i) => expect(l, steps[i]![0]).toContain(mode === "direct" && i === 0 ? "closure from a scan" : "closure from the lookup's preprocessing"));
  }, 600_000);

  it("with -g in direct mode (the preprocessed text does not decide the object, so no fallback preprocessing) the job runs its own scan", async () => {
    RESET();
    await sb.zeroStats();
    const logBefore = daemonLog().length;
    await expectSameAsPlain(sb, proj, ["gcc", "-O2", "-g", "-Iinc1", "-Iinc2", "-c", "main.c", "-o", "build/main-g.o"], ["build/main-g.o"], HERMETIC);
    const s = await sb.stats();
    expect(s.hermetic.bwrap).toBe(1);
    const lines = daemonLog().slice(logBefore).split("\n").filter((l) => l.includes("main.c: job of"));
    expect(lines.length).toBe(1);
    expect(lines[0]).toContain("closure from a scan");
  }, 600_000);
});
