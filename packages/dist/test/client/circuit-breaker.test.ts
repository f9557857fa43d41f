import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "../../src/client/circuit-breaker.js";

describe("CircuitBreaker", () => {
  it("opens after the threshold of failures in a row, lets one probe through after the pause, and closes on success", () => {
    const b = new CircuitBreaker(2, 1000);
    expect(b.allow(0)).toBe(true);
    b.failure(0);
    expect(b.allow(1)).toBe(true);
    b.failure(1);
    expect(b.state).toBe("open");
    expect(b.allow(500)).toBe(false);
    expect(b.allow(1001)).toBe(true);
    expect(b.allow(1002), "one probe at a time").toBe(false);
    b.success();
    expect(b.state).toBe("closed");
    expect(b.allow(1003)).toBe(true);
  });

  it("a failed probe opens it again for another pause", () => {
    const b = new CircuitBreaker(1, 1000);
    b.failure(0);
    expect(b.allow(1000)).toBe(true);
    b.failure(1000);
    expect(b.allow(1500)).toBe(false);
    expect(b.allow(2001)).toBe(true);
  });
});
