import type { ZodType } from "zod";
import type { EngineHooks } from "./hooks.js";
import {
  adaptedOutputSchema,
  cacheStorageSchema,
  compilerDetectionSchema,
  dependencyListSchema,
  textDigestSchema,
  describeIssue,
  missCompileResultSchema,
  parseResultSchema,
  plainDependencyList,
  platformsSchema,
  portableToolchainSchema,
  sandboxSchema,
  toolchainDescriptorSchema,
  toolchainSpecSchema,
} from "./plugin-results.js";
import { PluginError, RepriseError } from "../util/errors.js";

/** A tapable tap as interceptors see it. */
interface TapInfo {
  name: string;
  type: "sync" | "async" | "promise";
  fn: (...args: any[]) => any;
}

interface Guard {
  hook: string;
  /** What a returned value must look like; `undefined` ("not mine") always passes. */
  schema?: ZodType;
  /** A cheap check that only says yes to what `schema` accepts: the schema then runs only for the rest. */
  accepts?: (value: unknown) => boolean;
  /** Adds the engine's own fields to a valid result (e.g. which plugin detected a compiler). */
  annotate?: (value: any, plugin: string) => unknown;
}

/** Attaches the plugin's name to an error that does not carry one yet. */
function blame(err: unknown, plugin: string, hook: string): Error {
  if (err instanceof PluginError) return err;
  if (err instanceof RepriseError) {
    if (!("plugin" in err)) Object.defineProperty(err, "plugin", { value: plugin, enumerable: false });
    return err;
  }
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  const wrapped = new PluginError(plugin, `${hook} failed`, message);
  (wrapped as Error & { cause?: unknown }).cause = err;
  return wrapped;
}

function wrap(tap: TapInfo, guard: Guard, plugin: string): TapInfo {
  const original = tap.fn;
  const check = (value: unknown): unknown => {
    if (value === undefined || !guard.schema) return value;
    if (guard.accepts?.(value)) return guard.annotate ? guard.annotate(value, plugin) : value;
    const result = guard.schema.safeParse(value);
    if (!result.success) {
      throw new PluginError(plugin, `${guard.hook} returned an invalid result`, `${describeIssue(result.error)} (see docs/plugin-guide.md, "${guard.hook}")`);
    }
    return guard.annotate ? guard.annotate(value, plugin) : value;
  };
  let fn: TapInfo["fn"];
  switch (tap.type) {
    case "sync":
      fn = (...args) => {
        let value: unknown;
        try {
          value = original(...args);
        } catch (err) {
          throw blame(err, plugin, guard.hook);
        }
        return check(value);
      };
      break;
    case "promise":
      fn = (...args) => {
        let pending: unknown;
        try {
          pending = original(...args);
        } catch (err) {
          return Promise.reject(blame(err, plugin, guard.hook));
        }
        if (!pending || typeof (pending as Promise<unknown>).then !== "function") {
          return Promise.reject(new PluginError(plugin, `${guard.hook} was tapped with tapPromise but did not return a promise`));
        }
        return (pending as Promise<unknown>).then(check, (err: unknown) => {
          throw blame(err, plugin, guard.hook);
        });
      };
      break;
    case "async":
      fn = (...args) => {
        const callback = args.pop() as (err: unknown, value?: unknown) => void;
        try {
          original(...args, (err: unknown, value: unknown) => {
            if (err) return callback(blame(err, plugin, guard.hook));
            let checked: unknown;
            try {
              checked = check(value);
            } catch (e) {
              return callback(e);
            }
            callback(null, checked);
          });
        } catch (err) {
          callback(blame(err, plugin, guard.hook));
        }
      };
      break;
  }
  return { ...tap, fn };
}

/**
 * Puts a guard around every tap of every hook: what a plugin returns is
 * checked against its schema, and anything a plugin throws names the plugin.
 * `currentPlugin` names the plugin being applied (taps made outside `apply`
 * are named by their tap name). Guards run at tap time only: calling a hook
 * costs one wrapper call per tap, plus the schema check of its result.
 */
export function guardHooks(hooks: EngineHooks, currentPlugin: () => string | undefined): void {
  const register = (guard: Guard) => ({
    register: (tap: TapInfo) => wrap(tap, guard, currentPlugin() ?? tap.name),
  });
  hooks.detectCompiler.intercept(register({ hook: "detectCompiler", schema: compilerDetectionSchema, annotate: (v, plugin) => ({ ...v, plugin }) }) as never);
  hooks.parseArguments.intercept({
    factory: (key, hook) => {
      hook.intercept(register({ hook: `parseArguments.for("${String(key)}")`, schema: parseResultSchema }) as never);
      return hook;
    },
  });
  hooks.extendKey.intercept(register({ hook: "extendKey" }) as never);
  hooks.adaptOutput.intercept({
    factory: (key, hook) => {
      hook.intercept(register({ hook: `adaptOutput.for("${String(key)}")`, schema: adaptedOutputSchema }) as never);
      return hook;
    },
  });
  hooks.listDependencies.intercept({
    factory: (key, hook) => {
      hook.intercept(register({ hook: `listDependencies.for("${String(key)}")`, schema: dependencyListSchema, accepts: plainDependencyList }) as never);
      return hook;
    },
  });
  hooks.textDigest.intercept({
    factory: (key, hook) => {
      hook.intercept(register({ hook: `textDigest.for("${String(key)}")`, schema: textDigestSchema }) as never);
      return hook;
    },
  });
  hooks.createStorage.intercept(register({ hook: "createStorage", schema: cacheStorageSchema }) as never);
  hooks.packageToolchain.intercept(register({ hook: "packageToolchain", schema: toolchainSpecSchema }) as never);
  hooks.describeToolchain.intercept(register({ hook: "describeToolchain", schema: toolchainDescriptorSchema }) as never);
  hooks.resolveArchitecture.intercept(register({ hook: "resolveArchitecture", schema: platformsSchema }) as never);
  hooks.portableToolchain.intercept(register({ hook: "portableToolchain", schema: portableToolchainSchema }) as never);
  hooks.createSandbox.intercept(register({ hook: "createSandbox", schema: sandboxSchema }) as never);
  // A tap's invalid result or error names the plugin; MissCompiler then compiles the miss locally.
  hooks.compileMiss.intercept(register({ hook: "compileMiss", schema: missCompileResultSchema }) as never);
  hooks.callFinished.intercept(register({ hook: "callFinished" }) as never);
}
