import { execFileSync } from "node:child_process";
import { appendFileSync, chmodSync, copyFileSync, mkdirSync, mkdtempSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { inspectLinker } from "@reprise/plugin-rustc";
import { BuilderLinkers } from "../src/provider/builder-linkers.js";
import { ProvideError } from "../src/provider/types.js";

const dir = mkdtempSync(join(tmpdir(), "reprise-builder-linkers-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const HOST = "x86_64-unknown-linux-gnu";
const AARCH64 = "aarch64-unknown-linux-gnu";

describe("the linkers a builder reports", () => {
  it("reports link:<triple>:<identity> for each configured target, the client's identity for the same linker", async () => {
    const log: string[] = [];
    const linkers = new BuilderLinkers([{ target: HOST }, { target: AARCH64, linker: "aarch64-linux-gnu-gcc" }, { target: "riscv64gc-unknown-linux-gnu", linker: "no-such-gcc" }], (m) => log.push(m));
    await linkers.ready();
    const cc = await inspectLinker("cc", { cwd: "/", pathEnv: process.env.PATH });
    const cross = await inspectLinker("aarch64-linux-gnu-gcc", { cwd: "/", pathEnv: process.env.PATH });
    expect(linkers.capabilities()).toEqual([`link:${AARCH64}:${cross.identity}`, `link:${HOST}:${cc.identity}`].sort());
    // A linker it cannot find is left out, and said so.
    expect(log.join("\n")).toMatch(/cannot link for riscv64gc-unknown-linux-gnu: the linker no-such-gcc is not on PATH/);
    expect(await linkers.verified("riscv64gc-unknown-linux-gnu")).toBeUndefined();
    expect((await linkers.verified(HOST))?.identity).toBe(cc.identity);
  });

  it("refuses to lay out a link whose linker changed since it was reported (mismatch)", async () => {
    const bin = join(dir, "bin");
    mkdirSync(bin, { recursive: true });
    copyFileSync(realpathSync(execFileSync("sh", ["-c", "command -v gcc"], { encoding: "utf8" }).trim()), join(bin, "mycc"));
    chmodSync(join(bin, "mycc"), 0o755);
    const linkers = new BuilderLinkers([{ target: HOST, linker: "mycc" }], () => {}, `${bin}:${process.env.PATH}`);
    await linkers.ready();
    expect(linkers.capabilities()).toHaveLength(1);
    expect(await linkers.verified(HOST)).toBeDefined();
    appendFileSync(join(bin, "mycc"), Buffer.from("changed"));
    const err = await linkers.verified(HOST).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProvideError);
    expect(err).toMatchObject({ reason: "mismatch", message: expect.stringMatching(/changed since this builder reported it/) });
  });
});
