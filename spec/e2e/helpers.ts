import net from 'node:net';
import { ProxyServer } from '../../lib/http/ProxyServer.js';
import type { ProxyConfig } from '../../lib/http/config.js';

/** A TCP echo backend on 127.0.0.1, half-close aware. */
export async function echoServer(): Promise<{ port: number; close(): void; connections: () => number }> {
  let count = 0;
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    count++;
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close(), connections: () => count };
}

/** A proxy on 127.0.0.1:0 with the given config; collects its log lines. */
export async function startProxy(config: Partial<ProxyConfig>) {
  const logs: string[] = [];
  const proxy = new ProxyServer({ shutdownGrace: 1, ...config }, (level, message) => logs.push(`${level}: ${message}`));
  const { port } = await proxy.listen('127.0.0.1', 0);
  return { proxy, port, logs };
}

/** Sends raw bytes to the proxy and collects everything until the connection closes. */
export async function rawExchange(port: number, data: Buffer | string, waitMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${waitMs} ms; got: ${Buffer.concat(chunks).toString().slice(0, 200)}`));
    }, waitMs);
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    socket.write(data);
  });
}

export function until(pred: () => boolean, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const check = () => {
      if (pred()) return resolve();
      if (Date.now() > deadline) return reject(new Error(`timed out waiting for: ${what}`));
      setTimeout(check, 5);
    };
    check();
  });
}

// ---------------------------------------------------------------------------------------
// Helpers for spice.test.ts, stream.test.ts and backpressure.test.ts (real loopback sockets).
// ESM hoists these imports; they sit here so the file above stays as it was.
import { spawn, spawnSync } from 'node:child_process';
import { patternChunks } from '../../lib/backend/sim/pattern.js';

/** curl's first `--version` line, or undefined when curl does not run (its tests skip). */
export const curlVersion: string | undefined = (() => {
  try {
    const r = spawnSync('curl', ['--version'], { encoding: 'utf8', timeout: 5000 });
    return r.status === 0 ? r.stdout.split('\n')[0] : undefined;
  } catch {
    return undefined;
  }
})();

/** Runs curl, killed after `timeoutMs`; resolves with its exit code and output (a non-zero exit is not an error). */
export function curl(args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('curl', args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() }));
  });
}

/**
 * Opens a raw connection to the proxy, sends `request` and resolves once the response head
 * (up to the empty line) is in, with the bytes that followed it; the socket is then paused,
 * with no 'data' listener. If the proxy closes first, resolves with what it sent (`closed`).
 */
export function openRaw(
  port: number,
  request: string | Buffer,
  waitMs = 5000,
): Promise<{ socket: net.Socket; head: string; rest: Buffer; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no response head within ${waitMs} ms; got: ${got.toString('latin1').slice(0, 200)}`));
    }, waitMs);
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.pause();
      const end = got.indexOf('\r\n\r\n');
      const head = got.subarray(0, end < 0 ? got.length : end + 4).toString('latin1');
      resolve({ socket, head, rest: end < 0 ? Buffer.alloc(0) : got.subarray(end + 4), closed });
    };
    const onData = (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.includes('\r\n\r\n')) done(false);
    };
    const onEnd = () => done(true);
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', () => {});
    socket.write(request);
  });
}

/** `CONNECT target` through the proxy on a raw socket (see openRaw). */
export function connectTunnel(port: number, target: string, waitMs = 5000) {
  return openRaw(port, `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`, waitMs);
}

/**
 * Checks a byte stream against the test pattern (lib/backend/sim/pattern.ts, period 65521,
 * so a lost, repeated or reordered chunk shows as a mismatch) as it arrives, keeping nothing.
 */
export class PatternCheck {
  received = 0;
  /** Offset of the first byte that is not the pattern's, if any. */
  firstMismatch: number | undefined;

  push(chunk: Buffer): void {
    let pos = 0;
    for (const view of patternChunks(this.received, chunk.length)) {
      if (this.firstMismatch === undefined && chunk.compare(view, 0, view.length, pos, pos + view.length) !== 0) {
        let i = 0;
        while (chunk[pos + i] === view[i]) i++;
        this.firstMismatch = this.received + pos + i;
      }
      pos += view.length;
    }
    this.received += chunk.length;
  }
}

/** Writes bytes [0, total) of the test pattern to `stream` at once (Node queues them; views, no copies). */
export function writePattern(stream: { write(b: Buffer): unknown }, total: number): void {
  for (const view of patternChunks(0, total)) stream.write(view);
}

