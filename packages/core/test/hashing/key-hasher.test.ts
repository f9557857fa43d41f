// KeyHasher feeds its parts to the hash in one update: every key must stay the digest of the framed parts fed one by one
// (label, "\0", the value's UTF-8 length, "\0", the value), or every stored entry's key would change.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { KeyHasher } from "../../src/hashing/key-hasher.js";

type Part = [string, string | Buffer | number | boolean | undefined | null];

function framed(parts: readonly Part[]): ReturnType<typeof createHash> {
  const h = createHash("sha256");
  for (const [label, value] of parts) {
    const bytes = value === undefined || value === null ? "" : typeof value === "string" || Buffer.isBuffer(value) ? value : String(value);
    h.update(`${label}\0${Buffer.byteLength(bytes)}\0`);
    h.update(bytes);
  }
  return h;
}

const parts: Part[] = [
  ["manifest", "a".repeat(64)],
  ["path", "/usr/include/stdio.h"],
  ["hash", "0f".repeat(32)],
  ["arg", "-DNAME=\u00e9t\u00e9 \u{1F600}"],
  ["lone", "\ud800"],
  ["next", "\udc00x"],
  ["size", 4096],
  ["flag", true],
  ["unset", undefined],
  ["null", null],
  ["bytes", Buffer.from([0, 1, 2, 255])],
  ["after", "text after bytes"],
  ["empty", ""],
];

describe("KeyHasher", () => {
  it("gives the digest of its framed parts fed one by one, whatever the values' kinds", () => {
    for (let n = 0; n <= parts.length; n++) {
      const h = new KeyHasher();
      for (const [l, v] of parts.slice(0, n)) h.add(l, v);
      expect(h.digest()).toBe(framed(parts.slice(0, n)).digest("hex"));
    }
  });

  it("forks with what was added so far, each copy going on alone", () => {
    const base = new KeyHasher().add("compiler", "/usr/bin/gcc").add("arg", "-O2");
    const one = base.fork().add("source", "a.c");
    const two = base.fork().add("source", "b.c");
    base.add("more", 1);
    expect(one.digest()).toBe(framed([["compiler", "/usr/bin/gcc"], ["arg", "-O2"], ["source", "a.c"]]).digest("hex"));
    expect(two.digest()).toBe(framed([["compiler", "/usr/bin/gcc"], ["arg", "-O2"], ["source", "b.c"]]).digest("hex"));
    expect(base.digest()).toBe(framed([["compiler", "/usr/bin/gcc"], ["arg", "-O2"], ["more", 1]]).digest("hex"));
  });

  it("hashes a list with its length first", () => {
    expect(new KeyHasher().addList("inc", ["a", "b"]).digest()).toBe(framed([["inc", 2], ["inc", "a"], ["inc", "b"]]).digest("hex"));
  });
});
