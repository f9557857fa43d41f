import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, posix } from "node:path";
import type { CompileJob, JobInput, JobLimits, JobMaterials } from "@reprise/core";

/**
 * A real toolchain root for sandbox tests, made without Reprise's own
 * packaging: the gcc driver at the path it is called by (with the symlinks on
 * the way, `/usr/bin/gcc` → `gcc-12`), `cc1`, `as`, every shared library `ldd`
 * lists for them and the loader, each at its own absolute path under the root.
 * With `busybox`, a static busybox and its applets in `/usr/bin` for jobs that
 * probe the sandbox (`sh`, `cat`, `sleep`, `yes`, `nc`, …).
 */
export function buildGccToolchainRoot(root: string, opts: { busybox?: boolean } = {}): { root: string; gcc: string } {
  mkdirSync(root, { recursive: true });
  const gcc = "/usr/bin/gcc";
  const programs = [gcc, progName("cc1"), progName("as")];
  const files = new Set<string>();
  for (const p of programs) {
    addPath(root, p);
    files.add(realpath(p));
  }
  for (const f of [...files]) for (const lib of sharedLibraries(f)) addPath(root, lib);
  if (opts.busybox) {
    const bb = findBusybox();
    addPath(root, "/usr/bin/busybox", bb);
    for (const applet of ["sh", "cat", "sleep", "yes", "nc", "touch", "ls", "head", "dd", "echo", "id", "mkdir", "rm", "wc", "env", "true", "false", "kill", "ps"]) {
      const at = join(root, "usr/bin", applet);
      if (!existsSync(at)) symlinkSync("busybox", at);
    }
  }
  return { root, gcc };
}

function progName(name: string): string {
  const out = execFileSync("gcc", [`-print-prog-name=${name}`], { encoding: "utf8" }).trim();
  if (out.startsWith("/")) return out;
  return execFileSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).trim();
}

function realpath(p: string): string {
  return execFileSync("realpath", [p], { encoding: "utf8" }).trim();
}

function sharedLibraries(file: string): string[] {
  let text: string;
  try {
    text = execFileSync("ldd", [file], { encoding: "utf8" });
  } catch {
    return []; // static
  }
  const libs: string[] = [];
  for (const m of text.matchAll(/(?:=>\s*)?(\/\S+)\s+\(0x/g)) libs.push(m[1]!);
  return libs;
}

function findBusybox(): string {
  for (const p of ["/usr/bin/busybox", "/bin/busybox"]) if (existsSync(p)) return p;
  throw new Error("busybox-static is not installed");
}

/**
 * Copies host path `path` to the same path under `root`, recreating each
 * symlink met on the way with its own text (so the program is found at the
 * path it is called by) and the file it finally leads to. `from` copies
 * another host file to `path` instead.
 */
function addPath(root: string, path: string, from?: string): void {
  if (from) {
    mkdirSync(join(root, dirname(path)), { recursive: true });
    if (!existsSync(join(root, path))) copyFileSync(from, join(root, path));
    return;
  }
  const queue = path.split("/").filter(Boolean);
  let cur = "";
  let hops = 0;
  while (queue.length) {
    const c = queue.shift()!;
    if (c === ".") continue;
    if (c === "..") {
      cur = posix.dirname(cur || "/");
      if (cur === "/") cur = "";
      continue;
    }
    const host = `${cur}/${c}`;
    const st = lstatSync(host);
    const inRoot = join(root, host);
    if (st.isSymbolicLink()) {
      if (++hops > 40) throw new Error(`symlink loop at ${host}`);
      const text = readlinkSync(host);
      if (!existsSync(inRoot) && !isLink(inRoot)) {
        mkdirSync(dirname(inRoot), { recursive: true });
        symlinkSync(text, inRoot);
      }
      if (text.startsWith("/")) cur = "";
      queue.unshift(...text.split("/").filter(Boolean));
      continue;
    }
    if (st.isDirectory()) {
      mkdirSync(inRoot, { recursive: true });
    } else if (!existsSync(inRoot)) {
      mkdirSync(dirname(inRoot), { recursive: true });
      copyFileSync(host, inRoot);
      chmodSync(inRoot, st.mode & 0o777);
    }
    cur = host;
  }
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}

/** A content-addressed store of job inputs, like the engine's: `<dir>/<sha256>`, read-only files. */
export class TestInputStore {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  blobPath = (hash: string): string => join(this.dir, hash);

  put(path: string, executable = false): JobInput {
    const data = readFileSync(path);
    const hash = createHash("sha256").update(data).digest("hex");
    const blob = this.blobPath(hash);
    if (!existsSync(blob)) {
      writeFileSync(blob, data);
      chmodSync(blob, 0o444);
    }
    return { path, hash, size: statSync(path).size, ...(executable ? { executable: true } : {}) };
  }

  /** The inputs of a gcc compile: `gcc -M` with the same arguments, every file listed. */
  closure(argv: string[], cwd: string): JobInput[] {
    const depFile = join(this.dir, `.deps-${process.pid}-${Math.random().toString(36).slice(2)}.d`);
    const args = argv.slice(1).filter((a, i, all) => a !== "-c" && a !== "-o" && all[i - 1] !== "-o");
    execFileSync(argv[0]!, [...args, "-M", "-MF", depFile], { cwd });
    const text = readFileSync(depFile, "utf8").replace(/\\\n/g, " ");
    rmSync(depFile);
    const paths = text
      .slice(text.indexOf(":") + 1)
      .split(/\s+/)
      .filter(Boolean)
      .map((p) => posix.resolve(cwd, p));
    return [...new Set(paths)].map((p) => this.put(p));
  }
}

export const TEST_LIMITS: JobLimits = { timeoutMs: 30_000, maxOutputBytes: 64 * 1024 ** 2, memoryBytes: 2 * 1024 ** 3, maxProcesses: 64 };

/** A job for `argv` in `cwd`, with its inputs and outputs. */
export function makeJob(argv: string[], cwd: string, inputs: JobInput[], outputs: CompileJob["outputs"], extra: Partial<CompileJob> = {}): CompileJob {
  return {
    toolchainId: "0".repeat(64),
    argv,
    cwd,
    env: { PATH: "/usr/bin:/bin", LANG: "C" },
    inputs,
    outputs,
    limits: TEST_LIMITS,
    ...extra,
  };
}

/** Materials for one job: a fresh scratch directory under `base`. */
export function makeMaterials(toolchainRoot: string, store: TestInputStore, base: string, signal: AbortSignal = new AbortController().signal): JobMaterials {
  mkdirSync(base, { recursive: true });
  return { toolchainRoot, inputBlob: store.blobPath, scratchDir: mkdtempSync(join(base, "job-")), signal };
}

/** A temporary directory removed by the returned function. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
