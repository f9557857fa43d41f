import { readFileSync } from "node:fs";

/** The @reprise/dist package version, reported by /v1/health and in registrations. */
export const DIST_VERSION: string = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
