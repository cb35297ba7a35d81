/**
 * Arbitraries for whole schedules on the simulated socket: what each peer sends and how fast,
 * how it reads (rates, complete stalls of several virtual seconds, a final drain), the kernel
 * buffer sizes, the handles' `read_size`, and whether and when a peer half-closes or closes.
 *
 * Sizes and times are kept modest (a few MiB, a few virtual seconds) so that a default run
 * of the suite, about 10,000 schedules, takes well under a minute on two cores. Rates,
 * capacities and read sizes shrink towards small, readable values.
 */
import fc from 'fast-check';
import type { ReadRateChange, SimPeerOptions } from '../../../lib/backend/sim/index.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;

/** How a peer ends: half-close (shutdown) or close, once everything was sent or at a virtual time. */
export interface EndPlan {
  kind: 'shutdown' | 'close';
  at: number | 'sent';
}

/** How a peer reads: an initial rate, later changes (0 is a complete stall), its read size. */
export interface ReaderPlan {
  readRate: number;
  readSchedule: ReadRateChange[];
  readSize: number;
}

/** How a peer sends (bytes of the test pattern, or a Buffer given separately). */
export interface SenderPlan {
  send: number;
  sendRate: number;
  writeSize: number;
}

export interface PeerPlan extends ReaderPlan, SenderPlan {
  end?: EndPlan;
}

/** A rate in bytes per virtual second, 64 KB/s to 64 MB/s in steps of 2^(1/6), or unlimited. */
export function rateArb(minStep = 0): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.integer({ min: minStep, max: 60 }).map((i) => Math.round(64_000 * 2 ** (i / 6))) },
    { weight: 1, arbitrary: fc.constant(Infinity) },
  );
}

/** Virtual seconds, in milliseconds steps. */
function secondsArb(minMs: number, maxMs: number): fc.Arbitrary<number> {
  return fc.integer({ min: minMs, max: maxMs }).map((ms) => ms / 1000);
}

/**
 * A read schedule: up to three phases (a complete stall of up to 4 virtual seconds, or a
 * rate from 64 KB/s up), then a final drain at 512 KB/s or more, so that the reader always
 * drains eventually (the premise of integrity and liveness). Half of them are steady
 * (at most one stall, from the start, then the drain rate): the class for which the
 * properties also bound the time to completion (checks.ts).
 */
export function readerArb(opts: { maxPhases?: number } = {}): fc.Arbitrary<ReaderPlan> {
  const phase = fc.record({
    seconds: secondsArb(50, 4000),
    rate: fc.oneof({ weight: 2, arbitrary: fc.constant(0) }, { weight: 3, arbitrary: rateArb() }),
  });
  const stall = fc.record({ seconds: secondsArb(50, 4000), rate: fc.constant(0) });
  const phases = fc.oneof(
    { weight: 1, arbitrary: fc.array(stall, { maxLength: 1 }) },
    { weight: 1, arbitrary: fc.array(phase, { maxLength: opts.maxPhases ?? 3 }) },
  );
  return fc
    .record({ phases, drain: rateArb(18), readSize: fc.integer({ min: 1 * KiB, max: 64 * KiB }) })
    .map(({ phases, drain, readSize }) => {
      const changes: ReadRateChange[] = [];
      let at = 0;
      for (const p of phases) {
        changes.push({ at, rate: p.rate });
        at += p.seconds;
      }
      changes.push({ at, rate: drain });
      const [first, ...rest] = changes;
      return { readRate: first.rate, readSchedule: rest, readSize };
    });
}

/** A reader that reads whatever arrives (a source peer's view of its few incoming bytes). */
export const eagerReader: ReaderPlan = { readRate: Infinity, readSchedule: [], readSize: 64 * KiB };

/** Bytes to send: often nothing much, often more than the proxy's limits plus kernel buffers. */
export function sendSizeArb(max = 3 * MiB): fc.Arbitrary<number> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 64 * KiB }) },
    { weight: 2, arbitrary: fc.integer({ min: 64 * KiB, max: Math.min(max, 1 * MiB) }) },
    { weight: 3, arbitrary: fc.integer({ min: Math.min(max, 1 * MiB), max }) },
  );
}

export function senderArb(size: fc.Arbitrary<number> = sendSizeArb()): fc.Arbitrary<SenderPlan> {
  return fc.record({
    send: size,
    sendRate: fc.oneof({ weight: 2, arbitrary: fc.constant(Infinity) }, { weight: 3, arbitrary: rateArb(24) }),
    writeSize: fc.integer({ min: 1 * KiB, max: 64 * KiB }),
  });
}

/** When a peer ends: once it sent everything, or at 0–6 virtual seconds (possibly mid-transfer, possibly while the proxy is paused). */
export function endArb(kinds: ReadonlyArray<EndPlan['kind']> = ['shutdown', 'close']): fc.Arbitrary<EndPlan> {
  return fc.record({
    kind: fc.constantFrom(...kinds),
    at: fc.oneof({ weight: 1, arbitrary: fc.constant('sent' as const) }, { weight: 1, arbitrary: secondsArb(0, 6000) }),
  });
}

/** A kernel buffer size per direction: 4 KiB to 256 KiB. */
export const capacityArb = fc.integer({ min: 4 * KiB, max: 256 * KiB });

/** A Handle's initial `read_size` (it doubles after full reads up to max_read_size, 128 KiB). */
export const readSizeArb = fc.oneof(
  { weight: 1, arbitrary: fc.constant(2048) }, // AnyEvent's default
  { weight: 3, arbitrary: fc.integer({ min: 64, max: 128 * KiB }) },
);

/** SimPeer options for a plan (sending `send`, or the given bytes). */
export function peerOptions(plan: Partial<PeerPlan> & ReaderPlan, send?: Buffer): SimPeerOptions {
  const options: SimPeerOptions = {
    send: send ?? plan.send ?? 0,
    sendRate: plan.sendRate ?? Infinity,
    writeSize: plan.writeSize ?? 64 * KiB,
    readRate: plan.readRate,
    readSchedule: plan.readSchedule,
    readSize: plan.readSize,
    record: 'bytes',
  };
  if (plan.end?.kind === 'shutdown') options.shutdownAt = plan.end.at;
  if (plan.end?.kind === 'close') options.closeAt = plan.end.at;
  return options;
}

/** When a reader is at its final (draining) rate, in virtual seconds from the start. */
export function drainStart(reader: ReaderPlan): number {
  return reader.readSchedule.at(-1)?.at ?? 0;
}

/** The slowest rate a reader ever reads at once it drains (its final rate). */
export function drainRate(reader: ReaderPlan): number {
  return reader.readSchedule.at(-1)?.rate ?? reader.readRate;
}

/**
 * A generous virtual deadline for a schedule: everything the readers' stalls and the
 * senders' rates can delay, three times over, plus linger's 30 s. A transfer that has
 * not completed by then is stuck (a lost resume, a deadlock), not slow.
 */
export function deadline(parts: { readers: ReaderPlan[]; senders: Array<Pick<SenderPlan, 'send' | 'sendRate'>>; endAt?: number }): number {
  const bytes = parts.senders.reduce((n, s) => n + s.send, 0);
  const slowestDrain = Math.min(...parts.readers.map(drainRate));
  const slowestSend = Math.min(...parts.senders.map((s) => (s.send > 0 ? s.sendRate : Infinity)));
  const lastChange = Math.max(0, parts.endAt ?? 0, ...parts.readers.map(drainStart));
  const transfer = bytes / Math.min(slowestDrain, slowestSend);
  return 3 * (lastChange + (Number.isFinite(transfer) ? transfer : 0)) + 40;
}
