import { LRUCache } from "lru-cache";
import type { Call } from "./call.js";
import type { IncludeSearch } from "./hooks.js";
import { runCompiler } from "./run-compiler.js";

export type SearchAnswer = { search: IncludeSearch } | { none: true } | { failed: string };

/**
 * The include search of a call, from its plugin (`includeSearchArgv` read
 * by the `includeSearch` hook), kept per compiler identity, command, cwd and
 * `keyEnv` values: a build's misses mostly share one. Asked when a
 * direct-mode entry is stored, never on a hit.
 */
export class IncludeSearches {
  private readonly known = new LRUCache<string, Promise<SearchAnswer>>({ max: 512 });

  for(call: Call): Promise<SearchAnswer> {
    const { inv, request, compiler } = call;
    const argv = inv.includeSearchArgv;
    if (!argv) return Promise.resolve({ none: true });
    const env = inv.compileEnv ?? request.env;
    const memoKey = JSON.stringify([compiler.identity, request.cwd, argv, inv.keyEnv.map((n) => env[n] ?? null)]);
    let answer = this.known.get(memoKey);
    if (!answer) {
      answer = this.ask(call, argv, env);
      this.known.set(memoKey, answer);
      // A failure is not kept: the next store asks again.
      void answer.then((a) => "failed" in a && this.known.get(memoKey) === answer && this.known.delete(memoKey));
    }
    return answer;
  }

  clear(): void {
    this.known.clear();
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
