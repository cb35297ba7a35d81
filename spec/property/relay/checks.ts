/**
 * The checks every relay property makes on a pair of runs of one schedule: bounded
 * (backpressure on) and unbounded (the code before the patch).
 */
import type { Direction } from '../../../lib/proxy/ProxySession.js';
import { bump, type Tally } from '../fc.js';
import type { Bounds } from './observe.js';
import { integrityProblems, type RunOutcome } from './handlers.js';
import type { ReaderPlan } from './schedule.js';

/**
 * Liveness, quantified: with backpressure the data arrives within
 * TIME_FACTOR × (the unbounded run's virtual time) + TIME_SLACK seconds, for schedules whose
 * destinations are *steady* readers: at most one complete stall, from the start, then one
 * constant rate (see `steadyReader`).
 *
 * Why 2: once the destination reads at its rate r, a paused source resumes the moment the
 * destination's wbuf empties, with a kernel buffer of data ready on both sides, so the
 * bounded relay keeps pace with r. What it cannot do is take the source's data early: a
 * source that sends at s < r is blocked during the stall t0 and finishes by about
 * t0 + N/s, where the unbounded run finishes by max(t0, N/s) + (what is left)/r; the
 * ratio is at most 2. TIME_SLACK covers the rate limiter's 10 ms quanta and the resume
 * rounds.
 *
 * No constant factor holds for arbitrary read schedules, and none is claimed: a
 * destination that stalls, then reads a burst at full speed for 50 ms, then crawls, lets
 * the unbounded proxy hand over megabytes in the burst, while the bounded one hands over
 * limit + kernel buffers and sends the rest at the crawl (docs/testing.md has the
 * counterexample fast-check found). For those schedules the property checks completion
 * only (runUntil returns true: no deadlock, no lost resume).
 */
export const TIME_FACTOR = 2;
export const TIME_SLACK = 0.25;

/** A reader that stalls at most once, from the start, then reads at one constant rate. */
export function steadyReader(reader: ReaderPlan): boolean {
  return reader.readSchedule.length === 0 || (reader.readSchedule.length === 1 && reader.readRate === 0);
}

function label(run: RunOutcome): string {
  return run.backpressure ? 'with backpressure' : 'without backpressure';
}

function summary(run: RunOutcome): string {
  return (
    `t=${run.time}s (deadline ${run.deadline}s), peak wbuf ${JSON.stringify(run.peakWbuf)}, peak total ${run.peakTotal}, ` +
    `pauses ${JSON.stringify(run.pauses)}, closed ${run.closed}${run.closeReason ? ` (${run.closeReason})` : ''}`
  );
}

/** Integrity and liveness of one run: it completed, and every direction is right. */
export function checkRun(run: RunOutcome): void {
  if (!run.done) throw new Error(`${label(run)}: the transfer did not complete (a lost resume or a deadlock): ${summary(run)}`);
  const problems = integrityProblems(run);
  if (problems.length) throw new Error(`${label(run)}: ${problems.join('; ')}; ${summary(run)}`);
}

/** The bound: no wbuf or total above the stated bound at any step. */
export function checkBound(run: RunOutcome): void {
  if (run.violation) throw new Error(`${label(run)}: bound violated: ${run.violation}; ${summary(run)}`);
}

/**
 * Both runs complete and deliver; the bounded one stays within bounds and, when `steady`
 * (every destination a steady reader), is not much slower.
 */
export function checkDifferential(bp: RunOutcome, unb: RunOutcome, bounds: Bounds, tally: Tally, steady: boolean): void {
  checkRun(bp);
  checkRun(unb);
  checkBound(bp);
  if (steady) checkTime(bp, unb);
  tallyRun(bp, unb, bounds, tally, steady);
}

/** The bounded run's data arrived within TIME_FACTOR × the unbounded run's time + TIME_SLACK. */
export function checkTime(bp: RunOutcome, unb: RunOutcome): void {
  if (timeComparable(bp, unb) && bp.time > TIME_FACTOR * unb.time + TIME_SLACK) {
    throw new Error(
      `with backpressure the transfer took ${bp.time}s, more than ${TIME_FACTOR} × ${unb.time}s + ${TIME_SLACK}s without; ` +
        `bounded: ${summary(bp)}; unbounded: ${summary(unb)}`,
    );
  }
}

