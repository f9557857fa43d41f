import { closeSync, fstatSync, openSync, statfsSync, unlinkSync, writeSync, constants } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * When a file's stat can vouch for the content read from it ("racy
 * timestamps"): a file read too soon after it changed may change again with
 * the same size and the same times, and a cache keyed by its stat would then
 * keep the old content for the new.
 *
 * The argument. A change stamps the file with the kernel's file-timestamp
 * clock: the coarse wall clock (updated once per tick, 1–10 ms; it can lag
 * the wall clock by more than a tick on a busy VM) truncated to the file
 * system's granularity, or, since Linux 6.13 (multigrain timestamps), a
 * fine-grained time when the file's times were looked at since its last
 * change; either way never earlier than a timestamp handed out before. So on
 * a local file system that keeps nanoseconds, a change made after the
 * kernel's clock passed a file's change time carries a later time, and the
 * stat shows it. The daemon reads that clock itself: it writes a byte to a
 * file of its own and takes that file's mtime ("a stamp"), before reading
 * the file judged. A file whose last change (the later of mtime and ctime:
 * ctime cannot be set back) is older than a stamp taken before its read, by
 * more than FINE_MARGIN_NS, is settled: a later change gets a later time.
 * The margin covers a write still copying its bytes when the clock ticked
 * (its time is taken as it starts); a write in progress also shows in the
 * size, except an in-place rewrite of the same length.
 *
 * Where that does not hold, the old wall-clock rule stays: COARSE_WINDOW_MS
 * between the change and the read, as measured by this machine's clock. That
 * is for whole-second timestamps (ext4 with small inodes, FAT; seen as a file
 * whose times have no fraction), and for every file system not known to
 * stamp with this kernel's clock at fine granularity: network (NFS, SMB,
 * Ceph: the server's clock stamps, skewed from ours), FUSE (the daemon behind
 * it stamps), and any type not listed in FINE_FILE_SYSTEMS.
 */

/** Whole-second file systems and those stamped by another clock: 1 s granularity, plus the lag of a remote clock. */
export const COARSE_WINDOW_MS = 2000;

/** On a fine-grained local file system: how far the kernel's clock must have passed a change before the read. */
export const FINE_MARGIN_NS = 10_000_000n;

/**
 * statfs f_type of local file systems that stamp files with the kernel's
 * clock to the nanosecond (linux/magic.h). ext2/3/4 share a magic; those
 * with 128-byte inodes keep whole seconds, which the file's own times show.
 */
export const FINE_FILE_SYSTEMS: ReadonlyMap<number, string> = new Map([
  [0xef53, "ext2/3/4"],
  [0x01021994, "tmpfs"],
  [0x858458f6, "ramfs"],
  [0x58465342, "xfs"],
  [0x9123683e, "btrfs"],
  [0xf2f52010, "f2fs"],
  [0xca451a4e, "bcachefs"],
  [0x794c7630, "overlayfs"],
]);

/** A file as its stat identifies it, with the times to the nanosecond. */
export interface ChangeTimes {
  readonly dev: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
}

/** The moment a file's content was read (taken before the read). */
export interface ReadMoment {
  /** The wall clock, in ms since the epoch. */
  readonly wallMs: number;
  /** A stamp of the kernel's file-timestamp clock (ns), when one could be taken. */
  readonly kernelNs: bigint | undefined;
}

/** The two clocks a moment is read from; tests give skewed ones. */
export interface ChangeClock {
  /** The wall clock alone (ms since the epoch): no stamp. */
  wallMs(): number;
  moment(): ReadMoment;
}

/** A stamp taken this recently is used again: an older stamp is still a lower bound of the clock, only a less generous one. */
const STAMP_REUSE_MS = 2;

/**
 * The wall clock and the kernel's file-timestamp clock, read by writing one
 * byte to an unlinked file of this process's (opened in `dir` once; nothing
 * stays behind). Without such a file only the wall clock is read, and every
 * file is judged by the coarse rule.
 */
export class StampClock implements ChangeClock {
  private fd: number | undefined | null = null;
  private last: ReadMoment | undefined;
  private readonly byte = Buffer.alloc(1);

  constructor(private readonly dir: string = tmpdir()) {}

