import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { unlink } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { ClosureScan, CompileInvocation, CompileRequest } from "../engine/types.js";
import { parseDepFileWithEnv } from "../engine/dep-file.js";
import type { FileDigest, FileHashCache } from "../hashing/file-hash-cache.js";
import type { CompileJob, JobLimits } from "../sandbox/types.js";
import type { CompiledInputs, DependencyListInput, ReadIdentity } from "../engine/hooks.js";
import { changedSince } from "../engine/fallback-timing.js";
import { resolveHasIncludes } from "./has-include.js";
import { hostContextFiles } from "./host-context.js";
import { precompiledBeside } from "./precompiled-headers.js";
import { runScan } from "./run-scan.js";
import type { InputStore } from "./input-store.js";

/** A job, or why this call cannot be one (`reason` is counted in stats as a fallback). */
export type JobPlan = { ok: true; job: CompileJob; closureFrom: ClosureSource; read: CompiledInputs } | { ok: false; reason: string; detail: string };

/**
 * Where a job's closure came from: the plugin's scan, the lookup's own
 * preprocessing, the call's dependency scan shared with the engine, or a list
 * the caller remembered (`BuildJobOptions.closure`: a guess its caller checks
 * after the job).
 */
export type ClosureSource = "scan" | "preprocessing" | "dependency-scan" | "remembered";

export interface BuildJobOptions {
  /** The runner is one a descriptor's requirements select, so `needsRunner` is met. */
  vouched?: boolean;
  /**
   * The dependency file of this call's own preprocessing, when the lookup
   * ran it (MissContext.preprocessDeps): with a plugin that says it lists
   * what the closure scan would (`sameAsPreprocessDeps`), no scan runs.
   */
  preprocessDeps?: string;
  /**
   * The call's dependency scan, shared with the engine
   * (MissContext.dependencyScan): with a plugin that says it lists what the
   * closure scan would (`sameAsDependencyScan`), the job takes its list and
   * the call preprocesses once.
   */
  dependencyScan?: () => Promise<string | undefined>;
  /**
   * Tokens to hash the inputs with, beside `__has_include` (MissContext.fileHashes):
   * the ones the engine's store uses, so both take one digest per file.
   */
  tokens?: readonly string[];
  /**
   * The identities a closure scan that lists what it read (`closureScan.listFile`)
   * took of each file, from that list (the family's `listDependencies` tap,
   * `identitiesFromList`): a file the hash cache holds under the identity the
   * scan took is not stat'ed again.
   */
  readIdentities?: (input: DependencyListInput) => ReadonlyMap<string, ReadIdentity> | undefined;
  /**
   * The files to carry, remembered from an earlier compile of this source
   * (absolute): no scan runs. Nothing says the compile reads only these: the
   * caller must check its result against the compile's own dependency file
   * (MissContext.closureHoldsHere) and build the job again without it when
   * that fails.
   */
  closure?: readonly string[];
}

export const DEFAULT_LIMITS: JobLimits = {
  timeoutMs: 10 * 60_000,
  maxOutputBytes: 1024 ** 3,
  memoryBytes: 4 * 1024 ** 3,
  maxProcesses: 256,
};

/** Variables naming host directories for temporary files, which a sandbox does not have: it gives the job `/tmp`. */
const DROPPED_ENV = ["TMPDIR", "TMP", "TEMP"];

/** The locale and time zone reach diagnostics and `__DATE__`; their files are carried (see host-context.ts), so are they. */
const CONTEXT_ENV = ["LANG", "LANGUAGE", "LOCPATH", "TZ", "TZDIR"];
const CONTEXT_ENV_PREFIXES = ["LC_"];

/**
 * The part of the caller's environment a job carries: `keyEnv`, the
 * plugin's `jobEnv` and the locale and time zone, never the rest (a token in
 * the caller's environment must not reach a sandbox, still less a builder).
 */
