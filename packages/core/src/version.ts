/** Version of this build of Reprise; the daemon restarts when a client of another version calls it. */
export const REPRISE_VERSION = "0.1.0";
