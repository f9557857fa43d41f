import { randomBytes } from "node:crypto";

/** This process's random tag, drawn once: temp names need only be unique (their O_EXCL create refuses any clash). */
const TAG = `${process.pid}.${randomBytes(6).toString("hex")}`;
let count = 0;

/** A suffix no other temp name of any process gets: the process's tag and a counter, no random bytes per name. */
export function tempSuffix(): string {
  return `${TAG}.${(count++).toString(36)}`;
}