export function jobEnvironment(env: Readonly<Record<string, string>>, inv: Pick<CompileInvocation, "keyEnv" | "jobEnv">): Record<string, string> {
  const names = new Set([...inv.keyEnv, ...(inv.jobEnv?.names ?? []), ...CONTEXT_ENV]);
  const prefixes = [...(inv.jobEnv?.prefixes ?? []), ...CONTEXT_ENV_PREFIXES];
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (DROPPED_ENV.includes(k)) continue;
    if (names.has(k) || prefixes.some((p) => k.startsWith(p))) out[k] = v;
  }
  return out;
}

/** The role of the temporary dependency file a plugin added, carried back so direct mode can read it. */
export const DEP_FILE_ROLE = "reprise:depfile";

const PROBE_TOKENS = ["__has_include"];

const fail = (reason: string, detail: string): JobPlan => ({ ok: false, reason, detail });

/**
 * Why this call cannot become a job, from the invocation alone (no toolchain
 * or file is looked at): callers ask before packaging a toolchain. `vouched`:
 * the runner is one a descriptor's requirements select, so `needsRunner` is met.
 */
export function jobRefusal(inv: CompileInvocation, runner: { vouched?: boolean } = {}): (JobPlan & { ok: false }) | undefined {
  if (inv.loadsCode?.length) return { ok: false, reason: "hermetic-loads-code", detail: `${inv.loadsCode.join(" ")}: the closure scan would run it outside the sandbox` };
  if (inv.unportable) return { ok: false, reason: "hermetic-unportable", detail: inv.unportable };
  if (inv.localOnly) return { ok: false, reason: `hermetic-${inv.localOnly.reason}`, detail: inv.localOnly.detail };
  if (inv.needsRunner && !runner.vouched) return { ok: false, reason: `hermetic-${inv.needsRunner.reason}`, detail: inv.needsRunner.detail };
  if (!inv.closureScan) return { ok: false, reason: "hermetic-no-closure", detail: "the compiler plugin gives no closure scan for this call" };
  return undefined;
}

/**
 * Turns a cacheable call into a job that carries its source and every file it
 * reads, by content hash: runs the plugin's closure scan, adds the files that
 * `__has_include` probes would find and the locale and time-zone files of the
 * call's environment, and stores each input in the input store.
 *
 * Whatever could make the job compile differently from a local compile ends
 * in `ok: false` (the call is then compiled locally): no closure scan, a
 * failing scan (the local compile reports the error), a `__has_include` whose
 * argument is a macro, a precompiled header next to an included one, a
 * response file, a `PWD` spelling the directory through a symlink (GCC and
 * LLVM take it for the compile directory), an output directory that does not
 * exist, an input that changed while it was stored.
 */
