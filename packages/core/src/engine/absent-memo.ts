/**
 * What absent-paths.ts remembers across the stores of a daemon's misses. A
 * build's misses search the same include directories and mostly read the
 * same headers, so each header's candidates (the places where a file of its
 * name would have been found first) are worked out once per include search
 * and content, and each candidate's last finding is kept with the directory
 * identity that vouches for it. Nothing here is trusted without that
 * identity being seen again at the store that reuses it.
 */
import { BoundedMap } from "../util/bounded-map.js";

/** A candidate found absent: `name` below `dir` ("sub/" for all below), vouched for while `dir` shows identity `id` ("" never vouches). */
export interface FoundAbsent {
  dir: string;
  id: string;
  name: string;
}

/**
 * A candidate found present (anything the compiler would open), with the
 * later of its mtime and ctime then. When it is a plain file (not a link) in a
 * directory whose names could be read, `parent` and `parentId` say which
 * directory identity vouches that the same file is still there.
 */
export interface FoundPresent {
  present: string;
  changedNs: bigint;
  parent?: string;
  parentId?: string;
}

export type Located = FoundPresent | FoundAbsent;

/** One place where a file of a header's name would have been found first, as last located. */
export interface HeaderCandidate {
  dir: string;
  name: string;
  found: Located;
}

/** A header's share of the candidates under one include search, for one content of it. */
export interface HeaderCandidates {
  /** The content hash the header's quoted names were read from. */
  hash: string;
  /** The names the header is reached by (its path = a search directory + the name). */
  names: readonly string[];
  /** A directive of it names a macro: every name of the closure is a candidate beside it (worked out per store). */
  computed: boolean;
  candidates: HeaderCandidate[];
}

/** Where a candidate was looked for: `name` below `dir`. */
export interface CandidatePlace {
  dir: string;
  name: string;
}

/**
 * Findings of a closure's headers that one directory identity vouches for:
 * the names found absent below `dir` (its guard's names), and the present
 * candidates in it (plain files, not among the headers).
 */
export interface VouchedGroup {
  dir: string;
  id: string;
  names: readonly string[];
  presents: readonly FoundPresent[];
  /** The candidates these findings answer, found again when `dir` no longer shows `id`. */
  candidates: readonly CandidatePlace[];
}

/**
 * The headers' share of a store's plan, for one closure (its headers and
 * their contents) under one include search. A later store with the same
 * headers takes a group's findings only when it sees the group's identity
 * again (and each present candidate still predates its compile, or is
 * read); the candidates of any other group, and those no identity vouched
 * for (a directory the build writes into changes all the time), it finds
 * again.
 */
export interface ClosureFacts {
  /** The headers (every file read but the source), in order, and their content hashes. */
  headers: readonly string[];
  hashes: readonly string[];
  groups: readonly VouchedGroup[];
  /** Candidates whose findings nothing vouches for: found again at every store. */
  unvouched: readonly CandidatePlace[];
  /** The names the headers are reached by. */
  names: readonly string[];
  /** Headers with a directive naming a macro. */
  computed: readonly string[];
}

/** Headers remembered per include search before that search's memo is emptied. */
const MAX_HEADERS_PER_SEARCH = 50_000;

export class AbsentMemo {
  /** Where each candidate was found absent, by directory and name (also for candidates worked out per store). */
  readonly byDir = new BoundedMap<string, Map<string, FoundAbsent>>(20_000);
  /** The headers' share of a plan, by include search and a prefix of each header's content hash (absent-paths.ts `closureOf`). */
  readonly closures = new BoundedMap<string, ClosureFacts>(1024);
  private readonly searches = new BoundedMap<string, Map<string, HeaderCandidates>>(256);

  /** The headers remembered under one include search (its directories in order, then those missing). */
  headers(searchKey: string): Map<string, HeaderCandidates> {
    let known = this.searches.get(searchKey);
    if (!known || known.size >= MAX_HEADERS_PER_SEARCH) this.searches.set(searchKey, (known = new Map()));
    return known;
  }
}
