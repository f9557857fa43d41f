import { existsSync, realpathSync } from "node:fs";
import { basename, join, relative, resolve, sep } from "node:path";
import { findExecutable, type CompileInvocation, type OutputSpec, type ParseInput, type ParseResult } from "@reprise/core";
import { fileStamp, rustcData, type RustcData } from "./detect.js";
import { compileEnvironment, keyEnvNames, terminalWantsColor, type DaemonJobserver } from "./environment.js";
import { expandArgFiles, lexRustcArgs, type RustcArg } from "./lex.js";
import { CRATE_TYPES, depInfoName, LINKING_CRATE_TYPES, linkOutputName, metadataName } from "./outputs.js";
import { chooseToolchain } from "./rustup.js";
import { jobPlan, withoutEmit } from "./job-plan.js";
import { linkArgFiles, nativeLibraryFiles, systemLibrary, UNPORTABLE_LINK_OPTIONS, unportableLinkArg } from "./link-arguments.js";
import { rustcPathRecording } from "./path-recording.js";

/** What the key hook needs to know about a call beyond the invocation (kept per invocation object). */
export interface RustcCall {
  /** Target triple (or custom target name) the crate is compiled for: `--target`, else the host. */
  target: string;
  /** Sysroot whose `lib/rustlib/<target>/lib` holds the std crates the compile links. */
  sysroot: string;
  /** Host triple, whose `lib/rustlib/<host>/bin` (rust-lld) a linking crate type uses. */
  host: string;
  /** Whether a crate type of this call runs the linker. */
  links: boolean;
  crateName: string;
  /** For calls that link: the linker rustc runs (`-C linker`, else `cc`), found from `cwd` on `pathEnv`. */
  linker?: { name: string; cwd: string; pathEnv: string | undefined };
  /** Whether the output runs on the client's own host: a proc macro, a build script. */
  runsOnHost: boolean;
}

const calls = new WeakMap<CompileInvocation, RustcCall>();

export function rustcCallOf(inv: CompileInvocation): RustcCall | undefined {
  return calls.get(inv);
}

type NotCacheable = { cacheable: false; reason: string; detail?: string };
const no = (reason: string, detail?: string): NotCacheable => ({ cacheable: false, reason, ...(detail ? { detail } : {}) });

/**
 * What a rustc job passes besides `keyEnv` (cargo's CARGO_* crate variables
 * and rustc's switches): PATH, the terminal and color settings of
 * diagnostics, rustc's own logging and stack size. Variables a crate reads
 * with `env!`/`option_env!` are named in the closure scan's dep-info (`#
 * env-dep:`), and the job carries them too.
 */
const RUSTC_JOB_ENV = { names: ["PATH", "TERM", "NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "RUST_MIN_STACK", "RUST_BACKTRACE"], prefixes: ["RUSTC_"] };

/** Emit kinds whose files this plugin can name and restore. */
const CACHEABLE_EMITS = new Set(["link", "metadata", "dep-info"]);
const OTHER_EMITS = new Set(["asm", "llvm-bc", "llvm-ir", "obj", "mir", "thin-link-bitcode"]);

/** `-C` options that make a call not cacheable, with the reason. */
function codegenRefusal(name: string, value: string | undefined): string | undefined {
  switch (name) {
    case "incremental":
      return "incremental";
    case "save-temps":
      return value === undefined || ["y", "yes", "on", "true"].includes(value) ? "save-temps" : undefined;
    case "split-debuginfo":
      return value !== "off" ? "split-debuginfo" : undefined;
    default:
      return undefined;
  }
}

/**
 * `-Z` options that write files this plugin does not know, read files it does
 * not hash, or print what changes from run to run (timings).
 */
const Z_REFUSED = /^(incremental|dump-|self-profile|unpretty|time|llvm-time-trace|print-|query-dep-graph|ls$|temps-dir|profile$|nll-facts|codegen-backend|dwarf-version-split|split-dwarf-out-dir)/;

/** `--print` requests that come with a compile and only add a note to stderr. */
const PRINT_WITH_COMPILE = new Set(["native-static-libs"]);

function isWithin(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(sep) ? parent : parent + sep);
}

function splitOnce(s: string, sepChar: string): [string, string | undefined] {
  const i = s.indexOf(sepChar);
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + 1)];
}

