import { randomBytes } from "node:crypto";
import { spawn } from "node:child_process";
import type { CompileJob, JobLimits, JobMaterials, JobResult, Sandbox } from "@reprise/core";
import {
  exitStatus,
  finishJob,
  finishStreams,
  planJobLayout,
  processLimits,
  SandboxError,
  watchDiskUsage,
  writableFor,
  type JobLayout,
  type KillReason,
} from "@reprise/core/sandbox-kit";
import { engineCommand, findEngine, firstLines, type ContainerEngine } from "./engine.js";
import { ToolchainImages } from "./images.js";
import { parseContainerOptions, type ParsedContainerOptions } from "./options.js";

interface Ready {
  engine: ContainerEngine;
  images: ToolchainImages;
}

/** Prefix of every job container's name. */
export const CONTAINER_PREFIX = "reprise-job-";
/** Label on every job container. */
export const JOB_LABEL = "reprise.job";

/** The path the probe asks the engine to run in an empty image: it must answer "not found" (exit 127). */
const PROBE_PROGRAM = "/reprise-probe-no-such-program";

/**
 * Runs jobs in docker or podman containers: the image is the toolchain
 * itself (imported from its files, tagged by toolchain id, no registry),
 * with no network, a read-only root, the job's inputs mounted read-only at
 * their own paths and a fresh writable directory at its cwd, memory, process
 * and CPU limits, a non-root user without capabilities, and the container
 * removed when the job ends, times out or is cancelled.
 */
export class ContainerSandbox implements Sandbox {
  readonly name: string;
  private readonly options: ParsedContainerOptions | string;
  private readiness?: Promise<Ready | string>;

  /**
   * @param options plugin options and config `sandboxOptions` (see `ContainerOptions`)
   * @param name the sandbox name config selected: "docker" (engine auto) or "podman" (engine podman)
   */
  constructor(options?: Record<string, unknown>, name = "docker") {
    this.name = name;
    const sections = name === "podman" ? ["docker", "podman"] : [name];
    const defaults = name === "podman" ? { engine: "podman" } : {};
    this.options = parseContainerOptions({ ...defaults, ...(options ?? {}) }, sections);
  }

  /**
   * Usable when the engine answers and starts a container with a job's
   * flags (no network, read-only, limits, user, ulimits): an empty image is
   * made once and asked to run a missing program, which must fail with the
   * runtime's "not found", not with a refusal of the container.
   */
  async probe(): Promise<{ usable: true } | { usable: false; reason: string }> {
    const r = await this.ready();
    return typeof r === "string" ? { usable: false, reason: r } : { usable: true };
  }

  /** The engine found, or why there is none. */
  async engine(): Promise<ContainerEngine | string> {
    const r = await this.ready();
    return typeof r === "string" ? r : r.engine;
  }

  /** The toolchain images of this sandbox's engine, or why there is no engine. */
  async images(): Promise<ToolchainImages | string> {
    const r = await this.ready();
    return typeof r === "string" ? r : r.images;
  }

  private ready(): Promise<Ready | string> {
    this.readiness ??= (async () => {
      const o = this.options;
      if (typeof o === "string") return `container sandbox: ${o}`;
      let images: ToolchainImages | undefined;
      const engine = await findEngine(o.engine, { ...(o.runtime ? { runtime: o.runtime } : {}), globalArgs: o.globalArgs }, async (candidate) => {
        const imgs = new ToolchainImages(candidate, o.imageRepository, o.stateDir, o.maxImages);
        const problem = await checkEngine(candidate, imgs, o);
        if (problem === undefined) images = imgs;
        return problem;
      });
      if (typeof engine === "string") return engine;
      return { engine, images: images! };
    })();
    return this.readiness;
  }

  async run(job: CompileJob, materials: JobMaterials): Promise<JobResult> {
    const ready = await this.ready();
    if (typeof ready === "string") throw new SandboxError("container sandbox unusable", ready);
    const { engine, images } = ready;
    const o = this.options as ParsedContainerOptions;
    const { signal } = materials;
    if (signal.aborted) return cancelled();

    let image = await untilAborted(images.ensure(job.toolchainId, materials.toolchainRoot, job.links), signal);
    if (image === ABORTED) return cancelled();
    const layout = planJobLayout(job, materials, { base: "image", prepareWritableDir: writableFor(o.uid, o.gid) });

    try {
      let attempt = await runContainer(engine, image, job, layout, o, signal, materials.scratchDir);
      if (attempt === "image-missing") {
        // removed since (another process pruned it, or by hand): make it again, once
        images.forget(job.toolchainId, job.links);
        image = await untilAborted(images.ensure(job.toolchainId, materials.toolchainRoot, job.links), signal);
        if (image === ABORTED) return cancelled();
        attempt = await runContainer(engine, image, job, layout, o, signal, materials.scratchDir);
        if (attempt === "image-missing") throw new SandboxError(`${engine.kind} lost the image ${image} twice`);
      }
      return attempt;
    } finally {
      layout.release();
    }
  }
}

