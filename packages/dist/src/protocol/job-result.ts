/**
 * A job's result as it travels from builder to client (protocol 3): a
 * 4-byte big-endian length, a JSON header naming each part with its size and
 * CRC-32, then the parts' raw bytes in the header's order. No base64, no
 * multi-megabyte JSON parse: the client checks the header, the exact total
 * length and every part's checksum before any byte is used.
 *
 * The check is for integrity only (a result cut, padded or garbled on the
 * way, or by a builder's bug), never for identity: the builder computes it
 * over the bytes it chose to send, so a stronger hash would prove nothing
 * more about them. zlib's CRC-32 (node:zlib, Node >= 20.15) costs a third of
 * SHA-256 here (0.21 against 0.60 ms per MB), on both sides of every job;
 * protocol 2 sent SHA-256 digests.
 */
import { crc32 } from "node:zlib";
import { z } from "zod";

export const JOB_RESULT_CONTENT_TYPE = "application/vnd.reprise.job-result";
/** Longest header accepted: a handful of parts and their names, never megabytes. */
export const MAX_RESULT_HEADER_BYTES = 64 * 1024;
/** What a result may hold beyond the job's output limit: its header, and room for an error answer. */
export const JOB_RESULT_LIMIT_SLACK = MAX_RESULT_HEADER_BYTES + 1024 * 1024;
const MAX_PARTS = 66; // stdout, stderr and at most 64 outputs (the job schema's limit)

const CRC32 = z.number().int().min(0).max(0xffffffff);
const SIZE = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

const PartSchema = z.discriminatedUnion("kind", [
  z.object({ kind: z.enum(["stdout", "stderr"]), size: SIZE, crc32: CRC32 }).strict(),
  z.object({ kind: z.literal("output"), role: z.string().min(1).max(200), path: z.string().min(1).max(4096), size: SIZE, crc32: CRC32 }).strict(),
]);

export const ResultHeaderSchema = z
  .object({
    exitCode: z.number().int().min(0).max(255),
    timings: z.object({ queuedMs: z.number(), runMs: z.number(), totalMs: z.number() }).optional(),
    parts: z.array(PartSchema).min(2).max(MAX_PARTS),
  })
  .strict();
export type ResultHeader = z.infer<typeof ResultHeaderSchema>;

export interface JobResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  outputs: { role: string; path: string; data: Buffer }[];
  timings?: { queuedMs: number; runMs: number; totalMs: number };
}

/** The builder's side: the pieces to write, in order (the big buffers are not copied). */
export function encodeJobResult(result: JobResult): { chunks: Buffer[]; length: number } {
  const part = (data: Buffer) => ({ size: data.length, crc32: crc32(data) });
  const header: ResultHeader = {
    exitCode: result.exitCode,
    ...(result.timings ? { timings: result.timings } : {}),
    parts: [
      { kind: "stdout", ...part(result.stdout) },
      { kind: "stderr", ...part(result.stderr) },
      ...result.outputs.map((o) => ({ kind: "output" as const, role: o.role, path: o.path, ...part(o.data) })),
    ],
  };
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32BE(json.length, 0);
  const chunks = [prefix, json, result.stdout, result.stderr, ...result.outputs.map((o) => o.data)];
  return { chunks, length: chunks.reduce((n, c) => n + c.length, 0) };
}

/** Why a result is refused: the client counts it as garbage from the builder. */
export class BadJobResult extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BadJobResult";
  }
}

/**
 * The client's side of the header: its bytes (after the 4-byte length),
 * parsed and checked against the protocol. Throws `BadJobResult` for a header
 * that is not JSON, not the protocol's, or whose parts are not stdout, stderr,
 * then outputs. The parts' bytes are checked as they arrive
 * (client/result-receiver.ts).
 */
export function parseResultHeader(bytes: Buffer): ResultHeader {
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new BadJobResult("the result's header is not JSON");
  }
  const parsed = ResultHeaderSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BadJobResult(`the result's header is not the protocol's: ${issue?.path.join(".") || "header"}: ${issue?.message}`);
  }
  const header = parsed.data;
  if (header.parts[0]!.kind !== "stdout" || header.parts[1]!.kind !== "stderr" || header.parts.slice(2).some((p) => p.kind !== "output")) {
    throw new BadJobResult("the result's parts are not stdout, stderr, then outputs");
  }
  return header;
}

/** A part's CRC-32, for a part checked as its bytes arrive. */
export function partChecksum(): { update(chunk: Buffer): void; value(): number } {
  let value = 0;
  return { update: (chunk) => void (value = crc32(chunk, value)), value: () => value };
}

/**
 * A whole result already in memory, checked (its length exact, every part
 * against its checksum); the buffers returned are views of `body`. The farm
 * client streams results instead (client/result-receiver.ts); this serves
 * callers that hold the bytes anyway (tests, tools).
 */
export function decodeJobResult(body: Buffer): JobResult {
  if (body.length < 4) throw new BadJobResult(`the result is ${body.length} bytes, too short for its header`);
  const headerLength = body.readUInt32BE(0);
  if (headerLength > MAX_RESULT_HEADER_BYTES) throw new BadJobResult(`the result's header claims ${headerLength} bytes (at most ${MAX_RESULT_HEADER_BYTES})`);
  if (4 + headerLength > body.length) throw new BadJobResult(`the result ends inside its header (${body.length} bytes)`);
  const header = parseResultHeader(body.subarray(4, 4 + headerLength));
  const expected = header.parts.reduce((n, p) => n + p.size, 4 + headerLength);
  if (expected !== body.length) throw new BadJobResult(`the result is ${body.length} bytes but its header describes ${expected}`);
  let at = 4 + headerLength;
  const parts = header.parts.map((p) => {
    const data = body.subarray(at, (at += p.size));
    if (crc32(data) !== p.crc32) throw new BadJobResult(`${p.kind === "output" ? `output ${p.path}` : p.kind} does not match its checksum`);
    return { p, data };
  });
  const outputs = parts.slice(2).flatMap(({ p, data }) => (p.kind === "output" ? [{ role: p.role, path: p.path, data }] : []));
  return { exitCode: header.exitCode, stdout: parts[0]!.data, stderr: parts[1]!.data, outputs, ...(header.timings ? { timings: header.timings } : {}) };
}
