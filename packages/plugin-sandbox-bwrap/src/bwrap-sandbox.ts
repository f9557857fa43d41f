import { readFileSync } from "node:fs";
import { execa } from "execa";
import type { CompileJob, JobMaterials, JobResult, Sandbox } from "@reprise/core";
import { exitStatus, findProgram, finishJob, finishStreams, planJobLayout, SandboxError, versionAtLeast, watchDiskUsage, type JobLayout, type KillReason } from "@reprise/core/sandbox-kit";
import { parseBwrapOptions, type ParsedBwrapOptions } from "./options.js";

interface Ready {
  bwrap: string;
  version: string;
  prlimit?: string;
  /** `--disable-userns` and `--size` (bwrap 0.8). */
  modern: boolean;
}

const MIN_VERSION = "0.5.0";

/**
 * Runs jobs with bubblewrap: new namespaces for everything (network included),
 * the toolchain as the read-only root, the job's inputs read-only at their own
 * paths, a fresh writable directory at the job's cwd, and nothing else of the
 * host. The job runs as uid/gid 65534 with no capabilities; killing bwrap
 * (time limit, output limit, cancel) ends its pid namespace and so every
 * process of the job.
 */
export class BwrapSandbox implements Sandbox {
  readonly name = "bwrap";
  private readonly options: ParsedBwrapOptions | string;
  private readiness?: Promise<Ready | string>;

  constructor(options?: Record<string, unknown>) {
    this.options = parseBwrapOptions(options);
  }

  async probe(): Promise<{ usable: true } | { usable: false; reason: string }> {
    const r = await this.ready();
    return typeof r === "string" ? { usable: false, reason: r } : { usable: true };
  }

  /** bwrap's version and features once it has shown it can make namespaces here; a string says why not. */
  ready(): Promise<Ready | string> {
    this.readiness ??= this.check();
    return this.readiness;
  }

  private async check(): Promise<Ready | string> {
    const o = this.options;
    if (typeof o === "string") return `bwrap sandbox: ${o}`;
    const bwrap = findProgram(o.bwrap ?? "bwrap");
    if (!bwrap) return o.bwrap ? `bwrap not found at ${o.bwrap}` : "bwrap (bubblewrap) is not installed (apt-get install bubblewrap)";
    const v = await execa(bwrap, ["--version"], { reject: false, timeout: 10_000 });
    const version = /(\d+\.\d+(?:\.\d+)?)/.exec(String(v.stdout))?.[1];
    if (v.exitCode !== 0 || !version) return `${bwrap} --version failed: ${String(v.stderr || v.stdout).trim()}`;
    if (!versionAtLeast(version, MIN_VERSION)) return `bubblewrap ${version} is too old (${MIN_VERSION} or later is needed)`;
    const modern = versionAtLeast(version, "0.8.0");
    let prlimit: string | undefined;
    if (o.prlimit !== false) {
      prlimit = findProgram(o.prlimit ?? "prlimit");
      if (!prlimit && o.prlimit) return `prlimit not found at ${o.prlimit}`;
    }
    const trial = await execa(
      bwrap,
      ["--unshare-all", "--unshare-user", ...(modern ? ["--disable-userns"] : []), "--cap-drop", "ALL", "--die-with-parent", "--ro-bind", "/", "/", "--", "true"],
      { reject: false, timeout: 20_000, env: {}, extendEnv: false },
    );
    if (trial.exitCode !== 0) return `bwrap cannot create namespaces here: ${String(trial.stderr).trim() || `exit status ${trial.exitCode}`}${userNamespaceHint()}`;
    return { bwrap, version, modern, ...(prlimit ? { prlimit } : {}) };
  }

  async run(job: CompileJob, materials: JobMaterials): Promise<JobResult> {
    const ready = await this.ready();
    if (typeof ready === "string") throw new SandboxError("bwrap sandbox unusable", ready);
    const o = this.options as ParsedBwrapOptions;
    const max = job.limits.maxOutputBytes;
    if (materials.signal.aborted) return { exitCode: 128 + 9, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), outputs: [], killed: "cancelled" };

    const layout = planJobLayout(job, materials, { base: "empty" });
    const argv = bwrapArguments(job, layout, o, ready);
    const limits = [`--fsize=${max + 1}:${max + 1}`, "--core=0:0"];
    if (o.limitAddressSpace && job.limits.memoryBytes) limits.push(`--as=${job.limits.memoryBytes}:${job.limits.memoryBytes}`);
    const [file, args] = ready.prlimit ? [ready.prlimit, [...limits, "--", ready.bwrap, ...argv]] : [ready.bwrap, argv];

