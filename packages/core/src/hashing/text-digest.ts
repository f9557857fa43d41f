import { StreamingHash } from "./key-hasher.js";

/**
 * How a compiler family reads a file for its text digest (the `textDigest`
 * hook, in one dialect): `id` names that reading, so digests of different
 * readings never compare equal.
 */
export interface TextReading {
  readonly id: string;
  /** Names the reading across daemons (Reprise's version and the tapping plugins too): its digests may be kept on disk. */
  readonly lastingId?: string;
  read(data: Buffer): { text: Buffer | null; embeds?: boolean };
}

/** A file's text digest: what its compile's outputs depend on, under one reading. */
export interface FileText {
  /** Undefined when only the file's exact bytes can tell (the reading gave no text). */
  hash: string | undefined;
  /** The file brings another file's bytes into the compile (`#embed`): no file of the compile may be compared by text. */
  embeds: boolean;
}

const TEXT_TAG = Buffer.from("reprise-text\0");

export function fileText(data: Buffer, reading: TextReading): FileText {
  const { text, embeds } = reading.read(data);
  // Tagged with the reading: never equal to a content hash, nor to another reading's text.
  const hash = text ? new StreamingHash().update(TEXT_TAG).update(Buffer.from(`${reading.id}\0`)).update(text).digest() : undefined;
  return { hash, embeds: embeds === true };
}
