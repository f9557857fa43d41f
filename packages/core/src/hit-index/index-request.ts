/**
 * The request as the hit index names and compares it (the native client's
 * `index_request` does the same): the words of `MAKEFLAGS` and `MFLAGS`
 * that name make's jobserver (`--jobserver-auth=…`, `--jobserver-fds=…`) are
 * left out. GNU make 4.4 and later name a new FIFO there on every run, so a
 * rebuild's requests never equalled the cold build's byte for byte, and
 * every hit went to the daemon. No cached result depends on them: the
 * engine's key leaves them out unless a plugin keys on these variables, and
 * then no entry is written (`jobserverKeyed`).
 */
export const JOBSERVER_VARIABLES: readonly string[] = ["MAKEFLAGS", "MFLAGS"];

const JOBSERVER_WORD = /^--jobserver-(?:auth|fds)=/;

/** The Compile payload with make's jobserver words left out; the same Buffer when there are none. */
export function indexRequest(payload: Buffer): Buffer {
  let at = 5; // protocol version, flags
  const str = (): string | undefined => {
    const end = payload.indexOf(0, at);
    if (end < 0) return undefined;
    const s = payload.toString("latin1", at, end);
    at = end + 1;
    return s;
  };
  const u32 = (): number | undefined => {
    if (at + 4 > payload.length) return undefined;
    const v = payload.readUInt32BE(at);
    at += 4;
    return v;
  };
  for (let i = 0; i < 3; i++) if (str() === undefined) return payload;
  const argc = u32();
  if (argc === undefined) return payload;
  for (let i = 0; i < argc; i++) if (str() === undefined) return payload;
  const envc = u32();
  if (envc === undefined) return payload;
  const envStart = at;
  const env: string[] = [];
  let found = false;
  for (let i = 0; i < envc; i++) {
    const e = str();
    if (e === undefined) return payload;
    if (isJobserverVariable(e) && e.includes("--jobserver-")) found = true;
    env.push(e);
  }
  if (!found) return payload;
  const rewritten = env.map((e) => (isJobserverVariable(e) ? withoutJobserver(e) : e));
  return Buffer.concat([payload.subarray(0, envStart), ...rewritten.map((e) => Buffer.from(`${e}\0`, "latin1")), payload.subarray(at)]);
}

function isJobserverVariable(e: string): boolean {
  return JOBSERVER_VARIABLES.some((name) => e.startsWith(`${name}=`));
}

function withoutJobserver(e: string): string {
  const eq = e.indexOf("=");
  const words = e.slice(eq + 1).split(" ");
  return `${e.slice(0, eq + 1)}${words.filter((w) => !JOBSERVER_WORD.test(w)).join(" ")}`;
}

/** Whether a call keyed on a jobserver variable carries jobserver words (its entry would stand for requests its key tells apart). */
export function jobserverKeyed(keyEnv: readonly string[], env: Readonly<Record<string, string>>): boolean {
  return JOBSERVER_VARIABLES.some((name) => keyEnv.includes(name) && (env[name] ?? "").includes("--jobserver-"));
}