    let killed: KillReason | undefined;
    const child = execa(file, args, {
      env: {},
      extendEnv: false,
      stdio: ["ignore", "pipe", "pipe", "pipe"],
      encoding: "buffer",
      stripFinalNewline: false,
      maxBuffer: { stdout: max, stderr: max, fd3: 1 << 20 },
      timeout: job.limits.timeoutMs,
      cancelSignal: materials.signal,
      killSignal: "SIGKILL",
      forceKillAfterDelay: false,
      reject: false,
    });
    const stopForOutput = () => {
      killed ??= "output-limit";
      child.kill("SIGKILL");
    };
    let printed = 0;
    const count = (chunk: Uint8Array) => {
      printed += chunk.length;
      if (printed > max) stopForOutput();
    };
    child.stdout?.on("data", count);
    child.stderr?.on("data", count);
    const stopWatching = watchDiskUsage(
      layout.writable.map((w) => w.hostDir),
      max,
      o.pollIntervalMs,
      stopForOutput,
    );
    const r = await child;
    stopWatching();

    if (!killed) {
      if (r.timedOut) killed = "timeout";
      else if (r.isCanceled) killed = "cancelled";
      else if (r.isMaxBuffer) killed = "output-limit";
    }
    const streams = finishStreams(r.stdout, r.stderr, max, r.isMaxBuffer);
    const status = parseStatus(r.stdio[3]);
    if (!killed && status === undefined) throw new SandboxError("bwrap could not run the job", String(Buffer.from(r.stderr as Uint8Array)).trim() || `exit status ${r.exitCode}`);
    const exitCode = status ?? exitStatus(r.exitCode, r.signal);
    return finishJob(layout, exitCode, streams, max, killed);
  }
}

/** The bwrap command line for a job, without the program (for tests and debugging). */
export function bwrapArguments(job: CompileJob, layout: JobLayout, o: Pick<ParsedBwrapOptions, "uid" | "gid" | "hostname">, features: { modern: boolean }): string[] {
  const a: string[] = [
    "--unshare-all",
    "--unshare-user",
    ...(features.modern ? ["--disable-userns"] : []),
    "--cap-drop",
    "ALL",
    "--uid",
    String(o.uid),
    "--gid",
    String(o.gid),
    "--hostname",
    o.hostname,
    "--die-with-parent",
    "--new-session",
    "--json-status-fd",
    "3",
    "--clearenv",
  ];
  for (const [k, v] of Object.entries(job.env)) a.push("--setenv", k, v);
  for (const dir of layout.systemDirs) {
    if (dir === "/proc") a.push("--proc", dir);
    else if (dir === "/dev") a.push("--dev", dir);
    else if (features.modern) a.push("--size", String(job.limits.maxOutputBytes), "--tmpfs", dir);
    else a.push("--tmpfs", dir);
  }
  for (const op of layout.ops) {
    if (op.op === "ro-bind") a.push("--ro-bind", op.source, op.target);
    else if (op.op === "bind") a.push("--bind", op.source, op.target);
    else if (op.op === "dir") a.push("--dir", op.target);
    else a.push("--symlink", op.linkText, op.target);
  }
  if (!layout.writable.some((w) => w.path === "/")) a.push("--remount-ro", "/");
  a.push("--chdir", job.cwd, "--", ...job.argv);
  return a;
}

function parseStatus(fd3: unknown): number | undefined {
  const text = fd3 instanceof Uint8Array ? Buffer.from(fd3).toString("utf8") : String(fd3 ?? "");
  const m = /"exit-code"\s*:\s*(\d+)/.exec(text);
  return m ? Number(m[1]) : undefined;
}

function userNamespaceHint(): string {
  const read = (p: string) => {
    try {
      return readFileSync(p, "utf8").trim();
    } catch {
      return undefined;
    }
  };
  if (read("/proc/sys/kernel/unprivileged_userns_clone") === "0") return " (kernel.unprivileged_userns_clone is 0)";
  if (read("/proc/sys/user/max_user_namespaces") === "0") return " (user.max_user_namespaces is 0)";
  if (read("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") === "1") return " (AppArmor restricts unprivileged user namespaces: kernel.apparmor_restrict_unprivileged_userns is 1)";
  return "";
}
