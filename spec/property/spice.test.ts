/**
 * spice_proxy, bounded against unbounded, on the simulated socket (issue #5).
 *
 * The bound (spiceBounds in relay/handlers.ts; docs/testing.md), with L the write limit and
 * R = 128 KiB (one read): each destination's wbuf ≤ L + R at every wbuf event (768 KiB at
 * pveproxy's L = 640 KiB); rbuf + wbuf of both handles ≤ 2(L + R) + R (1,664 KiB).
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { bump, checkProperty, runsOf, seedOf, timeoutOf, type Tally } from './fc.js';
import { spiceOutpacedArb, spiceScheduleArb } from './relay/arbitraries.js';
import { checkContrast, checkDifferential, checkRun, steadyReader, tallyEof, tallyRun } from './relay/checks.js';
import { runSpice, spiceBounds, type SpiceSchedule } from './relay/handlers.js';

const SEED = seedOf(0x5eed_5b1c);

/** Every destination that receives data reads steadily (the class the time factor is stated for). */
const steady = (s: SpiceSchedule) => (s.backend.send === 0 || steadyReader(s.client)) && (s.client.send === 0 || steadyReader(s.backend));

describe(`spice_proxy, bounded against unbounded (fast-check seed ${SEED})`, () => {
  it(
    'spice/differential: any schedule, run twice: both deliver, the bounded one stays within limit + one read at every step and completes in time',
    () => {
      const tally: Tally = {};
      checkProperty(
        fc.property(spiceScheduleArb, (s) => {
          const bp = runSpice(s, true);
          const unb = runSpice(s, false);
          checkDifferential(bp, unb, spiceBounds(s.limit), tally, steady(s));
        }),
        { id: 'spice/differential', seed: SEED, numRuns: runsOf(1000), tally },
      );
    },
    timeoutOf(120_000),
  );

  it(
    'spice/contrast: a destination stalled while the source outpaces it: unbounded passes the bound, bounded never does',
    () => {
      const tally: Tally = {};
      checkProperty(
        fc.property(spiceOutpacedArb(), (s) => {
          const bp = runSpice(s, true);
          const unb = runSpice(s, false);
          const direction = s.client.send > 0 ? 'to_backend' : 'to_client';
          checkContrast(bp, unb, spiceBounds(s.limit), direction);
          tallyRun(bp, unb, spiceBounds(s.limit), tally);
        }),
        { id: 'spice/contrast', seed: SEED, numRuns: runsOf(100), tally },
      );
    },
    timeoutOf(60_000),
  );

  it(
    'spice/tail: the source ends while reads are paused: the destination still gets every byte',
    () => {
      const tally: Tally = {};
      checkProperty(
        fc.property(spiceOutpacedArb({ end: true }), (s) => {
          const bp = runSpice(s, true);
          checkRun(bp);
          if (!bp.endedWhilePaused) throw new Error(`the source did not end while paused (pauses ${JSON.stringify(bp.pauses)})`);
          checkRun(runSpice(s, false));
          bump(tally, 'ended while paused');
          tallyEof(bp, tally);
        }),
        { id: 'spice/tail', seed: SEED, numRuns: runsOf(100), tally },
      );
    },
    timeoutOf(60_000),
  );
});
