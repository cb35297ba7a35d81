import { describe, expect, it } from 'vitest';
import { SimLoop, SimPeer, patternBytes, simSocketPair } from '../../../lib/backend/sim/index.js';
import { Handle } from '../../../lib/index.js';
import { ProxySession } from '../../../lib/proxy/ProxySession.js';
import { STREAM_BUF_SIZE, response_stream } from '../../../lib/proxy/response_stream.js';

function setup(backpressure: boolean, total: number, readSchedule: Array<{ at: number; rate: number }>) {
  const loop = new SimLoop();
  const [sourceFh, producerFh] = simSocketPair(loop, { capacity: 256 * 1024 });
  const [proxySide, clientSide] = simSocketPair(loop);
  const session = new ProxySession();
  session.hdl = new Handle({ fh: proxySide, linger: 30, on_error: (_h, _f, m) => session.disconnect(m) });
  const producer = new SimPeer(producerFh, { send: total, shutdownAt: 'sent' });
  const client = new SimPeer(clientSide, { readRate: 0, readSchedule });
  let finished = false;
  response_stream(session, sourceFh, {
    backpressure,
    finished: (s) => {
      finished = true;
      s.hdl?.on_drain(() => s.disconnect());
    },
  });
  return { loop, session, producer, client, finished: () => finished };
}

describe('response_stream on the simulated socket', () => {
  it('keeps the client wbuf within 4 MiB and the source rbuf under rbuf_max, and delivers everything in order', () => {
    const total = 24 * 1024 * 1024;
    const { loop, session, client, finished } = setup(true, total, [{ at: 2, rate: 8 * 1024 * 1024 }]);
    expect(loop.runUntil(() => client.eof, 60)).toBe(true);
    expect(finished()).toBe(true);
    expect(client.received.equals(patternBytes(0, total))).toBe(true);
    expect(session.stats.to_client.peakWbuf).toBeGreaterThan(STREAM_BUF_SIZE / 2);
    expect(session.stats.to_client.peakWbuf).toBeLessThanOrEqual(STREAM_BUF_SIZE);
    expect(session.stats.to_client.pauses).toBeGreaterThan(0);
  });

  it('flushes the tail within the bound when the source ends while the client is backed up', () => {
    const total = 12 * 1024 * 1024;
    const { loop, session, client } = setup(true, total, [{ at: 3, rate: 2 * 1024 * 1024 }]);
    loop.advance(2.5);
    // The producer has sent everything and shut down; most of it waits in rbuf and wbuf.
    expect(client.receivedBytes).toBe(0);
    expect(loop.runUntil(() => client.eof, 60)).toBe(true);
    expect(client.received.equals(patternBytes(0, total))).toBe(true);
    expect(session.stats.to_client.peakWbuf).toBeLessThanOrEqual(STREAM_BUF_SIZE);
  });

  it('flushes a large tail within the bound: the source ends while rbuf holds megabytes (original: wbuf near twice the bound)', () => {
    // 4 MiB fill the client's wbuf, the rest waits in the source's rbuf, then EOF.
    const total = 7 * 1024 * 1024;
    const { loop, session, client } = setup(true, total, [{ at: 3, rate: Infinity }]);
    expect(loop.runUntil(() => client.eof, 60)).toBe(true);
    expect(client.received.equals(patternBytes(0, total))).toBe(true);
    expect(session.stats.to_client.peakWbuf).toBeLessThanOrEqual(STREAM_BUF_SIZE);
  });

  it('without backpressure, a stalled client makes the wbuf grow past the read-ahead bound', () => {
    const { loop, session } = setup(false, 64 * 1024 * 1024, [{ at: 10, rate: Infinity }]);
    loop.advance(3);
    expect(session.stats.to_client.peakWbuf).toBeGreaterThan(4 * STREAM_BUF_SIZE);
  });
});