/**
 * A stalled-then-slow reader: pauses `target` now; after `start()`, lets at most
 * `bytesPerSecond` through, pausing it and resuming it on a timer as a slow consumer does.
 * Call `account(n)` for every n bytes that arrive.
 */
export class Throttle {
  #t0 = 0;
  #bytes = 0;
  #timer: NodeJS.Timeout | undefined;
  #started = false;
  #stopped = false;

  constructor(
    readonly target: { pause(): unknown; resume(): unknown },
    readonly bytesPerSecond: number,
  ) {
    target.pause();
  }

  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    this.#t0 = Date.now();
    this.target.resume();
  }

  account(n: number): void {
    this.#bytes += n;
    if (!this.#started || this.#stopped || this.#timer) return;
    const due = this.#t0 + (this.#bytes / this.bytesPerSecond) * 1000;
    const wait = due - Date.now();
    if (wait < 2) return;
    this.target.pause();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.#stopped) this.target.resume();
    }, wait);
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}

/**
 * Resolves once `value()` reaches `target`, or has not grown for `quietMs` (the pipeline is
 * full and the writer is held back), or after `capMs` at most.
 */
export async function settled(value: () => number, target: number, quietMs = 250, capMs = 5000): Promise<void> {
  const deadline = Date.now() + capMs;
  let last = value();
  let since = Date.now();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
    const now = value();
    if (now >= target) return;
    if (now !== last) {
      last = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) {
      return;
    }
  }
}

/**
 * A TCP backend on 127.0.0.1 that sends `total` bytes of the test pattern to each connection
 * as fast as it takes them, then ends its write side (`end: true`) or stays open; what it
 * receives is discarded.
 */
export async function patternSource(total: number, opts: { end: boolean }) {
  const sockets: net.Socket[] = [];
  let endedAt: number | undefined;
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.push(s);
    s.on('error', () => {});
    s.resume();
    writePattern(s, total);
    if (opts.end) s.end(() => (endedAt ??= Date.now()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    /** When the backend's end() completed (all its bytes handed to the kernel), if it did. */
    endedAt: () => endedAt,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

/**
 * A TCP backend on 127.0.0.1 that reads each connection through a Throttle (stalled until
 * `start()`, then at most `bytesPerSecond`) and checks it against the test pattern.
 */
export async function patternSink(bytesPerSecond: number) {
  const conns: Array<{ socket: net.Socket; check: PatternCheck; throttle: Throttle; ended: boolean }> = [];
  let started = false;
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    const conn = { socket, check: new PatternCheck(), throttle: new Throttle(socket, bytesPerSecond), ended: false };
    conns.push(conn);
    socket.on('error', () => {});
    socket.on('data', (d: Buffer) => {
      conn.check.push(d);
      conn.throttle.account(d.length);
    });
    socket.on('end', () => {
      conn.ended = true;
      socket.end();
    });
    // A 'data' listener resumes the socket: pause it again until the stall is over.
    socket.pause();
    if (started) conn.throttle.start();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    conns,
    start: () => {
      started = true;
      for (const c of conns) c.throttle.start();
    },
    close: () => {
      for (const c of conns) {
        c.throttle.stop();
        c.socket.destroy();
      }
      server.close();
    },
  };
}

/**
 * A TCP backend on 127.0.0.1 that sends the test pattern to its (single) connection paced
 * at one 64 KiB piece per millisecond or so (slow enough for the proxy to keep up) until
 * `stopWhen()` holds, then sends `tail` more bytes at once and ends. Stops by itself after
 * `cap` bytes.
 */
export async function pacedSource(opts: { stopWhen: () => boolean; tail: number; cap?: number }) {
  const cap = opts.cap ?? 64 * 1024 * 1024;
  const sockets: net.Socket[] = [];
  const state = { sent: 0, sentBeforeTail: 0, endedAt: undefined as number | undefined };
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.push(s);
    s.on('error', () => {});
    s.resume();
    const piece = 64 * 1024;
    const step = () => {
      if (s.destroyed) return;
      if (!opts.stopWhen() && state.sent < cap) {
        writePatternAt(s, state.sent, piece);
        state.sent += piece;
        setTimeout(step, 1);
        return;
      }
      state.sentBeforeTail = state.sent;
      writePatternAt(s, state.sent, opts.tail);
      state.sent += opts.tail;
      s.end(() => (state.endedAt = Date.now()));
    };
    step();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    state,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

function writePatternAt(stream: { write(b: Buffer): unknown }, offset: number, length: number): void {
  for (const view of patternChunks(offset, length)) stream.write(view);
}
