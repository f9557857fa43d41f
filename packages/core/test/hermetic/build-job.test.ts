import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CompileInvocation, CompileRequest } from "../../src/engine/types.js";
import { FileHashCache } from "../../src/hashing/file-hash-cache.js";
import { hashBytes } from "../../src/hashing/key-hasher.js";
import { buildJob, DEP_FILE_ROLE } from "../../src/hermetic/build-job.js";
import { hostContextFiles } from "../../src/hermetic/host-context.js";
import { InputStore } from "../../src/hermetic/input-store.js";
import { runScan } from "../../src/hermetic/run-scan.js";

/**
 * Turning a call into a job (with the real gcc for the closure scan), and the
 * cases where it must not be one: the call is then compiled locally.
 */

let tmp: string;
let proj: string;
let store: InputStore;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "reprise-build-job-"));
  proj = join(tmp, "proj");
  for (const d of ["include/lib", "src", "build", "empty-include"]) mkdirSync(join(proj, d), { recursive: true });
  writeFileSync(join(proj, "include/lib/a.h"), "#define A 1\n");
  writeFileSync(join(proj, "include/lib/probed.h"), "#define P 1\n");
  writeFileSync(join(proj, "src/main.c"), '#include <stddef.h>\n#include "lib/a.h"\n#if __has_include("lib/probed.h")\nint p;\n#endif\nint m(void) { return A; }\n');
  writeFileSync(join(proj, "src/macro.c"), '#define H "lib/a.h"\n#if __has_include(H)\nint p;\n#endif\n');
  writeFileSync(join(proj, "src/missing.c"), '#include "nope.h"\n');
  store = new InputStore(join(tmp, "inputs"));
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
function call(source: string, opts: { extraArgs?: readonly string[]; env?: Record<string, string>; object?: string } = {}): { request: CompileRequest; inv: CompileInvocation } {
  const object = opts.object ?? join(proj, "build", "x.o");
  const dep = join(tmp, `t${++n}.d`);
  const closure = join(tmp, `c${n}.d`);
  const base = ["/usr/bin/gcc", "-Iinclude", "-Iempty-include", ...(opts.extraArgs ?? []), join(proj, source)];
  return {
    request: { argv: base, cwd: proj, env: { PATH: "/usr/bin:/bin", LC_ALL: "C", ...opts.env }, stdoutIsTTY: false, stderrIsTTY: false },
    inv: {
      language: "c",
      sourceFile: join(proj, source),
      outputs: [{ role: "object", path: object }],
      keyArgs: [],
      preprocessorOnlyArgs: [],
      compileArgv: [...base, "-c", "-o", object, "-MD", "-MF", dep],
      dependencies: { depFile: dep, depFileIsTemporary: true },
      closureScan: { argv: [...base, "-M", "-MF", closure], depFile: closure },
      includeDirs: [join(proj, "include"), join(proj, "empty-include"), join(proj, "no-such-dir")],
      keyEnv: [],
      volatileMarkers: [],
      dependsOnCwd: false,
      colorDiagnostics: false,
      extraInputFiles: [],
    },
  };
}

