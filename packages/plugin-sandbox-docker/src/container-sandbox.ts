import { randomBytes } from "node:crypto";
import { execa } from "execa";
import type { CompileJob, JobMaterials, JobResult, Sandbox } from "@reprise/core";
import {
  collectOutputs,
  diskUsage,
  exitStatus,
  finishStreams,
  planJobLayout,
  processLimits,
  SandboxError,
  watchDiskUsage,
  writableFor,
  type JobLayout,
  type KillReason,
} from "@reprise/plugin-sandbox-bwrap/layout";
import { findEngine, type ContainerEngine } from "./engine.js";
import { ToolchainImages } from "./images.js";
import { parseContainerOptions, type ParsedContainerOptions } from "./options.js";

interface Ready {
  engine: ContainerEngine;
  images: ToolchainImages;
}

/**
 * Runs jobs in docker or podman containers: the image is the toolchain
 * itself (imported from its files, tagged by toolchain id, no registry),
 * with no network, a read-only root, the job's inputs mounted read-only at
 * their own paths and a fresh writable directory at its cwd, memory, process
 * and CPU limits, a non-root user, and the container removed when the job
 * ends, times out or is cancelled.
 */
export class ContainerSandbox implements Sandbox {
  readonly name: string;
  private readonly options: ParsedContainerOptions | string;
  private readiness?: Promise<Ready | string>;

  constructor(options?: Record<string, unknown>, name = "docker") {
    this.name = name;
    this.options = parseContainerOptions(options);
  }

  async probe(): Promise<{ usable: true } | { usable: false; reason: string }> {
    const r = await this.ready();
    return typeof r === "string" ? { usable: false, reason: r } : { usable: true };
  }

  /** The engine found, or why there is none. */
  async engine(): Promise<ContainerEngine | string> {
    const r = await this.ready();
    return typeof r === "string" ? r : r.engine;
  }

  private ready(): Promise<Ready | string> {
    this.readiness ??= (async () => {
      const o = this.options;
      if (typeof o === "string") return `container sandbox: ${o}`;
      const engine = await findEngine(o.engine, o.runtime);
      if (typeof engine === "string") return engine;
      return { engine, images: new ToolchainImages(engine, o.imageRepository) };
    })();
    return this.readiness;
  }

  async run(job: CompileJob, materials: JobMaterials): Promise<JobResult> {
    const ready = await this.ready();
    if (typeof ready === "string") throw new SandboxError("container sandbox unusable", ready);
    const { engine, images } = ready;
    const o = this.options as ParsedContainerOptions;
    const max = job.limits.maxOutputBytes;
    const cancelled = (): JobResult => ({ exitCode: 128 + 9, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), outputs: [], killed: "cancelled" });
    if (materials.signal.aborted) return cancelled();

    const image = await images.ensure(job.toolchainId, materials.toolchainRoot);
    if (materials.signal.aborted) return cancelled();
    const layout = planJobLayout(job, materials, { base: "image", prepareWritableDir: writableFor(o.uid, o.gid) });
    const name = `reprise-job-${randomBytes(8).toString("hex")}`;
    const args = [...engine.globalArgs, "run", ...containerRunArguments(job, layout, o, engine, name), image, ...job.argv];

    let killed: KillReason | undefined;
    let removal: Promise<unknown> | undefined;
    const child = execa(engine.path, args, {
      stdin: "ignore",
      encoding: "buffer",
      stripFinalNewline: false,
      maxBuffer: max,
      reject: false,
      // past maxBuffer the client is killed at once; the container is killed and removed below
      killSignal: "SIGKILL",
      forceKillAfterDelay: false,
    });
    /** Ends the job: the container is killed and removed; the client is killed if it lingers. */
    const stop = (reason: KillReason) => {
      killed ??= reason;
      removal ??= removeContainer(engine, name);
      const lingering = setTimeout(() => child.kill("SIGKILL"), 5000);
      lingering.unref();
      void child.finally(() => clearTimeout(lingering));
    };
    let printed = 0;
    const count = (chunk: Uint8Array) => {
      printed += chunk.length;
      if (printed > max) stop("output-limit");
    };
    child.stdout?.on("data", count);
    child.stderr?.on("data", count);
    const timer = setTimeout(() => stop("timeout"), job.limits.timeoutMs);
    const onAbort = () => stop("cancelled");
    materials.signal.addEventListener("abort", onAbort, { once: true });
    const stopWatching = watchDiskUsage(
      layout.writable.map((w) => w.hostDir),
      max,
      o.pollIntervalMs,
      () => stop("output-limit"),
    );
    let r;
    try {
      r = await child;
    } finally {
      clearTimeout(timer);
      materials.signal.removeEventListener("abort", onAbort);
      stopWatching();
    }
    if (!killed && r.isMaxBuffer) killed = "output-limit";
    const abnormal = killed !== undefined || r.exitCode === undefined || r.exitCode >= 125;
    // --rm removes a container that ended by itself; anything else is removed here
    if (abnormal) await (removal ?? removeContainer(engine, name));

