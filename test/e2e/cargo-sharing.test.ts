import { cpSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, REPRISE_LAUNCHER, RepriseSandbox, text } from "../support/reprise-env.js";
import { cargoEnv, crateId, findCargo, outcomeSandbox, RUSTC_PLUGIN, rustcArtifacts, SETUP_SCRIPT, writeOutcomeLogger, type Outcome, type OutcomeSandbox } from "../support/rust-workspace.js";
import { cargoMessages, expectSameArtifacts } from "../support/rust-jobs-workspace.js";
import { startRedis } from "../support/remote-servers.js";

/**
 * cargo builds of one workspace checked out at two paths (of different
 * lengths) share entries through `baseDirs` when `RUSTFLAGS` remaps each
 * checkout (issue 12): cargo's absolute `--out-dir` is keyed relative to the
 * base directory and the dep-info and artifact notifications are rewritten
 * on a hit; `CARGO_MANIFEST_DIR` is keyed relative to it, while crates that
 * read it (env!, tracked) or could (proc macros, untracked) stay with their
 * checkout. Every artifact of each checkout is compared with a plain
 * `cargo build` in that checkout, byte for byte.
 *
 * test-fixtures/rust-share-workspace: `util` (no dependencies), `plain`
 * (util and registry crates memchr and fnv, file!()), `reads-dir`
 * (env!("CARGO_MANIFEST_DIR")), `embed-dir` (proc macros reading
 * CARGO_MANIFEST_DIR untracked: one embeds it, one only its length),
 * `uses-macro` and `len-only` (use them), `reexport` (re-exports one) and
 * `via-reexport` (uses it through reexport, with no --extern of the proc
 * macro), `tool` (a program using via-reexport), `hello` (a program using
 * plain).
 */

const cargo = findCargo();
const LONG = 600_000;
const FIXTURE = join(REPO_ROOT, "test-fixtures/rust-share-workspace");

/** Crates whose outputs cannot hold the checkout's path once it is remapped, and that load no proc macro: the second checkout hits on them. */
const SHARED = ["fnv", "hello", "memchr", "plain", "util"];
/** Crates that read the checkout's path (env!, or a proc macro they can load): never served across checkouts. */
const KEPT = ["len_only", "reads_dir", "reexport", "tool", "uses_macro", "via_reexport"];

let sb: RepriseSandbox;
let checkouts: string[];
let cargoHome: string;
let client: OutcomeSandbox;
let outcomes: ReturnType<typeof writeOutcomeLogger>;

beforeAll(async () => {
  expect(cargo, "cargo not found: install rustup's stable toolchain").toBeTruthy();
  // The registry crates come from Debian's librust-*-dev packages.
  const setup = await execa("bash", [SETUP_SCRIPT], { reject: false, all: true });
  expect(setup.exitCode, setup.all).toBe(0);
  client = outcomeSandbox("reprise-cargo-sharing-");
  ({ sb, outcomes, cargoHome } = client);
  checkouts = [join(sb.root, "a", "proj"), join(sb.root, "builds", "second-checkout", "proj")];
  for (const c of checkouts) cpSync(FIXTURE, c, { recursive: true });
}, LONG);

afterAll(async () => {
  await client?.dispose();
});

/**
 * `cargo clean && cargo build` in a checkout, plain or through Reprise (the
 * sandbox's daemon, `env` added): rustc's artifacts, cargo's messages, the
 * calls' outcomes.
 */
async function cleanBuild(
  checkout: string,
  opts: { wrapper: boolean; remap: boolean | "CARGO_ENCODED_RUSTFLAGS"; sandbox?: RepriseSandbox; baseDirs?: string[]; env?: Record<string, string> },
) {
  const daemon = opts.sandbox ?? sb;
  const env = cargoEnv(cargo!, cargoHome, {
    ...daemon.env({ REPRISE_BASEDIRS: (opts.baseDirs ?? checkouts).join(":"), ...opts.env }),
    ...(opts.wrapper ? { RUSTC_WRAPPER: REPRISE_LAUNCHER } : {}),
    ...(opts.remap ? { [opts.remap === true ? "RUSTFLAGS" : opts.remap]: `--remap-path-prefix=${checkout}=/src` } : {}),
  });
  const run = (args: string[]) => execa(cargo!, args, { cwd: checkout, env, extendEnv: false, reject: false, all: true, timeout: LONG });
  const clean = await run(["clean", "-q"]);
  expect(clean.exitCode, clean.all).toBe(0);
  await daemon.zeroStats();
  outcomes.clear();
  const r = await run(["build", "--message-format=json"]);
  expect(r.exitCode, r.all).toBe(0);
  // Asking for the stats waits for the misses being stored, whose outcomes come last.
  await daemon.stats();
  return { artifacts: rustcArtifacts(join(checkout, "target/debug")), messages: cargoMessages(text(r.stdout)), outcomes: outcomes.read() };
}

