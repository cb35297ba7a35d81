import type { BackendName } from './tsDriver.js';
import type { Scenario, Trace, TraceEvent } from './format.js';

/*
 * THE list of known differences between a TypeScript trace and the Perl trace of the same
 * scenario. Two kinds:
 *
 * - DIFFERENCES: deliberate (a documented divergence of the port, or of its backends'
 *   environment). A scenario that hits one names its id in `diff`; the comparison then
 *   either skips the scenario (on the listed backends) or compares both traces after the
 *   documented normalisation, which is applied to both sides alike.
 * - KNOWN_FAILURES: differences that are NOT deliberate, found by this suite and not fixed
 *   yet (lib/ is not changed here). The golden test runs these with `it.fails`, so it
 *   turns red the day they are fixed (then delete the entry), and the live run reports
 *   them as known instead of failing.
 */

export interface Difference {
  id: string;
  /** Why the traces differ, and why that is intended. */
  reason: string;
  /** Where it shows; undefined: every backend. */
  backends?: readonly BackendName[];
  /** 'skip': not compared there. A function: both traces are normalised with it. */
  treatment: 'skip' | ((trace: Trace) => Trace);
}

const mapEvents = (f: (e: TraceEvent) => TraceEvent) => (trace: Trace) => trace.map((e) => f({ ...e }));

