import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { untrustedLocationReason } from "@reprise/core";

/**
 * Where scripts/build-read-trace.mjs puts the library (built on install; absent without a C compiler),
 * found from the package's root: this module runs from src/, dist/ or dist/bundle/.
 */
const LIBRARY = join(dirname(createRequire(import.meta.url).resolve("@reprise/plugin-gcc/package.json")), "dist", "native", "read-trace.so");

/** The read tracer's path when it is built (a stat per miss-to-be: a library gone since would make ld.so complain on stderr). */
export function readTraceLibrary(): string | undefined {
  return existsSync(LIBRARY) ? LIBRARY : undefined;
}

/**
 * Whether the read tracer works with this GCC driver (or clang's, with
 * `everyProcess`: its compiler runs inside the driver's process): preloaded
 * into a syntax-only run of an empty file, cc1 must record what it opened, with
 * the file's identity, and end its trace, and the run must print nothing (ld.so complains on stderr about
 * a library it cannot load, e.g. for a compiler of another architecture run
 * through an emulator), and the library must lie where only this user or
 * root could have written it. Asked once per compiler, when it is detected.
 */
export async function readTraceWorks(driver: string, opts: { everyProcess?: boolean } = {}): Promise<boolean> {
  const library = readTraceLibrary();
  // It runs inside every GCC miss: never one another user could have written (as for plugin files).
  if (!library || untrustedLocationReason(library) !== undefined) return false;
  const dir = mkdtempSync(join(tmpdir(), "reprise-read-trace-"));
  try {
    const source = join(dir, "probe.c");
    const trace = join(dir, "trace");
    writeFileSync(source, "int reprise_probe;\n");
    const env = { ...process.env, LD_PRELOAD: library, REPRISE_READ_TRACE: trace, REPRISE_READ_TRACE_ALL: opts.everyProcess ? "1" : "0", LC_ALL: "C" };
    const ran = await new Promise<{ ok: boolean; stderr: string }>((done) => {
      execFile(driver, ["-fsyntax-only", "-x", "c", source], { env, timeout: 30_000 }, (err, _stdout, stderr) => done({ ok: !err, stderr: String(stderr) }));
    });
    if (!ran.ok || ran.stderr !== "" || !existsSync(trace)) return false;
    const lines = readFileSync(trace, "utf8").split("\n");
    // The source with the identity cc1 took of it (an older library gave the bare path only).
    return lines.some((l) => l.startsWith("#id ") && l.endsWith(` ${source}`)) && lines.at(-2) === "#end";
  } catch {
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
