import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPRISE_BIN, RepriseSandbox, plain, text } from "../support/reprise-env.js";
import { dirOwnedBy as freshDirOwnedBy, ensureUser, runAs as runAsUser, sharedStickyDir, type LocalUser } from "../support/local-users.js";
import { decodeManifest, encodeManifest } from "../../packages/core/src/storage/codec.js";

/**
 * Issue 9's attacks on config and cache, with two real local users: a victim
 * who builds a checkout under a shared sticky world-writable directory, and an
 * attacker who can write that directory (but nothing of the victim's).
 */

let victim: LocalUser;
let attacker: LocalUser;
let root: string;
let victimHome: string;

const victimEnv = (more: Record<string, string> = {}) => ({
  PATH: "/usr/local/bin:/usr/bin:/bin",
  HOME: victimHome,
  XDG_CACHE_HOME: join(victimHome, ".cache"),
  XDG_CONFIG_HOME: join(victimHome, ".config"),
  REPRISE_RUNTIME_DIR: join(victimHome, "run"),
  REPRISE_IDLE_TIMEOUT: "120",
  LC_ALL: "C",
  ...more,
});

function runAs(user: LocalUser, cmd: string, args: string[], cwd: string, env: Record<string, string>) {
  return runAsUser(user, cmd, args, { env, cwd, encoding: "buffer", stripFinalNewline: false, timeout: 60_000 });
}

const asVictim = (args: string[], cwd: string, env: Record<string, string> = {}) => runAs(victim, process.execPath, [REPRISE_BIN, ...args], cwd, victimEnv(env));

/** A directory at `path` owned by `user`, with `mode`. */
function dirOwnedBy(path: string, user: LocalUser, mode: number): string {
  mkdirSync(path, { recursive: true });
  chownSync(path, user.uid, user.gid);
  chmodSync(path, mode);
  return path;
}

/** A world-writable sticky directory, as /tmp is, made by the test. */
const sharedDir = (name: string) => sharedStickyDir(root, `${name}-`);

/** A file the attacker wrote (owned by them). */
function attackerFile(path: string, body: string): void {
  writeFileSync(path, body);
  chownSync(path, attacker.uid, attacker.gid);
}

/** The victim's checkout under `parent`, with a program that returns 42. */
function victimProject(parent: string): string {
  const proj = dirOwnedBy(join(parent, "victim-proj"), victim, 0o755);
  const main = join(proj, "main.c");
  writeFileSync(main, "int main(void) { return 42; }\n");
  chownSync(main, victim.uid, victim.gid);
  return proj;
}

/** Compiles main.c plainly as the victim, then through Reprise; returns the plain object and the Reprise call. */
async function compileBothWays(proj: string, env: Record<string, string> = {}) {
  const ref = await runAs(victim, "gcc", ["-c", "main.c", "-o", "main.o"], proj, victimEnv());
  expect(ref.exitCode).toBe(0);
  const plainObject = readFileSync(join(proj, "main.o"));
  rmSync(join(proj, "main.o"));
  const call = await asVictim(["gcc", "-c", "main.c", "-o", "main.o"], proj, env);
  expect(call.exitCode, text(call.stderr)).toBe(0);
  expect(readFileSync(join(proj, "main.o")).equals(plainObject)).toBe(true);
  return { plainObject, call };
}

/** Links main.o as the victim and runs the program: its exit status. */
async function programStatus(proj: string): Promise<number> {
  const link = await runAs(victim, "gcc", ["main.o", "-o", "main"], proj, victimEnv());
  expect(link.exitCode).toBe(0);
  return (await runAs(victim, join(proj, "main"), [], proj, victimEnv())).exitCode ?? -1;
}

async function victimStats() {
  const r = await asVictim(["--show-stats", "--json"], victimHome);
  return JSON.parse(text(r.stdout)).stats as { warnings: string[]; errors: Record<string, number>; misses: number; hitsDirect: number };
}

beforeAll(async () => {
  victim = ensureUser("rsc-victim");
  attacker = ensureUser("rsc-attacker");
  root = mkdtempSync(join(tmpdir(), "reprise-sec-config-"));
  chmodSync(root, 0o755);
  victimHome = freshDirOwnedBy(victim, root, "victim-home-");
}, 60_000);

afterAll(async () => {
  if (victimHome) await asVictim(["--stop-server"], victimHome);
  if (root) rmSync(root, { recursive: true, force: true });
});

