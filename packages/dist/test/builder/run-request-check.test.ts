import { describe, expect, it } from "vitest";
import type { CompileJob } from "@reprise/core";
import { jobToWire, RunRequestSchema } from "../../src/builder/job-message.js";
import { isPlainRunRequest } from "../../src/builder/run-request-check.js";

const job: CompileJob = {
  toolchainId: "c".repeat(64),
  argv: ["/usr/bin/gcc", "-c", "a.c", "-o", "a.o"],
  cwd: "/home/u/p",
  env: { LANG: "C", PWD: "/home/u/p" },
  inputs: [
    { path: "/home/u/p/a.c", hash: "a".repeat(64), size: 10 },
    { path: "/home/u/p/plugin.so", hash: "b".repeat(64), size: 20, executable: true },
  ],
  outputs: [{ role: "object", path: "/home/u/p/a.o" }, { role: "deps", path: "/home/u/p/a.d", optional: true }],
  limits: { timeoutMs: 60_000, maxOutputBytes: 1e9, memoryBytes: 8 * 1024 ** 3, maxProcesses: 1000 },
  directories: ["/home/u/p/include"],
  links: [{ path: "/usr/bin/cc", target: "/usr/bin/x86_64-linux-gnu-gcc-12" }],
};
const request = () => JSON.parse(JSON.stringify({ toolchainId: job.toolchainId, job: jobToWire(job) })) as Record<string, any>;

/** Values of every kind, and near-misses of valid ones, put in place of each field in turn. */
const oddValues: unknown[] = [
  undefined, null, true, 0, -1, 1.5, 0o10000, 2 ** 53, 1e999, "", "x", "/", "/a/./b", "/a/..", "/a\0b", "a/b", "/".padEnd(4097, "a"),
  "a".repeat(64), "A".repeat(64), "z".repeat(64), [], [""], ["/a"], {}, { path: "/a" }, [{}], "x".repeat(257), "ok:id-1.2_3",
];

/** Every path to a value in `v` (object keys and array indexes). */
function paths(v: unknown, at: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [at];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...at, i])));
  else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...at, k]));
  return out;
}

function withValue(root: Record<string, any>, at: (string | number)[], value: unknown): Record<string, any> {
  const copy = structuredClone(root);
  if (!at.length) return value as Record<string, any>;
  let o: any = copy;
  for (const k of at.slice(0, -1)) o = o[k];
  o[at[at.length - 1]!] = value;
  return copy;
}

describe("the run request's plain check", () => {
  it("passes a well-formed request (the hot path skips zod), and zod agrees", () => {
    expect(isPlainRunRequest(request())).toBe(true);
    expect(RunRequestSchema.safeParse(request()).success).toBe(true);
    const minimal = request();
    delete minimal.job.directories;
    delete minimal.job.links;
    delete minimal.job.limits.memoryBytes;
    delete minimal.job.limits.maxProcesses;
    expect(isPlainRunRequest(minimal)).toBe(true);
  });

  it("never passes what zod refuses: every field replaced by odd values, extra keys, and removed", () => {
    const base = request();
    let tried = 0;
    let refusedByBoth = 0;
    for (const at of paths(base)) {
      const node = at.reduce<any>((o, k) => o[k], base);
      const variants = oddValues.map((v) => withValue(base, at, v));
      if (node && typeof node === "object") variants.push(withValue(base, [...at, Array.isArray(node) ? node.length : "extra"], Array.isArray(node) ? node[0] : 1));
      if (at.length) {
        const removed = structuredClone(base);
        let o: any = removed;
        for (const k of at.slice(0, -1)) o = o[k];
        if (Array.isArray(o)) o.splice(at[at.length - 1] as number, 1);
        else delete o[at[at.length - 1]!];
        variants.push(removed);
      }
      for (const v of variants) {
        tried++;
        const zod = RunRequestSchema.safeParse(v).success;
        if (isPlainRunRequest(v)) expect(zod, `plain check passed what zod refuses at ${at.join(".")}: ${JSON.stringify(v)?.slice(0, 300)}`).toBe(true);
        else if (!zod) refusedByBoth++;
      }
    }
    expect(tried).toBeGreaterThan(1000);
    expect(refusedByBoth).toBeGreaterThan(tried / 2);
  });

  it("leaves an env naming __proto__, and objects not made by JSON, to zod", () => {
    const proto = request();
    proto.job.env = JSON.parse('{"__proto__": "x", "A": "b"}');
    expect(isPlainRunRequest(proto)).toBe(false);
    const odd = request();
    odd.job.limits = Object.assign(Object.create(null), odd.job.limits);
    expect(isPlainRunRequest(odd)).toBe(false);
  });
});
