import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProxyServer } from '../../lib/http/ProxyServer.js';
import type { SessionKind } from '../../lib/metrics.js';
import type { ProxySession } from '../../lib/proxy/ProxySession.js';
import { frame, OPCODE } from '../../lib/proxy/ws/frame.js';
import type { RetentionTracker } from './gc.js';

/**
 * Short sessions through a real ProxyServer on 127.0.0.1, for the retention test
 * (spec/e2e/retention.test.ts, 1,000 per handler) and the soak (spec/soak/retention-soak.ts,
 * 10,000 per handler). Each session is one raw TCP client that connects, moves a few KB
 * each way, and closes; every ProxySession, Handle and stream the server makes for it is
 * shown to a RetentionTracker.
 */

export const PAYLOAD = 4096;
/** What /stream/FILE serves. */
export const STREAM_SIZE = 8192;
const STREAM_FILE = 'blob';
/** Every step of a session is bounded by this. */
const SESSION_MS = 10_000;

export interface Fixture {
  proxy: ProxyServer;
  port: number;
  echoPort: number;
  logs: string[];
  close(): Promise<void>;
}

/** An echo backend, a stream directory with one file, and a proxy whose sessions `tracker` follows. */
export async function startFixture(tracker: RetentionTracker): Promise<Fixture> {
  const echo = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  const echoPort = (echo.address() as net.AddressInfo).port;
  const streamDir = mkdtempSync(join(tmpdir(), 'ae-retention-'));
  const body = Buffer.alloc(STREAM_SIZE);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
  writeFileSync(join(streamDir, STREAM_FILE), body);
  const logs: string[] = [];
  const proxy = new ProxyServer({ allowPorts: [[echoPort, echoPort]], streamDir, shutdownGrace: 1 }, (level, message) => {
    // Only problems are kept: a soak logs three lines per session otherwise.
    if (level !== 'info') logs.push(`${level}: ${message}`);
  });
  trackSessions(proxy, tracker);
  const { port } = await proxy.listen('127.0.0.1', 0);
  return {
    proxy,
    port,
    echoPort,
    logs,
    async close() {
      await proxy.close();
      await new Promise<void>((resolve) => echo.close(() => resolve()));
      rmSync(streamDir, { recursive: true, force: true });
    },
  };
}

/**
 * Shows every session the proxy makes, its two Handles and their streams to `tracker`,
 * through the metrics hooks (the one place the server hands a session to outside code).
 * The wbuf hook runs whenever a destination's wbuf changes, so each object is seen while
 * the session is live; a WeakSet makes sure each is registered once, and keeps nothing.
 */
function trackSessions(proxy: ProxyServer, tracker: RetentionTracker): void {
  const metrics = proxy.metrics;
  const sessionHooks = metrics.sessionHooks.bind(metrics);
  const seen = new WeakSet<object>();
  const once = (object: object | undefined, label: string) => {
    if (!object || seen.has(object)) return;
    seen.add(object);
    tracker.track(object, label);
  };
  metrics.sessionHooks = (kind: SessionKind, log, closed) => {
    const hooks = sessionHooks(kind, log, closed);
    const wbuf = hooks.wbuf!;
    hooks.wbuf = (session: ProxySession, direction, length) => {
      once(session, 'ProxySession');
      for (const hdl of [session.hdl, session.proxyhdl]) {
        once(hdl, 'Handle');
        // The client's and the backend's net.Socket, or the file's ReadStream.
        const fh = hdl?.fh;
        if (fh) once(fh, 'stream');
      }
      wbuf(session, direction, length);
    };
    return hooks;
  };
}

/** A raw client connection with a byte queue and bounded waits (also used by spec/e2e/bad-input.test.ts). */
export class Client {
  readonly socket: net.Socket;
  #buf: Buffer = Buffer.alloc(0);
  #ended = false;
  #closed = false;
  #wake: (() => void) | undefined;

