import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { dylibCrateName, DylibNames, rustcPathRecording } from "../src/path-recording.js";

const dir = mkdtempSync(join(tmpdir(), "reprise-rustc-recording-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("rustc's path recording for baseDirs", () => {
  it("reads a proc macro's crate name from its file name", () => {
    expect(dylibCrateName("/t/deps/libserde_derive-bb99573673677c88.so")).toBe("serde_derive");
    expect(dylibCrateName("libembed_dir.so")).toBe("embed_dir");
    expect(dylibCrateName("libfoo-0123456789abcdef.dylib")).toBe("foo");
    expect(dylibCrateName("foo-0123456789abcdef.dll")).toBe("foo");
    expect(dylibCrateName("libserde-ffdf2c73cff7e86c.rlib")).toBeUndefined();
  });

  it("names every proc macro the crate could load as a binding marker: --extern ones and those in its crate directories", () => {
    const deps = join(dir, "deps");
    mkdirSync(deps);
    writeFileSync(join(deps, "libserde_derive-bb99573673677c88.so"), "");
    writeFileSync(join(deps, "libserde-ffdf2c73cff7e86c.rlib"), "");
    const names = new DylibNames();
    const rec = rustcPathRecording(
      { remaps: [{ from: "/a/proj" }], cwd: "/a/proj", externs: ["/x/libembed_dir-0123456789abcdef.so", "/x/libutil-0123456789abcdef.rlib"], crateDirs: [deps], outputRoles: ["rlib", "rmeta", "dep-info"] },
      names,
    );
    expect(rec).toMatchObject({ debugMaps: ["/a/proj"], unmappable: false, relocatable: { outputs: ["dep-info"], streams: true }, bindingMarkers: ["embed_dir", "serde_derive"] });
    // A new proc macro in the directory is seen (the listing follows the directory's changes).
    writeFileSync(join(deps, "libthiserror_impl-963072df1c5728ba.so"), "");
    const later = names.in(deps);
    expect(later).toContain("thiserror_impl");
  });

  it("does not share a crate that could load a proc macro when no output holds the metadata that would name it (a program)", () => {
    const rec = rustcPathRecording({ remaps: [], cwd: "/a/proj", externs: ["/x/libembed_dir.so"], crateDirs: [], outputRoles: ["bin", "dep-info"] }, new DylibNames());
    expect(rec.unmappable).toBe(true);
    const none = rustcPathRecording({ remaps: [], cwd: "/a/proj", externs: [], crateDirs: [join(dir, "missing")], outputRoles: ["bin", "dep-info"] }, new DylibNames());
    expect(none.unmappable).toBe(false);
    expect(none.bindingMarkers).toBeUndefined();
  });
});
