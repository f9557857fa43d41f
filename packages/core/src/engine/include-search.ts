import { statSync } from "node:fs";
import { resolve } from "node:path";
import { LRUCache } from "lru-cache";
import type { Call } from "./call.js";
import type { IncludeSearch } from "./hooks.js";
import { runCompiler } from "./run-compiler.js";
import { PersistedRecords } from "../util/persisted-records.js";
import { REPRISE_VERSION } from "../version.js";

/** Include searches kept across daemon restarts (see `IncludeSearches`). */
export type RememberedSearches = PersistedRecords<IncludeSearch>;

export function rememberedSearches(cacheRoot: string, onError?: (err: Error) => void): RememberedSearches {
  const strings = (v: unknown) => Array.isArray(v) && v.every((s) => typeof s === "string");
  return new PersistedRecords(cacheRoot, {
    file: "include-searches.json",
    format: "reprise-include-searches-1",
    maxEntries: 1024,
    valid: (v): v is IncludeSearch => !!v && typeof v === "object" && strings((v as IncludeSearch).quote) && strings((v as IncludeSearch).angle) && strings((v as IncludeSearch).missing),
    ...(onError ? { onError } : {}),
  });
}

export type SearchAnswer = { search: IncludeSearch } | { none: true } | { failed: string };

/**
 * The include search of a call, from its plugin (`includeSearchArgv` read
 * by the `includeSearch` hook), kept per compiler identity, command, cwd and
 * `keyEnv` values: a build's misses mostly share one. Asked when a
 * direct-mode entry is stored, never on a hit.
 *
 * With `remembered`, an answer also outlives the daemon, under the same key
 * plus Reprise's version and the project's plugins. A fresh daemon takes a
 * remembered answer only while the file system still agrees with it: every
 * directory searched is still a directory, every missing one still absent
 * (the compiler would list them otherwise).
 */
export class IncludeSearches {
  private readonly known = new LRUCache<string, Promise<SearchAnswer>>({ max: 512 });

  constructor(private readonly remembered?: RememberedSearches) {}

  for(call: Call): Promise<SearchAnswer> {
    const { inv, request, compiler } = call;
    const argv = inv.includeSearchArgv;
    if (!argv) return Promise.resolve({ none: true });
    const env = inv.compileEnv ?? request.env;
    const memoKey = JSON.stringify([compiler.identity, request.cwd, argv, inv.keyEnv.map((n) => env[n] ?? null)]);
    let answer = this.known.get(memoKey);
    if (!answer) {
      answer = this.recallOrAsk(call, argv, env, memoKey);
      this.known.set(memoKey, answer);
      // A failure is not kept: the next store asks again.
      void answer.then((a) => "failed" in a && this.known.get(memoKey) === answer && this.known.delete(memoKey));
    }
    return answer;
  }

  clear(): void {
    this.known.clear();
  }

  private async recallOrAsk(call: Call, argv: readonly string[], env: Readonly<Record<string, string>>, memoKey: string): Promise<SearchAnswer> {
    const lasting = this.remembered && JSON.stringify([REPRISE_VERSION, call.project.engine.pluginReleases(), memoKey]);
    const recalled = lasting ? this.remembered!.get(lasting) : undefined;
    if (recalled && stillHolds(recalled, call.request.cwd)) return { search: recalled };
    const answer = await this.ask(call, argv, env);
    if (lasting && "search" in answer) this.remembered!.set(lasting, answer.search);
    return answer;
  }

  private async ask(call: Call, argv: readonly string[], env: Readonly<Record<string, string>>): Promise<SearchAnswer> {
    const run = await runCompiler(argv, call.request.cwd, env);
    const hook = call.project.engine.hooks.includeSearch.get(call.compiler.family);
    const output = { stdout: run.stdout.toString("utf8"), stderr: run.stderr.toString("utf8"), exitCode: run.exitCode, cwd: call.request.cwd };
    const search = run.exitCode === 0 ? hook?.call(output) : undefined;
    if (search) return { search };
    return { failed: run.exitCode !== 0 ? `${argv.join(" ")} exited ${run.exitCode}` : `no plugin reads the include search of ${call.compiler.family}` };
  }
}

/** Whether the directories an include search named are still as the compiler saw them. */
function stillHolds(search: IncludeSearch, cwd: string): boolean {
  const isDir = (d: string) => statSync(resolve(cwd, d), { throwIfNoEntry: false })?.isDirectory() === true;
  return [...search.quote, ...search.angle].every(isDir) && !search.missing.some(isDir);
}
