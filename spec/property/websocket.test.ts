/**
 * websocket_proxy, bounded against unbounded, on the simulated socket (issue #5).
 *
 * The bound (wsBounds in relay/handlers.ts; docs/testing.md), with L = 5 × 128 KiB,
 * M = 128 KiB and P the bytes of the schedule's pongs (2 + payload each): the client's wbuf
 * ≤ L + M + 10 + P (786,442 + P bytes), the backend's ≤ L + M (786,432 bytes), at every wbuf
 * event; rbuf + wbuf of both handles ≤ both of those + (M + 13 + 128 KiB) + 128 KiB
 * (1,966,103 + P bytes).
 */
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { bump, checkProperty, expectCounterexample, runsOf, seedOf, timeoutOf, type Tally } from './fc.js';
import { pingFloodSchedule, wsOutpacedArb, wsPingFloodArb, wsPingsBehindDataArb, wsScheduleArb } from './relay/arbitraries.js';
import { checkContrast, checkDifferential, checkPings, checkRun, steadyReader, tallyEof, tallyRun } from './relay/checks.js';
import { clientStream, runWebsocket, wsBounds, type WsSchedule } from './relay/handlers.js';

const SEED = seedOf(0x5eed_6455);

/** Every destination that receives data reads steadily (the class the time factor is stated for). */
const steady = (s: WsSchedule) =>
  (s.backend.send === 0 || steadyReader(s.client)) && (!s.items.some((i) => i.kind === 'data') || steadyReader(s.backend));

function pongBytes(pings: Buffer[]): number {
  return pings.reduce((n, p) => n + 2 + p.length, 0);
}

describe(`websocket_proxy, bounded against unbounded (fast-check seed ${SEED})`, () => {
  it(
    'websocket/differential: any schedule of frames, pings and backend bytes, run twice: both deliver and answer every ping, the bounded one stays within limit + one frame at every step and completes in time',
    () => {
      const tally: Tally = {};
      checkProperty(
        fc.property(wsScheduleArb, (s) => {
          const stream = clientStream(s.items, s.mask);
          const bp = runWebsocket(s, stream, true);
          const unb = runWebsocket(s, stream, false);
          checkDifferential(bp, unb, wsBounds(pongBytes(stream.pings)), tally, steady(s));
          checkPings(bp);
          checkPings(unb);
          if (stream.pings.length) bump(tally, 'with pings');
        }),
        { id: 'websocket/differential', seed: SEED, numRuns: runsOf(1000), tally },
      );
    },
    timeoutOf(120_000),
  );

  it(
    'websocket/contrast: a destination stalled while the source outpaces it: unbounded passes the bound, bounded never does',
    () => {
      const tally: Tally = {};
      checkProperty(
        fc.property(wsOutpacedArb(), (s) => {
          const stream = clientStream(s.items, s.mask);
          const bp = runWebsocket(s, stream, true);
          const unb = runWebsocket(s, stream, false);
          const bounds = wsBounds(0);
          checkContrast(bp, unb, bounds, stream.bytes.length > 0 ? 'to_backend' : 'to_client');
          tallyRun(bp, unb, bounds, tally);
        }),
        { id: 'websocket/contrast', seed: SEED, numRuns: runsOf(100), tally },
      );
    },
    timeoutOf(60_000),
  );

  it(
    'websocket/tail: the source ends while reads are paused: the destination still gets every byte',
    () => {
      const tally: Tally = {};
      checkProperty(
        fc.property(wsOutpacedArb({ end: true }), (s) => {
          const stream = clientStream(s.items, s.mask);
          const bp = runWebsocket(s, stream, true);
          checkRun(bp);
          if (!bp.endedWhilePaused) throw new Error(`the source did not end while paused (pauses ${JSON.stringify(bp.pauses)})`);
          checkRun(runWebsocket(s, stream, false));
          bump(tally, 'ended while paused');
          tallyEof(bp, tally);
        }),
        { id: 'websocket/tail', seed: SEED, numRuns: runsOf(100), tally },
      );
    },
    timeoutOf(60_000),
  );

  it(
    'websocket/pings: pings behind bulk data towards a stalled backend are answered once the data ahead drains, in order, never dropped',
    () => {
      const tally: Tally = {};
      checkProperty(
        fc.property(wsPingsBehindDataArb, (s) => {
          const stream = clientStream(s.items, s.mask);
          const bp = runWebsocket(s, stream, true);
          const unb = runWebsocket(s, stream, false);
          checkDifferential(bp, unb, wsBounds(pongBytes(stream.pings)), tally, steady(s));
          checkPings(bp);
          checkPings(unb);
          bump(tally, 'pings', stream.pings.length);
          bump(tally, 'answered after a pause', bp.pings!.afterPause);
        }),
        { id: 'websocket/pings', seed: SEED, numRuns: runsOf(200), tally },
      );
    },
    timeoutOf(60_000),
  );

  // Was a known bug (WS_PONG_FLOOD, docs/testing.md), fixed in websocket_proxy: pongs were
  // queued to the client without looking at the limit. This property found the flood; now
  // it must hold: pongs alone never take the client's wbuf past limit + one frame.
  it(
    'websocket/pong-flood: pongs to a client that does not read stay within limit + one frame',
    () => {
      const bound = wsBounds(0).wbuf.to_client;
      checkProperty(
        fc.property(wsPingFloodArb, (flood) => {
          const s = pingFloodSchedule(flood);
          const bp = runWebsocket(s, clientStream(s.items, s.mask), true);
          checkRun(bp);
          if (bp.peakWbuf.to_client > bound) {
            throw new Error(`pongs alone took the client wbuf to ${bp.peakWbuf.to_client} > limit + one frame ${bound} (pauses ${JSON.stringify(bp.pauses)})`);
          }
        }),
        { id: 'websocket/pong-flood', seed: SEED, numRuns: runsOf(50) },
      );
    },
    timeoutOf(60_000),
  );
});
