/**
 * Toolchain archives the user declared for a local compiler (config
 * `dist.toolchains`, icecream's `ICECC_VERSION=arch:archive`, sccache #2560;
 * docs/cross-arch.md): archives of the same compiler built for other hosts,
 * made with `reprise --package-toolchain` where they run. Each is checked
 * once (per archive file and client compiler) before it is offered:
 * - its host platforms are read from the ELF headers of its programs;
 * - it must be packaged for the client's target (`-dumpmachine`), with an
 *   equivalence value equal to the client's own compiler's for that target
 *   (release, build, canary object): a different build is refused, never
 *   mixed into the cache.
 */
import { stat } from "node:fs/promises";
import { elfPlatform, hashBytes, parseElf, readArchiveFile, scanToolchainArchive, type CompilerInfo, type Logger, type Platform, type PortableToolchain } from "@reprise/core";
import { platformKey } from "../platform.js";

export interface DeclaredArchive {
  id: string;
  archivePath: string;
  archiveBytes: number;
  /** Where the archive holds the compiler. */
  compilerPath: string;
  /** Host platforms of its programs, from their ELF headers. */
  runsOn: Platform[];
}

type Checked = { ok: true; archive: DeclaredArchive } | { ok: false; reason: string };

export class DeclaredToolchains {
  private readonly checked = new Map<string, Promise<Checked>>();

  /** The declared archives of `compiler` that may take its jobs; each refused one is logged once with its reason. */
  async usable(compiler: CompilerInfo, portable: PortableToolchain, archives: string[], logger: Logger): Promise<DeclaredArchive[]> {
    const out: DeclaredArchive[] = [];
    for (const path of archives) {
      let st;
      try {
        st = await stat(path);
      } catch (err) {
        this.reportOnce(`${path}\0missing`, logger, `declared toolchain ${path} for ${compiler.path}: ${(err as Error).message}`);
        continue;
      }
      const key = [path, st.size, st.mtimeMs, compiler.identity, compiler.target, portable.equivalence].join("\0");
      let pending = this.checked.get(key);
      if (!pending) {
        pending = check(path, compiler, portable).then((c) => {
          if (!c.ok) logger.warn("declared toolchain %s is not used for %s: %s", path, compiler.path, c.reason);
          return c;
        });
        this.checked.set(key, pending);
      }
      const c = await pending;
      if (c.ok) out.push(c.archive);
    }
    return out;
  }

  private readonly reported = new Set<string>();
  private reportOnce(key: string, logger: Logger, message: string): void {
    if (this.reported.has(key)) return;
    this.reported.add(key);
    logger.warn("%s", message);
  }
}

async function check(path: string, compiler: CompilerInfo, portable: PortableToolchain): Promise<Checked> {
  let bytes: Buffer;
  const platforms = new Map<string, Platform>();
  let manifest;
  try {
    bytes = await readArchiveFile(path);
    manifest = (await scanToolchainArchive(bytes, path)).manifest;
    // Where its programs run is read from them, not taken from the manifest's word.
    const programs = new Set(manifest.files.filter((f) => f.role === "program").map((f) => f.path));
    await scanToolchainArchive(bytes, path, undefined, async (entry, data) => {
      if (!data) return;
      const chunks: Buffer[] = [];
      for await (const chunk of data) if (programs.has(entry.path)) chunks.push(chunk);
      if (!programs.has(entry.path)) return;
      const p = elfPlatform(parseElf(Buffer.concat(chunks), entry.path));
      platforms.set(platformKey(p), p);
    });
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  if (manifest.family !== compiler.family) return { ok: false, reason: `it holds a ${manifest.family} compiler, not ${compiler.family}` };
  if (platforms.size !== 1) return { ok: false, reason: platforms.size ? "its programs are built for different machines" : "it holds no ELF program" };
  const target = compiler.target ?? "";
  const declared = manifest.equivalences?.find((e) => e.target === target);
  if (!declared) {
    const has = manifest.equivalences?.map((e) => e.target).join(", ");
    return { ok: false, reason: `it was not packaged for this compiler's target ${target}${has ? ` (only for ${has})` : ""}: run reprise --package-toolchain <compiler> <out> --target ${target} where it runs` };
  }
  if (declared.equivalence !== portable.equivalence) return { ok: false, reason: `its compiler is another build than ${compiler.path} (${compiler.version}): its outputs for ${target} would differ` };
  return { ok: true, archive: { id: hashBytes(bytes), archivePath: path, archiveBytes: bytes.length, compilerPath: manifest.compilerPath, runsOn: [...platforms.values()] } };
}