describe("buildJob", () => {
  it("carries the source, its closure, the files __has_include finds, and include directories; stores every input by hash", async () => {
    const { request, inv } = call("src/main.c", { env: { TMPDIR: "/somewhere/else", TZ: "" } });
    const plan = await buildJob(request, inv, "f".repeat(64), store, new FileHashCache());
    if (!plan.ok) throw new Error(`${plan.reason}: ${plan.detail}`);
    const paths = plan.job.inputs.map((i) => i.path);
    expect(paths).toEqual(expect.arrayContaining([join(proj, "src/main.c"), join(proj, "include/lib/a.h"), join(proj, "include/lib/probed.h"), "/usr/include/stdc-predef.h"]));
    expect(paths.some((p) => p.endsWith("/stddef.h"))).toBe(true);
    for (const i of plan.job.inputs) expect(readFileSync(store.blobPath(i.hash)).equals(readFileSync(i.path))).toBe(true);
    expect(plan.job.directories).toEqual([join(proj, "include"), join(proj, "empty-include")]);
    expect(plan.job.outputs).toEqual([
      { role: "object", path: join(proj, "build/x.o") },
      { role: DEP_FILE_ROLE, path: inv.dependencies.depFile },
    ]);
    expect(plan.job.env.TMPDIR).toBeUndefined();
    expect(plan.job.env.LC_ALL).toBe("C");
    expect(plan.job.argv).toEqual(inv.compileArgv);
  });

  it("stores a new input from the bytes it hashed (one read), and an input changed since carries its new bytes under a new hash", async () => {
    const handed: { path: string; data: boolean }[] = [];
    class Watched extends InputStore {
      override async putFile(file: string, hash: string, data?: Buffer): Promise<boolean> {
        handed.push({ path: file, data: data !== undefined });
        return super.putFile(file, hash, data);
      }
    }
    const inputs = new Watched(join(tmp, "inputs-once"));
    const header = join(proj, "include/lib/once.h");
    writeFileSync(header, "#define ONCE 1\n");
    writeFileSync(join(proj, "src/once.c"), '#include "lib/once.h"\nint o(void) { return ONCE; }\n');
    const hashes = new FileHashCache();
    const first = await buildJob(call("src/once.c").request, call("src/once.c").inv, "f".repeat(64), inputs, hashes);
    if (!first.ok) throw new Error(`${first.reason}: ${first.detail}`);
    // Every input was first seen by this job: each was first handed over with the bytes its digest was taken from.
    const firstPut = new Map<string, boolean>();
    for (const h of handed) if (!firstPut.has(h.path)) firstPut.set(h.path, h.data);
    expect([...firstPut.keys()].sort()).toEqual(first.job.inputs.map((i) => i.path).sort());
    expect([...firstPut.values()].every(Boolean)).toBe(true);
    for (const i of first.job.inputs) expect(readFileSync(inputs.blobPath(i.hash)).equals(readFileSync(i.path))).toBe(true);
    const before = first.job.inputs.find((i) => i.path === header)!;
    writeFileSync(header, "#define ONCE 2 /* changed */\n");
    const second = await buildJob(call("src/once.c").request, call("src/once.c").inv, "f".repeat(64), inputs, hashes);
    if (!second.ok) throw new Error(`${second.reason}: ${second.detail}`);
    const after = second.job.inputs.find((i) => i.path === header)!;
    expect(after.hash).not.toBe(before.hash);
    expect(readFileSync(inputs.blobPath(after.hash), "utf8")).toBe("#define ONCE 2 /* changed */\n");
  });

  it("refuses what would not compile as here: a macro in __has_include, a failing scan, a response file, a missing output directory", async () => {
    const hashes = new FileHashCache();
    const reasons: string[] = [];
    for (const [source, opts] of [
      ["src/macro.c", {}],
      ["src/missing.c", {}],
      ["src/main.c", { extraArgs: [`@${join(proj, "include/lib/a.h")}`] }],
      ["src/main.c", { object: join(proj, "no-such-dir/x.o") }],
    ] as const) {
      const { request, inv } = call(source, opts);
      const plan = await buildJob(request, inv, "f".repeat(64), store, hashes);
      reasons.push(plan.ok ? "ok" : plan.reason);
    }
    expect(reasons).toEqual(["hermetic-has-include", "hermetic-scan-failed", "hermetic-response-file", "hermetic-output-dir-missing"]);
  });

  it("refuses a PWD naming the directory through a symlink (gcc and clang record PWD as the compile directory)", async () => {
    const link = join(tmp, "proj-link");
    symlinkSync(proj, link);
    const { request, inv } = call("src/main.c", { env: { PWD: link } });
    const plan = await buildJob(request, inv, "f".repeat(64), store, new FileHashCache());
    expect(plan.ok ? "ok" : plan.reason).toBe("hermetic-pwd-symlink");
    const other = call("src/main.c", { env: { PWD: proj } });
    expect((await buildJob(other.request, other.inv, "f".repeat(64), store, new FileHashCache())).ok).toBe(true);
  });

  it("takes the closure from the lookup's own preprocessing when the plugin says it lists the same: no scan runs, the same inputs", async () => {
    const scanned = call("src/main.c");
    const fromScan = await buildJob(scanned.request, scanned.inv, "f".repeat(64), store, new FileHashCache());
    if (!fromScan.ok) throw new Error(`${fromScan.reason}: ${fromScan.detail}`);
    expect(fromScan.closureFrom).toBe("scan");
    // What the preprocessed fallback runs: -E with -MD beside it.
    const ppDep = join(tmp, "pp.d");
    const pre = await runScan(["/usr/bin/gcc", "-Iinclude", "-Iempty-include", join(proj, "src/main.c"), "-E", "-MD", "-MF", ppDep, "-o", "/dev/null"], proj, { PATH: "/usr/bin:/bin" });
    expect(pre.exitCode).toBe(0);
    const preprocessDeps = readFileSync(ppDep, "utf8");
    // A scan that could not run: the job must not need it.
    const { request, inv } = call("src/main.c");
    const noScan = { ...inv, closureScan: { argv: [join(tmp, "no-such-compiler"), "-M"], depFile: join(tmp, "never.d"), sameAsPreprocessDeps: true } };
    const reused = await buildJob(request, noScan, "f".repeat(64), store, new FileHashCache(), undefined, { preprocessDeps });
    if (!reused.ok) throw new Error(`${reused.reason}: ${reused.detail}`);
    expect(reused.closureFrom).toBe("preprocessing");
    expect(reused.job.inputs).toEqual(fromScan.job.inputs);
    // A plugin that does not say the lists are the same gets its scan (which here fails: the call stays local).
    const unsaid = { ...noScan, closureScan: { ...noScan.closureScan, sameAsPreprocessDeps: false } };
    const refused = await buildJob(request, unsaid, "f".repeat(64), store, new FileHashCache(), undefined, { preprocessDeps });
    expect(refused.ok ? "ok" : refused.reason).toBe("hermetic-scan-failed");
  });

  it("takes the closure from the call's dependency scan when the plugin says it lists the same, and hashes with the engine's tokens", async () => {
    const scanned = call("src/main.c");
    const fromScan = await buildJob(scanned.request, scanned.inv, "f".repeat(64), store, new FileHashCache());
    if (!fromScan.ok) throw new Error(`${fromScan.reason}: ${fromScan.detail}`);
    // What the engine's dependency scan (-MMD calls) runs: -M, the same arguments.
    const scanDep = join(tmp, "dependency-scan.d");
    expect((await runScan(["/usr/bin/gcc", "-Iinclude", "-Iempty-include", join(proj, "src/main.c"), "-M", "-MF", scanDep], proj, { PATH: "/usr/bin:/bin" })).exitCode).toBe(0);
    let asked = 0;
    const dependencyScan = async () => {
      asked++;
      return readFileSync(scanDep, "utf8");
    };
    const { request, inv } = call("src/main.c");
    const noScan = { ...inv, closureScan: { argv: [join(tmp, "no-such-compiler"), "-M"], depFile: join(tmp, "never.d"), sameAsDependencyScan: true } };
    // The engine hashed the source for the key with its tokens: the job reads it no second time.
    // (Its clock a minute ahead: the files written for this test count as settled, so their digests are remembered.)
    const hashes = new FileHashCache(1000, () => Date.now() + 60_000);
    const tokens = ["__DATE__", "__has_include"];
    await hashes.digest(join(proj, "src/main.c"), tokens);
    const misses = hashes.misses;
    const shared = await buildJob(request, noScan, "f".repeat(64), store, hashes, undefined, { dependencyScan, tokens });
    if (!shared.ok) throw new Error(`${shared.reason}: ${shared.detail}`);
    expect(shared.closureFrom).toBe("dependency-scan");
    expect(asked).toBe(1);
    expect(shared.job.inputs).toEqual(fromScan.job.inputs);
    expect(hashes.misses - misses, "every input but the source read once").toBe(shared.job.inputs.length - 1);
    // The store after the answer, with the same tokens, finds every input's digest.
    for (const i of shared.job.inputs) expect(hashes.known(i.path, tokens), i.path).not.toBe("unknown");
    // A failing dependency scan: the call stays local.
    const failed = await buildJob(request, noScan, "f".repeat(64), store, new FileHashCache(), undefined, { dependencyScan: async () => undefined });
    expect(failed.ok ? "ok" : failed.reason).toBe("hermetic-scan-failed");
  });

  it("follows a header whose __has_include probe changed: probes are remembered by content, not by path", async () => {
    const hashes = new FileHashCache();
    writeFileSync(join(proj, "include/lib/one.h"), "#define ONE 1\n");
    writeFileSync(join(proj, "include/lib/two.h"), "#define TWO 2\n");
    const prober = join(proj, "include/lib/prober.h");
    writeFileSync(join(proj, "src/probing.c"), '#include "lib/prober.h"\nint q;\n');
    const carried = async () => {
      const { request, inv } = call("src/probing.c");
      const plan = await buildJob(request, inv, "f".repeat(64), store, hashes);
      if (!plan.ok) throw new Error(`${plan.reason}: ${plan.detail}`);
      return plan.job.inputs.map((i) => i.path);
    };
    const old = new Date(Date.now() - 3600_000);
    writeFileSync(prober, '#if __has_include("lib/one.h")\n#endif\n');
    utimesSync(prober, old, old);
    expect(await carried()).toContain(join(proj, "include/lib/one.h"));
    // Same size, same (old) times: only the content, which the hash cache sees through its ctime, tells it apart.
    writeFileSync(prober, '#if __has_include("lib/two.h")\n#endif\n');
    utimesSync(prober, old, old);
    const now = await carried();
    expect(now).toContain(join(proj, "include/lib/two.h"));
    expect(now).not.toContain(join(proj, "include/lib/one.h"));
  });

  it("sees a precompiled header created after its directory was last looked at", async () => {
    const dir = join(proj, "include/lib");
    const old = new Date(Date.now() - 3600_000);
    utimesSync(dir, old, old);
    const first = call("src/main.c");
    expect((await buildJob(first.request, first.inv, "f".repeat(64), store, new FileHashCache())).ok).toBe(true);
    writeFileSync(join(dir, "a.h.pch"), "not really");
    try {
      const again = call("src/main.c");
      const plan = await buildJob(again.request, again.inv, "f".repeat(64), store, new FileHashCache());
      expect(plan.ok ? "ok" : plan.reason).toBe("hermetic-pch");
    } finally {
      rmSync(join(dir, "a.h.pch"));
    }
  });

  it("refuses a header with a precompiled header beside it (gcc would read that instead)", async () => {
    writeFileSync(join(proj, "include/lib/a.h.gch"), "not really");
    try {
      const { request, inv } = call("src/main.c");
      const plan = await buildJob(request, inv, "f".repeat(64), store, new FileHashCache());
      expect(plan.ok ? "ok" : plan.reason).toBe("hermetic-pch");
    } finally {
      rmSync(join(proj, "include/lib/a.h.gch"));
    }
  });
});