const ABORTED = Symbol("aborted");

function cancelled(): JobResult {
  return { exitCode: 128 + 9, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), outputs: [], killed: "cancelled" };
}

/** `p`, or ABORTED as soon as `signal` is (p goes on: an image being made is shared with later jobs). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T | typeof ABORTED> {
  if (signal.aborted) return Promise.resolve(ABORTED);
  return new Promise<T | typeof ABORTED>((resolve, reject) => {
    const onAbort = () => resolve(ABORTED);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

/** One `run` of the job's container; "image-missing" if the engine did not find the image. */
async function runContainer(
  engine: ContainerEngine,
  image: string,
  job: CompileJob,
  layout: JobLayout,
  o: ParsedContainerOptions,
  signal: AbortSignal,
  scratchDir: string,
): Promise<JobResult | "image-missing"> {
  const max = job.limits.maxOutputBytes;
  const name = CONTAINER_PREFIX + randomBytes(8).toString("hex");
  const args = [...engine.globalArgs, "run", ...containerRunArguments(job, layout, o, engine, name), image, ...job.argv];
  if (signal.aborted) return cancelled();

  // Output is read to the end whatever its size (past the limit it is counted, not kept): an engine
  // whose client stops reading blocks its own monitor (conmon), and then cannot stop the container.
  // In the job's scratch directory: podman's conmon writes a file named "oom" into its working
  // directory when the container is killed for memory, which must not land in the caller's.
  const child = spawn(engine.path, args, { stdio: ["ignore", "pipe", "pipe"], cwd: scratchDir });
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.on("error", (error) => resolve({ code: null, signal: null, error }));
    child.on("close", (code, sig) => resolve({ code, signal: sig }));
  });
  let killed: KillReason | undefined;
  let stopping: Promise<void> | undefined;
  const endsWithin = (ms: number) => Promise.race([ended.then(() => true), delay(ms).then(() => false)]);
  /**
   * Ends the job: the container (every process in it) is killed and
   * removed. A client that goes on had not made the container yet when it
   * was removed: it is asked to stop (SIGTERM: an engine's client killed
   * outright may leave its locks held), what it made meanwhile is removed,
   * and only then is it killed. The container is removed once more after
   * the client has exited.
   */
  const stop = (reason: KillReason) => {
    if (killed) return;
    killed = reason;
    stopping = (async () => {
      await removeContainer(engine, name);
      if (await endsWithin(1500)) return;
      child.kill("SIGTERM");
      await removeContainer(engine, name);
      if (await endsWithin(5000)) return;
      child.kill("SIGKILL");
    })();
  };
  const kept: { stdout: Buffer[]; stderr: Buffer[] } = { stdout: [], stderr: [] };
  let printed = 0;
  const collect = (which: "stdout" | "stderr") => (chunk: Buffer) => {
    const room = max - printed;
    printed += chunk.length;
    if (room > 0) kept[which].push(chunk.length <= room ? chunk : chunk.subarray(0, room));
    if (printed > max) stop("output-limit");
  };
  child.stdout.on("data", collect("stdout"));
  child.stderr.on("data", collect("stderr"));
  const timer = setTimeout(() => stop("timeout"), job.limits.timeoutMs);
  const onAbort = () => stop("cancelled");
  signal.addEventListener("abort", onAbort, { once: true });
  const stopWatching = watchDiskUsage(
    layout.writable.map((w) => w.hostDir),
    max,
    o.pollIntervalMs,
    () => stop("output-limit"),
  );
  let r;
  try {
    r = await ended;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
    stopWatching();
  }
  if (r.error) throw new SandboxError(`could not run ${engine.path}`, r.error.message);
  if (killed) {
    await stopping;
    await removeContainer(engine, name);
  } else if (r.code === null || r.code >= 125) {
    // --rm removes a container that ended by itself; one whose client died, or that never started, is removed here
    await removeContainer(engine, name);
  }

  const streams = finishStreams(Buffer.concat(kept.stdout), Buffer.concat(kept.stderr), max, printed > max);
  const exitCode = exitStatus(r.code ?? undefined, r.signal ?? undefined);
  if (!killed) {
    const failure = engineFailure(exitCode, streams.stderr);
    if (failure === "image-missing") return "image-missing";
    if (failure) throw new SandboxError(`${engine.kind} could not run the job`, failure);
  }
  return finishJob(layout, exitCode, streams, max, killed);
}

