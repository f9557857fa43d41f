/**
 * Runs `work` with `process.env` replaced by a view that records which
 * variables are read. A parser runs in the daemon, whose environment is not
 * the caller's: it must read `input.env`.
 */
export function watchProcessEnv<T>(work: () => T): { result: T; processEnvReads: string[] } {
  const real = process.env;
  const reads = new Set<string>();
  const watched = new Proxy(real, {
    get(target, key, receiver) {
      if (typeof key === "string") reads.add(key);
      return Reflect.get(target, key, receiver);
    },
    has(target, key) {
      if (typeof key === "string") reads.add(key);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      reads.add("(all variables)");
      return Reflect.ownKeys(target);
    },
  });
  process.env = watched;
  try {
    return { result: work(), processEnvReads: [...reads] };
  } finally {
    process.env = real;
  }
}
