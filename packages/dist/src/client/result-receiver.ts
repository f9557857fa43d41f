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
 * Reads `body` to its end (see JobResultReader). Throws FarmRequestError
 * "garbage" (after removing every temporary file) for a result that is not
 * the protocol's; other errors (the answer broke off, a failed write)
 * propagate after the same clean-up.
 */
export async function receiveJobResult(body: AsyncIterable<Buffer>, expected: readonly ExpectedOutput[], maxBytes: number): Promise<ReceivedResult> {
  const reader = new JobResultReader(expected, maxBytes);
  try {
    for await (const chunk of body) reader.push(chunk);
  } catch (err) {
    reader.abort();
    throw err;
  }
  return reader.end();
}

/**
 * A job result read as its chunks are pushed (by farmRequest's `reader`, as
 * undici hands them over), never joined. `push` and `end` throw
 * FarmRequestError "garbage", after removing every temporary file, for a
 * result that is not the protocol's, is cut short or padded, larger than
 * `maxBytes`, names an output the job does not write, or has a part that
 * does not match its checksum; any other failure (a write) removes them too.
 * `abort` removes them when the answer broke off.
 */
export class JobResultReader {
  private readonly temps: { tmp: string; path: string; fd?: number }[] = [];
  private head = Buffer.alloc(0);
  private header: ResultHeader | undefined;
  private headerLength = -1;
  private sinks: Sink[] = [];
  private current = 0;
  private total = 0;
  private stdout = Buffer.alloc(0);
  private stderr = Buffer.alloc(0);
  private readonly outputs: { role: string; data: Buffer }[] = [];

  constructor(
    private readonly expected: readonly ExpectedOutput[],
    private readonly maxBytes: number,
  ) {}

  push(chunk: Buffer): void {
    try {
      this.take(chunk);
    } catch (err) {
      throw this.failed(err);
    }
  }

  end(): ReceivedResult {
    const { header, temps } = this;
    try {
      if (!header) throw new BadJobResult(this.headerLength < 0 ? `the result is ${this.total} bytes, too short for its header` : `the result ends inside its header (${this.total} bytes)`);
      if (this.current < this.sinks.length) throw new BadJobResult(`the result is cut short: ${this.total} bytes, its header describes more (${this.sinks[this.current]!.what} incomplete)`);
    } catch (err) {
      throw this.failed(err);
    }
    return {
      exitCode: header.exitCode,
      stdout: this.stdout,
      stderr: this.stderr,
      roles: this.outputs.map((o) => o.role),
      outputs: this.outputs,
      ...(header.timings ? { runMs: header.timings.runMs } : {}),
      commit() {
        for (const t of temps) moveIntoPlace(t.tmp, t.path);
        temps.length = 0;
      },
      discard: () => this.abort(),
    };
  }

  /** Removes every temporary file (an answer that broke off, a result not used). */
  abort(): void {
    for (const t of this.temps) {
      if (t.fd !== undefined) closeQuietly(t.fd);
      t.fd = undefined;
      unlinkQuietly(t.tmp);
    }
    this.temps.length = 0;
  }

  private failed(err: unknown): unknown {
    this.abort();
    return err instanceof BadJobResult ? new FarmRequestError("garbage", `the builder's answer is not a job result: ${err.message}`) : err;
  }

  private finishEmpty(): void {
    while (this.current < this.sinks.length && this.sinks[this.current]!.left === 0) this.sinks[this.current++]!.finish();
  }

  private take(chunk: Buffer): void {
    this.total += chunk.length;
    let at = 0;
    while (at < chunk.length) {
      if (!this.header) {
        at += this.takeHeader(chunk.subarray(at));
        continue;
      }
      const sink = this.sinks[this.current];
      if (!sink) throw new BadJobResult(`the result has bytes after its parts (at least ${this.total - (chunk.length - at)} + ${chunk.length - at})`);
      const n = Math.min(sink.left, chunk.length - at);
      sink.write(chunk.subarray(at, at + n));
      sink.left -= n;
      at += n;
      this.finishEmpty();
    }
  }

  /** Takes what `bytes` holds of the length and the header (their rest comes in later chunks); returns how many bytes it took. */
  private takeHeader(bytes: Buffer): number {
    const need = (this.headerLength < 0 ? 4 : 4 + this.headerLength) - this.head.length;
    const taken = Math.min(need, bytes.length);
    this.head = Buffer.concat([this.head, bytes.subarray(0, taken)]);
    if (this.headerLength < 0 && this.head.length === 4) {
      this.headerLength = this.head.readUInt32BE(0);
      if (this.headerLength > MAX_RESULT_HEADER_BYTES) throw new BadJobResult(`the result's header claims ${this.headerLength} bytes (at most ${MAX_RESULT_HEADER_BYTES})`);
    }
    if (this.headerLength >= 0 && this.head.length === 4 + this.headerLength) this.open(parseResultHeader(this.head.subarray(4)));
    return taken;
  }

  /** The header is whole: checks it against the job and opens a sink per part. */
  private open(header: ResultHeader): void {
    const describes = header.parts.reduce((n, p) => n + p.size, 4 + this.headerLength);
    if (describes > this.maxBytes) throw new BadJobResult(`the result's header describes ${describes} bytes (at most ${this.maxBytes})`);
    const roles = checkOutputs(header, this.expected);
    this.header = header;
    this.stdout = Buffer.allocUnsafe(header.parts[0]!.size);
    this.stderr = Buffer.allocUnsafe(header.parts[1]!.size);
    this.sinks = [memorySink("stdout", this.stdout, header.parts[0]!.crc32), memorySink("stderr", this.stderr, header.parts[1]!.crc32)];
    for (const [i, p] of header.parts.slice(2).entries()) {
      const out = roles[i]!;
      const temp = { tmp: tempBeside(out.path), path: out.path } as { tmp: string; path: string; fd?: number };
      temp.fd = openSync(temp.tmp, "wx", out.executable ? 0o777 : 0o666);
      this.temps.push(temp);
      const data = Buffer.allocUnsafe(p.size);
      this.outputs.push({ role: out.role, data });
      this.sinks.push(fileSink(`output ${out.path}`, temp, data, p.crc32));
    }
    this.finishEmpty();
  }
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
