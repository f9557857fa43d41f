// reprise-plugin-tcc: caches compiles of the Tiny C Compiler (tcc).
// A third-party plugin: it uses only the hooks @reprise/core documents.
import { basename, isAbsolute, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const NAME = "reprise-plugin-tcc";
const SCAN = fileURLToPath(new URL("./scan-includes.mjs", import.meta.url));
// Options followed by a value, and those of them only the preprocessor reads.
const WITH_VALUE = new Set(["-o", "-I", "-D", "-U", "-include", "-isystem", "-MF", "-L", "-l"]);
const PREPROCESSOR = new Set(["-I", "-D", "-U", "-include", "-isystem"]);

/** The call's arguments, split into what Reprise needs; a string when it cannot be cached. */
function split(args) {
  const out = { sources: [], output: undefined, depFile: undefined, md: false, compileOnly: false, keyArgs: [], ppArgs: [], debug: false };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const joined = /^-[IDU]./.test(a);
    if (WITH_VALUE.has(a) || joined) {
      const [opt, value] = joined ? [a.slice(0, 2), a.slice(2)] : [a, args[++i]];
      if (value === undefined) return "missing-option-value";
      if (opt === "-o") out.output = value;
      else if (opt === "-MF") out.depFile = value;
      else if (opt === "-L" || opt === "-l") return "linking";
      else {
        out.keyArgs.push(opt, value);
        if (PREPROCESSOR.has(opt)) out.ppArgs.push(opt, value);
      }
    } else if (a === "-c") out.compileOnly = true;
    else if (a === "-E") return "preprocess-only";
    else if (a === "-run" || a === "-") return "unsupported-option";
    else if (a === "-MD") out.md = true;
    else if (a.startsWith("-")) {
      if (a === "-g") out.debug = true;
      out.keyArgs.push(a);
    } else out.sources.push(a);
  }
  if (!out.compileOnly) return "linking";
  if (out.sources.length !== 1) return out.sources.length ? "multiple-sources" : "no-source";
  if (!out.sources[0].endsWith(".c")) return "unsupported-language";
  return out;
}

export default function tccPlugin() {
  return {
    name: NAME,
    apply(engine) {
      engine.hooks.detectCompiler.tapPromise(NAME, async (probe) => {
        const v = await probe.run(["-v"]);
        const m = /^tcc version (\S+)/.exec(v.stdout);
        if (v.exitCode !== 0 || !m) return undefined;
        // -vv adds the include and library directories this build searches.
        const vv = await probe.run(["-vv"]);
        return { family: "tcc", path: probe.path, realPath: probe.realPath, version: m[1], versionText: v.stdout + vv.stdout };
      });

      engine.hooks.parseArguments.for("tcc").tap(NAME, (input) => {
        const [compiler, ...args] = input.argv;
        const call = split(args);
        if (typeof call === "string") return { cacheable: false, reason: call };
        const abs = (p) => (isAbsolute(p) ? p : resolve(input.cwd, p));
        const source = abs(call.sources[0]);
        const object = abs(call.output ?? basename(source).replace(/\.c$/, ".o"));
        const outputs = [{ role: "object", path: object }];
        // tcc -MD writes <object>.d (or -MF's file): the user's output, restored on a hit.
        if (call.md) outputs.push({ role: "dep", path: abs(call.depFile ?? object.replace(/\.o$/, "") + ".d") });
        // tcc's own -MD leaves out system headers: a scan of `tcc -E` lists every file the compile reads.
        const scanDepFile = input.tempPath(".d");
        const pp = [...call.ppArgs, call.sources[0]];
        return {
          cacheable: true,
          invocation: {
            language: "c",
            sourceFile: source,
            outputs,
            keyArgs: call.keyArgs,
            preprocessorOnlyArgs: call.ppArgs,
            compileArgv: input.argv,
            preprocessArgv: [compiler, "-E", ...pp],
            dependencies: { scanArgv: [process.execPath, SCAN, scanDepFile, compiler, ...pp], scanDepFile },
            // tcc reads these; their values (from input.env, the caller's environment) enter the key.
            keyEnv: ["CPATH", "C_INCLUDE_PATH"].filter((name) => input.env[name] !== undefined),
            volatileMarkers: [
              { token: "__DATE__", effect: "date" },
              { token: "__TIME__", effect: "uncacheable" },
              { token: "__TIMESTAMP__", effect: "uncacheable" },
            ],
            dependsOnCwd: call.debug,
            colorDiagnostics: false,
            extraInputFiles: [],
          },
        };
      });
    },
  };
}

