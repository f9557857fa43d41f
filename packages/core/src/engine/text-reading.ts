import type { TextReading } from "../hashing/text-digest.js";
import type { Engine } from "./engine.js";
import type { CompileInvocation } from "./types.js";
import { REPRISE_VERSION } from "../version.js";

const readings = new WeakMap<Engine, Map<string, TextReading>>();

/**
 * How this call's files are read for their text digests: the family's
 * `textDigest` hook in the dialect the invocation names; undefined when the
 * plugin does not say its outputs depend on the text alone, or no plugin
 * taps the hook. One object per engine, family and dialect.
 */
export function textReadingFor(engine: Engine, family: string, inv: CompileInvocation): TextReading | undefined {
  const dialect = inv.textDigest?.dialect;
  if (dialect === undefined || !inv.preprocessedDeterminesOutputs) return undefined;
  const hook = engine.hooks.textDigest.get(family);
  if (!hook?.isUsed()) return undefined;
  let byId = readings.get(engine);
  if (!byId) readings.set(engine, (byId = new Map()));
  const id = `${family}\0${dialect}`;
  let reading = byId.get(id);
  if (!reading) {
    reading = {
      id,
      lastingId: JSON.stringify([REPRISE_VERSION, family, dialect, engine.pluginReleases(hook.taps.map((t) => t.name))]),
      read: (data) => {
        try {
          return hook.call({ data, dialect }) ?? { text: null };
        } catch {
          // A tap that fails (or returns what its schema refuses) decides nothing: the file's exact bytes do.
          return { text: null };
        }
      },
    };
    byId.set(id, reading);
  }
  return reading;
}
