import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { plain, RepriseSandbox, text } from "../support/reprise-env.js";
import { startRedis, type RunningServer } from "../support/remote-servers.js";

/**
 * A cache shared between machines never serves an object built for another
 * CPU: `-march=native` is keyed by what it resolves to. The "machines" run
 * gcc's driver (which resolves it) under qemu-user with different QEMU_CPU
 * models; cc1 then runs natively with the resolved flags.
 */
const QEMU = "/usr/bin/qemu-x86_64-static";
let redis: RunningServer;
let owner: RepriseSandbox;
let work: string;
let gcc: string;
const machines: RepriseSandbox[] = [];

beforeAll(async () => {
  if (!existsSync(QEMU)) throw new Error(`${QEMU} is missing: apt-get install qemu-user-static`);
  redis = await startRedis();
  owner = new RepriseSandbox();
  work = join(owner.root, "checkout");
  mkdirSync(join(work, "bin"), { recursive: true });
  // One compiler path for every machine: only the CPU differs.
  gcc = join(work, "bin/gcc");
  writeFileSync(gcc, `#!/bin/sh\nexec ${QEMU} /usr/bin/gcc "$@"\n`);
  chmodSync(gcc, 0o755);
  writeFileSync(join(work, "saxpy.c"), "void saxpy(float *restrict y, const float *restrict x, float a, int n) {\n  for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i];\n}\n");
});

afterAll(async () => {
  await Promise.all(machines.map((m) => m.dispose()));
  await owner.dispose();
  await redis.stop();
});

const ARGS = ["-O3", "-march=native", "-c", "saxpy.c", "-o", "saxpy.o"];

async function plainObject(cpu: string): Promise<Buffer> {
  rmSync(join(work, "saxpy.o"), { force: true });
  const r = await plain(gcc, ARGS, work, { QEMU_CPU: cpu });
  expect(r.exitCode, text(r.stderr)).toBe(0);
  return readFileSync(join(work, "saxpy.o"));
}

async function compileOn(m: RepriseSandbox, cpu: string): Promise<Buffer> {
  rmSync(join(work, "saxpy.o"), { force: true });
  const r = await m.run([gcc, ...ARGS], work, { env: { QEMU_CPU: cpu } });
  expect(r.exitCode, text(r.stderr)).toBe(0);
  return readFileSync(join(work, "saxpy.o"));
}

describe("-march=native in a shared cache", () => {
  it("a machine with another CPU misses and gets its own CPU's object; one with the same CPU hits", async () => {
    const nehalemRef = await plainObject("Nehalem");
    const skylakeRef = await plainObject("Skylake-Client");
    expect(nehalemRef.equals(skylakeRef), "the two CPUs really give different objects").toBe(false);
    const env = { REPRISE_REDIS_ENDPOINT: redis.endpoint };
    const machine = () => {
      const m = new RepriseSandbox(env);
      machines.push(m);
      return m;
    };

    const old = machine();
    expect((await compileOn(old, "Nehalem")).equals(nehalemRef)).toBe(true);
    await old.stats(work);

    const modern = machine();
    expect((await compileOn(modern, "Skylake-Client")).equals(skylakeRef), "not the Nehalem object from the shared cache").toBe(true);
    const modernStats = await modern.stats(work);
    expect(modernStats.misses).toBe(1);
    expect(modernStats.hitsDirect).toBe(0);

    const twin = machine();
    expect((await compileOn(twin, "Nehalem")).equals(nehalemRef)).toBe(true);
    expect((await twin.stats(work)).hitsDirect).toBe(1);
  });
});
