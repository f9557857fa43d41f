import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CompileJob } from "@reprise/core";
import { ContainerSandbox } from "./container-sandbox.js";
import type { ImageEvent } from "./images.js";

export interface OverheadOptions {
  /** Unpacked toolchain (a `ToolchainStore` root) and its id. */
  toolchainRoot: string;
  toolchainId: string;
  /** A quick command of the toolchain, run in the container and plainly (e.g. `["/usr/bin/gcc", "-dumpversion"]`). */
  argv: string[];
  /** Timed runs of each (default 5). */
  runs?: number;
  /** Sandbox options (`engine`, …) and name ("docker" or "podman"). */
  options?: Record<string, unknown>;
  name?: string;
}

export interface OverheadMeasurement {
  engine: string;
  /** Finding the engine and running the probe container (once per process). */
  probeMs: number;
  /** Making (or finding) the toolchain's image: the first job's extra cost. */
  image: ImageEvent | undefined;
  containerMs: number[];
  plainMs: number[];
  /** Median container run minus median plain run: what every job pays. */
  overheadMs: number;
}

/**
 * Times what a container costs a job: the same quick command run `runs`
 * times in the sandbox and plainly on this host, after one untimed run
 * that makes the image. For benchmarks (`npm run bench`).
 */
export async function measureContainerOverhead(opts: OverheadOptions): Promise<OverheadMeasurement> {
  const runs = opts.runs ?? 5;
  const sandbox = new ContainerSandbox(opts.options, opts.name ?? "docker");
  const t0 = performance.now();
  const probe = await sandbox.probe();
  const probeMs = performance.now() - t0;
  if (!probe.usable) throw new Error(`container sandbox unusable: ${probe.reason}`);
  const engine = (await sandbox.engine()) as Exclude<Awaited<ReturnType<ContainerSandbox["engine"]>>, string>;
  const images = await sandbox.images();
  const base = mkdtempSync(join(tmpdir(), "reprise-overhead-"));
  const env = { PATH: "/usr/bin:/bin", LANG: "C" };
  const job: CompileJob = {
    toolchainId: opts.toolchainId,
    argv: opts.argv,
    cwd: join(base, "cwd"),
    env,
    inputs: [],
    outputs: [],
    limits: { timeoutMs: 60_000, maxOutputBytes: 16 * 1024 ** 2, memoryBytes: 1024 ** 3, maxProcesses: 64 },
  };
  const once = async () => {
    const scratchDir = mkdtempSync(join(base, "job-"));
    try {
      const t = performance.now();
      const r = await sandbox.run(job, {
        toolchainRoot: opts.toolchainRoot,
        inputBlob: () => {
          throw new Error("no inputs");
        },
        scratchDir,
        signal: new AbortController().signal,
      });
      if (r.exitCode !== 0 || r.killed) throw new Error(`${opts.argv.join(" ")} failed in the container: ${r.killed ?? r.stderr.toString()}`);
      return performance.now() - t;
    } finally {
      rmSync(scratchDir, { recursive: true, force: true });
    }
  };
  try {
    await once();
    const image = typeof images === "string" ? undefined : images.events.at(-1);
    const containerMs: number[] = [];
    const plainMs: number[] = [];
    for (let i = 0; i < runs; i++) {
      containerMs.push(await once());
      const t = performance.now();
      spawnSync(opts.argv[0]!, opts.argv.slice(1), { env, stdio: "ignore" });
      plainMs.push(performance.now() - t);
    }
    return { engine: `${engine.kind} ${engine.version}`, probeMs, image, containerMs, plainMs, overheadMs: median(containerMs) - median(plainMs) };
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
