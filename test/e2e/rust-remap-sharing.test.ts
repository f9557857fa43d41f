import { cpSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plain, RepriseSandbox, text } from "../support/reprise-env.js";
import { findCargo, RUSTC_PLUGIN } from "../support/rust-workspace.js";
import { JOBS_WORKSPACE } from "../support/rust-jobs-workspace.js";

/**
 * `baseDirs` for rustc (issue 12): two checkouts of a crate at paths of
 * different lengths share entries when a `--remap-path-prefix` of the
 * checkout keeps its path out of every output (debug info, metadata,
 * diagnostics), and only then. Each checkout's outputs are compared with its
 * own plain compile, byte for byte: a hit never gives bytes another checkout
 * would not have written.
 */

const cargo = findCargo();
const rustc = cargo ? join(cargo, "..", "rustc") : "rustc";
let sb: RepriseSandbox;
let checkouts: string[];
/** Checkouts under a directory whose name a dep-info file writes escaped (a space). */
let spaced: string[];

beforeAll(() => {
  sb = new RepriseSandbox({ REPRISE_PLUGINS: RUSTC_PLUGIN });
  checkouts = [join(sb.root, "a", "proj"), join(sb.root, "builds", "second-checkout", "proj")];
  spaced = [join(sb.root, "with space", "proj"), join(sb.root, "other space", "longer", "proj")];
  for (const c of [...checkouts, ...spaced]) cpSync(join(JOBS_WORKSPACE, "crates/base"), c, { recursive: true });
});

afterAll(async () => {
  await sb?.dispose();
});

/** Compiles the crate in each checkout (plain, then through Reprise); says which were hits. */
async function buildInEach(
  args: (checkout: string) => string[],
  outputs: string[],
  how: { baseDir?: (checkout: string) => string; outDir?: (checkout: string) => string; checkouts?: string[] } = {},
): Promise<boolean[]> {
  const where = how.checkouts ?? checkouts;
  const baseDirs = where.map(how.baseDir ?? ((c) => c)).join(":");
  const hits: boolean[] = [];
  for (const checkout of where) {
    const out = join(checkout, "out");
    const argv = [rustc, "--crate-name", "base", "--edition=2021", "--crate-type", "lib", "src/lib.rs", "--out-dir", how.outDir?.(checkout) ?? "out", "-C", "extra-filename=-x", ...args(checkout)];
    const env = { CARGO_PKG_VERSION: "0.3.1", REPRISE_BASEDIRS: baseDirs };
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out);
    const ref = await plain(argv[0]!, argv.slice(1), checkout, env);
    expect(ref.exitCode, text(ref.stderr)).toBe(0);
    const want = outputs.map((f) => readFileSync(join(out, f)));
    rmSync(out, { recursive: true });
    mkdirSync(out);
    const before = await sb.stats();
    const got = await sb.run(argv, checkout, { env });
    expect(got.exitCode, text(got.stderr)).toBe(0);
    expect(text(got.stderr)).toBe(text(ref.stderr));
    const after = await sb.stats();
    hits.push(after.hitsDirect > before.hitsDirect);
    outputs.forEach((f, i) => expect(readFileSync(join(out, f)).equals(want[i]!), `${checkout}: ${f}`).toBe(true));
  }
  return hits;
}

describe("rustc with baseDirs", () => {
  it("shares between checkouts with -C debuginfo=2 and --remap-path-prefix of the checkout (rlib and relative dep-info)", async () => {
    const hits = await buildInEach((c) => ["-C", "debuginfo=2", "--emit=dep-info,link", `--remap-path-prefix=${c}=/src`], ["libbase-x.rlib", "base-x.d"]);
    expect(hits).toEqual([false, true]);
  });

  it("does not share without a remap: rustc records the working directory in metadata even without debug info", async () => {
    expect(await buildInEach(() => ["--emit=link"], ["libbase-x.rlib"])).toEqual([false, false]);
    expect(await buildInEach(() => ["-C", "debuginfo=2", "--emit=link"], ["libbase-x.rlib"])).toEqual([false, false]);
  });

  it("does not share when a remap covers only part of the base directory (of the checkout, or of a base directory above it)", async () => {
    expect(await buildInEach((c) => ["-C", "debuginfo=2", "--emit=link", `--remap-path-prefix=${join(c, "src")}=/src`], ["libbase-x.rlib"])).toEqual([false, false]);
    const parent = { baseDir: (c: string) => join(c, "..") };
    expect(await buildInEach((c) => ["-C", "debuginfo=2", "--emit=link", `--remap-path-prefix=${c}=/src`], ["libbase-x.rlib"], parent)).toEqual([false, false]);
  });

  it("shares with an absolute --out-dir: the dep-info's paths and the artifact notifications are rewritten to this checkout, byte for byte", async () => {
    const args = (c: string) => ["-C", "debuginfo=2", "--emit=dep-info,link", `--remap-path-prefix=${c}=/src`, "--json=artifacts", "--error-format=json"];
    const hits = await buildInEach(args, ["libbase-x.rlib", "base-x.d"], { outDir: (c) => join(c, "out") });
    expect(hits).toEqual([false, true]);
  });

  it("keeps an entry to its checkout when the path it names cannot be rewritten (a base directory with a space, which dep-info escapes)", async () => {
    const args = (c: string) => ["-C", "debuginfo=2", "--emit=dep-info,link", `--remap-path-prefix=${c}=/src`, "--json=artifacts", "--error-format=json"];
    const hits = await buildInEach(args, ["libbase-x.rlib", "base-x.d"], { outDir: (c) => join(c, "out"), checkouts: spaced });
    expect(hits).toEqual([false, false]);
  });
});
