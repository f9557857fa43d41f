import { statSync } from "node:fs";
import { resolve } from "node:path";
import type { CompileReads, DependencyListInput, ParseInput, ReadIdentity } from "@reprise/core";
import { parseDepFile } from "@reprise/core";
import { readTraceLibrary } from "./read-trace.js";

/**
 * How a compile that writes the user's own `-MMD` file (system headers left
 * out) lists every file it read in the same run, so direct mode needs no
 * second `-M` scan:
 *  - "read-trace" (GCC): `read-trace.so` preloaded into cc1 records the
 *    paths cc1 opened for reading. Options would not do: GCC 12 records `-H`
 *    in the debug info's producer string, and has one dependency file only.
 *  - "dependency-dot" (clang): cc1's `-dependency-dot <file>` graph names
 *    every file reached by an `#include`, system headers too, and changes no
 *    output. (`-H` would not do: clang's driver then lists system headers in
 *    the `-MMD` file as well.)
 * Either list is checked against the user's dependency file before it is
 * used; when it cannot be (or is not complete), the engine scans as before.
 * GCC's trace also gives each file's identity as cc1 read it, so it is
 * loaded into every GCC miss, `-MD` ones too (see `listFromReadTrace`).
 * "read-trace-in-driver" (clang without `-MMD`): the same trace, taken in
 * every process of the compile, since clang's compiler runs inside its
 * driver, for the identities only (its dependency file lists the files).
 * LLVM maps larger files into memory and reads them after closing them:
 * those are traced without an identity (read-trace.c).
 */
export type CompileListing = "read-trace" | "read-trace-in-driver" | "dependency-dot";

export interface ListingPlan {
  listFile: string;
  /** For the miss's own compile only. */
  listEnv?: Record<string, string>;
  /** Appended to the compile's command line (never to a job's). */
  compileArgs?: string[];
}

/** Options after which clang's graph could miss a file or name it in a way not read back here. */
const DOT_UNSAFE = /^(-include|-imacros|--include|--imacros|-isysroot|--sysroot|-Xclang|-fmodules|-fcxx-modules|-fmodule-|-fsanitize|-fprofile|-fxray)/;

/** How this call's compile can list what it read, if it can. */
export function planListing(listing: CompileListing, input: ParseInput, args: readonly string[]): ListingPlan | undefined {
  if (listing === "dependency-dot") {
    if (args.some((a) => DOT_UNSAFE.test(a))) return undefined;
    const listFile = input.tempPath(".deps.dot");
    return { listFile, compileArgs: ["-Xclang", "-dependency-dot", "-Xclang", listFile] };
  }
  const library = input.compiler.data?.readTrace === true ? readTraceLibrary() : undefined;
  // A trace already asked for by someone else is theirs to keep.
  if (!library || input.env.REPRISE_READ_TRACE !== undefined) return undefined;
  const listFile = input.tempPath(".reads");
  const preload = input.env.LD_PRELOAD ? `${input.env.LD_PRELOAD}:${library}` : library;
  const everyProcess = listing === "read-trace-in-driver" ? "1" : "0";
  return { listFile, listEnv: { LD_PRELOAD: preload, REPRISE_READ_TRACE: listFile, REPRISE_READ_TRACE_ALL: everyProcess } };
}

/**
 * `listDependencies` for GCC, from a whole trace (cc1 exited normally):
 *  - the identity cc1 took of each file it read (`#id` lines), except for a
 *    path seen with two identities (it changed during the compile);
 *  - the paths cc1 opened for reading, when the compile's own dependency file
 *    is incomplete (`-MMD`: a scan would run) and the trace is complete and
 *    covers that file. Otherwise the dependency file lists them (`-MD`, or
 *    one the plugin added), or the scan runs.
 * Runs on every GCC miss: plain string slicing, no per-line regex or number parsing.
 */
