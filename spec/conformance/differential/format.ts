import { createHash } from 'node:crypto';

/*
 * The scenario format of the differential conformance suite (docs/conformance.md).
 *
 * A scenario is a handle, constructed with `opts`, and its peer (the other end of a
 * connected stream socket, driven directly), and a list of steps. Every top-level step runs
 * when the loop is idle, and the loop is run until idle after it, so both implementations
 * see events in the same order whatever their timing. The drivers (driver.pl for Perl,
 * tsDriver.ts for TypeScript) record the same trace: every callback with its arguments and
 * the lengths of rbuf and wbuf at that moment, plus what the peer received.
 */

/** Bytes: a string (each code point 0..255 is one byte), a repetition, or a test pattern. */
export type DataSpec = string | { rep: string; n: number } | { pat: number };

/** What `push_write` gets: plain bytes, or a write type and its arguments. */
export type WriteSpec =
  | DataSpec
  | { t: 'netstring'; data: DataSpec }
  | { t: 'packstring'; fmt: string; data: DataSpec }
  | { t: 'json'; v: unknown };

/**
 * The actions a callback runs: true records the call only; a list of steps runs on every
 * call; `{do, max}` runs `do` on the first `max` calls only.
 */
export type HandlerSpec = true | Step[] | { do?: Step[]; max?: number };

interface ReadCommon {
  /** Names the read in the trace; by default reads are numbered 1, 2, … as they are made. */
  id?: string | number;
  /** Actions run inside the read callback (after it was recorded). */
  do?: HandlerSpec;
}

/** A read request for `push_read`/`unshift_read`. Regexes are sources valid in Perl and JS. */
export type ReadSpec = ReadCommon &
  (
    | { t: 'chunk'; n: number }
    | { t: 'line'; eol?: DataSpec; eol_re?: string; flags?: string }
    | { t: 'regex'; accept: string; reject?: string | null; skip?: string | null; flags?: string; g?: boolean }
    | { t: 'netstring' }
    | { t: 'packstring'; fmt: string }
    | { t: 'json' }
    /** An untyped read callback: done once rbuf holds `want` bytes, which it takes. */
    | { t: 'cb'; want?: number }
  );

/**
 * One step. Handle steps may also appear inside callbacks; `peer_*`, `batch` and `idle`
 * only at the top level.
 */
export type Step =
  | ['write', WriteSpec]
  | ['push_read', ReadSpec]
  | ['unshift_read', ReadSpec]
  | ['on_read', HandlerSpec | null]
  | ['on_eof', HandlerSpec | null]
  | ['on_drain', HandlerSpec | null]
  | ['on_error', HandlerSpec]
  | ['stop_read']
  | ['start_read']
  | ['push_shutdown']
  | ['wbuf_max', number | null]
  | ['rbuf_max', number | null]
  | ['low_water_mark', number]
  | ['read_size', number]
  | ['autocork', boolean]
  | ['no_delay', boolean]
  | ['keepalive', boolean]
  | ['destroy']
  /** Remove n bytes (or all) from the front of rbuf. */
  | ['consume', number | 'all']
  /** Record rbuf (contents), the wbuf length and whether the handle is destroyed. */
  | ['state']
  | ['peer_write', DataSpec]
  /** Read up to n bytes (default: all there is now) without waiting. */
  | ['peer_read', number?]
  /** Read, wait until idle, read again, until nothing more arrives. */
  | ['peer_drain']
  /** Half-close: shutdown(SHUT_WR). */
  | ['peer_shutdown']
  | ['peer_close']
  /** Several steps with no idle wait in between. */
  | ['batch', Step[]]
  /** Nothing: one more wait until the loop is idle. */
  | ['idle'];

export type StepOp = Step[0];

/** Constructor options. Callbacks are handler specs; on_error defaults to `true`. */
export interface ScenarioOpts {
  read_size?: number;
  max_read_size?: number;
  rbuf_max?: number | null;
  wbuf_max?: number | null;
  low_water_mark?: number;
  autocork?: boolean;
  linger?: number;
  /** TypeScript only; by default the drivers compare in 'anyevent-7.17' mode. */
  wbuf_max_check?: 'checked' | 'anyevent-7.17';
  on_read?: HandlerSpec | null;
  on_eof?: HandlerSpec | null;
  on_drain?: HandlerSpec | null;
  on_error?: HandlerSpec | null;
}

export interface Scenario {
  /** Unique; `family/what`. */
  name: string;
  /** What the scenario shows (for humans). */
  note?: string;
  opts?: ScenarioOpts;
  steps: Step[];
  /** Ids of deliberate differences (differences.ts) this scenario hits. */
  diff?: string[];
}

/** Bytes as they appear in a trace: a string of code points 0..255, or length and MD5. */
export type BytesOut = string | { n: number; md5: string };

/**
 * One trace event. `r`/`w` are the lengths of rbuf and wbuf when it was recorded; `async`
 * marks events recorded from the loop rather than during a step's own call.
 */
export interface TraceEvent {
  ev: string;
  [key: string]: unknown;
}

export type Trace = TraceEvent[];

/** Bytes longer than this appear in traces as length and MD5. */
export const INLINE_BYTES = 200;

export function dataOf(d: DataSpec): Buffer {
  if (typeof d === 'string') return latin1(d);
  if ('rep' in d) return latin1(d.rep.repeat(d.n));
  const out = Buffer.allocUnsafe(d.pat);
  for (let i = 0; i < d.pat; i++) out[i] = i % 251;
  return out;
}

function latin1(s: string): Buffer {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) > 255) throw new RangeError(`data strings are bytes (code points 0..255): ${JSON.stringify(s)}`);
  }
  return Buffer.from(s, 'latin1');
}

export function bytesOut(b: Buffer): BytesOut {
  if (b.length <= INLINE_BYTES) return b.toString('latin1');
  return { n: b.length, md5: createHash('md5').update(b).digest('hex') };
}

/** A string the Handle decoded from UTF-8, as the bytes Perl would have passed. */
export function utf8Out(s: string): BytesOut {
  return bytesOut(Buffer.from(s, 'utf8'));
}

/** JSON with sorted keys, as JSON::PP->canonical prints it: for goldens and diffs. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

export function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}

/** One event per line, keys sorted: how traces are written to goldens and printed in diffs. */
export function formatTrace(trace: Trace): string {
  return trace.map((e) => canonicalJson(e)).join('\n');
}
