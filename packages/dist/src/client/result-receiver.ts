/**
 * Receives a builder's job result (protocol/job-result.ts) as its bytes
 * arrive, without joining them into one buffer: the header is checked
 * against the job before any byte is kept, stdout and stderr are collected,
 * and each output goes into a temporary file beside its target, checksummed while
 * it is written. Only a result whose length is exact and whose every part
 * matches its checksum is returned, and its outputs reach their paths only on
 * `commit`; anything else removes the temporary files, so a bad result never
 * reaches the build's outputs or the cache.
 */
import { closeSync, openSync, unlinkSync, writeSync } from "node:fs";
import { moveIntoPlace, tempBeside } from "@reprise/core";
import { FarmRequestError } from "../http/client.js";
import { BadJobResult, MAX_RESULT_HEADER_BYTES, parseResultHeader, partChecksum, type ResultHeader } from "../protocol/job-result.js";

/** An output the job writes, as the client expects it back. */
export interface ExpectedOutput {
  role: string;
  path: string;
  optional?: boolean;
  executable?: boolean;
}

export interface ReceivedResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  runMs?: number;
  /** The roles of the outputs received (in temporary files until `commit`). */
  roles: string[];
  /** Their bytes, by role, as written (for the store: MissCompileResult.outputs). */
  outputs: { role: string; data: Buffer }[];
  /** Puts every output received in place (each a rename, as a local compile's output appears). */
  commit(): void;
  /** Removes the temporary files: the outputs of a failed job, or a result not used. */
  discard(): void;
}

/** Where one part's bytes go while they arrive. */
interface Sink {
  readonly what: string;
  left: number;
  write(chunk: Buffer): void;
  /** Called once its last byte arrived: closes it and checks its checksum. */
  finish(): void;
}

/**
 * Reads `body` to its end. Throws FarmRequestError "garbage" (after removing
 * every temporary file) for a result that is not the protocol's, is cut short
 * or padded, larger than `maxBytes`, names an output the job does not write,
 * or has a part that does not match its checksum; other errors (the answer
 * broke off, a failed write) propagate after the same clean-up.
 */
export async function receiveJobResult(body: AsyncIterable<Buffer>, expected: readonly ExpectedOutput[], maxBytes: number): Promise<ReceivedResult> {
  const temps: { tmp: string; path: string; fd?: number }[] = [];
  const cleanUp = () => {
    for (const t of temps) {
      if (t.fd !== undefined) closeQuietly(t.fd);
      t.fd = undefined;
      unlinkQuietly(t.tmp);
    }
  };
  try {
    const r = await receive(body, expected, maxBytes, temps);
    return {
      ...r,
      commit() {
        for (const t of temps) moveIntoPlace(t.tmp, t.path);
        temps.length = 0;
      },
      discard: cleanUp,
    };
  } catch (err) {
    cleanUp();
    if (err instanceof BadJobResult) throw new FarmRequestError("garbage", `the builder's answer is not a job result: ${err.message}`);
    throw err;
  }
}