describe("InputStore", () => {
  it("stores only bytes that match their hash", async () => {
    const s = new InputStore(join(tmp, "store2"));
    const f = join(tmp, "f.txt");
    writeFileSync(f, "one");
    expect(await s.putFile(f, hashBytes("one"))).toBe(true);
    expect(readFileSync(s.blobPath(hashBytes("one")), "utf8")).toBe("one");
    writeFileSync(f, "changed");
    expect(await s.putFile(f, hashBytes("two"))).toBe(false);
    expect(s.has(hashBytes("two"))).toBe(false);
    expect(() => s.blobPath("../../etc/passwd")).toThrow(/invalid input hash/);
  });

  it("prunes the least recently used blobs past its size, never recent ones", async () => {
    const s = new InputStore(join(tmp, "store3"));
    const f = join(tmp, "g.txt");
    const hashes: string[] = [];
    for (let i = 0; i < 4; i++) {
      writeFileSync(f, `blob ${i} `.repeat(100));
      const h = hashBytes(readFileSync(f));
      await s.putFile(f, h);
      hashes.push(h);
      const t = new Date(Date.now() - (10 - i) * 3600_000);
      chmodSync(s.blobPath(h), 0o644);
      utimesSync(s.blobPath(h), t, t);
    }
    const size = readFileSync(s.blobPath(hashes[0]!)).length;
    // Everything is recent: nothing goes.
    expect(s.prune({ maxBytes: size, graceMs: 24 * 3600_000 })).toBe(0);
    // The two oldest go; the newest two stay.
    expect(s.prune({ maxBytes: 2 * size, graceMs: 60_000 })).toBe(2 * size);
    expect(hashes.map((h) => s.has(h))).toEqual([false, false, true, true]);
  });

  it("marks a blob used at most once a minute, and stores it again when a prune removed it meanwhile", async () => {
    const s = new InputStore(join(tmp, "store4"));
    const f = join(tmp, "h.txt");
    writeFileSync(f, "touch me");
    const h = hashBytes("touch me");
    expect(await s.putFile(f, h)).toBe(true);
    const old = new Date(Date.now() - 3600_000);
    utimesSync(s.blobPath(h), old, old);
    // Used again within the minute: not marked again (no syscall per input per job).
    expect(await s.putFile(f, h)).toBe(true);
    expect(lstatSync(s.blobPath(h)).mtimeMs).toBeLessThan(Date.now() - 3000_000);
    // A prune (another daemon's, or this one's) removes it: the next use stores it again.
    expect(s.prune({ maxBytes: 0, graceMs: 60_000 })).toBeGreaterThan(0);
    expect(s.has(h)).toBe(false);
    expect(await s.putFile(f, h)).toBe(true);
    expect(readFileSync(s.blobPath(h), "utf8")).toBe("touch me");
    // A new store (a new daemon) knows nothing of earlier uses: it marks the blob used.
    utimesSync(s.blobPath(h), old, old);
    const ino = lstatSync(s.blobPath(h)).ino;
    expect(await new InputStore(join(tmp, "store4")).putFile(f, h)).toBe(true);
    expect(lstatSync(s.blobPath(h)).mtimeMs).toBeGreaterThan(Date.now() - 60_000);
    expect(lstatSync(s.blobPath(h)).ino, "marked used, not stored again").toBe(ino);
  });

  it("holds(): a builder's check of a job's inputs marks each blob used at most once a minute, and sees one a prune removed", async () => {
    const s = new InputStore(join(tmp, "store5"));
    const f = join(tmp, "held.txt");
    writeFileSync(f, "held blob");
    const h = hashBytes("held blob");
    expect(s.holds(h)).toBe(false);
    expect(await new InputStore(join(tmp, "store5")).putFile(f, h)).toBe(true);
    const old = new Date(Date.now() - 3600_000);
    utimesSync(s.blobPath(h), old, old);
    expect(s.holds(h)).toBe(true);
    expect(lstatSync(s.blobPath(h)).mtimeMs, "marked used the first time").toBeGreaterThan(Date.now() - 60_000);
    utimesSync(s.blobPath(h), old, old);
    expect(s.holds(h)).toBe(true);
    expect(lstatSync(s.blobPath(h)).mtimeMs, "not marked again within the minute").toBeLessThan(Date.now() - 3000_000);
    expect(s.prune({ maxBytes: 0, graceMs: 60_000 })).toBeGreaterThan(0);
    expect(s.holds(h), "this store's prune removed it").toBe(false);
  });

  it("runs a closure scan: the dependency file written, the exit status and stderr of a failing one, 127 for a missing compiler", async () => {
    const dep = join(tmp, "scan.d");
    const ok = await runScan(["gcc", "-M", "-MF", dep, "src/main.c", "-Iinclude"], proj, { PATH: process.env.PATH ?? "/usr/bin:/bin" });
    expect(ok.exitCode).toBe(0);
    expect(readFileSync(dep, "utf8")).toContain("include/lib/a.h");
    const bad = await runScan(["gcc", "-M", "-MF", dep, "src/missing.c"], proj, { PATH: process.env.PATH ?? "/usr/bin:/bin" });
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toContain("nope.h");
    const none = await runScan([join(tmp, "no-such-compiler"), "-M"], proj, {});
    expect(none.exitCode).toBe(127);
  });
});

