/**
 * The run request's check on the hot path: a plain walk of the body that
 * accepts only what `RunRequestSchema` accepts (and is stricter where that is
 * simpler), so a well-formed request costs no zod parse. Anything this walk
 * does not accept goes to zod, which decides and words the error.
 */
import { DOT_COMPONENT, type RunRequest } from "./job-message.js";

const DIGEST = /^[0-9a-f]{64}$/;
const TOOLCHAIN_ID = /^[A-Za-z0-9._:-]{1,256}$/;
const MAX_ARG = 1 << 16;

type Obj = Record<string, unknown>;

function isObject(x: unknown): x is Obj {
  return typeof x === "object" && x !== null && !Array.isArray(x) && Object.getPrototypeOf(x) === Object.prototype;
}

/** Exactly the keys of `required` and a subset of `optional`, nothing else (zod's strict objects). */
function hasOnlyKeys(o: Obj, required: readonly string[], optional: readonly string[] = []): boolean {
  let n = 0;
  for (const k of required) {
    if (!Object.hasOwn(o, k)) return false;
    n++;
  }
  for (const k of optional) if (Object.hasOwn(o, k)) n++;
  return Object.keys(o).length === n;
}

function isAbsolute(p: unknown): p is string {
  return typeof p === "string" && p.length >= 1 && p.length <= 4096 && p.charCodeAt(0) === 47 && !p.includes("\0") && !DOT_COMPONENT.test(p);
}

function isInt(x: unknown, min: number, max = Number.MAX_SAFE_INTEGER): x is number {
  return Number.isSafeInteger(x) && (x as number) >= min && (x as number) <= max;
}

function isLimits(l: unknown): boolean {
  if (!isObject(l) || !hasOnlyKeys(l, ["timeoutMs", "maxOutputBytes"], ["memoryBytes", "maxProcesses"])) return false;
  return isInt(l.timeoutMs, 1) && isInt(l.maxOutputBytes, 1) && (l.memoryBytes === undefined || isInt(l.memoryBytes, 1)) && (l.maxProcesses === undefined || isInt(l.maxProcesses, 1));
}

function isEnv(e: unknown): boolean {
  if (!isObject(e)) return false;
  for (const k in e) if (k === "__proto__" || typeof e[k] !== "string") return false;
  return true;
}

function isInput(i: unknown): boolean {
  return isObject(i) && hasOnlyKeys(i, ["path", "digest", "size", "mode"]) && isAbsolute(i.path) && typeof i.digest === "string" && DIGEST.test(i.digest) && isInt(i.size, 0) && isInt(i.mode, 0, 0o7777);
}

function isOutput(o: unknown): boolean {
  if (!isObject(o) || !hasOnlyKeys(o, ["role", "path"], ["optional"])) return false;
  return typeof o.role === "string" && o.role.length >= 1 && o.role.length <= 200 && isAbsolute(o.path) && (o.optional === undefined || typeof o.optional === "boolean");
}

function isLink(l: unknown): boolean {
  return isObject(l) && hasOnlyKeys(l, ["path", "target"]) && isAbsolute(l.path) && isAbsolute(l.target);
}

function isArrayOf(a: unknown, min: number, max: number, each: (x: unknown) => boolean): boolean {
  if (!Array.isArray(a) || a.length < min || a.length > max) return false;
  for (const x of a) if (!each(x)) return false;
  return true;
}

function isJob(j: unknown): boolean {
  if (!isObject(j) || !hasOnlyKeys(j, ["argv", "cwd", "env", "inputs", "outputs", "limits"], ["directories", "links"])) return false;
  return (
    isArrayOf(j.argv, 1, MAX_ARG, (a) => typeof a === "string" && a.length <= MAX_ARG) &&
    isAbsolute(j.cwd) &&
    isEnv(j.env) &&
    isArrayOf(j.inputs, 0, 200_000, isInput) &&
    isArrayOf(j.outputs, 1, 64, isOutput) &&
    (j.directories === undefined || isArrayOf(j.directories, 0, 10_000, isAbsolute)) &&
    (j.links === undefined || isArrayOf(j.links, 0, 16, isLink)) &&
    isLimits(j.limits)
  );
}

/** Whether `body` is a run request `RunRequestSchema` would accept unchanged (false: ask zod). */
export function isPlainRunRequest(body: unknown): body is RunRequest {
  return isObject(body) && hasOnlyKeys(body, ["toolchainId", "job"]) && typeof body.toolchainId === "string" && TOOLCHAIN_ID.test(body.toolchainId) && isJob(body.job);
}
