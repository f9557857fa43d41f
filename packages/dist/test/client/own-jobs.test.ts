import { describe, expect, it } from "vitest";
import { OwnJobs } from "../../src/client/own-jobs.js";

describe("whether the farm is working for this client (a busy farm's answer is asked again)", () => {
  it("while a job of its own runs, and for a moment after the last one ended (the slot's report to the scheduler)", () => {
    const jobs = new OwnJobs();
    expect(jobs.workingSince(1000), "no job yet").toBe(false);
    jobs.started();
    jobs.started();
    expect(jobs.workingSince(50_000)).toBe(true);
    jobs.ended(10_000);
    expect(jobs.workingSince(50_000), "one still runs").toBe(true);
    jobs.ended(11_000);
    expect(jobs.workingSince(12_000), "ended 1 s before the wait began").toBe(true);
    expect(jobs.workingSince(13_001), "ended over 2 s before the wait began").toBe(false);
  });

  it("never counts below zero jobs", () => {
    const jobs = new OwnJobs();
    jobs.ended(0);
    jobs.started();
    expect(jobs.workingSince(60_000)).toBe(true);
    jobs.ended(1000);
    expect(jobs.workingSince(60_000)).toBe(false);
  });
});
