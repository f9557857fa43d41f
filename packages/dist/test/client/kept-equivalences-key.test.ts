import { describe, expect, it } from "vitest";
import { Engine } from "@reprise/core";
import { equivalenceKey } from "../../src/client/kept-equivalences.js";

const compiler = { identity: "a".repeat(64), path: "/usr/bin/gcc" };
const engineWith = (...plugins: { name: string; version?: string }[]) => {
  const engine = new Engine();
  for (const p of plugins) engine.use({ ...p, apply() {} });
  return engine;
};

describe("the key of a kept equivalence probe's answer", () => {
  it("names each plugin's release: a new release of a plugin is asked again", () => {
    const v1 = equivalenceKey(engineWith({ name: "gcc", version: "1.0.0" }), compiler, "x86_64-linux-gnu");
    expect(equivalenceKey(engineWith({ name: "gcc", version: "1.0.0" }), compiler, "x86_64-linux-gnu")).toBe(v1);
    expect(equivalenceKey(engineWith({ name: "gcc", version: "1.0.1" }), compiler, "x86_64-linux-gnu")).not.toBe(v1);
    expect(equivalenceKey(engineWith({ name: "gcc", version: "1.0.0" }), compiler, "aarch64-linux-gnu")).not.toBe(v1);
  });
});
