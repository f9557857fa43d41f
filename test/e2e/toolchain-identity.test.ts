import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RepriseSandbox } from "../support/reprise-env.js";
import { expectSameAsPlain } from "../support/compare.js";
import { ensureDebianPackages } from "../support/sandbox-engines.js";

/**
 * Toolchains are identified by content: `cc` (a link to gcc through
 * /etc/alternatives) and `gcc` are one toolchain, packaged into one archive
 * with one id and unpacked once, and hermetic jobs through either name give
 * the plain compile's object (each job links its own argv[0] to the binary).
 */

let sb: RepriseSandbox;
let proj: string;

beforeAll(() => {
  ensureDebianPackages(["bubblewrap"]);
  sb = new RepriseSandbox();
  proj = join(sb.root, "proj");
  mkdirSync(proj, { recursive: true });
  writeFileSync(join(proj, "t.c"), '#include <stdio.h>\nint t(void) { return printf("%s\\n", __FILE__); }\n');
}, 300_000);

afterAll(async () => {
  await sb.dispose();
});

describe("toolchains identified by content", () => {
  it("packages cc and gcc once, and compiles through both names in bwrap, byte-identical to plain compiles", async () => {
    const env = { REPRISE_HERMETIC: "bwrap" };
    await sb.zeroStats();
    await expectSameAsPlain(sb, proj, ["gcc", "-O2", "-g", "-c", "t.c", "-o", "t-gcc.o"], ["t-gcc.o"], env);
    await expectSameAsPlain(sb, proj, ["cc", "-O1", "-g", "-c", "t.c", "-o", "t-cc.o"], ["t-cc.o"], env);
    const s = await sb.stats();
    expect(s.hermetic, JSON.stringify(s)).toEqual({ bwrap: 2 });
    expect(s.fallbacks).toEqual({});
    const archives = readdirSync(join(sb.cacheDir, "toolchains", "archives"));
    expect(archives.filter((f) => f.endsWith(".tar.gz"))).toHaveLength(1);
    // One record per compiler name, both naming that archive.
    expect(archives.filter((f) => f.endsWith(".json"))).toHaveLength(2);
    expect(readdirSync(join(sb.cacheDir, "toolchains", "store")).filter((f) => !f.startsWith("."))).toHaveLength(1);
  });
});