  wallMs(): number {
    return Date.now();
  }

  moment(): ReadMoment {
    const wallMs = Date.now();
    if (this.last && wallMs - this.last.wallMs < STAMP_REUSE_MS && wallMs >= this.last.wallMs) return { wallMs, kernelNs: this.last.kernelNs };
    this.last = { wallMs, kernelNs: this.stamp() };
    return this.last;
  }

  private stamp(): bigint | undefined {
    if (this.fd === null) this.fd = openStampFile(this.dir);
    if (this.fd === undefined) return undefined;
    try {
      writeSync(this.fd, this.byte, 0, 1, 0);
      return fstatSync(this.fd, { bigint: true }).mtimeNs;
    } catch {
      closeSync(this.fd);
      this.fd = undefined;
      return undefined;
    }
  }
}

function openStampFile(dir: string): number | undefined {
  const path = join(dir, `.reprise-clock-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    const fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    unlinkSync(path);
    return fd;
  } catch {
    return undefined;
  }
}

/** The process's clock, stamping in the temporary directory (the daemon gives FileHashCache one in its own). */
export const systemClock: ChangeClock = new StampClock();

/** The later of mtime and ctime (ctime moves on every change; mtime can be set back). */
export function changedNs(id: ChangeTimes): bigint {
  return id.mtimeNs > id.ctimeNs ? id.mtimeNs : id.ctimeNs;
}

/** Whole-second times: a file system that keeps no finer time (its change may carry a time up to a second early). */
export function wholeSecondTimes(id: ChangeTimes): boolean {
  return id.mtimeNs % 1_000_000_000n === 0n && id.ctimeNs % 1_000_000_000n === 0n;
}

/** How a file system's times can be trusted: "fine" (this kernel's clock, nanoseconds) or "coarse" (anything else). */
export type TimestampKind = "fine" | "coarse";

/** A device's file system type is looked up again after this long (a device number can be reused by another mount). */
const KIND_TTL_MS = 10_000;
const kinds = new Map<bigint, { kind: TimestampKind; until: number }>();

/** The kind of times the file system holding `path` (on device `dev`) keeps; coarse when unsure. */
export function timestampKind(path: string, dev: bigint): TimestampKind {
  const now = Date.now();
  const known = kinds.get(dev);
  if (known && known.until > now) return known.kind;
  let kind: TimestampKind = "coarse";
  try {
    kind = FINE_FILE_SYSTEMS.has(Number(statfsSync(path).type)) ? "fine" : "coarse";
  } catch {
    kind = "coarse";
  }
  if (kinds.size > 1024) kinds.clear();
  kinds.set(dev, { kind, until: now + KIND_TTL_MS });
  return kind;
}

/**
 * Whether a file with these times, its content read after `at`, had then
 * settled: no later change can leave its times as they are (see above).
 */
export function settledAt(id: ChangeTimes, kind: TimestampKind, at: ReadMoment): boolean {
  const changed = changedNs(id);
  if (kind === "fine" && at.kernelNs !== undefined && !wholeSecondTimes(id) && changed + FINE_MARGIN_NS < at.kernelNs) return true;
  return at.wallMs - Number(changed) / 1e6 > COARSE_WINDOW_MS;
}

/** How long after `nowMs` a file with these times may first count as settled when read again (the retry's delay). */
export function settlesInMs(id: ChangeTimes, kind: TimestampKind, nowMs: number): number {
  // Past the margin and a late tick of the kernel's clock (seen up to 12 ms behind the wall clock on a busy VM).
  const fine = kind === "fine" && !wholeSecondTimes(id);
  const changedMs = Number(changedNs(id)) / 1e6;
  const window = fine ? Number(FINE_MARGIN_NS) / 1e6 + FINE_CLOCK_LAG_MS : COARSE_WINDOW_MS + COARSE_RETRY_SLACK_MS;
  return Math.max(FINE_CLOCK_LAG_MS, Math.ceil(changedMs + window - nowMs));
}

/** A retry after a fine-grained refusal waits this much beyond the margin (and at least this much). */
const FINE_CLOCK_LAG_MS = 25;
/** Beyond the coarse window: the retry must land after it, whatever the timer's own delay. */
const COARSE_RETRY_SLACK_MS = 250;