export async function buildJob(
  request: CompileRequest,
  inv: CompileInvocation,
  toolchainId: string,
  inputs: InputStore,
  hashes: FileHashCache,
  limits: JobLimits = DEFAULT_LIMITS,
  options: BuildJobOptions = {},
): Promise<JobPlan> {
  const refused = jobRefusal(inv, options);
  if (refused) return refused;
  if (!inv.closureScan) return fail("hermetic-no-closure", "the compiler plugin gives no closure scan for this call");
  const argv = inv.jobArgv ?? inv.compileArgv;
  const responseFile = argv.slice(1).find((a) => a.length > 1 && a.startsWith("@") && existsSync(resolve(request.cwd, a.slice(1))));
  if (responseFile) return fail("hermetic-response-file", responseFile);
  const pwd = request.env.PWD;
  if (pwd && pwd !== request.cwd && sameDirectory(pwd, request.cwd)) return fail("hermetic-pwd-symlink", `PWD=${pwd} names ${request.cwd} through a symlink`);
  for (const out of inv.outputs) {
    if (!isDirectory(dirname(out.path))) return fail("hermetic-output-dir-missing", out.path);
  }
  const context = hostContextFiles(request.env);
  if (context.unsupported) return fail("hermetic-locale", context.unsupported);

  const scanned = options.closure
    ? { ok: true as const, closure: [...options.closure], env: [], from: "remembered" as const, identities: undefined, scanStart: 0 }
    : await closureOf(request, inv, inv.closureScan, options);
  if (!scanned.ok) return scanned;
  const { closure, env: envDeps, from: closureFrom, identities, scanStart } = scanned;
  const tokens = options.tokens?.length ? [...new Set([...options.tokens, ...PROBE_TOKENS])] : PROBE_TOKENS;
  if (!closure.includes(inv.sourceFile)) closure.unshift(inv.sourceFile);
  const pch = precompiledBeside(closure);
  if (pch) return fail("hermetic-pch", `${pch} has a precompiled header beside it`);
  // Hashed with the probe token: the daemon's hash cache then tells, without reading, which files probe.
  const digests = new Map<string, FileDigest>();
  // A file hashed just now is stored from those bytes at once (not read and hashed again, not kept alive meanwhile);
  // the loop below then finds its blob marked used.
  const digestOf = async (path: string) => {
    const found = await hashes.digestAndBytes(path, tokens);
    if (found?.data) await inputs.putFile(path, found.digest.hash, found.data);
    return found?.digest;
  };
  for (const path of closure) {
    // What the scan read, when its content is remembered under the identity the scan took after the call began (and
    // that identity is settled then): no stat. Else most headers are known and unchanged: a stat, without a promise.
    const digest = asScanned(hashes, path, tokens, identities?.get(path), scanStart) ?? (await knownOrRead(hashes, path, tokens, digestOf));
    if (!digest) return fail("hermetic-input-unreadable", path);
    digests.set(path, digest);
  }
  const withProbes = new Set([...digests].filter(([, d]) => d.tokens.some((t) => PROBE_TOKENS.includes(t))).map(([p]) => p));
  const probes = resolveHasIncludes(closure, inv.includeDirs ?? [], withProbes, (f) => digests.get(f)?.hash);
  if (probes.unresolvable.length) return fail("hermetic-has-include", probes.unresolvable[0]!);

  const extra = new Set(inv.extraInputFiles.map((f) => resolve(request.cwd, f)));
  const files = [...new Set([...closure, ...probes.extraFiles, ...extra, ...context.files])];
  const jobInputs: CompileJob["inputs"] = [];
  for (const path of files) {
    const digest = digests.get(path) ?? (await digestOf(path));
    if (!digest) return fail("hermetic-input-unreadable", path);
    digests.set(path, digest);
    if (!(await inputs.putFile(path, digest.hash))) return fail("hermetic-input-changed", path);
    // A plugin the compiler loads (-fplugin=) keeps its execute bit; headers never need one.
    const executable = extra.has(path) && (statSync(path).mode & 0o111) !== 0;
    jobInputs.push({ path, hash: digest.hash, size: digest.size, ...(executable ? { executable: true } : {}) });
  }
  // Include directories the compile names exist in the sandbox even when no carried file lies in them
  // (-Wmissing-include-dirs warns about those that do not).
  const directories = [...new Set((inv.includeDirs ?? []).filter(isDirectory))];

  const outputs: CompileJob["outputs"] = inv.outputs.map((o) => ({ role: o.role, path: o.path, ...(o.optional ? { optional: true } : {}) }));
  if (inv.dependencies.depFileIsTemporary && inv.dependencies.depFile) outputs.push({ role: DEP_FILE_ROLE, path: inv.dependencies.depFile });
  const env = { ...jobEnvironment(request.env, inv), ...context.env };
  // Variables the scan says the compile read (rustc's `# env-dep:` lines for env!): the job sees them as the compile here does.
  for (const dep of envDeps) {
    const value = request.env[dep.name];
    if (value !== undefined && !DROPPED_ENV.includes(dep.name)) env[dep.name] = value;
  }
  return {
    ok: true,
    job: { toolchainId, argv: [...argv], cwd: request.cwd, env, inputs: jobInputs, outputs, limits, ...(directories.length ? { directories } : {}) },
    closureFrom,
    // The job carries these bytes (content-addressed): its compile reads exactly what they name (MissCompileResult.inputs).
    read: { tokens, digests, listedBy: closureFrom === "scan" || closureFrom === "remembered" ? "own" : closureFrom },
  };
}

