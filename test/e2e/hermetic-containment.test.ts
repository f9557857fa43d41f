import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT, RepriseSandbox } from "../support/reprise-env.js";
import { expectSameAsPlain } from "../support/compare.js";
import { ensureDebianPackages } from "../support/sandbox-engines.js";

/**
 * Hermetic mode as containment, end to end with bwrap and the real daemon:
 * a call that would make the compiler load code it names (a real GCC plugin
 * here) is compiled locally, without the closure scan ever running that code
 * on the host; and a job carries none of the caller's environment but what
 * the compile needs (a token in the client's environment never reaches the
 * sandbox), while its object stays byte-identical to a plain compile.
 */

let sb: RepriseSandbox;
let proj: string;
const env = { REPRISE_HERMETIC: "bwrap" };

beforeAll(() => {
  ensureDebianPackages(["bubblewrap"]);
  sb = new RepriseSandbox();
  proj = join(sb.root, "proj");
  mkdirSync(proj, { recursive: true });
  writeFileSync(join(proj, "a.c"), '#include <stdio.h>\nint a(void) { printf("%s\\n", __FILE__); return 1; }\n');
}, 300_000);

afterAll(async () => {
  await sb.dispose();
});

describe("hermetic mode (bwrap) as containment", () => {
  it("compiles a call with -fplugin= locally: the plugin's code never runs for a closure scan on the host", async () => {
    // A GCC plugin whose constructor records the command line of every process that loads it.
    const marker = join(sb.root, "plugin-ran.txt");
    writeFileSync(
      join(proj, "evil.c"),
      `#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
int plugin_is_GPL_compatible;
__attribute__((constructor)) static void record(void) {
  char buf[8192];
  int fd = open("/proc/self/cmdline", O_RDONLY);
  ssize_t n = fd < 0 ? 0 : read(fd, buf, sizeof buf - 1);
  if (fd >= 0) close(fd);
  for (ssize_t i = 0; i < n; i++) if (buf[i] == 0) buf[i] = ' ';
  FILE *f = fopen("${marker}", "a");
  if (f) { fprintf(f, "%.*s\\n", (int)n, buf); fclose(f); }
}
int plugin_init(void *info, void *version) { (void)info; (void)version; return 0; }
`,
    );
    execFileSync("gcc", ["-shared", "-fPIC", "-o", join(proj, "evil.so"), join(proj, "evil.c")]);
    await sb.zeroStats();
    await expectSameAsPlain(sb, proj, ["gcc", "-fplugin=./evil.so", "-O1", "-c", "a.c", "-o", "a.o"], ["a.o"], env);
    const s = await sb.stats();
    expect(s.fallbacks).toEqual({ "hermetic-loads-code": 1 });
    expect(s.hermetic ?? {}).toEqual({});
    const lines = readFileSync(marker, "utf8").trim().split("\n");
    // The plain compile's cc1 and Reprise's local compile of the miss (the second call is a hit): no preprocessor-only (-E) scan.
    expect(lines).toHaveLength(2);
    for (const l of lines) {
      expect(l).toMatch(/cc1 /);
      expect(l).not.toMatch(/ -E( |$)/);
    }
  });

  it("gives a job none of the client's environment but what the compile needs; the object stays byte-identical", async () => {
    // A plugin named in config wraps the bwrap sandbox and records each job's environment: bwrap starts
    // from an empty environment (--clearenv) and sets exactly these (the sandbox tests check that).
    const log = join(sb.root, "job-env.jsonl");
    const dir = join(proj, "env");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "b.c"), "int b(int x) { return x * 3; }\n");
    writeFileSync(
      join(dir, "record-jobs.mjs"),
      `import { appendFileSync } from "node:fs";
import { BwrapSandbox } from ${JSON.stringify(join(REPO_ROOT, "packages/plugin-sandbox-bwrap/dist/index.js"))};
export default function recordJobs(options) {
  return {
    name: "record-jobs",
    apply(engine) {
      engine.hooks.createSandbox.tap("record-jobs", (settings) => {
        if (settings.name !== "bwrap") return undefined;
        const inner = new BwrapSandbox(settings.options ?? {});
        return {
          name: "bwrap",
          probe: () => inner.probe(),
          run: async (job, materials) => {
            appendFileSync(options.log, JSON.stringify(job.env) + "\\n");
            return inner.run(job, materials);
          },
        };
      });
    },
  };
}
`,
    );
    writeFileSync(join(dir, ".repriserc.json"), JSON.stringify({ plugins: ["@reprise/plugin-gcc", ["./record-jobs.mjs", { log }]] }));
    const secret = { REPRISE_TEST_API_TOKEN: "tok-5ecret-0451", AWS_SECRET_ACCESS_KEY: "aws-5ecret-0451" };
    // The daemon loads the plugins of the config where it starts.
    await sb.run(["--stop-server"], dir);
    await sb.run(["--start-server"], dir);
    await sb.zeroStats();
    await expectSameAsPlain(sb, dir, ["gcc", "-g", "-O2", "-c", "b.c", "-o", "b.o"], ["b.o"], { ...env, ...secret, LANG: "C.UTF-8" });
    const s = await sb.stats();
    expect(s.hermetic).toEqual({ bwrap: 1 });
    expect(s.fallbacks).toEqual({});
    expect(existsSync(log)).toBe(true);
    const jobs = readFileSync(log, "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, string>);
    expect(jobs).toHaveLength(1);
    const jobEnv = jobs[0]!;
    expect(JSON.stringify(jobEnv)).not.toContain("5ecret-0451");
    for (const name of ["HOME", "REPRISE_DIR", "REPRISE_RUNTIME_DIR", "REPRISE_HERMETIC", "TMPDIR"]) expect(jobEnv[name], name).toBeUndefined();
    expect(jobEnv.PATH).toBe(process.env.PATH);
    expect(jobEnv.LANG).toBe("C.UTF-8");
  });

  it("compiles -march=native in the sandbox with what it stands for here, byte-identical to a plain compile; gcc -g stays local", async () => {
    const dir = join(proj, "native");
    mkdirSync(dir, { recursive: true });
    // A daemon with the default plugins (gcc and clang), not the one the previous test configured.
    await sb.run(["--stop-server"], dir);
    writeFileSync(join(dir, "v.c"), "float dot(const float *a, const float *b, int n) { float s = 0; for (int i = 0; i < n; i++) s += a[i] * b[i]; return s; }\n");
    await sb.zeroStats();
    await expectSameAsPlain(sb, dir, ["gcc", "-O3", "-march=native", "-c", "v.c", "-o", "v.o"], ["v.o"], env);
    await expectSameAsPlain(sb, dir, ["clang", "-O2", "-g", "-march=native", "-c", "v.c", "-o", "v-clang.o"], ["v-clang.o"], env);
    await expectSameAsPlain(sb, dir, ["gcc", "-O2", "-g", "-march=native", "-c", "v.c", "-o", "v-g.o"], ["v-g.o"], env);
    const s = await sb.stats();
    expect(s.hermetic).toEqual({ bwrap: 2 });
    expect(s.fallbacks).toEqual({ "hermetic-unportable": 1 });
  });
});
