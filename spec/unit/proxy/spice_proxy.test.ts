import { describe, expect, it } from 'vitest';
import { SimLoop, SimPeer, patternBytes, simSocketPair, type SimPeerOptions } from '../../../lib/backend/sim/index.js';
import { Handle } from '../../../lib/index.js';
import { ProxySession } from '../../../lib/proxy/ProxySession.js';
import { SPICE_WBUF_LIMIT, spice_proxy } from '../../../lib/proxy/spice_proxy.js';

const OK = Buffer.from('HTTP/1.1 200 OK\r\n\r\n');
const ONE_READ = 128 * 1024;

/** A client, the proxy session, and a backend listening on the simulated loop. */
function setup(opts: { backpressure: boolean; client: SimPeerOptions; backend: SimPeerOptions }) {
  const loop = new SimLoop();
  let backend: SimPeer | undefined;
  loop.listen(5900, (fh) => (backend = new SimPeer(fh, opts.backend)));
  const [proxySide, clientSide] = simSocketPair(loop);
  const session = new ProxySession();
  const errors: string[] = [];
  session.hdl = new Handle({
    fh: proxySide,
    rbuf_max: 64 * 1024,
    linger: 30,
    on_error: (_h, _f, message) => {
      errors.push(message);
      session.disconnect(message);
    },
    on_eof: () => session.disconnect(),
  });
  const client = new SimPeer(clientSide, opts.client);
  spice_proxy(session, { target: { host: '127.0.0.1', port: 5900 }, loop, backpressure: opts.backpressure });
  return { loop, session, client, errors, backend: () => backend! };
}

describe('spice_proxy on the simulated socket', () => {
  it('answers 200 and relays both directions byte for byte', () => {
    const { loop, client, backend, session } = setup({
      backpressure: true,
      client: { send: 300_000 },
      backend: { send: 500_000 },
    });
    expect(loop.runUntil(() => client.receivedBytes === OK.length + 500_000 && backend()?.receivedBytes === 300_000, 30)).toBe(true);
    expect(client.received.subarray(0, OK.length).equals(OK)).toBe(true);
    expect(client.received.subarray(OK.length).equals(patternBytes(0, 500_000))).toBe(true);
    expect(backend().received.equals(patternBytes(0, 300_000))).toBe(true);
    expect(session.stats.to_client.bytes).toBe(500_000);
    expect(session.stats.to_backend.bytes).toBe(300_000);
  });

  it('with backpressure, a stalled-then-slow client keeps the wbuf within limit + one read, and every byte arrives', () => {
    const total = 8 * 1024 * 1024;
    const { loop, client, session } = setup({
      backpressure: true,
      client: { readRate: 0, readSchedule: [{ at: 2, rate: 4 * 1024 * 1024 }] },
      backend: { send: total },
    });
    expect(loop.runUntil(() => client.receivedBytes === OK.length + total, 60)).toBe(true);
    expect(session.stats.to_client.peakWbuf).toBeGreaterThan(SPICE_WBUF_LIMIT / 2);
    expect(session.stats.to_client.peakWbuf).toBeLessThanOrEqual(SPICE_WBUF_LIMIT + ONE_READ);
    expect(session.stats.to_client.pauses).toBeGreaterThan(0);
    expect(client.received.subarray(OK.length).equals(patternBytes(0, total))).toBe(true);
  });

  it('without backpressure (before the patch), the same schedule grows the wbuf far past the limit', () => {
    const total = 8 * 1024 * 1024;
    const { loop, session, errors } = setup({
      backpressure: false,
      client: { readRate: 0, readSchedule: [{ at: 2, rate: 4 * 1024 * 1024 }] },
      backend: { send: total },
    });
    loop.advance(1.5);
    // 7.17's wbuf_max never fires once a write watcher is installed.
    expect(errors).toEqual([]);
    expect(session.stats.to_client.peakWbuf).toBeGreaterThan(10 * SPICE_WBUF_LIMIT);
  });

  it('delivers the tail when the backend closes while reads are paused', () => {
    const total = 4 * 1024 * 1024;
    const { loop, client, session } = setup({
      backpressure: true,
      client: { readRate: 0, readSchedule: [{ at: 3, rate: Infinity }] },
      backend: { send: total, closeAt: 'sent' },
    });
    loop.advance(2);
    expect(session.stats.to_client.pauses).toBeGreaterThan(0);
    expect(loop.runUntil(() => client.eof, 60)).toBe(true);
    expect(client.receivedBytes).toBe(OK.length + total);
    expect(client.received.subarray(OK.length).equals(patternBytes(0, total))).toBe(true);
    expect(session.closed).toBe(true);
  });

  it('answers 502 and ends the session when the backend refuses the connection', () => {
    const loop = new SimLoop();
    const [proxySide, clientSide] = simSocketPair(loop);
    const session = new ProxySession();
    session.hdl = new Handle({ fh: proxySide, on_error: () => {} });
    const client = new SimPeer(clientSide);
    spice_proxy(session, { target: { host: '127.0.0.1', port: 5999 }, loop });
    expect(loop.runUntil(() => client.eof, 5)).toBe(true);
    expect(client.received.toString()).toBe('HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n\r\n');
    expect(session.closeReason).toMatch(/connect to '127.0.0.1:5999' failed: Connection refused/);
  });
});