interface SearchPath {
  kind: string;
  path: string;
}

const SEARCH_KINDS = new Set(["dependency", "crate", "native", "framework", "all"]);

function parseSearchPath(value: string, cwd: string): SearchPath {
  const [k, rest] = splitOnce(value, "=");
  if (rest !== undefined && SEARCH_KINDS.has(k)) return { kind: k, path: resolve(cwd, rest) };
  return { kind: "all", path: resolve(cwd, value) };
}

/** `-l [KIND[:MODIFIERS]=]NAME[:RENAME]` */
function parseLinkLib(value: string): { kind: string; name: string } {
  const [left, right] = splitOnce(value, "=");
  const spec = right ?? left;
  const kind = right !== undefined ? left.split(":")[0]! : "dylib";
  return { kind, name: spec.split(":")[0]! };
}

function realOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/**
 * Parses one rustc command line as cargo (or a person) writes it and decides
 * whether, and how, it is cached. The rules: docs/rust.md.
 */
export interface ParseOptions {
  /** The daemon's jobserver, given to the compiles it runs instead of cargo's. */
  jobserver?: DaemonJobserver;
}

/** Search path kinds rustc looks for crates in. */
const CRATE_SEARCH_KINDS = new Set(["dependency", "crate", "all"]);

export function parseRustcArguments(input: ParseInput, options: ParseOptions = {}): ParseResult {
  const { cwd, env } = input;
  const data = rustcData(input.compiler);
  if (!data) return no("unknown-compiler", "rustc detection data missing");
  let compilerPath = input.argv[0]!;
  let rawArgs = input.argv.slice(1);

  if (data.proxy) {
    const refusal = checkProxy(data, rawArgs, env, cwd);
    if (refusal) return refusal;
    // Run the toolchain's rustc itself: the one the key describes, without rustup's start-up.
    compilerPath = data.rustcPath;
  }

  const expanded = expandArgFiles(rawArgs, cwd);
  if (!expanded.ok) return no("response-file", expanded.detail);
  const lexed = lexRustcArgs(expanded.args);
  if (!lexed.ok) return no(lexed.reason, lexed.detail);

  let crateName: string | undefined;
  const crateTypes: string[] = [];
  const emits = new Map<string, string | undefined>();
  let outDir: string | undefined;
  let target: string | undefined;
  let targetFile: string | undefined;
  let sysroot: string | undefined;
  const inputs: string[] = [];
  let test = false;
  let errorFormat = "human";
  let color: string | undefined;
  let extraFilename = "";
  let linker: string | undefined;
  /** A codegen option whose link a builder cannot reproduce from the job's inputs (the call still caches). */
  let unportableLink: string | undefined;
  const externs: string[] = [];
  const searchPaths: SearchPath[] = [];
  const libs: { kind: string; name: string }[] = [];
  const extraFiles: string[] = [];
  const linkArgs: string[] = [];
  const remaps: { from: string; to: string }[] = [];

  for (const arg of lexed.args) {
    if (arg.kind === "input") {
      inputs.push(arg.value);
      continue;
    }
    const v = arg.value ?? "";
    switch (arg.name) {
      case "help":
      case "version":
      case "explain":
        return no("not-a-compilation", arg.spelling);
      case "verbose":
        // `-v` alone only changes `--version` and `--help` output.
        break;
      case "crate-name":
        crateName = v;
        break;
      case "crate-type":
        for (const t of v.split(",").map((s) => s.trim()).filter(Boolean)) {
          if (!CRATE_TYPES.has(t)) return no("unsupported-crate-type", t);
          crateTypes.push(t);
        }
        break;
      case "emit":
        for (const item of v.split(",").map((s) => s.trim()).filter(Boolean)) {
          const [kind, path] = splitOnce(item, "=");
          if (OTHER_EMITS.has(kind)) return no("unsupported-emit", kind);
          if (!CACHEABLE_EMITS.has(kind)) return no("unsupported-emit", kind);
          if (path === "-") return no("output-to-stdout", `--emit ${item}`);
          emits.set(kind, path === undefined ? undefined : resolve(cwd, path));
        }
        break;
      case "print": {
        const [kind, path] = splitOnce(v, "=");
        if (!PRINT_WITH_COMPILE.has(kind) || path !== undefined) return no("print", `--print ${v}`);
        break;
      }
      case "out-dir":
        outDir = resolve(cwd, v);
        break;
      case "o":
        // rustc derives the other emitted files' names from it in ways cargo never uses.
        return no("output-file", `-o ${v}`);
      case "target":
        if (v.endsWith(".json") || v.includes("/")) {
          const p = resolve(cwd, v);
          if (!existsSync(p)) return no("target-spec", `${v} not found`);
          targetFile = p;
          target = basename(p).replace(/\.json$/, "");
        } else target = v;
        break;
      case "sysroot":
        sysroot = resolve(cwd, v);
        break;
      case "test":
        test = true;
        break;
      case "error-format":
        errorFormat = v;
        break;
      case "color":
        color = v;
        break;
      case "warn":
      case "Z":
      case "codegen": {
        // `-C help`, `-W help`, `-Z help` print a list and exit.
        if (v === "help") return no("not-a-compilation", `${arg.spelling} help`);
        if (arg.name === "warn") break;
        if (arg.name === "Z") {
          const name = splitOnce(v, "=")[0].replace(/_/g, "-");
          if (Z_REFUSED.test(name)) return no("unsupported-option", `-Z ${v}`);
          break;
        }
        const [rawName, value] = splitOnce(v, "=");
        const name = rawName.replace(/_/g, "-");
        const refusal = codegenRefusal(name, value);
        if (refusal) return no(refusal, `-C ${v}`);
        if (name === "extra-filename") extraFilename = value ?? "";
        if (name === "linker" && value) linker = value;
        if (UNPORTABLE_LINK_OPTIONS.has(name) && value !== "no" && value !== "n" && value !== "off" && value !== "false") unportableLink ??= `-C ${v}`;
        if ((name === "profile-use" || name === "profile-sample-use") && value) extraFiles.push(resolve(cwd, value));
        if (name === "link-arg" && value !== undefined) linkArgs.push(value);
        if (name === "link-args" && value !== undefined) linkArgs.push(...value.split(/\s+/).filter(Boolean));
        break;
      }
      case "extern": {
        const [spec, path] = splitOnce(v, "=");
        if (!spec) return no("unsupported-option", `--extern ${v}`);
        if (path) externs.push(resolve(cwd, path));
        break;
      }
      case "L":
        searchPaths.push(parseSearchPath(v, cwd));
        break;
      case "l":
        libs.push(parseLinkLib(v));
        break;
      case "remap-path-prefix": {
        const eq = v.lastIndexOf("=");
        if (eq < 0) return no("unsupported-option", `--remap-path-prefix ${v}`);
        remaps.push({ from: v.slice(0, eq), to: v.slice(eq + 1) });
        break;
      }
      case "unpretty":
        return no("unsupported-option", arg.spelling);
      default:
        // cfg, check-cfg, edition, lints, cap-lints, json, diagnostic-width, env-set, -g, -O: key only.
        break;
    }
  }

  if (inputs.length === 0) return no("no-source");
  if (inputs.length > 1) return no("multiple-sources", inputs.join(" "));
  if (inputs[0] === "-") return no("stdin-source");
  if (!crateName) return no("no-crate-name", "rustc would take it from the file name or #![crate_name]");
  if (test) crateTypes.splice(0, crateTypes.length, "bin");
  if (crateTypes.length === 0) return no("no-crate-type", "rustc would take it from #![crate_type] or default to bin");
  // Without --emit rustc writes the linked crate; an added --emit (dep-info, below) must not take that away.
  const emitGiven = emits.size > 0;
  if (!emitGiven) emits.set("link", undefined);
  if (!emits.has("link") && !emits.has("metadata")) return no("dependencies-only", "--emit has neither link nor metadata");

  const sourceFile = resolve(cwd, inputs[0]!);
  const effectiveTarget = target ?? data.host;
  const dir = outDir ?? cwd;
  const stem = `${crateName}${extraFilename}`;
  const types = [...new Set(crateTypes.map((t) => (t === "lib" ? "rlib" : t)))];

  const outputs: OutputSpec[] = [];
  if (emits.has("link")) {
    const explicit = emits.get("link");
    if (explicit && types.length > 1) return no("output-file", "--emit link=PATH with several crate types");
    for (const t of types) {
      const name = linkOutputName(t, stem, effectiveTarget);
      if (!name) return no("unsupported-target-outputs", `${t} for ${effectiveTarget}`);
      outputs.push({ role: t, path: explicit ?? join(dir, name), ...(LINKING_CRATE_TYPES.has(t) ? { executable: true } : {}) });
    }
  }
  if (emits.has("metadata")) outputs.push({ role: "rmeta", path: emits.get("metadata") ?? join(dir, metadataName(stem)) });

  // Direct mode needs rustc's own list of what it read. cargo asks for dep-info. Otherwise a
  // dep-info-only run of the same command gives it, alongside the compile: adding dep-info to
  // the compile's own --emit would change its outputs (the crate metadata then records more).
  const compileArgv = [compilerPath, ...rawArgs];
  let dependencies: CompileInvocation["dependencies"];
  if (emits.has("dep-info")) {
    const depFile = emits.get("dep-info") ?? join(dir, depInfoName(stem));
    outputs.push({ role: "dep-info", path: depFile });
    dependencies = { depFile };
  } else {
    const scanDepFile = input.tempPath(".d");
    dependencies = { scanArgv: [compilerPath, ...withoutEmit(expanded.args), `--emit=dep-info=${scanDepFile}`], scanDepFile };
  }

  const paths = new Set(outputs.map((o) => o.path));
  if (paths.size !== outputs.length) return no("output-file", "two outputs share a path");

  // Diagnostics: rustc colors human-readable ones when stderr is a terminal; the daemon's is a pipe.
  let colorDiagnostics = color === "always";
  const human = errorFormat === "human" || errorFormat === "short" || errorFormat.startsWith("human");
  if (human && input.stderrIsTTY && (color === undefined || color === "auto") && terminalWantsColor(env)) {
    colorDiagnostics = true;
    if (color === undefined) compileArgv.push("--color=always");
    else {
      const i = compileArgv.findIndex((a, idx) => idx > 0 && (a === "--color=auto" || (a === "auto" && compileArgv[idx - 1] === "--color")));
      if (i < 0) return no("unsupported-option", "--color auto in an argument file");
      compileArgv[i] = compileArgv[i] === "auto" ? "always" : "--color=always";
    }
  }

  const links = types.some((t) => LINKING_CRATE_TYPES.has(t)) && emits.has("link");
  const extraInputFiles = [...new Set([...externs.sort(), ...nativeLibraryFiles(searchPaths.filter((sp) => sp.kind === "native" || sp.kind === "all" || sp.kind === "framework").map((sp) => sp.path), libs), ...extraFiles, ...(targetFile ? [targetFile] : [])])];
  if (links) {
    // Files named in link arguments (objects, version scripts, linker scripts) reach the program.
    for (const f of linkArgFiles(linkArgs, cwd)) if (!extraInputFiles.includes(f)) extraInputFiles.push(f);
    // The linker and its ld reach the program: hash the binaries (not the system libraries they link in).
    for (const tool of [linker ?? "cc", "ld"]) {
      const found = findExecutable(tool, { cwd, pathEnv: env.PATH, exclude: new Set() });
      if (found) extraInputFiles.push(realOr(found));
    }
  }

  const outDirAbs = dir;
  const norm = (p: string) => {
    const abs = resolve(cwd, p);
    if (isWithin(abs, cwd)) return relative(cwd, abs) || ".";
    if (abs === outDirAbs) return "$OUT_DIR";
    if (isWithin(abs, outDirAbs)) return `$OUT_DIR/${relative(outDirAbs, abs)}`;
    return abs;
  };
  const keyArgs = normalisedKeyArgs(lexed.args, norm, outDirAbs);

  const compileEnv = compileEnvironment(env, options.jobserver?.makeflags(() => input.tempPath(".jobserver")));
  const effectiveSysroot = sysroot ?? data.sysroot;
  const nativeDirs = searchPaths.filter((s) => s.kind === "native" || s.kind === "all").map((s) => s.path);
  const linkRefusal = links ? (unportableLink ?? unportableLinkArg(linkArgs) ?? systemLibrary(nativeDirs, libs)) : undefined;
  const job = jobPlan({ links, linkRefusal, bundles: types.includes("staticlib") && emits.has("link"), types, compilerPath, args: expanded.args, sysroot: effectiveSysroot, tempPath: input.tempPath });

  const inv: CompileInvocation = {
    language: "rust",
    sourceFile,
    outputs,
    keyArgs,
    preprocessorOnlyArgs: [],
    compileArgv,
    // No preprocessArgv: rustc has no preprocessed form, so the engine always uses direct mode.
    dependencies,
    keyEnv: keyEnvNames(env, effectiveTarget, links),
    jobEnv: RUSTC_JOB_ENV,
    volatileMarkers: [],
    // rustc writes the cwd into debug info and metadata unless a remap covers it.
    dependsOnCwd: !remaps.some((r) => r.from !== "" && isWithin(cwd, resolve(cwd, r.from))),
    pathRecording: rustcPathRecording({
      remaps,
      cwd,
      externs,
      crateDirs: searchPaths.filter((p) => CRATE_SEARCH_KINDS.has(p.kind)).map((p) => p.path),
      outputRoles: outputs.map((o) => o.role),
    }),
    colorDiagnostics,
    extraInputFiles,
    ...(compileEnv ? { compileEnv } : {}),
    ...job,
  };
  const runsOnHost = types.includes("proc-macro") || /^build_script_/.test(crateName);
  const linkerOf = links ? { linker: { name: linker ?? "cc", cwd, pathEnv: env.PATH } } : {};
  calls.set(inv, { target: effectiveTarget, sysroot: effectiveSysroot, host: data.host, links, crateName, runsOnHost, ...linkerOf });
  return { cacheable: true, invocation: inv };
}


