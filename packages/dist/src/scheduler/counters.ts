/** What the scheduler counts; reported by `GET /v1/status`. */
export function createCounters() {
  return {
    allocations: 0,
    allocationsAfterWait: 0,
    /** `allocate-batch` requests (their allocations are counted in `allocations`). */
    allocateBatches: 0,
    /** Batch entries answered all-busy (their clients then ask alone, with waiting). */
    batchDeferred: 0,
    noBuilder: 0,
    allBusy: 0,
    queueFull: 0,
    registrations: 0,
    reRegistrations: 0,
    heartbeats: 0,
    unknownBuilder: 0,
    droppedBuilders: 0,
    finishedOk: 0,
    finishedFailed: 0,
    unknownJob: 0,
    /** Allocations a client gave back unused (it could not reach the builder). */
    releasedByClient: 0,
    /** Allocations taken back because their builder never heard of them (the client vanished). */
    unclaimedReleased: 0,
    /** Every request refused for its credentials (401 + 403). */
    refusedAuth: 0,
    refusedUnauthenticated: 0,
    refusedForbidden: 0,
    refusedProtocol: 0,
    refusedTooLarge: 0,
    badRequests: 0,
    internalErrors: 0,
  };
}

export type SchedulerCounters = ReturnType<typeof createCounters>;
