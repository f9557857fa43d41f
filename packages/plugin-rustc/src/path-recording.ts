import { basename, resolve } from "node:path";
import type { PathRecording } from "@reprise/core";

/** How a host names a proc macro: `lib<crate>-<extra>.so` (`.dylib`, `<crate>-<extra>.dll`); the first group is the crate's name. */
export const DYLIB_FILE = "^(?:lib)?(.+?)(?:-[0-9a-f]{16})?\\.(?:so|dylib|dll)$";
const DYLIB = new RegExp(DYLIB_FILE);

/** The crate name of a dynamic library's file name, as rustc's metadata spells it; undefined for other files. */
export function dylibCrateName(file: string): string | undefined {
  return DYLIB.exec(basename(file))?.[1];
}

export interface RecordingInput {
  remaps: readonly { from: string }[];
  cwd: string;
  /** `--extern` files. */
  externs: readonly string[];
  /** Directories rustc looks for crates in (`-L dependency=`, `crate=`, `all=`, plain `-L`). */
  crateDirs: readonly string[];
  /** Roles of the outputs: whether one holds the crate's metadata (`rlib`, `rmeta`), which names every crate it loaded. */
  outputRoles: readonly string[];
}

/**
 * How rustc's outputs record paths, for `baseDirs` (docs/rust.md, "Sharing
 * between checkouts"):
 *
 *  - always (metadata keeps the working directory and source paths for
 *    spans, with or without debug info), except under a `--remap-path-prefix`
 *    source, which rustc applies to debug info, metadata, diagnostics and
 *    `file!()` alike (its default scope);
 *  - the dep-info file and the streams (cargo's artifact notifications) name
 *    the out dir and sources as given: relocatable;
 *  - proc macros run inside rustc and may read anything (`CARGO_MANIFEST_DIR`,
 *    `PWD`, `OUT_DIR`, the cwd) without rustc knowing. A crate that could load
 *    one (an `--extern` dynamic library, or one in its crate directories that
 *    a dependency re-exports) is bound to its checkout: its metadata names
 *    every crate it loaded, so the names of those libraries are binding
 *    markers (listed by the engine when it stores an entry, never on a hit).
 *    Without metadata among the outputs (a program, a proc macro), a marker
 *    named by an `--extern` file or by the metadata of an `--extern` crate
 *    (which names every crate it loads) binds the entry.
 */
export function rustcPathRecording(input: RecordingInput): PathRecording {
  const maps = input.remaps.filter((r) => r.from !== "").map((r) => resolve(input.cwd, r.from));
  const names = [...new Set(input.externs.map(dylibCrateName).filter((n): n is string => n !== undefined))].sort();
  const dirs = [...new Set(input.crateDirs)];
  const outputsShow = input.outputRoles.some((r) => r === "rlib" || r === "rmeta");
  // A program's (or proc macro's) outputs do not name what it loaded; its dependencies' metadata names every crate they load.
  const metadata = outputsShow ? [] : [...new Set(input.externs.filter((f) => f.endsWith(".rlib") || f.endsWith(".rmeta")))].sort();
  return {
    debugInfo: true,
    debugMaps: maps,
    fileTokens: [],
    macroMaps: maps,
    unmappable: false,
    relocatable: { outputs: ["dep-info"], streams: true },
    bindingMarkers: {
      names,
      ...(dirs.length > 0 ? { filesIn: { dirs, pattern: DYLIB_FILE } } : {}),
      outputsShow,
      ...(outputsShow ? {} : { shownIn: metadata }),
    },
  };
}