describe("config in a directory another user can write", () => {
  it("an attacker's .repriserc.js above the victim's checkout is not executed, and the victim is told once", async () => {
    const shared = sharedDir("shared-js");
    const marker = join(shared, "attacker-code-ran");
    attackerFile(
      join(shared, ".repriserc.js"),
      `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "ran as " + process.getuid());\nmodule.exports = { dir: ${JSON.stringify(join(shared, "c"))} };\n`,
    );
    const proj = victimProject(shared);
    const { call } = await compileBothWays(proj);
    expect(existsSync(marker)).toBe(false);
    const warning = `reprise: warning: ignored ${join(shared, ".repriserc.js")}: config is not searched in ${shared} or above, since it is writable by other users (mode 1777)`;
    expect(text(call.stderr)).toBe(`${warning}\n`);
    expect(await programStatus(proj)).toBe(42);
    // Once: the next call (a hit) says nothing more.
    rmSync(join(proj, "main.o"));
    const again = await asVictim(["gcc", "-c", "main.c", "-o", "main.o"], proj);
    expect(text(again.stderr)).toBe("");
    expect(existsSync(marker)).toBe(false);
    expect((await victimStats()).warnings.join("\n")).toContain(`ignored ${join(shared, ".repriserc.js")}`);
  });

  it("an attacker's .repriserc.json pointing dir at a cache they can write is not used", async () => {
    const shared = sharedDir("shared-json");
    const attackerCache = dirOwnedBy(join(shared, "cache"), attacker, 0o777);
    attackerFile(join(shared, ".repriserc.json"), JSON.stringify({ dir: attackerCache }));
    const proj = victimProject(shared);
    const { call } = await compileBothWays(proj);
    expect(text(call.stderr)).toContain(`ignored ${join(shared, ".repriserc.json")}`);
    expect(readdirSync(attackerCache)).toEqual([]);
    expect(readdirSync(join(victimHome, ".cache", "reprise", "results")).length).toBeGreaterThan(0);
    expect(await programStatus(proj)).toBe(42);
  });

  it("a cache dir another user owns or can write is refused even when the victim names it: compiled without the cache, with the reason", async () => {
    const shared = sharedDir("shared-cache");
    const theirs = dirOwnedBy(join(shared, "theirs"), attacker, 0o777);
    const open = dirOwnedBy(join(shared, "open"), victim, 0o777);
    const proj = victimProject(dirOwnedBy(join(root, "victim-work"), victim, 0o755));
    for (const [dir, why] of [
      [theirs, `it is owned by uid ${attacker.uid}, not by you (uid ${victim.uid})`],
      [open, "it is writable by group or other users (mode 0777)"],
    ] as const) {
      rmSync(join(proj, "main.o"), { force: true });
      const { call } = await compileBothWays(proj, { REPRISE_DIR: dir });
      expect(text(call.stderr)).toContain(`reprise: warning: cache directory ${dir} is not used: ${why}`);
      expect(readdirSync(dir)).toEqual([]);
      expect(await programStatus(proj)).toBe(42);
    }
    expect((await victimStats()).errors.E_CACHE_DIR_UNSAFE).toBeGreaterThanOrEqual(2);
  });
});

describe("an entry is bound to its key", () => {
  let sb: RepriseSandbox;
  let proj: string;

  beforeAll(() => {
    // One result per compile, so that the swapped blob is the direct-mode entry; the
    // preprocessed-text copy (bound to its own key by the same format) is left out here.
    sb = new RepriseSandbox({ REPRISE_PREPROCESSOR_FALLBACK: "0" });
    proj = join(sb.root, "proj");
    mkdirSync(proj, { recursive: true });
    writeFileSync(join(proj, "main.c"), "int main(void) { return 42; }\n");
    writeFileSync(join(proj, "evil.c"), "int main(void) { return 66; }\n");
  });

  afterAll(async () => {
    await sb.dispose();
  });

  const blobs = (kind: "results" | "manifests") => {
    const dir = join(sb.cacheDir, kind);
    return existsSync(dir) ? readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() || e.isSymbolicLink()).map((e) => join(e.parentPath, e.name)) : [];
  };

  /** Caches main.c (42) and evil.c (66): the blob paths of each. */
  async function cacheBoth() {
    await sb.run(["--stop-server"], sb.root);
    rmSync(sb.cacheDir, { recursive: true, force: true });
    expect((await sb.run(["gcc", "-c", "main.c", "-o", "main.o"], proj)).exitCode).toBe(0);
    await sb.stats();
    const [goodResult] = blobs("results");
    const [goodManifest] = blobs("manifests");
    expect((await sb.run(["gcc", "-c", "evil.c", "-o", "evil.o"], proj)).exitCode).toBe(0);
    await sb.stats();
    const evilResult = blobs("results").find((p) => p !== goodResult)!;
    const evilManifest = blobs("manifests").find((p) => p !== goodManifest)!;
    // A new daemon: nothing remembered in memory, every lookup reads the disk.
    await sb.run(["--stop-server"], sb.root);
    await sb.zeroStats();
    return { goodResult: goodResult!, goodManifest: goodManifest!, evilResult, evilManifest };
  }

  async function expectVictimObject(): Promise<void> {
    rmSync(join(proj, "main.o"), { force: true });
    const ref = await plain("gcc", ["-c", "main.c", "-o", "plain.o"], proj);
    expect(ref.exitCode).toBe(0);
    const r = await sb.run(["gcc", "-c", "main.c", "-o", "main.o"], proj);
    expect(r.exitCode).toBe(0);
    expect(readFileSync(join(proj, "main.o")).equals(readFileSync(join(proj, "plain.o")))).toBe(true);
    expect((await plain("gcc", ["main.o", "-o", "main"], proj)).exitCode).toBe(0);
    expect((await plain(join(proj, "main"), [], proj)).exitCode).toBe(42);
    const s = await sb.stats();
    expect(s.misses).toBe(1);
    expect(s.hitsDirect).toBe(0);
    expect(s.errors["entry-key-mismatch"]).toBe(1);
  }

  it("a copy of another entry under the key is a miss, counted", async () => {
    const b = await cacheBoth();
    copyFileSync(b.evilResult, b.goodResult);
    await expectVictimObject();
  });

  it("a link to another entry under the key is a miss, counted", async () => {
    const b = await cacheBoth();
    unlinkSync(b.goodResult);
    symlinkSync(b.evilResult, b.goodResult);
    await expectVictimObject();
  });

  it("a manifest copied under another key, or retargeted at another result, is a miss, counted", async () => {
    let b = await cacheBoth();
    copyFileSync(b.evilManifest, b.goodManifest);
    await expectVictimObject();
    b = await cacheBoth();
    const key = (p: string) => p.slice(p.lastIndexOf("/") + 1);
    const manifest = await decodeManifest(readFileSync(b.goodManifest), key(b.goodManifest));
    manifest.entries[0]!.resultKey = key(b.evilResult);
    writeFileSync(b.goodManifest, await encodeManifest(manifest, key(b.goodManifest)));
    await expectVictimObject();
  });
});
