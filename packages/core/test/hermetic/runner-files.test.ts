import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileHashCache } from "../../src/hashing/file-hash-cache.js";
import { InputStore } from "../../src/hermetic/input-store.js";
import { addRunnerFiles } from "../../src/hermetic/runner-files.js";
import type { CompileJob } from "../../src/sandbox/types.js";

const tmp = mkdtempSync(join(tmpdir(), "reprise-runner-files-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function job(): CompileJob {
  return { toolchainId: "t", argv: ["/usr/bin/rustc"], cwd: "/w", env: {}, inputs: [], outputs: [], limits: { timeoutMs: 1000, maxOutputBytes: 1000 } };
}

describe("a hermetic job carries the runner's files", () => {
  it("files as content-addressed inputs (programs executable), symlinks on the way as links, nothing the toolchain root holds", async () => {
    const libc = realpathSync("/lib/x86_64-linux-gnu/libc.so.6");
    const root = join(tmp, "root");
    mkdirSync(join(root, "usr/lib/x86_64-linux-gnu"), { recursive: true });
    writeFileSync(join(root, libc), "the toolchain's copy");
    const store = new InputStore(join(tmp, "inputs"));
    const j = job();
    const failed = await addRunnerFiles(j, { programs: ["/usr/bin/cc"], libraries: [], files: ["/usr/lib/x86_64-linux-gnu/crti.o"] }, root, store, new FileHashCache());
    expect(failed).toBeUndefined();
    const driver = realpathSync("/usr/bin/cc");
    const byPath = new Map(j.inputs.map((i) => [i.path, i]));
    expect(byPath.get(driver)?.executable).toBe(true);
    expect(byPath.get("/usr/lib/x86_64-linux-gnu/crti.o")?.executable).toBeUndefined();
    // cc's libc is the toolchain root's: not carried again.
    expect(byPath.has(libc)).toBe(false);
    expect(j.links?.some((l) => l.path === "/usr/bin/cc")).toBe(true);
    for (const i of j.inputs) expect(store.has(i.hash), i.path).toBe(true);
  });

  it("a file that is gone is a reason, not a job", async () => {
    const why = await addRunnerFiles(job(), { programs: [], libraries: [], files: [join(tmp, "missing.o")] }, join(tmp, "root"), new InputStore(join(tmp, "inputs2")), new FileHashCache());
    expect(why).toMatch(/missing\.o/);
  });
});