/**
 * The arguments in canonical spelling, with paths that do not reach the
 * outputs made relative (to the out dir or the cwd): `--extern` and `-L`
 * files are hashed by content instead. `--out-dir` stays absolute: it is
 * written into the dep-info file and cargo's artifact notifications.
 */
function normalisedKeyArgs(args: readonly RustcArg[], norm: (p: string) => string, outDir: string): string[] {
  const out: string[] = [];
  for (const a of args) {
    if (a.kind === "input") {
      out.push(norm(a.value));
      continue;
    }
    const v = a.value;
    switch (a.name) {
      case "extern": {
        const [spec, path] = splitOnce(v ?? "", "=");
        out.push("--extern", path ? `${spec}=${norm(path)}` : spec);
        break;
      }
      case "L": {
        const [k, rest] = splitOnce(v ?? "", "=");
        out.push("-L", rest !== undefined && SEARCH_KINDS.has(k) ? `${k}=${norm(rest)}` : norm(v ?? ""));
        break;
      }
      case "out-dir":
        out.push("--out-dir", outDir);
        break;
      default:
        out.push(a.name.length === 1 ? `-${a.name}` : `--${a.name}`, ...(v === undefined ? [] : [v]));
    }
  }
  return out;
}

/** A rustup proxy runs whichever toolchain the call's cwd and environment select: it must be the detected one. */
function checkProxy(data: RustcData, args: string[], env: Readonly<Record<string, string>>, cwd: string): NotCacheable | undefined {
  if (args[0]?.startsWith("+")) return no("rustup-toolchain-override", args[0]);
  const choice = chooseToolchain(env, cwd, data.host);
  if (!choice.ok) return no(choice.reason, choice.detail);
  if (realOr(choice.dir) !== data.sysroot) return no("rustup-toolchain-mismatch", `${choice.name} is not the detected ${data.sysroot}`);
  // The detector remembers the proxy, which does not change when its toolchain is updated in place.
  if (fileStamp(data.rustcPath) !== data.rustcStamp) return no("compiler-changed", `${data.rustcPath} changed since it was detected`);
  return undefined;
}
