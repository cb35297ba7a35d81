import { promises as fsp } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { NodeFh, nodeLoop } from '../../lib/backend/node/index.js';
import { patternChunks } from '../../lib/backend/sim/pattern.js';
import type { ProxyServer } from '../../lib/http/ProxyServer.js';
import { Handle } from '../../lib/handle/index.js';
import { ProxySession } from '../../lib/proxy/ProxySession.js';
import { STREAM_BUF_SIZE } from '../../lib/proxy/response_stream.js';
import { SPICE_WBUF_LIMIT } from '../../lib/proxy/spice_proxy.js';
import { WS_MAX_PAYLOAD, websocket_proxy } from '../../lib/proxy/websocket_proxy.js';
import { FrameParser } from '../../lib/proxy/ws/FrameParser.js';
import { frameBuffer } from '../../lib/proxy/ws/frame.js';
import {
  PatternCheck,
  Throttle,
  connectTunnel,
  openRaw,
  pacedSource,
  patternSink,
  patternSource,
  settled,
  startProxy,
  until,
  writePattern,
} from './helpers.js';

/**
 * #7483 on real loopback sockets, for each of the three handlers: a fast writer, and a
 * reader that stalls (its socket paused) until the proxy stops taking data or has relayed
 * it all, then reads at a limited rate. With backpressure the destination's wbuf stays
 * within its limit plus one read; without it, the same schedule piles the writer's bytes up
 * in wbuf. The bounds are read from `proxy.metrics` (largest wbuf seen per direction, pauses).
 *
 * Loopback kernel buffers hold a few MiB per connection (about 3.7 MiB went into a paused
 * reader here), so the totals are several times that: what the kernel cannot hold must be
 * held back by the pause, or show up in wbuf.
 */

const KiB = 1024;
const MiB = 1024 * KiB;
/** The largest single read (the Handle's max_read_size default): the slack above a relay's limit. */
const ONE_READ = 128 * KiB;
/** The slow phase: a reader taking at most this many bytes per second. */
const SLOW_RATE = 64 * MiB;
/** What a paced backend sends once the client is backed up, before it closes (less than any limit). */
const LAST_BYTES = 256 * KiB;
/** The client's wbuf at which a paced backend takes the client for backed up (the kernel is full). */
const BACKED_UP = 128 * KiB;
/** Every wait is bounded. */
const TRANSFER_MS = 20_000;

type Dir = 'to_client' | 'to_backend';

function stats(proxy: ProxyServer, dir: Dir) {
  return { ...proxy.metrics.directions[dir] };
}

/** Calls `fn` synchronously when the proxy logs a line containing `text` (startProxy's log array). */
function onLog(logs: string[], text: string, fn: () => void): void {
  const push = logs.push.bind(logs);
  logs.push = (...lines: string[]) => {
    if (lines.some((l) => l.includes(text))) fn();
    return push(...lines);
  };
}

