/**
 * Farm jobs without a closure scan (docs/dist-design.md, "Speculative
 * jobs"): a miss whose source this client sent before carries the files that
 * job's compile read, at their current digests, and no scan runs. Its result
 * is taken only when the compile's own dependency file names nothing the job
 * did not carry and the engine's absent-path check holds here
 * (MissContext.closureHoldsHere); otherwise the job is built again from a
 * scan. A wrong guess costs a second job, never a wrong output.
 */
import { LRUCache } from "lru-cache";
import { DEP_FILE_ROLE, parseDepFileWithEnv, PROBE_TOKEN, type CompileInvocation, type DepFileContents, type FileHashCache, type JobPlan, type MissContext } from "@reprise/core";
import type { ReceivedResult } from "./result-receiver.js";

/** Sources remembered per daemon: a build's worth. */
const REMEMBERED = 8192;

/** Where a job returns its compile's complete dependency file, when it does. */
export interface ReturnedDepFile {
  role: string;
}

/**
 * The job's output that lists every file its compile read: the plugin's
 * temporary dependency file, or the user's own when the plugin says it is
 * complete (no `scanArgv`: `-MD`, not `-MMD`). Undefined: no job of this call
 * can be checked, so none is speculative.
 */
export function returnedDepFile(inv: CompileInvocation): ReturnedDepFile | undefined {
  const deps = inv.dependencies;
  if (deps.none || !deps.depFile || deps.scanArgv) return undefined;
  if (deps.depFileIsTemporary) return { role: DEP_FILE_ROLE };
  const own = inv.outputs.find((o) => o.path === deps.depFile && !o.optional);
  return own ? { role: own.role } : undefined;
}

/** The files the last accepted job of each source read (the toolchain's aside), by compiler, directory, source and include directories. */
export class RememberedClosures {
  private readonly lists = new LRUCache<string, readonly string[]>({ max: REMEMBERED });

  get(ctx: MissContext): readonly string[] | undefined {
    return this.lists.get(keyOf(ctx));
  }

  set(ctx: MissContext, files: readonly string[]): void {
    this.lists.set(keyOf(ctx), files);
  }
}

/** Where a speculative job's files came from: its source's last job, or the compiler plugin's prediction (MissContext.predictReads). */
export type GuessFrom = "remembered" | "predicted";

/**
 * The files a job carries without a scan: the source's remembered list, else
 * (its first job here) the plugin's prediction, less the toolchain's
 * directories. Undefined: neither; the job is scanned.
 */
export async function guessedClosure(ctx: MissContext, closures: RememberedClosures): Promise<{ files: readonly string[]; from: GuessFrom } | undefined> {
  const remembered = closures.get(ctx);
  if (remembered) return { files: remembered, from: "remembered" };
  const predicted = await ctx.predictReads?.();
  if (!predicted) return undefined;
  const inToolchain = toolchainFilter(ctx.invocation);
  return { files: predicted.filter((f) => !inToolchain(f)), from: "predicted" };
}

function keyOf(ctx: MissContext): string {
  return JSON.stringify([ctx.compiler.identity, ctx.request.cwd, ctx.invocation.sourceFile, ctx.invocation.includeDirs ?? []]);
}

export type Verdict = { accepted: true; remember: string[] } | { accepted: false; reason: string; detail?: string };

/**
 * The dependency file each source's last job returned, parsed: a rebuild's
 * job of an edited source returns the same text, and the same text in the same
 * directory parses the same, so it is parsed once. Callers only read the lists.
 */
export class ParsedDepFiles {
  private readonly last = new LRUCache<string, { text: string; contents: DepFileContents }>({ max: REMEMBERED });

  parse(ctx: MissContext, text: string): DepFileContents {
    const key = keyOf(ctx);
    const known = this.last.get(key);
    if (known?.text === text) return known.contents;
    const contents = parseDepFileWithEnv(text, ctx.request.cwd);
    this.last.set(key, { text, contents });
    return contents;
  }
}