export function listFromReadTrace(input: DependencyListInput): CompileReads | null {
  const { listed, cwd } = input;
  if (listed === undefined) return null;
  const lines = listed.split("\n");
  if (lines.pop() !== "" || lines.pop() !== "#end") return null;
  const wanted = input.invocation.dependencies.scanArgv !== undefined;
  const files = new Set<string>();
  const identities = new Map<string, ReadIdentity>();
  const changed: string[] = [];
  let complete = true;
  for (const line of lines) {
    const idEnd = line.startsWith("#id ") ? identityEnd(line) : -1;
    // Another marker (a second cc1, "#incomplete"): the list is not whole; the identities still hold.
    if (idEnd < 0 && line.startsWith("#")) {
      complete = false;
      continue;
    }
    const path = idEnd < 0 ? line : line.slice(idEnd + 1);
    // A precompiled header read: the scan knows better.
    if (path.endsWith(".gch") || path.endsWith(".pch")) complete = false;
    if (!path || path.startsWith("/proc/") || path.startsWith("/dev/") || path.startsWith("/sys/")) continue;
    const absolute = isNormalAbsolute(path) ? path : resolve(cwd, path);
    if (wanted) files.add(absolute);
    if (idEnd < 0) continue;
    const identity = line.slice(4, idEnd);
    const earlier = identities.get(absolute);
    if (earlier !== undefined && earlier !== identity) changed.push(absolute);
    identities.set(absolute, identity);
  }
  for (const path of changed) identities.delete(path);
  const list = wanted && complete && coversDependencyFile(input, files) ? [...files] : undefined;
  return { ...(list ? { files: list } : {}), identities };
}

/** Where the five numbers of a `#id DEV INO SIZE MTIME_NS CTIME_NS PATH` line end (the space before the path); -1 if malformed. */
function identityEnd(line: string): number {
  let at = 3;
  for (let field = 0; field < 5; field++) {
    const next = line.indexOf(" ", at + 1);
    if (next < 0 || next === at + 1) return -1;
    at = next;
  }
  return at;
}

/** Already what `resolve` would give: absolute, no `.` or `..` segment, no doubled or trailing slash. */
function isNormalAbsolute(path: string): boolean {
  return path.startsWith("/") && !path.includes("/./") && !path.includes("/../") && !path.includes("//") && !path.endsWith("/.") && !path.endsWith("/..") && (path.length === 1 || !path.endsWith("/"));
}

/** `listDependencies` for clang: its `-dependency-dot` graph (`-MMD`), or its read trace (the identities only). */
export function listForClang(input: DependencyListInput): string[] | CompileReads | null {
  return input.listed?.startsWith("digraph") ? listFromDependencyDot(input) : listFromReadTrace(input);
}

/** The nodes of cc1's `-dependency-dot` graph (absolute paths lose their leading `/` there). */
export function listFromDependencyDot(input: DependencyListInput): string[] | null {
  const { listed, cwd } = input;
  if (listed === undefined || !listed.startsWith("digraph") || !listed.trimEnd().endsWith("}")) return null;
  const files = new Set<string>();
  for (const m of listed.matchAll(/\blabel="((?:[^"\\]|\\.)*)"\];$/gm)) {
    const label = m[1]!;
    // Escapes (and tabs turned into spaces) are not read back: the scan is exact.
    if (label.includes("\\") || label.includes("  ")) return null;
    const candidates = label.startsWith("/") ? [label] : [resolve("/", label), resolve(cwd, label)];
    const found = candidates.filter(isFile);
    if (!found.length) return null;
    // When both exist, both are kept: a file the compile did not read only makes a later hit less likely.
    for (const f of found) files.add(f);
  }
  return coversDependencyFile(input, files) ? [...files] : null;
}

/** The source and every file of the user's own dependency file (when there is one) are in `files`. */
function coversDependencyFile(input: DependencyListInput, files: Set<string>): boolean {
  if (!files.has(input.invocation.sourceFile)) return false;
  if (input.depText === undefined) return input.invocation.dependencies.depFile === undefined;
  return parseDepFile(input.depText, input.cwd).every((f) => files.has(f));
}

function isFile(path: string): boolean {
  return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
}