function crates(list: Outcome[], result: string): string[] {
  return [...new Set(list.filter((o) => o.result === result).map(crateId))].sort();
}

async function runTool(checkout: string): Promise<string> {
  const r = await execa(join(checkout, "target/debug/tool"), [], { reject: false });
  expect(r.exitCode, r.stderr).toBe(0);
  return r.stdout;
}

describe("cargo builds in two checkouts with baseDirs", () => {
  it(
    "with RUSTFLAGS remapping each checkout, the second hits on the first one's entries where no path can reach the outputs, every artifact as its own plain build's",
    async () => {
      const results = [];
      for (const checkout of checkouts) {
        const plain = await cleanBuild(checkout, { wrapper: false, remap: true });
        const plainRun = await runTool(checkout);
        const cached = await cleanBuild(checkout, { wrapper: true, remap: true });
        expectSameArtifacts(cached.artifacts, plain.artifacts, checkout);
        expect(cached.messages, `${checkout}: cargo's messages`).toEqual(plain.messages);
        expect(await runTool(checkout)).toBe(plainRun);
        results.push(cached.outcomes);
      }
      const [first, second] = results as [Outcome[], Outcome[]];
      expect(crates(first, "hit-direct"), "the first checkout has nothing to hit on").toEqual([]);
      const hits = crates(second, "hit-direct");
      const misses = crates(second, "miss");
      for (const c of SHARED) expect(hits, `${c} is shared`).toContain(c);
      for (const c of KEPT) expect(misses, `${c} stays with its checkout`).toContain(c);
    },
    LONG,
  );

  it(
    "two machines (own daemons and local dirs) share through one Redis level: the second, with an empty local dir, hits on the first one's entries (remap in CARGO_ENCODED_RUSTFLAGS)",
    async () => {
      const redis = await startRedis();
      const machines = [new RepriseSandbox({ REPRISE_PLUGINS: `${RUSTC_PLUGIN},${outcomes.plugin}` }), new RepriseSandbox({ REPRISE_PLUGINS: `${RUSTC_PLUGIN},${outcomes.plugin}` })];
      try {
        const where = [join(machines[0]!.root, "home", "dev", "proj"), join(machines[1]!.root, "ci", "job-1234", "proj")];
        for (const c of where) cpSync(FIXTURE, c, { recursive: true });
        const results: Outcome[][] = [];
        for (const [i, checkout] of where.entries()) {
          const how = { remap: "CARGO_ENCODED_RUSTFLAGS" as const, sandbox: machines[i]!, baseDirs: where, env: { REPRISE_REDIS_ENDPOINT: redis.endpoint } };
          const plain = await cleanBuild(checkout, { ...how, wrapper: false });
          const cached = await cleanBuild(checkout, { ...how, wrapper: true });
          expectSameArtifacts(cached.artifacts, plain.artifacts, checkout);
          expect(cached.messages, `${checkout}: cargo's messages`).toEqual(plain.messages);
          results.push(cached.outcomes);
          // The first machine's entries reach Redis in the background: stopping its daemon waits for them.
          if (i === 0) await machines[0]!.run(["--stop-server"], machines[0]!.root);
        }
        const second = results[1]!;
        for (const c of SHARED) expect(crates(second, "hit-direct"), `${c} is shared through Redis`).toContain(c);
        for (const c of KEPT) expect(crates(second, "miss"), `${c} stays with its checkout`).toContain(c);
      } finally {
        for (const m of machines) await m.dispose();
        await redis.stop();
      }
    },
    LONG,
  );

  it(
    "without a remap nothing is shared, and nothing wrong is served",
    async () => {
      // Other entries than the first test's: its keys hold the remap.
      let second: Outcome[] = [];
      for (const checkout of checkouts) {
        const plain = await cleanBuild(checkout, { wrapper: false, remap: false });
        const cached = await cleanBuild(checkout, { wrapper: true, remap: false });
        expectSameArtifacts(cached.artifacts, plain.artifacts, checkout);
        second = cached.outcomes;
      }
      expect(crates(second, "hit-direct")).toEqual([]);
      for (const c of [...SHARED, ...KEPT]) expect(crates(second, "miss"), c).toContain(c);
    },
    LONG,
  );
});
