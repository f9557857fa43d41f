import { existsSync, realpathSync, statSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import { listDir } from "../util/list-dir.js";

/**
 * Files outside the include closure whose contents reach a compiler's
 * diagnostics or outputs through its environment, which a job must carry to
 * compile as it would here:
 *
 * - the locale of `LC_CTYPE` and `LC_MESSAGES` (`LC_ALL` > `LC_*` > `LANG`):
 *   the charset decides GCC's quotes (‘x’ or 'x'), the message catalogs its
 *   language. C, POSIX and C.UTF-8 need nothing (a packaged toolchain has
 *   C.UTF-8); another locale brings its data (`locale-archive`, or its
 *   directory under `/usr/lib/locale` or `LOCPATH`) and the message catalogs
 *   of the languages it (and `LANGUAGE`) names. A locale this machine does
 *   not have needs nothing: the compiler falls back to C here as well.
 * - the time zone (`/etc/localtime`, or the file `TZ` names): `__DATE__` is
 *   local time (see `timeZone`).
 *
 * A locale whose charset is not UTF-8 would need iconv modules: `unsupported`
 * then says so and the call is compiled locally.
 */
export interface HostContext {
  files: string[];
  /** Variables the job's environment gets on top of the call's (`TZ` naming the carried zone file). */
  env: Record<string, string>;
  unsupported?: string;
}

const C_LOCALES = new Set(["", "C", "POSIX"]);
const LOCALE_DIRS = ["/usr/lib/locale"];
const MESSAGE_DIRS = ["/usr/share/locale", "/usr/share/locale-langpack"];

export function hostContextFiles(env: Readonly<Record<string, string | undefined>>): HostContext {
  const files = new Set<string>();
  const ctype = localeFor(env, "LC_CTYPE");
  const messages = localeFor(env, "LC_MESSAGES");
  const locPath = (env.LOCPATH ?? "").split(":").filter((d) => isAbsolute(d));
  for (const name of new Set([ctype, messages])) {
    if (isCLocale(name)) continue;
    const parsed = parseLocale(name);
    const found = localeData(name, parsed, [...locPath, ...LOCALE_DIRS]);
    if (!found.length) continue; // not installed here: C here as in the sandbox
    if (parsed.codeset && normalizeCodeset(parsed.codeset) !== "utf8") {
      return { files: [], env: {}, unsupported: `locale ${name}: only UTF-8 locales are carried into a sandbox` };
    }
    for (const f of found) files.add(f);
  }
  if (!isCLocale(messages)) {
    const languages = [...(env.LANGUAGE ? env.LANGUAGE.split(":").filter(Boolean) : []), messages];
    for (const lang of languages) {
      for (const variant of localeVariants(parseLocale(lang))) {
        for (const base of MESSAGE_DIRS) addTree(join(base, variant, "LC_MESSAGES"), files, (n) => n.endsWith(".mo"));
      }
    }
  }
  const zone = timeZone(env);
  for (const f of zone.files) files.add(f);
  return { files: [...files].sort(), env: zone.env };
}

function localeFor(env: Readonly<Record<string, string | undefined>>, category: string): string {
  return env.LC_ALL || env[category] || env.LANG || "C";
}

function isCLocale(name: string): boolean {
  if (C_LOCALES.has(name)) return true;
  const p = parseLocale(name);
  return p.language === "C" && !p.territory && !p.modifier && (!p.codeset || normalizeCodeset(p.codeset) === "utf8");
}

interface ParsedLocale {
  language: string;
  territory?: string;
  codeset?: string;
  modifier?: string;
}

/** `language[_territory][.codeset][@modifier]` */
function parseLocale(name: string): ParsedLocale {
  const m = /^([^_.@]*)(?:_([^.@]*))?(?:\.([^@]*))?(?:@(.*))?$/.exec(name);
  if (!m) return { language: name };
  return { language: m[1]!, ...(m[2] ? { territory: m[2] } : {}), ...(m[3] ? { codeset: m[3] } : {}), ...(m[4] ? { modifier: m[4] } : {}) };
}

/** glibc's normalisation of a codeset name: alphanumerics only, lower case ("UTF-8" → "utf8"). */
function normalizeCodeset(codeset: string): string {
  return codeset.replace(/[^A-Za-z0-9]/g, "").toLowerCase();
}

/** Names gettext and setlocale try for a locale, most specific first. */
function localeVariants(p: ParsedLocale): string[] {
  const out: string[] = [];
  const mod = p.modifier ? [`@${p.modifier}`, ""] : [""];
  const terr = p.territory ? [`_${p.territory}`, ""] : [""];
  const codes = p.codeset ? [`.${p.codeset}`, `.${normalizeCodeset(p.codeset)}`, ""] : [""];
  for (const t of terr) for (const c of codes) for (const m of mod) out.push(`${p.language}${t}${c}${m}`);
  return [...new Set(out)];
}

function localeData(name: string, parsed: ParsedLocale, dirs: string[]): string[] {
  const files = new Set<string>();
  for (const dir of dirs) {
    for (const variant of new Set([name, ...localeVariants(parsed)])) {
      if (variant === parsed.language && variant !== name) continue;
      addTree(join(dir, variant), files, () => true);
    }
  }
  // Names present in the archive are found there first; carrying it is simplest (it is one file).
  const archive = "/usr/lib/locale/locale-archive";
  if (isFile(archive) && archiveMayHold(archive)) files.add(archive);
  return [...files].sort();
}

function archiveMayHold(path: string): boolean {
  try {
    return statSync(path).size > 0;
  } catch {
    return false;
  }
}

/**
 * The zone file local time comes from: the one `TZ` names, else
 * `/etc/localtime`. Carried at the path it leads to in the zone database
 * (`/etc/localtime -> /usr/share/zoneinfo/Europe/Berlin`), with `TZ` naming
 * that file in the job's environment: a job never has files under `/etc`,
 * where container engines mount their own (`/etc/hostname`, `/etc/passwd`).
 * A zone file that is not a link into the database and lies under `/etc` is
 * not carried (the job then keeps UTC).
 */
function timeZone(env: Readonly<Record<string, string | undefined>>): { files: string[]; env: Record<string, string> } {
  const tz = env.TZ;
  let file: string;
  if (tz !== undefined && tz !== "") {
    const name = tz.startsWith(":") ? tz.slice(1) : tz;
    if (name.includes("..")) return { files: [], env: {} };
    file = isAbsolute(name) ? name : join(env.TZDIR || "/usr/share/zoneinfo", name);
    // A POSIX rule such as "CET-1CEST" names no file: nothing to carry.
    if (!isFile(file)) return { files: [], env: {} };
  } else {
    file = "/etc/localtime";
    if (!isFile(file)) return { files: [], env: {} };
  }
  let real = file;
  try {
    real = realpathSync(file);
  } catch {
    return { files: [], env: {} };
  }
  if (real !== file && !real.startsWith("/etc/")) return { files: [real], env: { TZ: `:${real}` } };
  if (file.startsWith("/etc/")) return { files: [], env: {} };
  return { files: [file], env: {} };
}

function addTree(dir: string, into: Set<string>, want: (name: string) => boolean, depth = 0): void {
  if (depth > 4) return;
  for (const n of listDir(dir)) {
    const p = join(dir, n);
    let st;
    try {
      st = statSync(p);
    } catch {
      continue;
    }
    if (st.isDirectory()) addTree(p, into, want, depth + 1);
    else if (st.isFile() && want(n)) into.add(p);
  }
}

function isFile(path: string): boolean {
  try {
    return existsSync(path) && statSync(path).isFile();
  } catch {
    return false;
  }
}