  constructor(
    port: number,
    readonly waitMs = SESSION_MS,
  ) {
    this.socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    this.socket.on('data', (d: Buffer) => {
      this.#buf = this.#buf.length ? Buffer.concat([this.#buf, d]) : d;
      this.#wake?.();
    });
    this.socket.on('end', () => ((this.#ended = true), this.#wake?.()));
    this.socket.on('close', () => ((this.#closed = true), this.#wake?.()));
    this.socket.on('error', () => {});
  }

  /** Waits until `pred` holds over the bytes received so far (or fails after `waitMs`). */
  wait(what: string, pred: (buf: Buffer, ended: boolean, closed: boolean) => boolean): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        this.socket.destroy();
        reject(new Error(`${what}: not within ${this.waitMs} ms (got ${this.#buf.length} bytes: ${this.#buf.toString('latin1', 0, 120)})`));
      }, this.waitMs);
      const check = () => {
        if (!pred(this.#buf, this.#ended, this.#closed)) return;
        clearTimeout(timer);
        this.#wake = undefined;
        resolve(this.#buf);
      };
      this.#wake = check;
      check();
    });
  }

  /** Drops the first `n` received bytes. */
  take(n: number): Buffer {
    const head = this.#buf.subarray(0, n);
    this.#buf = this.#buf.subarray(n);
    return head;
  }

  /**
   * Waits for the peer's EOF (or a reset), ends this side too, waits for the close, and
   * returns everything received and not taken.
   */
  async closed(what: string): Promise<Buffer> {
    await this.wait(what, (_b, ended, closed) => ended || closed);
    this.socket.end();
    await this.wait(`${what} (close after EOF)`, (_b, _e, closed) => closed);
    return this.#buf;
  }

  /** Everything received and not taken. */
  get received(): Buffer {
    return this.#buf;
  }

  get isClosed(): boolean {
    return this.#closed;
  }
}

const payload = Buffer.alloc(PAYLOAD, 0x5a);
const MASK = Buffer.from([9, 8, 7, 6]);
const masked = (data: Buffer, opcode: number = OPCODE.BINARY) => Buffer.concat(frame(data, { opcode, mask: MASK }));
const WS_FRAMES = Buffer.concat([masked(payload.subarray(0, PAYLOAD / 2)), masked(payload.subarray(PAYLOAD / 2))]);
const WS_CLOSE = masked(Buffer.from([0x03, 0xe8]), OPCODE.CLOSE);

/** Payload bytes in a run of unmasked server frames, or -1 while a frame is incomplete. */
function framedPayload(buf: Buffer): number {
  let total = 0;
  let at = 0;
  while (at < buf.length) {
    if (buf.length - at < 2) return -1;
    let len = buf[at + 1] & 0x7f;
    let head = 2;
    if (len === 126) {
      if (buf.length - at < 4) return -1;
      len = buf.readUInt16BE(at + 2);
      head = 4;
    } else if (len === 127) {
      if (buf.length - at < 10) return -1;
      len = Number(buf.readBigUInt64BE(at + 2));
      head = 10;
    }
    if (buf.length - at < head + len) return -1;
    if (buf[at] !== 0x82) throw new Error(`unexpected frame type 0x${buf[at].toString(16)}`);
    total += len;
    at += head + len;
  }
  return total;
}

const headEnd = (buf: Buffer) => buf.indexOf('\r\n\r\n');

/** CONNECT to the echo backend, 4 KB each way, half-close; the proxy closes. */
export async function spiceSession(fx: Fixture): Promise<void> {
  const c = new Client(fx.port);
  c.socket.write(`CONNECT 127.0.0.1:${fx.echoPort} HTTP/1.1\r\nHost: 127.0.0.1:${fx.echoPort}\r\n\r\n`);
  const ok = 'HTTP/1.1 200 OK\r\n\r\n';
  await c.wait('spice 200', (b) => b.length >= ok.length);
  const head = c.take(ok.length).toString('latin1');
  if (head !== ok) throw new Error(`spice: unexpected answer ${JSON.stringify(head)}`);
  c.socket.write(payload);
  await c.wait('spice echo', (b) => b.length >= PAYLOAD);
  if (!c.take(PAYLOAD).equals(payload)) throw new Error('spice: echo differs');
  c.socket.end();
  await c.closed('spice close');
}

/** Upgrade, two 2 KB frames echoed back, close frame, hang up. */
export async function websocketSession(fx: Fixture): Promise<void> {
  const c = new Client(fx.port);
  c.socket.write(
    `GET /websocket?port=${fx.echoPort} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: binary\r\n\r\n',
  );
  const answer = await c.wait('websocket 101', (b) => headEnd(b) >= 0);
  const head = c.take(headEnd(answer) + 4).toString('latin1');
  if (!head.startsWith('HTTP/1.1 101 ')) throw new Error(`websocket: unexpected answer ${JSON.stringify(head.slice(0, 80))}`);
  c.socket.write(WS_FRAMES);
  await c.wait('websocket echo', (b) => framedPayload(b) >= PAYLOAD);
  c.socket.write(WS_CLOSE);
  // The proxy shuts its write side down on a close frame; then the client hangs up.
  await c.wait('websocket shutdown', (_b, ended) => ended);
  c.socket.end();
  await c.closed('websocket close');
}

/** GET /stream/FILE: the whole file, then the proxy closes. */
export async function streamSession(fx: Fixture): Promise<void> {
  const c = new Client(fx.port);
  c.socket.write(`GET /stream/${STREAM_FILE} HTTP/1.1\r\nHost: x\r\n\r\n`);
  const all = await c.closed('stream to the end');
  const at = headEnd(all);
  if (!all.toString('latin1', 0, 20).startsWith('HTTP/1.1 200 ') || all.length - at - 4 !== STREAM_SIZE) {
    throw new Error(`stream: got ${all.length} bytes: ${JSON.stringify(all.toString('latin1', 0, 80))}`);
  }
}

export const SESSIONS: Record<SessionKind, (fx: Fixture) => Promise<void>> = {
  spice: spiceSession,
  websocket: websocketSession,
  stream: streamSession,
};

/** Runs `count` sessions of `kind`, `concurrency` at a time. */
export async function runSessions(fx: Fixture, kind: SessionKind, count: number, concurrency = 16): Promise<void> {
  let started = 0;
  const worker = async () => {
    while (started < count) {
      started++;
      await SESSIONS[kind](fx);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** Resolves once the proxy has no connection and no session open (bounded). */
export async function proxyIdle(fx: Fixture, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (fx.proxy.connectionCount || fx.proxy.metrics.sessionsOpen) {
    if (Date.now() > deadline) {
      throw new Error(`proxy not idle after ${ms} ms: ${fx.proxy.connectionCount} connections, ${fx.proxy.metrics.sessionsOpen} sessions`);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}
