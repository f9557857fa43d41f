import { describe, expect, it } from "vitest";
import { DYLIB_FILE, dylibCrateName, rustcPathRecording } from "../src/path-recording.js";

describe("rustc's path recording for baseDirs", () => {
  it("reads a proc macro's crate name from its file name", () => {
    expect(dylibCrateName("/t/deps/libserde_derive-bb99573673677c88.so")).toBe("serde_derive");
    expect(dylibCrateName("libembed_dir.so")).toBe("embed_dir");
    expect(dylibCrateName("libfoo-0123456789abcdef.dylib")).toBe("foo");
    expect(dylibCrateName("foo-0123456789abcdef.dll")).toBe("foo");
    expect(dylibCrateName("libserde-ffdf2c73cff7e86c.rlib")).toBeUndefined();
  });

  it("remaps, relocatable dep-info and streams, and the proc macros the crate could load as binding markers", () => {
    const rec = rustcPathRecording({
      remaps: [{ from: "/a/proj" }, { from: "" }],
      cwd: "/a/proj",
      externs: ["/x/libembed_dir-0123456789abcdef.so", "/x/libutil-0123456789abcdef.rlib"],
      crateDirs: ["/a/proj/target/debug/deps", "/a/proj/target/debug/deps"],
      outputRoles: ["rlib", "rmeta", "dep-info"],
    });
    expect(rec).toEqual({
      debugInfo: true,
      debugMaps: ["/a/proj"],
      fileTokens: [],
      macroMaps: ["/a/proj"],
      unmappable: false,
      relocatable: { outputs: ["dep-info"], streams: true },
      bindingMarkers: { names: ["embed_dir"], filesIn: { dirs: ["/a/proj/target/debug/deps"], pattern: DYLIB_FILE }, outputsShow: true },
    });
  });

  it("a program's outputs hold no metadata that would name a proc macro: its dependencies' metadata does", () => {
    const rec = rustcPathRecording({
      remaps: [],
      cwd: "/a/proj",
      externs: ["/t/deps/libplain-0123456789abcdef.rlib", "/t/deps/libx-0123456789abcdef.rmeta", "/t/deps/libembed_dir-0123456789abcdef.so"],
      crateDirs: [],
      outputRoles: ["bin", "dep-info"],
    });
    expect(rec.bindingMarkers).toEqual({ names: ["embed_dir"], outputsShow: false, shownIn: ["/t/deps/libplain-0123456789abcdef.rlib", "/t/deps/libx-0123456789abcdef.rmeta"] });
  });
});
