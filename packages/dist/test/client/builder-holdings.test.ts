import { describe, expect, it } from "vitest";
import { BuilderHoldings } from "../../src/client/builder-holdings.js";

const input = (n: number, size = 100) => ({ digest: n.toString(16).padStart(64, "0"), size });

describe("what the client knows each builder holds", () => {
  it("sends first only the few small inputs a builder it knows is missing", () => {
    const h = new BuilderHoldings();
    const headers = Array.from({ length: 160 }, (_, i) => input(i));
    // Nothing known of the builder yet: its 409 answer says what it lacks.
    expect(h.toSendFirst("http://b1", [...headers, input(1000)])).toEqual([]);
    h.hold("http://b1", headers.map((i) => i.digest));
    expect(h.toSendFirst("http://b1", [...headers, input(1000)])).toEqual([input(1000)]);
    // Another builder is another matter.
    expect(h.toSendFirst("http://b2", [...headers, input(1000)])).toEqual([]);
    // Many unknown inputs, or large ones: the builder is asked.
    expect(h.toSendFirst("http://b1", [...headers, ...Array.from({ length: 9 }, (_, i) => input(2000 + i))])).toEqual([]);
    expect(h.toSendFirst("http://b1", [...headers, input(3000, 2 * 1024 * 1024)])).toEqual([]);
    // A blob the builder said it lost is sent first again.
    h.lost("http://b1", [headers[5]!.digest]);
    expect(h.toSendFirst("http://b1", headers)).toEqual([headers[5]]);
  });

  it("sends blobs with the run only to a builder whose answer said it takes them, up to its limit", () => {
    const h = new BuilderHoldings();
    expect(h.inlineLimit("http://b1")).toBeUndefined();
    h.heardInline("http://b1", "67108864");
    expect(h.inlineLimit("http://b1")).toBe(64 * 1024 * 1024);
    expect(h.inlineLimit("http://b2")).toBeUndefined();
    // An answer without the header (an older builder now at that address), or a nonsense one: uploads only.
    h.heardInline("http://b1", undefined);
    expect(h.inlineLimit("http://b1")).toBeUndefined();
    h.heardInline("http://b1", "-3");
    expect(h.inlineLimit("http://b1")).toBeUndefined();
  });
});