    const streams = finishStreams(r.stdout, r.stderr, max, r.isMaxBuffer);
    const exitCode = exitStatus(r.exitCode, r.signal);
    if (!killed && isEngineFailure(exitCode, streams.stderr)) throw new SandboxError(`${engine.kind} could not run the job`, streams.stderr.toString("utf8").trim());
    if (!killed && streams.overLimit) killed = "output-limit";
    if (!killed) {
      let written = 0;
      for (const w of layout.writable) written += await diskUsage(w.hostDir);
      if (written > max) killed = "output-limit";
    }
    if (killed) return { exitCode, stdout: streams.stdout, stderr: streams.stderr, outputs: [], killed };
    const collected = collectOutputs(layout, max - streams.stdout.length - streams.stderr.length);
    if (collected.overLimit) return { exitCode, stdout: streams.stdout, stderr: streams.stderr, outputs: [], killed: "output-limit" };
    return { exitCode, stdout: streams.stdout, stderr: streams.stderr, outputs: collected.outputs };
  }
}

/** The `run` arguments for a job, up to the image (for tests and debugging). */
export function containerRunArguments(job: CompileJob, layout: JobLayout, o: ParsedContainerOptions, engine: Pick<ContainerEngine, "runArgs">, name: string): string[] {
  const max = job.limits.maxOutputBytes;
  const a = [
    "--rm",
    "--name",
    name,
    "--pull",
    "never",
    "--network",
    "none",
    "--read-only",
    "--user",
    `${o.uid}:${o.gid}`,
    "--hostname",
    "reprise",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
    "--cpus",
    String(o.cpus),
    ...engine.runArgs,
  ];
  if (job.limits.memoryBytes) a.push("--memory", String(job.limits.memoryBytes), "--memory-swap", String(job.limits.memoryBytes));
  if (job.limits.maxProcesses) a.push("--pids-limit", String(job.limits.maxProcesses));
  const ulimits: Record<string, string> = { ...defaultUlimits(), fsize: `${max + 1}:${max + 1}`, core: "0:0", ...o.ulimits };
  for (const [k, v] of Object.entries(ulimits)) a.push("--ulimit", `${k}=${v}`);
  for (const dir of layout.systemDirs) {
    if (dir === "/tmp") a.push("--tmpfs", `/tmp:rw,nosuid,nodev,size=${max},mode=1777`);
  }
  for (const op of layout.ops) {
    if (op.op === "ro-bind") a.push("--mount", mountSpec(op.source, op.target, true));
    else if (op.op === "bind") a.push("--mount", mountSpec(op.source, op.target, false));
    else throw new SandboxError(`container layouts cannot ${op.op} at ${op.target}`);
  }
  a.push("--workdir", job.cwd);
  for (const [k, v] of Object.entries(job.env)) a.push("--env", `${k}=${v}`);
  a.push(...o.extraRunArgs);
  return a;
}

function mountSpec(source: string, target: string, readonly: boolean): string {
  for (const p of [source, target]) {
    if (/[,"\n]/.test(p)) throw new SandboxError(`a path with a comma, quote or line break cannot be mounted in a container: ${p}`);
  }
  return `type=bind,source=${source},target=${target}${readonly ? ",readonly" : ""}`;
}

/** nofile and nproc at this process's hard limits: a container's may not exceed the engine's. */
function defaultUlimits(): Record<string, string> {
  const limits = processLimits();
  const out: Record<string, string> = {};
  const nofile = limits.get("Max open files");
  const nproc = limits.get("Max processes");
  const n = Math.min(nofile ?? 1_048_576, 1_048_576);
  out.nofile = `${n}:${n}`;
  const p = Math.min(nproc ?? 32_768, 32_768);
  out.nproc = `${p}:${p}`;
  return out;
}

/** Exit statuses 125–127 with the engine's own message: the container did not start, or the program was not found in it. */
function isEngineFailure(exitCode: number, stderr: Buffer): boolean {
  if (exitCode < 125 || exitCode > 127) return false;
  return /^(Error|docker|podman)\b.*:/m.test(stderr.toString("utf8"));
}

/** Kills the container (every process in it) and removes it; no error if it is already gone. */
async function removeContainer(engine: ContainerEngine, name: string): Promise<void> {
  await execa(engine.path, [...engine.globalArgs, "kill", "--signal", "KILL", name], { reject: false, stdin: "ignore", timeout: 30_000 });
  await execa(engine.path, [...engine.globalArgs, "rm", "-f", name], { reject: false, stdin: "ignore", timeout: 30_000 });
}