async function receive(
  body: AsyncIterable<Buffer>,
  expected: readonly ExpectedOutput[],
  maxBytes: number,
  temps: { tmp: string; path: string; fd?: number }[],
): Promise<Omit<ReceivedResult, "commit" | "discard">> {
  let head = Buffer.alloc(0);
  let header: ResultHeader | undefined;
  let headerLength = -1;
  let sinks: Sink[] = [];
  let current = 0;
  let total = 0;
  let stdout = Buffer.alloc(0);
  let stderr = Buffer.alloc(0);
  const outputs: { role: string; data: Buffer }[] = [];
  const finishEmpty = () => {
    while (current < sinks.length && sinks[current]!.left === 0) sinks[current++]!.finish();
  };
  for await (const chunk of body) {
    total += chunk.length;
    let at = 0;
    while (at < chunk.length) {
      if (!header) {
        const need = (headerLength < 0 ? 4 : 4 + headerLength) - head.length;
        head = Buffer.concat([head, chunk.subarray(at, at + need)]);
        at += Math.min(need, chunk.length - at);
        if (headerLength < 0 && head.length === 4) {
          headerLength = head.readUInt32BE(0);
          if (headerLength > MAX_RESULT_HEADER_BYTES) throw new BadJobResult(`the result's header claims ${headerLength} bytes (at most ${MAX_RESULT_HEADER_BYTES})`);
        }
        if (headerLength >= 0 && head.length === 4 + headerLength) {
          header = parseResultHeader(head.subarray(4));
          const describes = header.parts.reduce((n, p) => n + p.size, 4 + headerLength);
          if (describes > maxBytes) throw new BadJobResult(`the result's header describes ${describes} bytes (at most ${maxBytes})`);
          const roles = checkOutputs(header, expected);
          stdout = Buffer.allocUnsafe(header.parts[0]!.size);
          stderr = Buffer.allocUnsafe(header.parts[1]!.size);
          sinks = [memorySink("stdout", stdout, header.parts[0]!.crc32), memorySink("stderr", stderr, header.parts[1]!.crc32)];
          for (const [i, p] of header.parts.slice(2).entries()) {
            const out = roles[i]!;
            const temp = { tmp: tempBeside(out.path), path: out.path } as { tmp: string; path: string; fd?: number };
            temp.fd = openSync(temp.tmp, "wx", out.executable ? 0o777 : 0o666);
            temps.push(temp);
            const data = Buffer.allocUnsafe(p.size);
            outputs.push({ role: out.role, data });
            sinks.push(fileSink(`output ${out.path}`, temp, data, p.crc32));
          }
          finishEmpty();
        }
        continue;
      }
      const sink = sinks[current];
      if (!sink) throw new BadJobResult(`the result has bytes after its parts (at least ${total - (chunk.length - at)} + ${chunk.length - at})`);
      const n = Math.min(sink.left, chunk.length - at);
      sink.write(chunk.subarray(at, at + n));
      sink.left -= n;
      at += n;
      finishEmpty();
    }
  }
  if (!header) throw new BadJobResult(headerLength < 0 ? `the result is ${total} bytes, too short for its header` : `the result ends inside its header (${total} bytes)`);
  if (current < sinks.length) throw new BadJobResult(`the result is cut short: ${total} bytes, its header describes more (${sinks[current]!.what} incomplete)`);
  const roles = outputs.map((o) => o.role);
  return { exitCode: header.exitCode, stdout, stderr, roles, outputs, ...(header.timings ? { runMs: header.timings.runMs } : {}) };
}

/** The expected output of each output part, in order; refuses a path or role the job does not write, one twice, or a success without a required output. */
function checkOutputs(header: ResultHeader, expected: readonly ExpectedOutput[]): ExpectedOutput[] {
  const seen = new Set<string>();
  const found: ExpectedOutput[] = [];
  for (const p of header.parts.slice(2)) {
    if (p.kind !== "output") continue;
    const out = expected.find((e) => e.role === p.role);
    if (!out || out.path !== p.path) throw new BadJobResult(`the builder returned an output the job does not write (${p.role} ${p.path})`);
    if (seen.has(p.role)) throw new BadJobResult(`the builder returned ${p.role} twice`);
    seen.add(p.role);
    found.push(out);
  }
  if (header.exitCode === 0) {
    const missing = expected.find((e) => !e.optional && !seen.has(e.role));
    if (missing) throw new BadJobResult(`the job succeeded on the builder but wrote no ${missing.path}`);
  }
  return found;
}

function memorySink(what: string, into: Buffer, crc32: number): Sink {
  const hash = partChecksum();
  let at = 0;
  return {
    what,
    left: into.length,
    write(chunk) {
      chunk.copy(into, at);
      at += chunk.length;
      hash.update(chunk);
    },
    finish() {
      if (hash.value() !== crc32) throw new BadJobResult(`${what} does not match its checksum`);
    },
  };
}

/** Writes an output's bytes into its temporary file as they arrive, and keeps them in `into` for the store. */
function fileSink(what: string, temp: { fd?: number }, into: Buffer, crc32: number): Sink {
  const hash = partChecksum();
  let kept = 0;
  return {
    what,
    left: into.length,
    write(chunk) {
      // Synchronous: a page-cache write of a network chunk costs less than a thread-pool round trip.
      for (let at = 0; at < chunk.length; ) at += writeSync(temp.fd!, chunk, at, chunk.length - at);
      kept += chunk.copy(into, kept);
      hash.update(chunk);
    },
    finish() {
      closeSync(temp.fd!);
      temp.fd = undefined;
      if (hash.value() !== crc32) throw new BadJobResult(`${what} does not match its checksum`);
    },
  };
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // never created, or gone
  }
}
