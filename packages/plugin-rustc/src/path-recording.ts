import { readdirSync, statSync } from "node:fs";
import { basename, resolve } from "node:path";
import type { PathRecording } from "@reprise/core";

/** How a host names a proc macro: `lib<crate>-<extra>.so` (`.dylib`, `<crate>-<extra>.dll`). */
const DYLIB = /^(?:lib)?(.+?)(?:-[0-9a-f]{16})?\.(?:so|dylib|dll)$/;

/** The crate name of a dynamic library's file name, as rustc's metadata spells it; undefined for other files. */
export function dylibCrateName(file: string): string | undefined {
  return DYLIB.exec(basename(file))?.[1];
}

/**
 * The crate names of the dynamic libraries (proc macros among them) in a
 * directory, re-listed only when the directory changed. None for a path
 * that is not a directory; undefined when the directory cannot be listed.
 */
export class DylibNames {
  private readonly memo = new Map<string, { mtimeMs: number; names: string[] }>();
  /** A listing made this soon after the directory's last change may have missed a file added within the same timestamp tick. */
  static readonly RACY_MS = 100;

  in(dir: string): string[] | undefined {
    let st;
    try {
      st = statSync(dir, { throwIfNoEntry: false });
    } catch {
      return undefined;
    }
    // rustc finds nothing in a directory that is not there.
    if (!st?.isDirectory()) return [];
    const known = this.memo.get(dir);
    if (known && known.mtimeMs === st.mtimeMs) return known.names;
    const listedAt = Date.now();
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      return undefined;
    }
    const names = [...new Set(entries.map(dylibCrateName).filter((n): n is string => n !== undefined))].sort();
    if (this.memo.size > 256) this.memo.clear();
    if (listedAt - st.mtimeMs > DylibNames.RACY_MS) this.memo.set(dir, { mtimeMs: st.mtimeMs, names });
    else this.memo.delete(dir);
    return names;
  }
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
 *    `PWD`, `OUT_DIR`, the cwd) without rustc knowing. A crate that can load
 *    one (an `--extern` dynamic library, or one in its crate directories that
 *    a dependency re-exports) is bound to its checkout: its metadata names
 *    every crate it loaded, so the names of those libraries are binding
 *    markers; when no output holds its metadata, it does not share at all.
 */
export function rustcPathRecording(input: RecordingInput, dylibs: DylibNames): PathRecording {
  const maps = input.remaps.filter((r) => r.from !== "").map((r) => resolve(input.cwd, r.from));
  const markers = new Set<string>();
  for (const file of input.externs) {
    const name = dylibCrateName(file);
    if (name !== undefined) markers.add(name);
  }
  let unlisted = false;
  for (const dir of new Set(input.crateDirs)) {
    const names = dylibs.in(dir);
    if (names === undefined) unlisted = true;
    else for (const n of names) markers.add(n);
  }
  const holdsMetadata = input.outputRoles.some((r) => r === "rlib" || r === "rmeta");
  return {
    debugInfo: true,
    debugMaps: maps,
    fileTokens: [],
    macroMaps: maps,
    // A crate directory that cannot be listed may hold a proc macro: nothing tells whether one ran.
    unmappable: unlisted || (markers.size > 0 && !holdsMetadata),
    relocatable: { outputs: ["dep-info"], streams: true },
    ...(markers.size > 0 ? { bindingMarkers: [...markers].sort() } : {}),
  };
}