describe("hostContextFiles", () => {
  it("carries nothing for C, POSIX and C.UTF-8 but the time zone; a locale not installed falls back to C alike", () => {
    const tz = (files: string[]) => files.filter((f) => !f.startsWith("/usr/share/zoneinfo/"));
    for (const env of [{}, { LANG: "C.UTF-8" }, { LC_ALL: "POSIX" }, { LC_ALL: "C.utf8", LANG: "de_DE.UTF-8" }, { LANG: "xx_YY.UTF-8" }]) {
      const r = hostContextFiles(env);
      expect(r.unsupported).toBeUndefined();
      if (!("LANG" in env && env.LANG === "xx_YY.UTF-8")) expect(tz(r.files), JSON.stringify(env)).toEqual([]);
    }
  });

  it("carries the zone file local time comes from, never under /etc, with TZ naming it", () => {
    const utc = realpathSync("/usr/share/zoneinfo/UTC");
    expect(hostContextFiles({ TZ: "UTC" })).toEqual({ files: [utc], env: utc === "/usr/share/zoneinfo/UTC" ? {} : { TZ: `:${utc}` } });
    const local = hostContextFiles({});
    if (lstatSync("/etc/localtime", { throwIfNoEntry: false })?.isSymbolicLink()) {
      const target = realpathSync("/etc/localtime");
      expect(local).toEqual({ files: [target], env: { TZ: `:${target}` } });
    }
    expect(local.files.some((f) => f.startsWith("/etc/"))).toBe(false);
    expect(hostContextFiles({ TZ: "CET-1CEST,M3.5.0,M10.5.0/3" })).toEqual({ files: [], env: {} });
    expect(hostContextFiles({ TZ: ":../../etc/passwd" })).toEqual({ files: [], env: {} });
  });

  it("carries the data of an installed UTF-8 locale, and refuses one of another charset", () => {
    const loc = join(tmp, "locales");
    for (const name of ["de_DE.UTF-8", "de_DE.ISO-8859-1"]) {
      mkdirSync(join(loc, name, "LC_MESSAGES"), { recursive: true });
      writeFileSync(join(loc, name, "LC_CTYPE"), "ctype");
      writeFileSync(join(loc, name, "LC_MESSAGES", "SYS_LC_MESSAGES"), "m");
    }
    const utf8 = hostContextFiles({ LOCPATH: loc, LANG: "de_DE.UTF-8" });
    expect(utf8.unsupported).toBeUndefined();
    expect(utf8.files).toEqual(expect.arrayContaining([join(loc, "de_DE.UTF-8/LC_CTYPE"), join(loc, "de_DE.UTF-8/LC_MESSAGES/SYS_LC_MESSAGES")]));
    expect(hostContextFiles({ LOCPATH: loc, LC_ALL: "de_DE.ISO-8859-1" }).unsupported).toMatch(/only UTF-8 locales/);
  });
});

