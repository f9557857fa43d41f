import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Engine } from "@reprise/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gccPlugin } from "../src/index.js";
import { expectCacheable, parseInput, realProbe, removeTempDirs, tempDir } from "./helpers.js";
import { isNativeCpuOption } from "../src/native-cpu.js";

/**
 * -march=native with the real gcc: the key names the CPU it resolves to here,
 * and a job's command line (what a sandbox or a builder runs) carries the
 * options it stands for, giving the object a plain -march=native compile
 * gives. With -g GCC records those options in an order no command line
 * reproduces: such a call is not portable.
 */

afterAll(removeTempDirs);

const engine = new Engine().use(gccPlugin);
let dir: string;
let compiler: Parameters<typeof parseInput>[1] extends infer O ? (O extends { compiler?: infer C } ? C : never) : never;

beforeAll(async () => {
  dir = tempDir();
  writeFileSync(join(dir, "m.c"), "float dot(const float *a, const float *b, int n) { float s = 0; for (int i = 0; i < n; i++) s += a[i] * b[i]; return s; }\n");
  const d = await engine.hooks.detectCompiler.promise(realProbe("/usr/bin/gcc"));
  if (!d) throw new Error("gcc not detected");
  compiler = { ...d, identity: "native-test" };
});

const plan = (args: string[]) => expectCacheable(engine.hooks.parseArguments.for("gcc").call(parseInput(["/usr/bin/gcc", ...args], { cwd: dir, compiler, tmp: dir })));

function compile(argv: string[], out: string): Buffer {
  execFileSync(argv[0]!, [...argv.slice(1).filter((a) => a !== "-o" && !a.endsWith(".o")), "-o", join(dir, out)], { cwd: dir });
  return readFileSync(join(dir, out));
}

describe("gcc -march=native", () => {
  it("keys by the CPU it resolves to here, not by the word native, and differs from -march=x86-64", () => {
    const native = plan(["-O2", "-march=native", "-c", "m.c", "-o", "m.o"]);
    const cpu = /^-march=(.+)$/.exec(native.keyArgs.find((a) => a.startsWith("-march="))!)![1];
    expect(cpu).not.toBe("native");
    expect(native.keyArgs.join(" ")).not.toContain("native");
    expect(native.keyArgs).toEqual(expect.arrayContaining([`-march=${cpu}`, expect.stringMatching(/^-mtune=/)]));
    expect(native.keyArgs).not.toEqual(plan(["-O2", "-march=x86-64", "-c", "m.c", "-o", "m.o"]).keyArgs);
    // The local compile is the user's own command; the job's names the CPU.
    expect(native.compileArgv).toContain("-march=native");
    expect(native.jobArgv).toEqual(expect.arrayContaining([`-march=${cpu}`]));
    expect(native.jobArgv).not.toContain("-march=native");
    expect(native.unportable).toBeUndefined();
    expect(plan(["-O2", "-mtune=native", "-c", "m.c"]).keyArgs.join(" ")).toMatch(/-mtune=(?!native)/);
  });

  it("gives a job the object a plain -march=native compile gives (-O3, and -g without recorded switches)", () => {
    for (const extra of [["-O3"], ["-O2", "-g", "-gno-record-gcc-switches"], ["-O2", "-mno-avx", "-march=native"]]) {
      const args = [...extra, ...(extra.includes("-march=native") ? [] : ["-march=native"]), "-c", "m.c", "-o", "m.o"];
      const inv = plan(args);
      const plainObject = compile(["/usr/bin/gcc", ...args], "plain.o");
      const jobObject = compile(inv.jobArgv!, "job.o");
      expect(jobObject.equals(plainObject), args.join(" ")).toBe(true);
    }
  });

  it("says a call with -g (switches recorded in the debug info) is not portable", () => {
    expect(plan(["-g", "-O2", "-march=native", "-c", "m.c"]).unportable).toMatch(/-gno-record-gcc-switches/);
    expect(plan(["-g", "-gno-record-gcc-switches", "-march=native", "-c", "m.c"]).unportable).toBeUndefined();
    expect(plan(["-g", "-O2", "-march=x86-64", "-c", "m.c"]).jobArgv).toBeUndefined();
  });
});

const QEMU = "/usr/bin/qemu-x86_64-static";

/** gcc whose driver (which resolves -march=native) runs under qemu-user on the CPU its QEMU_CPU names; cc1 then runs natively. */
function gccOnEmulatedCpu(): string {
  if (!existsSync(QEMU)) throw new Error(`${QEMU} is missing: apt-get install qemu-user-static`);
  const script = join(dir, "qemu-gcc");
  writeFileSync(script, `#!/bin/sh\nexec ${QEMU} /usr/bin/gcc "$@"\n`);
  chmodSync(script, 0o755);
  return script;
}

describe("gcc -march=native on another CPU", () => {
  it("recognises the native options", () => {
    expect(["-O2", "-march=native", "-mtune=native", "-mcpu=native", "-march=x86-64"].filter(isNativeCpuOption)).toEqual(["-march=native", "-mtune=native", "-mcpu=native"]);
  });

  it("is resolved with the call's environment: another CPU gives another key and its own object, the same CPU the same key", () => {
    const gcc = gccOnEmulatedCpu();
    const emulated = { ...compiler, path: gcc, identity: "native-test-qemu" };
    const args = ["-O3", "-march=native", "-c", "m.c", "-o", "m.o"];
    const on = (cpu: string) =>
      expectCacheable(engine.hooks.parseArguments.for("gcc").call(parseInput([gcc, ...args], { cwd: dir, compiler: emulated, tmp: dir, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", QEMU_CPU: cpu } })));
    const nehalem = on("Nehalem");
    const skylake = on("Skylake-Client");
    expect(nehalem.keyArgs.join(" ")).not.toContain("native");
    expect(nehalem.keyArgs).not.toEqual(skylake.keyArgs);
    expect(on("Nehalem").keyArgs).toEqual(nehalem.keyArgs);
    // The job's command (run natively here) gives what a plain compile on that CPU gives.
    for (const [cpu, inv] of [["Nehalem", nehalem], ["Skylake-Client", skylake]] as const) {
      execFileSync(gcc, args.slice(0, -2).concat(["-o", join(dir, `plain-${cpu}.o`)]), { cwd: dir, env: { ...process.env, QEMU_CPU: cpu } });
      const job = compile(["/usr/bin/gcc", ...inv.jobArgv!.slice(1)], `job-${cpu}.o`);
      expect(job.equals(readFileSync(join(dir, `plain-${cpu}.o`))), cpu).toBe(true);
    }
  });

  it("a compiler that cannot say what native means leaves the call uncached, never keyed by the word", () => {
    const broken = { ...compiler, path: "/bin/false", identity: "native-test-false" };
    const r = engine.hooks.parseArguments.for("gcc").call(parseInput(["/bin/false", "-O2", "-march=native", "-c", "m.c"], { cwd: dir, compiler: broken, tmp: dir }));
    expect(r?.cacheable).toBe(false);
    expect(r && !r.cacheable ? r.detail : "").toMatch(/cannot resolve the native CPU/);
  });
});
