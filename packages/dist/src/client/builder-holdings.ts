/**
 * What this client knows each builder holds: the inputs of every job it ran
 * there, and the blobs it uploaded. A job whose inputs are all known but a
 * few small ones (an edited source) uploads those first and runs in one more
 * request, instead of a run answered 409, the uploads, and a second run.
 */
import { LRUCache } from "lru-cache";

/** Digests remembered per builder (a large C++ build's headers and sources). */
const DIGESTS_PER_BUILDER = 100_000;
/** At most this many unknown inputs, of at most this many bytes, are sent before the run; beyond, the builder says what it lacks. */
const PREUPLOAD_MAX_BLOBS = 8;
const PREUPLOAD_MAX_BYTES = 1024 * 1024;

export interface WireInput {
  digest: string;
  size: number;
}

export class BuilderHoldings {
  private readonly byBuilder = new Map<string, LRUCache<string, true>>();
  /** How many bytes of run request with blobs each builder said it takes (none: it takes uploads only). */
  private readonly inlineLimits = new Map<string, number>();

  /** What a builder's answer to a run said of blobs sent with the run (protocol/run-body.ts): a limit, or nothing (an older builder). */
  heardInline(builder: string, header: string | string[] | undefined): void {
    const limit = Number(Array.isArray(header) ? header[0] : header);
    if (Number.isSafeInteger(limit) && limit > 0) this.inlineLimits.set(builder, limit);
    else this.inlineLimits.delete(builder);
  }

  /** The largest run request with blobs the builder takes; undefined when blobs go by upload only. */
  inlineLimit(builder: string): number | undefined {
    return this.inlineLimits.get(builder);
  }

  private of(builder: string): LRUCache<string, true> {
    let held = this.byBuilder.get(builder);
    if (!held) this.byBuilder.set(builder, (held = new LRUCache({ max: DIGESTS_PER_BUILDER })));
    return held;
  }

  /** The builder holds these blobs (a job that ran there, an upload it took, a 409 that did not list them). */
  hold(builder: string, digests: Iterable<string>): void {
    const held = this.of(builder);
    for (const d of digests) held.set(d, true);
  }

  /** The builder no longer holds these (it said so in a 409: evicted). */
  lost(builder: string, digests: Iterable<string>): void {
    const held = this.byBuilder.get(builder);
    for (const d of digests) held?.delete(d);
  }

  /**
   * The inputs to upload before the run: those the builder is not known to
   * hold, when this client knows the rest are there and they are few and
   * small. Empty when nothing is known of the builder (its answer tells).
   */
  toSendFirst(builder: string, inputs: readonly WireInput[]): WireInput[] {
    const held = this.byBuilder.get(builder);
    if (!held || held.size === 0) return [];
    const unknown: WireInput[] = [];
    let bytes = 0;
    for (const input of inputs) {
      if (held.has(input.digest)) continue;
      bytes += input.size;
      if (unknown.length === PREUPLOAD_MAX_BLOBS || bytes > PREUPLOAD_MAX_BYTES) return [];
      unknown.push(input);
    }
    return unknown;
  }
}