export const DIFFERENCES: readonly Difference[] = [
  {
    id: 'WBUF_MAX_CHECKED',
    reason:
      "wbuf_max_check 'checked' (the TypeScript default) checks wbuf_max after every push_write, also while a " +
      'write watcher is installed, where AnyEvent 7.17 does not look at all (Proxmox #7483). The drivers compare in ' +
      "'anyevent-7.17' mode unless a scenario asks for 'checked'; those scenarios show the corrected behaviour and " +
      'are not compared.',
    treatment: 'skip',
  },
  {
    id: 'JSON_PP_HANG',
    reason:
      "JSON::PP 4's incremental parser (Debian's AnyEvent has no JSON::XS) loops forever when the buffer ends right " +
      'after a digit, a "-" or the first letter of true/false/null inside an array or object. driver.pl ends such a ' +
      'trace with {"ev":"hang"} (a watchdog); the TypeScript json type waits for more data instead. The traces are ' +
      'compared up to the hang.',
    treatment: 'skip', // replaced below: needs both traces at once, see normalisePair
  },
  {
    id: 'JSON_PARTIAL_RBUF',
    reason:
      "While a JSON text is incomplete, Perl's json read type moves it out of rbuf into the coder's incremental " +
      'buffer (so rbuf_max does not count it); the TypeScript type leaves it in rbuf. rbuf lengths and contents are ' +
      'not compared in these scenarios (both sides: the r and rbuf fields are dropped).',
    treatment: mapEvents((e) => {
      delete e.r;
      delete e.rbuf;
      return e;
    }),
  },
  {
    id: 'JSON_PARTIAL_RBUF_MAX',
    reason:
      'The consequence of JSON_PARTIAL_RBUF for rbuf_max: incomplete JSON (and whitespace waiting for a value) counts ' +
      'towards rbuf_max in TypeScript, so a small limit raises ENOSPC where Perl, whose coder holds the text, goes on.',
    treatment: 'skip',
  },
  {
    id: 'JSON_PARTIAL_OTHER_READS',
    reason:
      'The consequence of JSON_PARTIAL_RBUF for other reads: a read unshifted in front of a json read that is ' +
      'waiting does not see, in Perl, the text the coder took (whitespace included), and the json read later ' +
      'prepends it to what follows; in TypeScript that read sees the text in rbuf.',
    treatment: 'skip',
  },
  {
    id: 'JSON_SCALAR',
    reason:
      'JSON::PP 4 decodes bare top-level scalars (5, "str") in the json read type; the TypeScript type rejects them ' +
      'with EBADMSG, since they are not self-delimiting on a stream (5 may be the start of 56).',
    treatment: 'skip',
  },
  {
    id: 'UTF8_STRINGS',
    reason:
      'line and regex results are strings decoded from UTF-8 in TypeScript, byte strings in Perl: bytes that are ' +
      'not valid UTF-8 become U+FFFD.',
    treatment: 'skip',
  },
  {
    id: 'CTOR_UNDEF',
    reason:
      "A handle destroyed during construction (by a callback new invokes, on_drain) makes Perl's new return " +
      'nothing; a JavaScript constructor always returns the (destroyed) object. Normalised in driver.pl, which goes ' +
      'on with a destroyed handle object (what the callbacks saw) when new returns nothing; the traces are then ' +
      'compared as they are.',
    treatment: (trace) => trace,
  },
  {
    id: 'KERNEL_BUFFER',
    reason:
      'How much a non-blocking write accepts before EAGAIN is the environment, not the Handle: Linux loopback TCP ' +
      "buffers (auto-tuned) for Perl, Node's stream buffer plus the kernel's for the node backend, the configured " +
      'capacity for sim. In scenarios that fill it, wbuf lengths are compared as zero/non-zero.',
    treatment: mapEvents((e) => {
      if (typeof e.w === 'number') e.w = e.w > 0 ? '>0' : 0;
      return e;
    }),
  },
  {
    id: 'JSON_ERROR_RESYNC',
    reason:
      'What a JSON syntax error drops. JSON::PP\'s incremental scanner takes garbage that is not a literal\'s first ' +
      'letter as part of the value it scans for, so incr_skip drops the garbage and the valid value after it (";[1]" ' +
      'loses the [1]; "x[1]" goes whole; "]]" goes one bracket per EBADMSG). The TypeScript json type raises the same ' +
      'non-fatal EBADMSG but resynchronises at the next "[" or "{", so a valid value after garbage is not lost. ' +
      'Found by this suite (json/garbage-*, json/stray-closers) and kept on purpose.',
    treatment: 'skip',
  },
  {
    id: 'NODE_READ_SIZES',
    reason:
      "On real sockets the node backend reads what Node has read ahead (at most read_size), not what one " +
      'sysread would return: when the data arrives in several pieces, reads are split differently and on_read is ' +
      'called a different number of times (docs/handle.md).',
    backends: ['node', 'node-direct'],
    treatment: 'skip',
  },
  {
    id: 'NODE_WRITE_BUFFER',
    reason:
      "On real sockets the node backend hands Node at most 256 KiB per write and refuses more while Node's writable " +
      'buffer is over its high-water mark (docs/handle.md: at most wbuf + 272 KiB held), where the kernel takes up to ' +
      'about 4 MB at once: a larger push_write completes in the loop instead of inside push_write.',
    backends: ['node', 'node-direct'],
    treatment: 'skip',
  },
  {
    id: 'NODE_READAHEAD',
    reason:
      "Node reads from the kernel ahead of the Handle (into the stream's buffer), so when a handle that never read " +
      'some data is destroyed, the kernel has nothing unread and sends FIN, where Perl (and sim) leave it unread and ' +
      'the close sends RST: the peer sees EOF instead of ECONNRESET, and its next write succeeds instead of ' +
      "failing with ECONNRESET. Compared with the peer's ECONNRESET read as EOF and without its write errors.",
    backends: ['node', 'node-direct'],
    treatment: (trace) =>
      trace.filter((e) => e.ev !== 'peer_write_error').map((e) => (e.eof === 'ECONNRESET' ? { ...e, eof: 'EOF' } : e)),
  },
  {
    id: 'SIM_EPIPE_AT_ONCE',
    reason:
      'The simulated socket fails the first write after the peer closed with EPIPE; Linux accepts that write (the ' +
      "peer's kernel answers with RST) and fails the next one (lib/backend/sim/SimSocket.ts).",
    backends: ['sim'],
    treatment: 'skip',
  },
  {
    id: 'SIM_PEER_WRITE_AFTER_CLOSE',
    reason:
      'The same simplification seen from the peer: when the handle has closed, the peer\'s next write fails with ' +
      'EPIPE at once on sim and its reads then end in ECONNRESET; on Linux that write is accepted (the RST comes ' +
      'back later), the next fails (EPIPE, or ECONNRESET when the handle closed with unread data) and the peer ' +
      'reads EOF. Compared without the peer\'s write errors, its ECONNRESET read as EOF.',
    backends: ['sim'],
    treatment: (trace) =>
      trace
        .filter((e) => e.ev !== 'peer_write_error')
        .map((e) => (e.eof === 'ECONNRESET' ? { ...e, eof: 'EOF' } : e)),
  },
];

