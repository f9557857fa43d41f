import type { IncludeSearch, IncludeSearchOutput } from "@reprise/core";

/**
 * The command that makes a gcc-like driver print its include search for a
 * call: the call's own preprocessing options (`preprocessBase` without its
 * inputs), on an empty input of the call's language. `-v` lists the
 * directories on stderr; the empty input makes it cheap, and the same for
 * every source of a build with the same options.
 */
export function includeSearchArgv(preprocessOptions: readonly string[], language: string): string[] {
  // A compiler plugin's code must run only where the user's compile runs it; it cannot move the include search.
  const options = preprocessOptions.filter((a) => !PLUGIN_OPTION.test(a));
  return [...options, "-E", "-v", "-x", language, "/dev/null", "-o", "/dev/null"];
}

const PLUGIN_OPTION = /^-f(plugin=|plugin-arg-|pass-plugin=)/;

const QUOTE_START = /^#include "\.\.\." search starts here:$/;
const ANGLE_START = /^#include <\.\.\.> search starts here:$/;
const END = /^End of search list\.$/;
/** gcc and clang both name directories they leave out because they do not exist. */
const MISSING = /^ignoring nonexistent directory "(.*)"$/;

/**
 * Reads gcc's and clang's `-v` report (stderr) into the include search:
 * the `"..."` and `<...>` lists, and the directories left out as
 * nonexistent (a later `mkdir` puts them back in the search). Undefined when
 * the report is not there.
 */
export function parseIncludeSearch(output: IncludeSearchOutput): IncludeSearch | undefined {
  const quote: string[] = [];
  const angle: string[] = [];
  const missing: string[] = [];
  let list: string[] | undefined;
  let ended = false;
  let sawAngle = false;
  for (const raw of output.stderr.split("\n")) {
    const line = raw.replace(/\r$/, "");
    const gone = MISSING.exec(line);
    if (gone) missing.push(gone[1]!);
    else if (QUOTE_START.test(line)) list = quote;
    else if (ANGLE_START.test(line)) {
      list = angle;
      sawAngle = true;
    } else if (END.test(line)) {
      ended = true;
      list = undefined;
    } else if (list && line.startsWith(" ")) {
      // Apple clang marks framework directories: kept as plain ones (a candidate more, never one fewer).
      list.push(line.trim().replace(/ \(framework directory\)$/, ""));
    }
  }
  return ended && sawAngle ? { quote, angle, missing } : undefined;
}
