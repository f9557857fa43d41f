import { z } from "../util/zod.js";

/**
 * What plugins may return from the engine's hooks, checked at the hook
 * boundary (engine/tap-guard.ts) so that a plugin's mistake is reported with
 * its name and the field at fault instead of failing deep in the engine.
 * Only checked, never transformed: the plugin's own object goes on.
 */

const nonEmpty = z.string().min(1);
const absolutePath = nonEmpty.refine((p) => p.startsWith("/"), { message: "must be an absolute path" });
/** Every element a string, in one plain loop (an index loop: `every` would pass over the holes of a sparse array). */
function allStrings(list: unknown, min: number): boolean {
  if (!Array.isArray(list) || list.length < min) return false;
  for (let i = 0; i < list.length; i++) if (typeof list[i] !== "string") return false;
  return true;
}
/**
 * Lists of strings are checked as a whole, not element by element through the
 * schema's machinery: a rustc call's parse result holds several lists of ~100
 * arguments each, and checking them one by one was most of the cost of
 * checking the result (more than the parse itself, on every call).
 */
const stringList = z.custom<string[]>((v) => allStrings(v, 0), { message: "must be an array of strings" });
/** An argv: a non-empty list of strings. */
const argvList = z.custom<string[]>((v) => allStrings(v, 1), { message: "must be a non-empty array of strings" });
const fn = z.custom<(...args: unknown[]) => unknown>((v) => typeof v === "function", { message: "must be a function" });

export const compilerDetectionSchema = z.object({
  family: nonEmpty,
  path: absolutePath,
  realPath: absolutePath,
  version: z.string(),
  versionText: z.string(),
  target: z.string().optional(),
  identityFiles: z.array(absolutePath).optional(),
  data: z.record(z.string(), z.unknown()).optional(),
});

export const compileInvocationSchema = z.object({
  language: nonEmpty,
  sourceFile: absolutePath,
  outputs: z.array(
    z.object({
      role: nonEmpty,
      path: absolutePath,
      optional: z.boolean().optional(),
      executable: z.boolean().optional(),
      adapt: z.record(z.string(), z.unknown()).optional(),
    }),
  ),
  keyArgs: stringList,
  preprocessorOnlyArgs: stringList,
  compileArgv: argvList,
  preprocessArgv: argvList.optional(),
  preprocessDepFile: absolutePath.optional(),
  dependencies: z.object({
    none: z.boolean().optional(),
    depFile: z.string().optional(),
    depFileIsTemporary: z.boolean().optional(),
    scanArgv: argvList.optional(),
    scanDepFile: z.string().optional(),
    listFile: absolutePath.optional(),
    listEnv: z.record(z.string(), z.string()).optional(),
  }),
  closureScan: z
    .object({ argv: argvList, depFile: nonEmpty, setEnv: z.record(z.string(), z.string()).optional(), listFile: nonEmpty.optional(), toolchainDirs: z.array(nonEmpty).optional(),
      companions: z.array(z.object({ suffix: nonEmpty, replacement: nonEmpty })).optional(),
      sameAsPreprocessDeps: z.boolean().optional(),
      sameAsDependencyScan: z.boolean().optional(),
    })
    .optional(),
  includeDirs: stringList.optional(),
  includeSearchArgv: argvList.optional(),
  keyEnv: stringList,
  volatileMarkers: z.array(z.object({ token: nonEmpty, effect: z.enum(["date", "uncacheable"]) })),
  dependsOnCwd: z.boolean(),
  preprocessedDeterminesOutputs: z.boolean().optional(),
  textDigest: z.object({ dialect: nonEmpty }).optional(),
  pathRecording: z
    .object({
      debugInfo: z.boolean(),
      debugMaps: z.array(absolutePath),
      fileTokens: z.array(nonEmpty),
      macroMaps: z.array(absolutePath),
      unmappable: z.boolean(),
      relocatable: z.object({ outputs: z.array(nonEmpty), streams: z.boolean() }).optional(),
      bindingMarkers: z
        .object({
          names: z.array(nonEmpty),
          filesIn: z.object({ dirs: z.array(absolutePath), pattern: nonEmpty }).optional(),
          outputsShow: z.boolean(),
          shownIn: z.array(absolutePath).optional(),
        })
        .optional(),
    })
    .optional(),
  colorDiagnostics: z.boolean(),
  extraInputFiles: stringList,
  compileEnv: z.record(z.string(), z.string()).optional(),
  jobEnv: z.object({ names: stringList, prefixes: stringList.optional() }).optional(),
  loadsCode: stringList.optional(),
  jobArgv: argvList.optional(),
  unportable: z.string().optional(),
  localOnly: z.object({ reason: z.string().regex(/^[a-z0-9-]+$/), detail: z.string() }).optional(),
  needsRunner: z.object({ reason: z.string().regex(/^[a-z0-9-]+$/), detail: z.string() }).optional(),
});