describe("what a job carries of the caller", () => {
  it("passes only keyEnv, the plugin's jobEnv and the locale and time zone: a token in the caller's environment stays here", async () => {
    const secret = { API_TOKEN: "s3cr3t-token", HOME: "/root", SSH_AUTH_SOCK: "/tmp/agent.sock" };
    const { request, inv } = call("src/main.c", { env: { ...secret, LANG: "C.UTF-8", LC_MESSAGES: "C", CPATH: "/opt/inc", COLUMNS: "80", TMPDIR: "/x" } });
    const plan = await buildJob(request, { ...inv, keyEnv: ["CPATH"], jobEnv: { names: ["PATH", "COLUMNS"] } }, "f".repeat(64), store, new FileHashCache());
    if (!plan.ok) throw new Error(`${plan.reason}: ${plan.detail}`);
    const { TZ: _tz, ...rest } = plan.job.env;
    expect(rest).toEqual({ PATH: "/usr/bin:/bin", LC_ALL: "C", LANG: "C.UTF-8", LC_MESSAGES: "C", CPATH: "/opt/inc", COLUMNS: "80" });
    expect(JSON.stringify(plan.job)).not.toContain("s3cr3t-token");
  });

  it("refuses a call that loads code the scan would run on the host", async () => {
    const { request, inv } = call("src/main.c");
    const plan = await buildJob(request, { ...inv, loadsCode: ["-fplugin=./evil.so"] }, "f".repeat(64), store, new FileHashCache());
    expect(plan).toMatchObject({ ok: false, reason: "hermetic-loads-code", detail: expect.stringContaining("-fplugin=./evil.so") });
  });
});
