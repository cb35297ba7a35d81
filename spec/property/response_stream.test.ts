/**
 * response_stream, bounded against unbounded, on the simulated socket (issue #5).
 *
 * The bound (streamBounds in relay/handlers.ts; docs/testing.md), with B the read-ahead
 * bound: the client's wbuf ≤ B at every wbuf event (4 MiB in pveproxy); rbuf + wbuf of both
 * handles ≤ 2B (the source's rbuf stays within B, its rbuf_max).
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { bump, checkProperty, expectCounterexample, runsOf, seedOf, timeoutOf, type Tally } from './fc.js';
import { streamOutpacedArb, streamScheduleArb } from './relay/arbitraries.js';
import { checkContrast, checkDifferential, checkRun, steadyReader, tallyEof, tallyRun } from './relay/checks.js';
import { runStream, streamBounds } from './relay/handlers.js';

const SEED = seedOf(0x5eed_4d1b);

describe(`response_stream, bounded against unbounded (fast-check seed ${SEED})`, () => {
  it(
    'response_stream/differential: any schedule, run twice: both deliver the whole stream, the bounded one keeps wbuf ≤ bufSize and rbuf + wbuf ≤ 2 × bufSize at every step and completes in time',
    () => {
      const tally: Tally = {};
      checkProperty(
        fc.property(streamScheduleArb(), (s) => {
          const bp = runStream(s, true);
          const unb = runStream(s, false);
          checkDifferential(bp, unb, streamBounds(s.bufSize), tally, steadyReader(s.client));
        }),
        { id: 'response_stream/differential', seed: SEED, numRuns: runsOf(1000), tally },
      );
    },
    timeoutOf(120_000),
  );

  it(
    'response_stream/contrast: a client stalled while the producer outpaces it: unbounded passes the bound, bounded never does',
    () => {
      const tally: Tally = {};
      checkProperty(
        fc.property(streamOutpacedArb(), (s) => {
          const bp = runStream(s, true);
          const unb = runStream(s, false);
          checkContrast(bp, unb, streamBounds(s.bufSize), 'to_client');
          tallyRun(bp, unb, streamBounds(s.bufSize), tally);
        }),
        { id: 'response_stream/contrast', seed: SEED, numRuns: runsOf(100), tally },
      );
    },
    timeoutOf(60_000),
  );

  it(
    'response_stream/tail: the stream ends while reads are paused: the client still gets every byte, then EOF',
    () => {
      const tally: Tally = {};
      checkProperty(
        fc.property(streamOutpacedArb({ end: true }), (s) => {
          const bp = runStream(s, true);
          checkRun(bp);
          if (!bp.endedWhilePaused) throw new Error(`the stream did not end while paused (pauses ${JSON.stringify(bp.pauses)})`);
          checkRun(runStream(s, false));
          bump(tally, 'ended while paused');
          tallyEof(bp, tally);
        }),
        { id: 'response_stream/tail', seed: SEED, numRuns: runsOf(100), tally },
      );
    },
    timeoutOf(60_000),
  );

  // Was a known bug (STREAM_STUCK_RBUF, docs/testing.md), fixed in response_stream: bytes
  // that arrived while the client's wbuf was full stayed in rbuf with no pause, so a stream
  // that stayed open never delivered them. This property found it; now it must hold.
  it(
    'response_stream/open-stream: a stream that stays open delivers every byte it was sent',
    () => {
      checkProperty(
        fc.property(streamScheduleArb({ open: true }), (s) => {
          checkRun(runStream(s, true));
          checkRun(runStream(s, false));
        }),
        { id: 'response_stream/open-stream', seed: SEED, numRuns: runsOf(200) },
      );
    },
    timeoutOf(60_000),
  );
});