/**
 * The files the compile reads, from the plugin's closure scan, or from the
 * lookup's own preprocessing when it ran and lists the same, or from the
 * call's dependency scan the engine runs anyway (no second `-M` run of the
 * compiler: the spawn is most of a job's cost here).
 */
async function closureOf(
  request: CompileRequest,
  inv: CompileInvocation,
  scan: ClosureScan,
  { preprocessDeps, dependencyScan, readIdentities }: BuildJobOptions,
): Promise<
  | { ok: true; closure: string[]; env: { name: string; value: string | null }[]; from: ClosureSource; identities?: ReadonlyMap<string, ReadIdentity>; scanStart: number }
  | (JobPlan & { ok: false })
> {
  let listed: ReturnType<typeof parseDepFileWithEnv>;
  let identities: ReadonlyMap<string, ReadIdentity> | undefined;
  const scanStart = Date.now();
  const from: ClosureSource =
    scan.sameAsPreprocessDeps && preprocessDeps !== undefined ? "preprocessing" : scan.sameAsDependencyScan && dependencyScan ? "dependency-scan" : "scan";
  if (from === "preprocessing") {
    listed = parseDepFileWithEnv(preprocessDeps!, request.cwd);
  } else if (from === "dependency-scan") {
    const text = await dependencyScan!();
    // A failing scan: the local compile reports the error, as with the closure scan.
    if (text === undefined) return fail("hermetic-scan-failed", "the dependency scan failed") as JobPlan & { ok: false };
    listed = parseDepFileWithEnv(text, request.cwd);
  } else {
    try {
      const scanEnv = { ...(inv.compileEnv ?? request.env), ...scan.setEnv };
      const run = await runScan(scan.argv, request.cwd, scanEnv);
      if (run.exitCode !== 0) return fail("hermetic-scan-failed", run.stderr.slice(0, 500)) as JobPlan & { ok: false };
      const depText = readFileSync(scan.depFile, "utf8");
      listed = parseDepFileWithEnv(depText, request.cwd);
      if (scan.listFile && readIdentities) identities = readIdentities({ invocation: inv, cwd: request.cwd, listed: readOrUndefined(scan.listFile), depText });
    } finally {
      await unlink(scan.depFile).catch(() => {});
      if (scan.listFile) await unlink(scan.listFile).catch(() => {});
    }
  }
  const fromToolchain = scan.toolchainDirs ?? [];
  const closure = listed.files.filter((f) => !fromToolchain.some((d) => f.startsWith(d.endsWith("/") ? d : `${d}/`)));
  for (const c of scan.companions ?? []) {
    for (const f of [...closure]) {
      const companion = f.endsWith(c.suffix) ? f.slice(0, -c.suffix.length) + c.replacement : undefined;
      if (companion && !closure.includes(companion) && existsSync(companion)) closure.push(companion);
    }
  }
  return { ok: true, closure, env: listed.env, from, ...(identities?.size ? { identities } : {}), scanStart };
}

/**
 * The digest of `path` as the closure scan read it, without a stat: its
 * content is remembered under the identity the scan took of it, and that
 * identity had settled when the scan began (the rule the store applies to a
 * compile's identities). Undefined: take the digest the usual way.
 */
function asScanned(hashes: FileHashCache, path: string, tokens: readonly string[], identity: ReadIdentity | undefined, scanStart: number): FileDigest | undefined {
  if (identity === undefined) return undefined;
  const found = hashes.knownAsRead(path, identity, tokens);
  return found && !changedSince(found, scanStart) ? found.digest : undefined;
}

async function knownOrRead(hashes: FileHashCache, path: string, tokens: readonly string[], read: (path: string) => Promise<FileDigest | undefined>): Promise<FileDigest | undefined> {
  const known = hashes.known(path, tokens);
  return known === "unknown" ? await read(path) : known;
}

function readOrUndefined(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function sameDirectory(a: string, b: string): boolean {
  try {
    const sa = statSync(a);
    const sb = statSync(b);
    return sa.isDirectory() && sa.dev === sb.dev && sa.ino === sb.ino && realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}