describe('backpressure on real sockets: a fast writer, a stalled-then-slow reader', () => {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  /**
   * Reads `socket` (already past the response head, `rest` being what followed it) through
   * a Throttle: stalled until `stall()` resolves, then at SLOW_RATE until `total()` bytes
   * arrived (or a mismatch, or EOF). Returns what it saw, and the proxy's to_client stats
   * at the end of the stall.
   */
  async function slowRawClient(
    proxy: ProxyServer,
    socket: net.Socket,
    rest: Buffer,
    opts: { total: () => number; stall: () => Promise<void>; waitEof: boolean },
  ) {
    const check = new PatternCheck();
    const throttle = new Throttle(socket, SLOW_RATE);
    cleanup.push(() => throttle.stop());
    let eof = false;
    check.push(rest);
    socket.on('data', (d: Buffer) => {
      check.push(d);
      throttle.account(d.length);
    });
    socket.on('end', () => (eof = true));
    await opts.stall();
    const atStall = stats(proxy, 'to_client');
    throttle.start();
    // Ends early on a mismatch or an early EOF (the assertions then say what went wrong).
    await until(() => check.received >= opts.total() || check.firstMismatch !== undefined || eof, `${opts.total()} bytes at the client`, TRANSFER_MS);
    if (opts.waitEof) await until(() => eof, 'EOF at the client', 5000);
    return { check, atStall, eof };
  }

  /** Stalls until the proxy has relayed `total` bytes towards `dir`, or stopped relaying for 250 ms. */
  const stallUntilSettled = (proxy: ProxyServer, dir: Dir, total: number) => () =>
    settled(() => proxy.metrics.directions[dir].bytes, total);

  describe('spice (raw CONNECT)', () => {
    const LIMIT = SPICE_WBUF_LIMIT; // 640 KiB
    const TOTAL = 16 * MiB;
    /** Small enough that the backend's bytes and FIN all reach the kernel while the proxy is paused. */
    const TAIL_TOTAL = 8 * MiB;

    async function tunnel(backendPort: number, backpressure: boolean) {
      const { proxy, port, logs } = await startProxy({ allowPorts: [[backendPort, backendPort]], backpressure });
      cleanup.push(() => proxy.close());
      const t = await connectTunnel(port, `127.0.0.1:${backendPort}`);
      cleanup.push(() => t.socket.destroy());
      expect(t.head).toBe('HTTP/1.1 200 OK\r\n\r\n');
      return { proxy, logs, t };
    }

    async function toClient(backpressure: boolean, end: boolean, total = TOTAL) {
      const source = await patternSource(total, { end });
      cleanup.push(() => source.close());
      const { proxy, logs, t } = await tunnel(source.port, backpressure);
      let endedAtStall: number | undefined;
      const settle = stallUntilSettled(proxy, 'to_client', total);
      const run = await slowRawClient(proxy, t.socket, t.rest, {
        total: () => total,
        stall: async () => {
          await settle();
          // On a loaded machine the source's end() completes a little after the proxy
          // stopped relaying; give it a bounded moment (the assertion below still decides).
          if (end) await until(() => source.endedAt() !== undefined, 'the source ended', 5000).catch(() => {});
          endedAtStall = source.endedAt();
        },
        waitEof: end,
      });
      return { ...run, logs, endedAtStall, final: stats(proxy, 'to_client') };
    }

    async function toBackend(backpressure: boolean) {
      const sink = await patternSink(SLOW_RATE);
      cleanup.push(() => sink.close());
      const { proxy, t } = await tunnel(sink.port, backpressure);
      t.socket.resume();
      // The fast writer: everything at once, then the client closes its side (the tail in
      // this direction: the proxy reads the EOF only after the paused rest, and must still
      // deliver that rest to the backend after the session ended).
      writePattern(t.socket, TOTAL);
      t.socket.end();
      await stallUntilSettled(proxy, 'to_backend', TOTAL)();
      const atStall = stats(proxy, 'to_backend');
      sink.start();
      const conn = () => sink.conns[0];
      await until(() => !!conn() && (conn().check.received >= TOTAL || conn().check.firstMismatch !== undefined || conn().ended), `${TOTAL} bytes at the backend`, TRANSFER_MS);
      await until(() => conn().ended, 'EOF at the backend', 5000);
      return { check: conn().check, atStall, final: stats(proxy, 'to_backend') };
    }

    it('to the client: with backpressure, wbuf ≤ 640 KiB + 128 KiB and every byte arrives in order', async () => {
      const { check, atStall, final } = await toClient(true, false);
      expect(check.firstMismatch).toBeUndefined();
      expect(check.received).toBe(TOTAL);
      // The stall held the proxy back: it paused with bytes still unread at the backend.
      expect(atStall.pauses).toBeGreaterThan(0);
      expect(atStall.bytes).toBeLessThan(TOTAL);
      expect(final.peakWbuf).toBeGreaterThan(LIMIT);
      expect(final.peakWbuf).toBeLessThanOrEqual(LIMIT + ONE_READ);
    });

    it('to the client: without backpressure, the same schedule grows wbuf past 4 × the limit', async () => {
      const { check, final } = await toClient(false, false);
      expect(check.firstMismatch).toBeUndefined();
      expect(check.received).toBe(TOTAL);
      expect(final.pauses).toBe(0);
      expect(final.peakWbuf).toBeGreaterThanOrEqual(4 * LIMIT);
    });

    it('tail (bulk): the backend sends 8 MiB and closes while reads are paused; the client receives every byte, then EOF', async () => {
      const { check, atStall, final, eof, endedAtStall, logs } = await toClient(true, true, TAIL_TOTAL);
      // During the stall: reading paused, bytes still unread, and the backend's end() done
      // (all its bytes and its FIN handed to the kernel).
      expect(atStall.pauses).toBeGreaterThan(0);
      expect(atStall.bytes).toBeLessThan(TAIL_TOTAL);
      expect(endedAtStall).toBeDefined();
      expect(check.firstMismatch).toBeUndefined();
      expect(check.received).toBe(TAIL_TOTAL);
      expect(eof).toBe(true);
      expect(final.peakWbuf).toBeLessThanOrEqual(LIMIT + ONE_READ);
      expect(logs.some((l) => l.includes('backend closed the connection'))).toBe(true);
    });

    it('tail (queued): the backend closes while the stalled client is backed up; the session ends with bytes in its wbuf, and linger delivers them', async () => {
      let proxyRef: ProxyServer | undefined;
      // Paced until the client's wbuf holds BACKED_UP (the kernel took all it could), then
      // 256 KiB more and the FIN: read at once (no pause: wbuf stays under the limit), so the
      // session ends with them queued for the stalled client.
      const source = await pacedSource({ stopWhen: () => (proxyRef?.metrics.directions.to_client.wbuf ?? 0) >= BACKED_UP, tail: LAST_BYTES });
      cleanup.push(() => source.close());
      const { proxy, logs, t } = await tunnel(source.port, true);
      proxyRef = proxy;
      // What the client's wbuf held when the session ended: linger must write it out.
      let queuedAtClose = -1;
      onLog(logs, 'backend closed the connection', () => (queuedAtClose = proxy.metrics.directions.to_client.wbuf));
      const { check, eof } = await slowRawClient(proxy, t.socket, t.rest, {
        total: () => source.state.sent,
        stall: () => until(() => queuedAtClose >= 0, 'the session ended', 10_000),
        waitEof: true,
      });
      expect(queuedAtClose).toBeGreaterThanOrEqual(LAST_BYTES);
      expect(check.firstMismatch).toBeUndefined();
      expect(check.received).toBe(source.state.sent);
      expect(eof).toBe(true);
      const final = stats(proxy, 'to_client');
      expect(final.pauses).toBe(0);
      expect(final.peakWbuf).toBeLessThanOrEqual(LIMIT);
    });

    it('to the backend: with backpressure, a stalled backend keeps wbuf ≤ 640 KiB + 128 KiB; all bytes and the EOF arrive', async () => {
      const { check, atStall, final } = await toBackend(true);
      expect(check.firstMismatch).toBeUndefined();
      expect(check.received).toBe(TOTAL);
      expect(atStall.pauses).toBeGreaterThan(0);
      expect(atStall.bytes).toBeLessThan(TOTAL);
      expect(final.peakWbuf).toBeGreaterThan(LIMIT);
      expect(final.peakWbuf).toBeLessThanOrEqual(LIMIT + ONE_READ);
    });

    it('tail (queued) to the backend: the client closes while the stalled backend is backed up; the session ends with bytes in its wbuf, and linger delivers them', async () => {
      const sink = await patternSink(SLOW_RATE);
      cleanup.push(() => sink.close());
      const { proxy, logs, t } = await tunnel(sink.port, true);
      t.socket.resume();
      let queuedAtClose = -1;
      onLog(logs, 'client closed the connection', () => (queuedAtClose = proxy.metrics.directions.to_backend.wbuf));
      // The client writes paced until the backend's wbuf holds BACKED_UP (the kernel took
      // all it could), then 256 KiB more and its FIN.
      let sent = 0;
      const piece = 64 * KiB;
      while (proxy.metrics.directions.to_backend.wbuf < BACKED_UP && sent < 64 * MiB) {
        for (const view of patternChunks(sent, piece)) t.socket.write(view);
        sent += piece;
        await new Promise((r) => setTimeout(r, 1));
      }
      for (const view of patternChunks(sent, LAST_BYTES)) t.socket.write(view);
      sent += LAST_BYTES;
      t.socket.end();
      await until(() => queuedAtClose >= 0, 'the session ended', 10_000);
      sink.start();
      const conn = () => sink.conns[0];
      await until(() => conn().check.received >= sent || conn().check.firstMismatch !== undefined || conn().ended, 'every byte at the backend', TRANSFER_MS);
      await until(() => conn().ended, 'EOF at the backend', 5000);
      expect(queuedAtClose).toBeGreaterThanOrEqual(LAST_BYTES);
      expect(conn().check.firstMismatch).toBeUndefined();
      expect(conn().check.received).toBe(sent);
      const final = stats(proxy, 'to_backend');
      expect(final.pauses).toBe(0);
      expect(final.peakWbuf).toBeLessThanOrEqual(LIMIT);
    });

    it('to the backend: without backpressure, wbuf grows past 4 × the limit', async () => {
      const { check, final } = await toBackend(false);
      expect(check.firstMismatch).toBeUndefined();
      expect(check.received).toBe(TOTAL);
      expect(final.pauses).toBe(0);
      expect(final.peakWbuf).toBeGreaterThanOrEqual(4 * LIMIT);
    });
  });

  describe('websocket (the ws client)', () => {
    const LIMIT = 5 * WS_MAX_PAYLOAD; // 640 KiB
    /** One frame to the client: a 128 KiB payload and its 10-byte header (64-bit length). */
    const ONE_FRAME = WS_MAX_PAYLOAD + 10;
    const TOTAL = 16 * MiB;
    /** Small enough that the backend's bytes and FIN all reach the kernel while the proxy is paused. */
    const TAIL_TOTAL = 8 * MiB;

    /** A ws client whose reading is a Throttle, paused from the moment it opens. */
    async function slowWsClient(port: number, backendPort: number) {
      const check = new PatternCheck();
      const state = { closed: false, frames: 0 };
      let throttle: Throttle | undefined;
      const ws = new WebSocket(`ws://127.0.0.1:${port}/websocket?port=${backendPort}`, ['binary']);
      cleanup.push(() => ws.terminate());
      ws.on('message', (data: Buffer) => {
        state.frames++;
        check.push(data);
        throttle?.account(data.length);
      });
      ws.on('close', () => (state.closed = true));
      await new Promise<void>((resolve, reject) =>
        ws
          .once('open', () => {
            // ws.pause() is a no-op before 'open'; from here on the client is stalled.
            throttle = new Throttle(ws, SLOW_RATE);
            cleanup.push(() => throttle?.stop());
            resolve();
          })
          .once('error', reject),
      );
      return { ws, check, state, start: () => throttle!.start() };
    }

    async function toClient(backpressure: boolean, end: boolean, total = TOTAL) {
      const source = await patternSource(total, { end });
      const { proxy, port, logs } = await startProxy({ allowPorts: [[source.port, source.port]], backpressure });
      cleanup.push(() => source.close(), () => proxy.close());
      const client = await slowWsClient(port, source.port);
      await stallUntilSettled(proxy, 'to_client', total)();
      const atStall = stats(proxy, 'to_client');
      // As for spice: a bounded moment for the source's end() on a loaded machine.
      if (end) await until(() => source.endedAt() !== undefined, 'the source ended', 5000).catch(() => {});
      const endedAtStall = source.endedAt();
      client.start();
      const { check, state } = client;
      await until(() => check.received >= total || check.firstMismatch !== undefined || state.closed, `${total} bytes at the ws client`, TRANSFER_MS);
      if (end) await until(() => state.closed, 'the ws client sees the connection close', 5000);
      return { check, atStall, final: stats(proxy, 'to_client'), frames: state.frames, closed: state.closed, logs, endedAtStall };
    }

    async function toBackend(backpressure: boolean, messageSize: number) {
      const sink = await patternSink(SLOW_RATE);
      const { proxy, port, logs } = await startProxy({ allowPorts: [[sink.port, sink.port]], backpressure });
      cleanup.push(() => sink.close(), () => proxy.close());
      const ws = new WebSocket(`ws://127.0.0.1:${port}/websocket?port=${sink.port}`, ['binary']);
      cleanup.push(() => ws.terminate());
      await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
      // The fast writer: every message at once (ws queues them; it masks into copies, so the
      // shared pattern block is never touched), then a close frame, which the proxy reads
      // only after the paused rest; it then shuts the backend's side down.
      for (let off = 0; off < TOTAL; off += messageSize) {
        for (const view of patternChunks(off, Math.min(messageSize, TOTAL - off))) ws.send(view);
      }
      ws.close(1000);
      await stallUntilSettled(proxy, 'to_backend', TOTAL)();
      const atStall = stats(proxy, 'to_backend');
      sink.start();
      const conn = () => sink.conns[0];
      await until(() => !!conn() && (conn().check.received >= TOTAL || conn().check.firstMismatch !== undefined || conn().ended), `${TOTAL} bytes at the backend`, TRANSFER_MS);
      await until(() => conn().ended, 'EOF at the backend', 5000);
      return { check: conn().check, atStall, final: stats(proxy, 'to_backend'), logs };
    }

    it('to the client: with backpressure, wbuf ≤ 5 × 128 KiB + one frame and every byte arrives in order', async () => {
      const { check, atStall, final, frames } = await toClient(true, false);
      expect(check.firstMismatch).toBeUndefined();
      expect(check.received).toBe(TOTAL);
      expect(frames).toBeGreaterThanOrEqual(TOTAL / WS_MAX_PAYLOAD);
      expect(atStall.pauses).toBeGreaterThan(0);
      expect(atStall.bytes).toBeLessThan(TOTAL);
      expect(final.peakWbuf).toBeGreaterThan(LIMIT);
      expect(final.peakWbuf).toBeLessThanOrEqual(LIMIT + ONE_FRAME);
    });

    it('to the client: without backpressure, wbuf grows past 4 × the limit', async () => {
      const { check, final } = await toClient(false, false);
      expect(check.firstMismatch).toBeUndefined();
      expect(check.received).toBe(TOTAL);
      expect(final.pauses).toBe(0);
      expect(final.peakWbuf).toBeGreaterThanOrEqual(4 * LIMIT);
    });

    it('tail (bulk): the backend sends 8 MiB and closes while reads are paused; the ws client receives every byte', async () => {
      const { check, atStall, final, closed, logs, endedAtStall } = await toClient(true, true, TAIL_TOTAL);
      expect(atStall.pauses).toBeGreaterThan(0);
      expect(atStall.bytes).toBeLessThan(TAIL_TOTAL);
      expect(endedAtStall).toBeDefined();
      expect(check.firstMismatch).toBeUndefined();
      expect(check.received).toBe(TAIL_TOTAL);
      expect(closed).toBe(true);
      expect(final.peakWbuf).toBeLessThanOrEqual(LIMIT + ONE_FRAME);
      expect(logs.some((l) => l.includes('backend closed the connection'))).toBe(true);
    });

    it('tail (queued): the backend closes while the stalled ws client is backed up; the session ends with frames in its wbuf, and linger delivers them', async () => {
      let proxyRef: ProxyServer | undefined;
      const source = await pacedSource({ stopWhen: () => (proxyRef?.metrics.directions.to_client.wbuf ?? 0) >= BACKED_UP, tail: LAST_BYTES });
      const { proxy, port, logs } = await startProxy({ allowPorts: [[source.port, source.port]] });
      cleanup.push(() => source.close(), () => proxy.close());
      proxyRef = proxy;
      let queuedAtClose = -1;
      onLog(logs, 'backend closed the connection', () => (queuedAtClose = proxy.metrics.directions.to_client.wbuf));
      const client = await slowWsClient(port, source.port);
      await until(() => queuedAtClose >= 0, 'the session ended', 10_000);
      client.start();
      const { check, state } = client;
      await until(() => check.received >= source.state.sent || check.firstMismatch !== undefined || state.closed, 'every byte at the ws client', TRANSFER_MS);
      await until(() => state.closed, 'the ws client sees the connection close', 5000);
      expect(queuedAtClose).toBeGreaterThanOrEqual(LAST_BYTES);
      expect(check.firstMismatch).toBeUndefined();
      expect(check.received).toBe(source.state.sent);
      const final = stats(proxy, 'to_client');
      expect(final.pauses).toBe(0);
      expect(final.peakWbuf).toBeLessThanOrEqual(LIMIT);
    });

    for (const messageSize of [WS_MAX_PAYLOAD, 4 * KiB]) {
      it(`to the backend (${messageSize / KiB} KiB messages): with backpressure, a stalled backend keeps wbuf ≤ 640 KiB + one payload; all bytes and the close arrive`, async () => {
        const { check, atStall, final, logs } = await toBackend(true, messageSize);
        expect(logs.filter((l) => l.startsWith('err'))).toEqual([]);
        expect(check.firstMismatch).toBeUndefined();
        expect(check.received).toBe(TOTAL);
        expect(atStall.pauses).toBeGreaterThan(0);
        expect(atStall.bytes).toBeLessThan(TOTAL);
        expect(final.peakWbuf).toBeGreaterThan(LIMIT);
        expect(final.peakWbuf).toBeLessThanOrEqual(LIMIT + messageSize);
      });
    }

    it('to the backend: without backpressure, wbuf grows past 4 × the limit', async () => {
      const { check, final } = await toBackend(false, WS_MAX_PAYLOAD);
      expect(check.firstMismatch).toBeUndefined();
      expect(check.received).toBe(TOTAL);
      expect(final.pauses).toBe(0);
      expect(final.peakWbuf).toBeGreaterThanOrEqual(4 * LIMIT);
    });
  });

  /**
   * websocket_proxy with a payload limit below one read (ProxyServer always uses 128 KiB, so
   * the session is made directly, as ProxyServer does, on real sockets). A pause leaves the
   * rest of a read in rbuf, up to 64 KiB from a Node socket; with rbuf_max at the payload
   * limit, rbuf_max's check right after the paused reader ended the session with ENOSPC.
   */
  describe('websocket_proxy with maxPayload 1 KiB (below one read)', () => {
    const MAX = 1024;
    const LIMIT = 5 * MAX;
    const TOTAL = 8 * MiB;
    const SMALL_FRAME = MAX + 4; // payload and a 4-byte header (16-bit length, unmasked)

    async function front(backendPort: number) {
      const sessions: ProxySession[] = [];
      const server = net.createServer({ allowHalfOpen: true }, (socket) => {
        const session = new ProxySession();
        sessions.push(session);
        session.hdl = new Handle({
          fh: new NodeFh(socket),
          rbuf_max: 64 * KiB,
          linger: 30,
          on_error: (_h, _f, message) => session.disconnect(`client: ${message}`),
          on_eof: () => session.disconnect(),
        });
        websocket_proxy(session, { target: { host: '127.0.0.1', port: backendPort }, accept: 'x', protocol: 'binary', maxPayload: MAX, loop: nodeLoop });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      cleanup.push(() => {
        for (const s of sessions) s.disconnect();
        server.close();
      });
      const socket = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
      socket.on('error', () => {});
      cleanup.push(() => socket.destroy());
      await new Promise((r) => socket.once('connect', r));
      await until(() => sessions.length === 1, 'session created', 5000);
      return { socket, session: sessions[0] };
    }

    it('to the client: a pause keeps the session, wbuf ≤ 5 KiB + one frame, every payload byte arrives', async () => {
      const source = await patternSource(TOTAL, { end: false });
      cleanup.push(() => source.close());
      const { socket, session } = await front(source.port);
      const received: Buffer[] = [];
      const throttle = new Throttle(socket, SLOW_RATE);
      cleanup.push(() => throttle.stop());
      let got = 0;
      let headEnd = -1;
      socket.on('data', (d: Buffer) => {
        received.push(d);
        got += d.length;
        throttle.account(d.length);
      });
      const bodyBytes = () => {
        if (headEnd < 0) {
          const i = Buffer.concat(received).indexOf('\r\n\r\n');
          if (i >= 0) headEnd = i + 4;
        }
        return headEnd < 0 ? 0 : got - headEnd;
      };
      await settled(() => session.stats.to_client.bytes, TOTAL);
      expect(session.closeReason).toBeUndefined();
      throttle.start();
      // 101 head, then TOTAL / MAX frames of MAX + 4 bytes.
      const frames = TOTAL / MAX;
      await until(() => session.closed || bodyBytes() >= frames * SMALL_FRAME, 'every frame at the client', TRANSFER_MS);
      expect(session.closeReason).toBeUndefined();
      const body = Buffer.concat(received).subarray(headEnd);
      const parsed = new FrameParser({ requireMask: false, maxPayload: MAX }).parse(body);
      expect(parsed.error).toBeUndefined();
      const check = new PatternCheck();
      for (const f of parsed.frames) check.push(f.payload);
      expect(check.firstMismatch).toBeUndefined();
      expect(check.received).toBe(TOTAL);
      expect(session.stats.to_client.pauses).toBeGreaterThan(0);
      expect(session.stats.to_client.peakWbuf).toBeLessThanOrEqual(LIMIT + SMALL_FRAME);
    });

    it('to the backend: a pause keeps the session, wbuf ≤ 5 KiB + one payload, every byte arrives', async () => {
      const sink = await patternSink(SLOW_RATE);
      cleanup.push(() => sink.close());
      const { socket, session } = await front(sink.port);
      socket.resume();
      const mask = Buffer.from([0x12, 0x34, 0x56, 0x78]);
      for (let off = 0; off < TOTAL; off += MAX) socket.write(frameBuffer(patternChunks(off, MAX)[0], { mask }));
      await settled(() => session.stats.to_backend.bytes, TOTAL);
      expect(session.closeReason).toBeUndefined();
      sink.start();
      const conn = () => sink.conns[0];
      await until(() => session.closed || conn().check.received >= TOTAL || conn().check.firstMismatch !== undefined, 'every byte at the backend', TRANSFER_MS);
      expect(session.closeReason).toBeUndefined();
      expect(conn().check.firstMismatch).toBeUndefined();
      expect(conn().check.received).toBe(TOTAL);
      expect(session.stats.to_backend.pauses).toBeGreaterThan(0);
      expect(session.stats.to_backend.peakWbuf).toBeLessThanOrEqual(LIMIT + MAX);
    });
  });

  describe('stream (GET /stream/NAME on a raw socket)', () => {
    const TOTAL = 48 * MiB;
    /**
     * About 4 MiB in the kernel and 4 MiB in the client's wbuf while the client is stalled,
     * so the last ~2 MiB wait in the source's rbuf: under the pause threshold
     * (rbuf + 4 × read_size > 4 MiB), so the end of the file is read with them still there.
     */
    const SHORT = 10 * MiB;
    let root: string;

    beforeAll(async () => {
      root = await fsp.mkdtemp(join(tmpdir(), 'ae-bp-stream-'));
      const fh = await fsp.open(join(root, 'file.bin'), 'w');
      for (const view of patternChunks(0, TOTAL)) await fh.write(view);
      await fh.close();
      await fsp.writeFile(join(root, 'short.bin'), patternChunks(0, SHORT));
    });
    afterAll(async () => {
      if (root) await fsp.rm(root, { recursive: true, force: true });
    });

    async function download(backpressure: boolean, name = 'file.bin', total = TOTAL) {
      const { proxy, port, logs } = await startProxy({ streamDir: root, backpressure });
      cleanup.push(() => proxy.close());
      const r = await openRaw(port, `GET /stream/${name} HTTP/1.1\r\nHost: x\r\n\r\n`);
      cleanup.push(() => r.socket.destroy());
      expect(r.head).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      let finishedAtStall = false;
      const settle = stallUntilSettled(proxy, 'to_client', total);
      const run = await slowRawClient(proxy, r.socket, r.rest, {
        total: () => total,
        stall: async () => {
          await settle();
          finishedAtStall = logs.some((l) => l.includes('stream finished'));
        },
        waitEof: true,
      });
      return { ...run, finishedAtStall, final: stats(proxy, 'to_client') };
    }

    it('with backpressure, the client wbuf stays ≤ 4 MiB and the file arrives intact', async () => {
      const { check, atStall, final, eof } = await download(true);
      expect(check.firstMismatch).toBeUndefined();
      expect(check.received).toBe(TOTAL);
      expect(eof).toBe(true);
      expect(atStall.pauses).toBeGreaterThan(0);
      expect(atStall.bytes).toBeLessThan(TOTAL);
      // response_stream caps each push at 4 MiB − wbuf, so 4 MiB itself is the bound (tighter
      // than limit + one read); see stream.test.ts for the arithmetic.
      expect(final.peakWbuf).toBeGreaterThan(STREAM_BUF_SIZE / 2);
      expect(final.peakWbuf).toBeLessThanOrEqual(STREAM_BUF_SIZE);
    });

    it('without backpressure, wbuf grows past 4 × 4 MiB', async () => {
      const { check, final, eof } = await download(false);
      expect(check.firstMismatch).toBeUndefined();
      expect(check.received).toBe(TOTAL);
      expect(eof).toBe(true);
      expect(final.pauses).toBe(0);
      expect(final.peakWbuf).toBeGreaterThanOrEqual(4 * STREAM_BUF_SIZE);
    });

    it('tail: the file ends while the client is stalled; the rest waits in the source and is flushed within 4 MiB once the client drains', async () => {
      const { check, atStall, final, eof, finishedAtStall } = await download(true, 'short.bin', SHORT);
      // During the stall the end of the file was reached but not everything was handed to the
      // client's wbuf (it was full): the rest is with the source, and the stream not finished.
      expect(atStall.bytes).toBeLessThan(SHORT);
      expect(finishedAtStall).toBe(false);
      expect(check.firstMismatch).toBeUndefined();
      expect(check.received).toBe(SHORT);
      expect(eof).toBe(true);
      expect(final.peakWbuf).toBeLessThanOrEqual(STREAM_BUF_SIZE);
    });
  });
});
