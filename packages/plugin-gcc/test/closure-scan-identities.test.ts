import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildJob, Engine, FileHashCache, hashBytes, identitiesFromList, InputStore, type CompileInvocation, type CompileRequest } from "@reprise/core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { gccPlugin, readTraceLibrary } from "../src/index.js";
import { expectCacheable, fakeCompiler, parseInput, removeTempDirs, tempDir } from "./helpers.js";

/**
 * A farm or hermetic job's closure scan runs with GCC's read trace: the
 * identity cc1 took of each file it read spares the job a stat per input when
 * the daemon's hash cache holds the content under that identity. Real gcc,
 * the real tracer, core's buildJob; a file changed since it was hashed must
 * travel with its new digest.
 */

afterAll(removeTempDirs);

const engine = new Engine().use(gccPlugin);
const readIdentities = identitiesFromList(engine, "gcc")!;
let dir: string;
let store: InputStore;

beforeAll(async () => {
  expect(readTraceLibrary(), "built by npm run build").toBeDefined();
  dir = tempDir("reprise-scan-identities-");
  writeFileSync(join(dir, "a.c"), '#include "h.h"\nint f(void) { return V; }\n');
  writeFileSync(join(dir, "h.h"), "#define V 1\n");
  store = new InputStore(join(dir, "inputs"));
  // Settled past every racy window (2 s on file systems with coarse times), as a project's files are.
  await new Promise((r) => setTimeout(r, 2200));
});

function call(): { request: CompileRequest; inv: CompileInvocation } {
  const argv = ["/usr/bin/gcc", "-O2", "-g", "-c", "a.c", "-o", "a.o"];
  const env = { PATH: "/usr/bin:/bin", LC_ALL: "C" };
  const inv = expectCacheable(
    engine.hooks.parseArguments.for("gcc").call(parseInput(argv, { cwd: dir, env, compiler: fakeCompiler("gcc", { data: { cxx: false, readTrace: true } }), tmp: dir })),
  );
  return { request: { argv, cwd: dir, env, stdoutIsTTY: false, stderrIsTTY: false }, inv };
}

async function job(hashes: FileHashCache, withIdentities = true) {
  const { request, inv } = call();
  const plan = await buildJob(request, inv, "f".repeat(64), store, hashes, undefined, withIdentities ? { readIdentities } : {});
  if (!plan.ok) throw new Error(`${plan.reason}: ${plan.detail}`);
  const listFile = inv.closureScan?.listFile;
  return { plan, listFile, byPath: new Map(plan.job.inputs.map((i) => [i.path, i.hash])) };
}

describe("a job's closure scan with GCC's read trace", () => {
  it("the scan lists what it read with identities; the second job stats none of the files the cache holds under them", async () => {
    const { inv } = call();
    expect(inv.closureScan?.listFile).toMatch(/\.closure\.reads$/);
    expect(inv.closureScan?.setEnv?.REPRISE_READ_TRACE).toBe(inv.closureScan?.listFile);
    const hashes = new FileHashCache();
    const first = await job(hashes);
    expect(first.byPath.get(join(dir, "h.h"))).toBe(hashBytes(readFileSync(join(dir, "h.h"))));
    expect(first.listFile && existsSync(first.listFile), "the scan's list is removed once read").toBe(false);

    const known = vi.spyOn(hashes, "known");
    const asRead = vi.spyOn(hashes, "knownAsRead");
    const second = await job(hashes);
    const statted = known.mock.calls.map((c) => c[0]);
    expect(statted).not.toContain(join(dir, "a.c"));
    expect(statted).not.toContain(join(dir, "h.h"));
    expect(asRead.mock.calls.map((c) => c[0])).toEqual(expect.arrayContaining([join(dir, "a.c"), join(dir, "h.h")]));
    expect(second.byPath).toEqual(first.byPath);

    // Without the identities, each input is stat'ed as before (the spy sees them).
    known.mockClear();
    await job(hashes, false);
    expect(known.mock.calls.map((c) => c[0])).toEqual(expect.arrayContaining([join(dir, "a.c"), join(dir, "h.h")]));
  });

  it("a header rewritten since it was hashed (same size) travels with its new digest", async () => {
    const hashes = new FileHashCache();
    const before = await job(hashes);
    writeFileSync(join(dir, "h.h"), "#define V 2\n");
    const after = await job(hashes);
    expect(after.byPath.get(join(dir, "h.h"))).toBe(hashBytes(readFileSync(join(dir, "h.h"))));
    expect(after.byPath.get(join(dir, "h.h"))).not.toBe(before.byPath.get(join(dir, "h.h")));
    // What the job carries is in the input store under that digest, byte for byte.
    expect(readFileSync(store.blobPath(after.byPath.get(join(dir, "h.h"))!)).toString()).toBe("#define V 2\n");
  });
});