/** The compile's list of what it read, from the dependency file its job returned; undefined when it returned none. */
export function returnedList(ctx: MissContext, result: ReceivedResult, dep: ReturnedDepFile, parsed: ParsedDepFiles): DepFileContents | undefined {
  const data = result.outputs.find((o) => o.role === dep.role)?.data;
  return data ? parsed.parse(ctx, data.toString("utf8")) : undefined;
}

/**
 * What to remember of a scanned job for the next job of its source: the files
 * its compile read outside the toolchain's directories, and the files present
 * here that an include search could have found first but it did not read (a
 * job that carries them lets the check hold). Undefined when no later job
 * could pass the check (it read variables, or the include search is unknown).
 */
export async function toRemember(ctx: MissContext, plan: JobPlan & { ok: true }, listed: DepFileContents, hashes: FileHashCache): Promise<string[] | undefined> {
  if (!ctx.closureHoldsHere || listed.env.length) return undefined;
  const input = await checkInput(ctx, plan, listed, hashes);
  if ("notCarried" in input) return undefined;
  const check = await ctx.closureHoldsHere({ read: input.read, probing: input.probing, seen: () => true });
  return check.holds ? remembered(listed, check.unread, input.inToolchain) : undefined;
}

/**
 * Whether a speculative job's result is the one a compile here gives: it
 * succeeded (a failure may be a header it was not sent), read only files it
 * carried (so at the digests sent) or its toolchain's, and the include
 * search here finds nothing it could not see (`closureHoldsHere`). Accepted:
 * what to remember for the next job.
 */
export async function judgeSpeculation(
  ctx: MissContext,
  plan: JobPlan & { ok: true },
  exitCode: number,
  listed: DepFileContents | undefined,
  hashes: FileHashCache,
): Promise<Verdict> {
  if (exitCode !== 0) return { accepted: false, reason: "failed", detail: `exit status ${exitCode}` };
  if (!ctx.closureHoldsHere) return { accepted: false, reason: "no-check" };
  if (!listed) return { accepted: false, reason: "no-dependency-file" };
  // Variables the compile read (rustc's env!) were not remembered with the files.
  if (listed.env.length) return { accepted: false, reason: "env", detail: listed.env[0]!.name };
  const input = await checkInput(ctx, plan, listed, hashes);
  if ("notCarried" in input) return { accepted: false, reason: "not-carried", detail: input.notCarried };
  const carried = plan.read.digests;
  const check = await ctx.closureHoldsHere({ read: input.read, probing: input.probing, seen: (path) => carried.has(path) || input.inToolchain(path) });
  if (!check.holds) return { accepted: false, reason: check.reason, ...(check.path ? { detail: check.path } : {}) };
  return { accepted: true, remember: remembered(listed, check.unread, input.inToolchain) };
}

/** The check's files with the hashes the compile read: the job's digests, or the hash cache's for the toolchain's own; else the first file the job did not carry. */
async function checkInput(
  ctx: MissContext,
  plan: JobPlan & { ok: true },
  listed: DepFileContents,
  hashes: FileHashCache,
): Promise<{ read: Map<string, string>; probing: Set<string>; inToolchain: (path: string) => boolean } | { notCarried: string }> {
  const inToolchain = toolchainFilter(ctx.invocation);
  const read = new Map<string, string>();
  const probing = new Set<string>();
  for (const path of listed.files) {
    let digest = plan.read.digests.get(path);
    if (!digest && inToolchain(path)) digest = await hashes.digest(path, plan.read.tokens);
    if (!digest) return { notCarried: path };
    read.set(path, digest.hash);
    if (digest.tokens.includes(PROBE_TOKEN)) probing.add(path);
  }
  return { read, probing, inToolchain };
}

function remembered(listed: DepFileContents, unread: readonly string[], inToolchain: (path: string) => boolean): string[] {
  return [...new Set([...listed.files, ...unread])].filter((f) => !inToolchain(f));
}

/** Whether a path lies in the directories the job's toolchain brings (`closureScan.toolchainDirs`): never carried. */
function toolchainFilter(inv: CompileInvocation): (path: string) => boolean {
  const dirs = (inv.closureScan?.toolchainDirs ?? []).map((d) => (d.endsWith("/") ? d : `${d}/`));
  return dirs.length ? (path) => dirs.some((d) => path.startsWith(d)) : () => false;
}