/**
 * Times compare only when both runs had to deliver the same thing in full: every direction
 * must complete and the sources sent as much in both. (A source that ends at a set time
 * sends less when the proxy paused it, and a session cut by a close ends at a time that
 * says nothing about throughput.)
 */
export function timeComparable(bp: RunOutcome, unb: RunOutcome): boolean {
  if (bp.untimed || unb.untimed) return false;
  for (const d of ['to_client', 'to_backend'] as Direction[]) {
    const a = bp.directions[d];
    const b = unb.directions[d];
    if (!a || !b) continue;
    if (!a.mustComplete || a.sent.length !== b.sent.length) return false;
  }
  return true;
}

/** Counts what a run pair reached, so that the printed tallies show the properties were not vacuous. */
export function tallyRun(bp: RunOutcome, unb: RunOutcome, bounds: Bounds, tally: Tally, steady = true): void {
  if (bp.pauses.to_client > 0) bump(tally, 'paused to_client');
  if (bp.pauses.to_backend > 0) bump(tally, 'paused to_backend');
  if (bp.endedWhilePaused) bump(tally, 'ended while paused');
  for (const d of ['to_client', 'to_backend'] as Direction[]) {
    if (unb.peakWbuf[d] > bounds.wbuf[d]) {
      bump(tally, 'unbounded past the bound');
      break;
    }
  }
  if (bp.closed) bump(tally, 'session closed');
  tallyEof(bp, tally);
  if (!steady || !timeComparable(bp, unb)) return;
  bump(tally, 'timed');
  const ratio = unb.time > 0 ? bp.time / unb.time : 1;
  if (ratio > (tally['max time ratio ×100'] ?? 0) / 100) tally['max time ratio ×100'] = Math.round(ratio * 100);
}

/**
 * How often a handler's on_eof ran, and how often rbuf still held bytes then: the EOF flush
 * of the patch has something to do only in the second case (docs/testing.md, mutations).
 */
export function tallyEof(run: RunOutcome, tally: Tally): void {
  if (run.onEof.calls) bump(tally, 'on_eof ran');
  if (run.onEof.withBytes) bump(tally, 'on_eof with bytes in rbuf');
}

/**
 * Contrast: with the destination stalled long enough, the unbounded run's wbuf passes the
 * bound while the bounded run's stays within it.
 */
export function checkContrast(bp: RunOutcome, unb: RunOutcome, bounds: Bounds, direction: Direction): void {
  checkRun(bp);
  checkRun(unb);
  checkBound(bp);
  checkTime(bp, unb);
  if (!(unb.peakWbuf[direction] > bounds.wbuf[direction])) {
    throw new Error(
      `without backpressure the ${direction} wbuf peaked at ${unb.peakWbuf[direction]}, not above the bound ${bounds.wbuf[direction]}: ${summary(unb)}`,
    );
  }
}

/**
 * Pings (websocket): the pongs answer the pings in order, with their payloads, none
 * dropped (every ping answered when the client's stream had to arrive whole), and no pong
 * is queued before the data in front of its ping was relayed to the backend.
 */
export function checkPings(run: RunOutcome): void {
  const p = run.pings;
  if (!p) return;
  const show = (b: Buffer | undefined) => JSON.stringify(b?.toString() ?? null);
  for (let i = 0; i < p.answered.length; i++) {
    if (!p.sent[i] || !p.answered[i].equals(p.sent[i])) {
      throw new Error(`${label(run)}: pong ${i} carries ${show(p.answered[i])}, ping ${i} was ${show(p.sent[i])}; ${summary(run)}`);
    }
  }
  if (p.mustAnswerAll && p.answered.length !== p.sent.length) {
    throw new Error(`${label(run)}: ${p.sent.length} pings sent, ${p.answered.length} answered; ${summary(run)}`);
  }
  for (const [i, o] of p.order.entries()) {
    if (o.relayed < o.before) {
      throw new Error(`${label(run)}: pong ${i} queued after relaying ${o.relayed} data bytes; its ping came after ${o.before}; ${summary(run)}`);
    }
  }
}