export const parseResultSchema = z.discriminatedUnion("cacheable", [
  z.object({ cacheable: z.literal(true), invocation: compileInvocationSchema }),
  z.object({ cacheable: z.literal(false), reason: nonEmpty, detail: z.string().optional() }),
]);

export const cacheStorageSchema = z.object({
  kind: nonEmpty,
  location: z.string(),
  read: fn,
  write: fn,
  remove: fn,
  usage: fn,
  clear: fn,
  close: fn,
});

export const sandboxSchema = z.object({ name: nonEmpty, probe: fn, run: fn });

export const toolchainSpecSchema = z.object({
  entries: z.array(z.object({ path: absolutePath }).passthrough()),
  compilerPath: absolutePath,
  family: nonEmpty,
  version: z.string(),
  identity: nonEmpty,
  target: z.string().optional(),
  sysroot: z.string().optional(),
});

/** A descriptor's id is a farm toolchain id that names its kind (`rustc:…`): archive ids never hold a ':'. */
export const toolchainDescriptorSchema = z.object({
  id: z
    .string()
    .regex(/^[A-Za-z0-9._:-]{1,256}$/, { message: "must be 1-256 characters of A-Za-z0-9._:-" })
    .regex(/^[a-z0-9-]+:/, { message: "must start with its kind and a colon (rustc:…), unlike an archive digest" }),
  family: nonEmpty,
  summary: z.string(),
  requires: z.array(nonEmpty).optional(),
});

export const platformsSchema = z.array(z.object({ arch: nonEmpty, os: nonEmpty, bits: z.union([z.literal(32), z.literal(64)]).optional() }));

/** What a `portableToolchain` tap returns. */
export const portableToolchainSchema = z.object({
  equivalence: nonEmpty,
  targetArgs: z.array(z.string()),
  files: z.array(z.string().startsWith("/")),
});

const bytes = z.custom<Buffer>((v) => Buffer.isBuffer(v), { message: "must be a Buffer" });

/** What an `adaptOutput` tap returns: the output's bytes for this call, or null when it cannot adapt them. */
export const adaptedOutputSchema = z.union([bytes, z.null()]);

/** Checked as a whole, not entry by entry (hundreds per miss): an identity that is wrong only fails to match. */
const readIdentities = z.custom<ReadonlyMap<string, unknown>>((v) => v instanceof Map, { message: "must be a Map of path to identity" });

/** What a `listDependencies` tap returns: every file the compile read (absolute), and/or their identities as read, or null when it cannot tell. */
export const dependencyListSchema = z.union([
  z.array(absolutePath),
  z.object({ files: z.array(absolutePath).optional(), identities: readIdentities.optional() }).strict(),
  z.null(),
]);

/** Every element an absolute path (an index loop: `every` would pass over the holes of a sparse array). */
function allAbsolutePaths(list: unknown[]): boolean {
  for (let i = 0; i < list.length; i++) {
    const p = list[i];
    if (typeof p !== "string" || !p.startsWith("/")) return false;
  }
  return true;
}

/**
 * True only for a dependency list `dependencyListSchema` accepts, in one plain
 * pass: a miss's list names hundreds of files, which the schema checks one by
 * one through its own machinery. Anything else goes to the schema (which names
 * what is wrong).
 */
export function plainDependencyList(v: unknown): boolean {
  if (v === null) return true;
  if (Array.isArray(v)) return allAbsolutePaths(v);
  if (typeof v !== "object" || Object.getPrototypeOf(v) !== Object.prototype) return false;
  for (const key in v) if (key !== "files" && key !== "identities") return false;
  const { files, identities } = v as { files?: unknown; identities?: unknown };
  return (files === undefined || (Array.isArray(files) && allAbsolutePaths(files))) && (identities === undefined || identities instanceof Map);
}

/** What a `textDigest` tap returns: the file's text as the compile reads it (null: only its exact bytes tell), and whether it brings in another file's bytes. */
export const textDigestSchema = z.object({ text: z.union([bytes, z.null()]), embeds: z.boolean().optional() });

/** What a `compileMiss` tap returns when it compiled the miss (its outputs are already written). */
export const missCompileResultSchema = z.object({
  exitCode: z.number().int(),
  stdout: bytes,
  stderr: bytes,
  durationMs: z.number().finite().nonnegative(),
  outputs: z.array(z.object({ role: z.string(), data: bytes })).optional(),
  depFile: z.object({ text: z.string(), contents: z.object({ files: z.array(z.string()), env: z.array(z.object({ name: z.string(), value: z.union([z.string(), z.null()]) })) }) }).optional(),
  inputs: z.object({ tokens: z.array(z.string()), listedBy: z.enum(["preprocessing", "dependency-scan", "own"]), digests: z.custom<ReadonlyMap<string, unknown>>((v) => v instanceof Map, { message: "must be a Map of paths to digests" }) }).optional(),
});

/** The first problem of a failed check, as "field: message" (e.g. `invocation.keyEnv: expected array, received undefined`). */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0]!;
  const path = issue.path.length ? issue.path.map(String).join(".") : "the result";
  return `${path}: ${issue.message}`;
}