/**
 * The `run` arguments for a job, up to the image (exported for tests and
 * debugging). Both engines: `--rm`, no network, read-only root, a non-root
 * user without capabilities or privilege gain, CPU, memory (no swap) and
 * process limits, file-size and core rlimits, a /tmp tmpfs as large as the
 * output limit, the layout's mounts, the job's cwd and environment. podman
 * also: no /etc/hosts, no default environment, and `--timeout` (conmon kills
 * the container even if this process dies).
 */
export function containerRunArguments(job: Pick<CompileJob, "cwd" | "env" | "limits">, layout: Pick<JobLayout, "ops" | "systemDirs">, o: ParsedContainerOptions, engine: Pick<ContainerEngine, "kind" | "runtime">, name: string): string[] {
  const max = job.limits.maxOutputBytes;
  const a = ["--rm", "--name", name, "--label", `${JOB_LABEL}=1`, "--pull", "never", "--log-driver", "none"];
  a.push("--network", "none", "--read-only", "--user", `${o.uid}:${o.gid}`, "--hostname", "reprise");
  a.push("--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--cpus", String(o.cpus));
  if (engine.kind === "podman") {
    a.push("--no-hosts", "--read-only-tmpfs=false", "--unsetenv-all", "--timeout", String(Math.ceil(job.limits.timeoutMs / 1000) + 30));
  } else if (engine.runtime) {
    a.push("--runtime", engine.runtime);
  }
  if (job.limits.memoryBytes) a.push("--memory", String(job.limits.memoryBytes), "--memory-swap", String(job.limits.memoryBytes));
  if (job.limits.maxProcesses) a.push("--pids-limit", String(job.limits.maxProcesses));
  const ulimits: Record<string, string> = { ...defaultUlimits(), fsize: `${max + 1}:${max + 1}`, core: "0:0", ...o.ulimits };
  for (const [k, v] of Object.entries(ulimits)) a.push("--ulimit", `${k}=${v}`);
  if (layout.systemDirs.includes("/tmp")) a.push("--tmpfs", `/tmp:rw,nosuid,nodev,size=${max},mode=1777`);
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
  const n = Math.min(limits.get("Max open files") ?? 1_048_576, 1_048_576);
  const p = Math.min(limits.get("Max processes") ?? 32_768, 32_768);
  return { nofile: `${n}:${n}`, nproc: `${p}:${p}` };
}

/**
 * Exit statuses 125–127 with the engine's own message mean the container
 * did not start, or its program was not found in it: the message (or
 * "image-missing"); else undefined (the job's own status).
 */
function engineFailure(exitCode: number, stderr: Buffer): string | "image-missing" | undefined {
  if (exitCode < 125 || exitCode > 127) return undefined;
  const text = stderr.toString("utf8");
  if (exitCode === 125 && /image not known|No such image|Unable to find image/i.test(text)) return "image-missing";
  const m = /^(?:Error|docker|podman)\b.*:.*$/m.exec(text);
  return m ? m[0].trim() : undefined;
}

/** Kills the container (every process in it) and removes it; no error if it is already gone. */
async function removeContainer(engine: ContainerEngine, name: string): Promise<void> {
  // podman: --time 0 kills at once (its default waits 10 s after SIGTERM); docker's rm -f kills with SIGKILL
  const args = engine.kind === "podman" ? ["rm", "--force", "--time", "0", name] : ["rm", "--force", name];
  await engineCommand(engine, args, { timeout: 60_000 });
}

/** Runs a missing program in the empty probe image with a job's flags; a problem string, or undefined if the engine can run jobs. */
async function checkEngine(engine: ContainerEngine, images: ToolchainImages, o: ParsedContainerOptions): Promise<string | undefined> {
  let image: string;
  try {
    image = await images.probeImage();
  } catch (err) {
    return (err as Error).message;
  }
  const limits: JobLimits = { timeoutMs: 60_000, maxOutputBytes: 1024 ** 2, memoryBytes: 64 * 1024 ** 2, maxProcesses: 16 };
  const name = `${CONTAINER_PREFIX}probe-${randomBytes(6).toString("hex")}`;
  const args = containerRunArguments({ cwd: "/", env: { PATH: "/" }, limits }, { ops: [], systemDirs: ["/tmp"] }, o, engine, name);
  const r = await engineCommand(engine, ["run", ...args, image, PROBE_PROGRAM], { timeout: 120_000, env: { LC_ALL: "C" } });
  const text = `${String(r.stderr)}\n${String(r.stdout)}`;
  if (r.exitCode === 127 && /not found|no such file/i.test(text)) return undefined;
  await removeContainer(engine, name);
  return `it cannot run a container with a job's flags: ${firstLines(String(r.stderr)) || `exit status ${String(r.exitCode)}`}`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
