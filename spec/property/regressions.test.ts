/**
 * Shrunk counterexamples of the property suite, kept as regressions. Each names the
 * property that found it, its seed, path and replay command.
 *
 * `it.fails` marks a bug in lib/ that is still there: the test passes while the bug does,
 * and fails (so someone looks) the day it is fixed; then turn it into a plain `it` and lift
 * the exclusion the properties make for it (docs/testing.md, "Known bugs").
 */
import { describe, it } from 'vitest';
import { pingFloodSchedule } from './relay/arbitraries.js';
import { checkBound, checkRun } from './relay/checks.js';
import { clientStream, runStream, runWebsocket, wsBounds, type StreamSchedule } from './relay/handlers.js';
import { KiB, MiB } from './relay/schedule.js';

describe('property suite regressions', () => {
  /**
   * STREAM_STUCK_RBUF. Found by response_stream/open-stream, seed 1592610075, path
   * 3:0:0:0:0:0:0:0:0:0:0:2:3:2:3:0:1:2:0:0:4:0:2:0:2:0:1:0:0:5:0:0:3:0:0:1:0:0:6:1:5:0:0:0:0:0:0:0:6:4
   * (npm run test:property -- --seed 1592610075 --path <that path> -t 'response_stream/open-stream').
   *
   * A producer sends 1 MiB at once into a 4 KiB pipe and keeps the stream open; the client
   * reads at 512 KB/s; the read-ahead bound is 512 KiB. The client's wbuf reaches the bound,
   * so the reader pushes nothing of the reads that follow (to_read = 0), and does not pause
   * either (rbuf + 4 × read_size stays under the bound), so no on_drain will call it again.
   * The producer has nothing more to send, so no read calls it either: the last ~500 KiB
   * stay in rbuf for good, and the loop goes idle with the transfer incomplete (runUntil
   * returns false at t ≈ 1.06 s). The same holds in pve-http-server's response_stream.
   * With an EOF the bytes are flushed, late (which is why the differential property does
   * not time runs whose producer ends at a set time).
   */
  it('response_stream: bytes that find the client wbuf full are delivered on its drain, also while the stream stays open (was STREAM_STUCK_RBUF)', () => {
    const s: StreamSchedule = {
      bufSize: 512 * KiB,
      producer: { send: 1 * MiB, sendRate: Infinity, writeSize: 1 * KiB },
      client: { readRate: 512_000, readSchedule: [], readSize: 1 * KiB },
      capacity: { source: 4 * KiB, client: 16_640 },
      readSize: 65,
    };
    checkRun(runStream(s, true));
  });

  /**
   * WS_PONG_FLOOD. Found by websocket/pong-flood, seed 1592616021, path
   * 1:5:0:0:0:1:1:0:8:8:8:8:0:3:1:3:0:0:0:0:8:8:8:8:8
   * (npm run test:property -- --seed 1592616021 --path <that path> -t 'websocket/pong-flood').
   *
   * A client sends 6,479 pings of 120 bytes and reads nothing for a second. Each ping is
   * answered with a pong queued to the client's wbuf without looking at the limit (the
   * client → backend direction carries no data, so it never pauses), and the wbuf reaches
   * 786,476 bytes, past limit + one frame (786,442): the pongs are bounded only by what the
   * client chooses to send. The same holds in pve-http-server's websocket_proxy.
   */
  it('websocket_proxy: pongs to a client that does not read stay within limit + one frame (was WS_PONG_FLOOD)', () => {
    const s = pingFloodSchedule({
      count: 6479,
      size: 120,
      stall: 1,
      mask: false,
      capacity: { clientToProxy: 4 * KiB, proxyToClient: 4 * KiB, backend: 4 * KiB },
      readSize: { client: 64, backend: 64 },
    });
    const run = runWebsocket(s, clientStream(s.items, s.mask), true);
    checkRun(run);
    // The bound without the schedule's pongs: what the handler should keep whatever the client sends.
    checkBound({ ...run, violation: run.peakWbuf.to_client > wsBounds(0).wbuf.to_client ? `to_client wbuf ${run.peakWbuf.to_client} > ${wsBounds(0).wbuf.to_client}` : undefined });
  });
});
