import { describe, expect, it } from 'vitest';
import { patternBytes } from '../../../lib/backend/sim/index.js';
import { WS_MAX_PAYLOAD } from '../../../lib/proxy/websocket_proxy.js';
import { frame, OPCODE } from '../../../lib/proxy/ws/frame.js';
import { clientFrames, MASK, payloadOf, serverFrames, wsSetup } from './wsSim.js';

const LIMIT = 5 * WS_MAX_PAYLOAD;
/** One more frame may land before the pause: payload plus a 10-byte header. */
const ONE_FRAME = WS_MAX_PAYLOAD + 10;

describe('websocket_proxy on the simulated socket', () => {
  it('backend → client: a stalled-then-slow client keeps the wbuf within 5 × 128 KiB + one frame, every byte arrives', () => {
    const total = 8 * 1024 * 1024;
    const { loop, session, client } = wsSetup({
      backpressure: true,
      client: { readRate: 0, readSchedule: [{ at: 2, rate: 4 * 1024 * 1024 }] },
      backend: { send: total },
    });
    // 8 MiB at 4 MiB/s from t=2: done well before t=10 (parsing on every step would be slow).
    loop.advance(10);
    expect(payloadOf(serverFrames(client.received)).equals(patternBytes(0, total))).toBe(true);
    expect(session.stats.to_client.peakWbuf).toBeGreaterThan(LIMIT / 2);
    expect(session.stats.to_client.peakWbuf).toBeLessThanOrEqual(LIMIT + ONE_FRAME);
    expect(session.stats.to_client.pauses).toBeGreaterThan(0);
    // Every server frame carries at most 128 KiB.
    expect(Math.max(...serverFrames(client.received).map((f) => f.payload.length))).toBeLessThanOrEqual(WS_MAX_PAYLOAD);
  });

  it('backend → client without backpressure grows the wbuf far past the limit', () => {
    const { loop, session } = wsSetup({
      backpressure: false,
      client: { readRate: 0, readSchedule: [{ at: 5, rate: Infinity }] },
      backend: { send: 16 * 1024 * 1024 },
    });
    loop.advance(2);
    expect(session.stats.to_client.peakWbuf).toBeGreaterThan(10 * LIMIT);
  });

  it('client → backend: a stalled-then-slow backend keeps that wbuf within the limit + one frame, payloads intact', () => {
    const data = patternBytes(0, 6 * 1024 * 1024);
    const { loop, session, backend } = wsSetup({
      backpressure: true,
      client: { send: clientFrames(data) },
      backend: { readRate: 0, readSchedule: [{ at: 2, rate: 3 * 1024 * 1024 }] },
    });
    expect(loop.runUntil(() => backend()?.receivedBytes === data.length, 60)).toBe(true);
    expect(backend().received.equals(data)).toBe(true);
    expect(session.stats.to_backend.peakWbuf).toBeLessThanOrEqual(LIMIT + WS_MAX_PAYLOAD);
    expect(session.stats.to_backend.pauses).toBeGreaterThan(0);
  });

  it('a ping sent behind paused data is answered once the data drains, never dropped', () => {
    const data = patternBytes(0, 4 * 1024 * 1024);
    const ping = Buffer.concat(frame(Buffer.from('ping-1'), { opcode: OPCODE.PING, mask: MASK }));
    const { loop, session, client } = wsSetup({
      backpressure: true,
      client: { send: Buffer.concat([clientFrames(data), ping]) },
      backend: { readRate: 0, readSchedule: [{ at: 3, rate: Infinity }] },
    });
    loop.advance(2.5);
    expect(session.stats.to_backend.pauses).toBeGreaterThan(0);
    // Paused: the ping is still unread behind the bulk data.
    expect(payloadOf(serverFrames(client.received), OPCODE.PONG).length).toBe(0);
    expect(loop.runUntil(() => payloadOf(serverFrames(client.received), OPCODE.PONG).length > 0, 30)).toBe(true);
    expect(payloadOf(serverFrames(client.received), OPCODE.PONG).toString()).toBe('ping-1');
    expect(loop.now()).toBeGreaterThanOrEqual(3);
  });

  it('delivers the tail when the backend closes while the client is backed up', () => {
    const total = 4 * 1024 * 1024;
    const { loop, session, client } = wsSetup({
      backpressure: true,
      client: { readRate: 0, readSchedule: [{ at: 3, rate: Infinity }] },
      backend: { send: total, closeAt: 'sent' },
    });
    loop.advance(2);
    expect(session.stats.to_client.pauses).toBeGreaterThan(0);
    expect(loop.runUntil(() => client.eof, 60)).toBe(true);
    expect(payloadOf(serverFrames(client.received)).equals(patternBytes(0, total))).toBe(true);
  });

  it('ends the session on a frame over 128 KiB, naming it, before its payload arrives', () => {
    const header = Buffer.concat(frame(Buffer.alloc(0), { mask: MASK, declaredLength: WS_MAX_PAYLOAD + 1 }));
    const { loop, session, client } = wsSetup({ backpressure: true, client: { send: header }, backend: {} });
    expect(loop.runUntil(() => session.closed, 5)).toBe(true);
    loop.advance(0.1); // linger writes the close frame out
    expect(session.closeReason).toBe(`websocket: received too large websocket frame (len = ${WS_MAX_PAYLOAD + 1}) (WS_TOO_LARGE)`);
    const frames = serverFrames(client.received);
    expect(frames.at(-1)?.opcode).toBe(OPCODE.CLOSE);
    expect(frames.at(-1)?.payload.readUInt16BE(0)).toBe(1009);
  });
});