/** Ids a scenario's traces show without the scenario naming them (found in the Perl trace). */
export function impliedDifferences(perl: Trace): string[] {
  const last = perl[perl.length - 1];
  return last?.ev === 'hang' && String(last.where).startsWith('JSON::PP') ? ['JSON_PP_HANG'] : [];
}

export function difference(id: string): Difference {
  const d = DIFFERENCES.find((x) => x.id === id);
  if (!d) throw new Error(`unknown difference id '${id}' (differences.ts)`);
  return d;
}

/**
 * What a comparison of `sc` on `backend` does: skip (naming the difference), or compare
 * these two normalised traces.
 */
export function normalisePair(
  sc: Scenario,
  backend: BackendName,
  perl: Trace,
  ts: Trace,
): { skip: string } | { perl: Trace; ts: Trace; applied: string[] } {
  const ids = [...new Set([...(sc.diff ?? []), ...impliedDifferences(perl)])];
  const applied: string[] = [];
  for (const id of ids) {
    const d = difference(id);
    if (d.backends && !d.backends.includes(backend)) continue;
    if (id === 'JSON_PP_HANG') {
      const hang = perl.findIndex((e) => e.ev === 'hang');
      if (hang >= 0) {
        perl = perl.slice(0, hang);
        ts = ts.slice(0, hang);
      }
    } else if (d.treatment === 'skip') {
      return { skip: id };
    } else {
      perl = d.treatment(perl);
      ts = d.treatment(ts);
    }
    applied.push(id);
  }
  return { perl, ts, applied };
}

export interface KnownFailure {
  /** Scenario name (golden scenarios), or a predicate over random scenarios. */
  name?: string;
  matches?: (sc: Scenario) => boolean;
  backends?: readonly BackendName[];
  /** What differs, the minimal scenario, and where the TypeScript side goes wrong. */
  what: string;
}

/** Undeclared differences found by this suite, kept visible (it.fails) until fixed. */
export const KNOWN_FAILURES: readonly KnownFailure[] = [];

function autocorkOn(sc: Scenario): boolean {
  return sc.opts?.autocork === true || sc.steps.some((s) => s[0] === 'autocork' && s[1] === true);
}

/** True when some callback of the scenario (a handler or a read's `do`) writes. */
function callbacksWrite(sc: Scenario): boolean {
  const inHandler = (h: unknown): boolean => {
    const steps = Array.isArray(h) ? h : h && typeof h === 'object' ? (h as { do?: unknown }).do : undefined;
    return Array.isArray(steps) && steps.some((s) => s[0] === 'write' || inStep(s));
  };
  const inStep = (s: unknown[]): boolean => {
    if ((s[0] === 'push_read' || s[0] === 'unshift_read') && s[1] && typeof s[1] === 'object') return inHandler((s[1] as { do?: unknown }).do);
    if (typeof s[0] === 'string' && s[0].startsWith('on_')) return inHandler(s[1]);
    if (s[0] === 'batch') return (s[1] as unknown[][]).some(inStep);
    return false;
  };
  const o = sc.opts ?? {};
  return [o.on_read, o.on_eof, o.on_drain, o.on_error].some(inHandler) || sc.steps.some((s) => inStep(s as unknown[]));
}

/**
 * The known failure `sc` is listed as (by name), or, with `byPattern` (random scenarios),
 * one whose pattern it matches.
 */
export function knownFailure(sc: Scenario, backend: BackendName, byPattern = false): KnownFailure | undefined {
  return KNOWN_FAILURES.find(
    (k) => (k.name === sc.name || (byPattern && k.matches?.(sc))) && (!k.backends || k.backends.includes(backend)),
  );
}
