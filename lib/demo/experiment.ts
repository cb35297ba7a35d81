/**
 * One demo run: a fast writer, through a real `ProxyServer` (in a child process of its
 * own), into a reader that stalls and then reads slowly; with or without backpressure.
 *
 * - spice: the client writes raw bytes into a `CONNECT` tunnel; the backend is the reader.
 * - websocket: the client writes masked 128 KiB binary frames; the backend is the reader.
 * - stream: the proxy streams a file (the fast writer) to a client that is the reader.
 *
 * The run lasts `seconds`, or less if a memory cap stops it. A bounded run then drains: the
 * writer half-closes and the reader reads at full speed until it has everything (or the
 * drain time is up); an unbounded run is not drained, as what its proxy holds is what an
 * OOM kill would lose. Either way, what arrived is compared with what was sent by SHA-256.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import type { Direction } from '../proxy/ProxySession.js';
import { STREAM_BUF_SIZE } from '../proxy/response_stream.js';
import { SPICE_WBUF_LIMIT } from '../proxy/spice_proxy.js';
import { WS_MAX_PAYLOAD } from '../proxy/websocket_proxy.js';
import type { ChildConfig, ChildMessage, ParentMessage } from './proxyChild.js';
import { PatternWriter, ThrottledReader, patternDigest } from './peers.js';

export const HANDLERS = ['spice', 'websocket', 'stream'] as const;
export type HandlerName = (typeof HANDLERS)[number];

/** The limit each handler's backpressure keeps to, and the direction the demo loads. */
export const HANDLER_INFO: Record<HandlerName, { limit: number; limitText: string; direction: Direction; what: string }> = {
  spice: { limit: SPICE_WBUF_LIMIT, limitText: '64 × 10 KiB', direction: 'to_backend', what: 'CONNECT tunnel, client → backend' },
  websocket: { limit: 5 * WS_MAX_PAYLOAD, limitText: '5 × 128 KiB', direction: 'to_backend', what: 'masked 128 KiB frames, client → backend' },
  stream: { limit: STREAM_BUF_SIZE, limitText: '4 MiB', direction: 'to_client', what: 'GET /stream/ of a file, file → client' },
};

export interface RunOptions {
  handler: HandlerName;
  backpressure: boolean;
  seconds: number;
  /** The reader reads nothing for this long, then at `slowRate` bytes/s. */
  stallSeconds: number;
  slowRate: number;
  /** A bounded run's drain may take this long at most. */
  drainSeconds: number;
  /** Stop when the watched wbuf, or the proxy's RSS growth, reaches these. */
  wbufCap: number;
  rssCap: number;
  sampleMs: number;
  /** For `stream`: the directory, the file's name in it, and its size. */
  stream?: { dir: string; name: string; size: number };
  onProgress?: (p: Progress) => void;
}

export interface Progress {
  handler: HandlerName;
  backpressure: boolean;
  phase: 'starting' | 'stalled' | 'slow' | 'draining' | 'done';
  t: number;
  wbuf: number;
  rssGrowth: number;
  sent: number;
  delivered: number;
}

/** One point of the wbuf-over-time series: the largest wbuf in the sample interval ending at `t`. */
export interface Sample {
  t: number;
  wbuf: number;
  rss: number;
}

export interface RunResult {
  handler: HandlerName;
  mode: 'unbounded' | 'bounded';
  backpressure: boolean;
  direction: Direction;
  limit: number;
  peakWbuf: number;
  peakOverLimit: number;
  rssBefore: number;
  peakRss: number;
  peakRssGrowth: number;
  /** At the highest RSS sample: how much of the growth was V8's heap, and Buffer memory (wbuf lives there). */
  heapGrowth: number | undefined;
  buffersGrowth: number | undefined;
  /** Bytes the writer sent (stream: bytes the proxy read from the file). */
  sent: number;
  /** Bytes the reader received. */
  delivered: number;
  /** Everything sent arrived, and its SHA-256 matches. */
  intact: boolean;
  /** What did arrive is exactly the start of what was sent (SHA-256 of that prefix). */
  prefixIntact: boolean;
  sha256Sent: string | undefined;
  sha256Received: string;
  /** `time`, `wbuf cap`, `RSS cap`, or `proxy exited` (with why). */
  stoppedBy: string;
  /** stream: when the proxy had read the whole file (the writer ran out), if it did before the stop. */
  sourceEndedAt: number | undefined;
  /** Seconds from the start until the run was stopped (before any drain). */
  stoppedAt: number;
  /** Seconds a bounded run took to drain (undefined: not drained); `drainComplete` false if cut. */
  drainSeconds: number | undefined;
  drainComplete: boolean;
  pauses: number;
  samples: Sample[];
}

export async function runExperiment(o: RunOptions): Promise<RunResult> {
  const info = HANDLER_INFO[o.handler];
  const cleanup: Array<() => void> = [];
  try {
    return await run(o, info, cleanup);
  } finally {
    for (const f of cleanup.reverse()) {
      try {
        f();
      } catch {
        // best effort
      }
    }
  }
}

async function run(o: RunOptions, info: (typeof HANDLER_INFO)[HandlerName], cleanup: Array<() => void>): Promise<RunResult> {
  const progress = (phase: Progress['phase'], t: number, wbuf: number, rssGrowth: number) =>
    o.onProgress?.({ handler: o.handler, backpressure: o.backpressure, phase, t, wbuf, rssGrowth, sent: sent(), delivered: reader?.received ?? 0 });

  // The backend, for spice and websocket: its one connection is the reader.
  let backend: { port: number; connection: Promise<net.Socket> } | undefined;
  if (o.handler !== 'stream') {
    const server = net.createServer({ allowHalfOpen: true });
    const connection = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => server.close());
    backend = { port: (server.address() as net.AddressInfo).port, connection };
  }

  const child = startChild({
    backpressure: o.backpressure,
    backendPort: backend?.port,
    streamDir: o.stream?.dir,
    direction: info.direction,
    sampleMs: o.sampleMs,
    hardWbuf: o.wbufCap * 1.25,
    hardRssGrowth: o.rssCap * 1.25,
  });
  cleanup.push(() => child.process.kill('SIGKILL'));
  const ready = await child.next('ready', 60_000);

  let writer: PatternWriter | undefined;
  let reader: ThrottledReader | undefined;
  let fileRelayed = 0;
  const sent = () => (o.handler === 'stream' ? fileRelayed : (writer?.sent ?? 0));

  // Samples and caps.
  const samples: Sample[] = [];
  let rssBefore = ready.rss;
  let stop: ((why: string) => void) | undefined;
  const stopped = new Promise<string>((resolve) => (stop = resolve));
  let phase: Progress['phase'] = 'starting';
  let sourceEndedAt: number | undefined;
  child.on('sample', (m) => {
    samples.push({ t: m.t, wbuf: m.wbuf, rss: m.rss });
    fileRelayed = m.relayed;
    if (o.stream && m.relayed >= o.stream.size && sourceEndedAt === undefined && phase !== 'draining') sourceEndedAt = m.t;
    const growth = m.rss - rssBefore;
    progress(phase, m.t, m.wbuf, growth);
    if (m.wbuf >= o.wbufCap) stop?.(`wbuf cap`);
    else if (growth >= o.rssCap) stop?.(`RSS cap`);
  });
  child.on('hard-cap', (m) => stop?.(`proxy exited (its own ${m.what} bound)`));
  child.process.once('exit', (code, signal) => stop?.(`proxy exited (${signal ?? `code ${code}`})`));

  // Go: the proxy takes its RSS baseline, then the client connects and the writer starts.
  child.send({ type: 'start' });
  const t0 = performance.now();
  const elapsed = () => (performance.now() - t0) / 1000;
  // The child's baseline is taken on 'start'; until its first sample, use the one at 'ready'.
  const client = await openClient(o, ready.port, backend?.port);
  cleanup.push(() => client.socket.destroy());
  if (o.handler === 'stream') {
    reader = new ThrottledReader(client.socket, o.slowRate, client.rest);
  } else {
    client.socket.on('error', () => {});
    client.socket.resume(); // nothing comes back on this side; do not let it pile up
    writer = new PatternWriter(client.socket, o.handler === 'websocket');
    const bsock = await withTimeout(backend!.connection, 10_000, 'the proxy did not connect to the backend');
    cleanup.push(() => bsock.destroy());
    reader = new ThrottledReader(bsock, o.slowRate);
    writer.start();
  }
  phase = 'stalled';

  const stallTimer = setTimeout(() => {
    reader!.slow();
    phase = 'slow';
  }, Math.max(0, o.stallSeconds * 1000 - elapsed() * 1000));
  const endTimer = setTimeout(() => stop?.('time'), Math.max(0, o.seconds * 1000 - elapsed() * 1000));
  cleanup.push(() => {
    clearTimeout(stallTimer);
    clearTimeout(endTimer);
  });

  const stoppedBy = await stopped;
  const stoppedAt = elapsed();
  clearTimeout(stallTimer);
  clearTimeout(endTimer);
  const proxyAlive = child.process.exitCode === null && child.process.signalCode === null;

  // A bounded run drains: everything sent must arrive, within drainSeconds.
  let drainSeconds: number | undefined;
  let drainComplete = false;
  if (o.backpressure && proxyAlive) {
    phase = 'draining';
    writer?.stop(true);
    reader.full();
    const target = () => (o.handler === 'stream' ? (o.stream?.size ?? 0) : writer!.sent);
    const drainStart = performance.now();
    const deadline = drainStart + o.drainSeconds * 1000;
    while (reader.received < target() && !reader.eof && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    drainSeconds = (performance.now() - drainStart) / 1000;
    drainComplete = reader.received >= target();
  } else {
    writer?.stop(false);
  }

  // The proxy's totals, then it exits.
  let final: Extract<ChildMessage, { type: 'final' }> | undefined;
  if (child.process.exitCode === null && child.process.signalCode === null) {
    child.send({ type: 'stop' });
    final = await child.next('final', 10_000).catch(() => undefined);
  }
  phase = 'done';
  const last = samples[samples.length - 1];
  if (final) rssBefore = final.rssBefore;
  else if (samples.length) rssBefore = Math.min(rssBefore, ...samples.map((s) => s.rss));
  const peakWbuf = final?.peakWbuf ?? Math.max(0, ...samples.map((s) => s.wbuf));
  const peakRss = final?.peakRss ?? Math.max(rssBefore, ...samples.map((s) => s.rss));
  if (o.handler === 'stream' && final) fileRelayed = final.relayed;
  progress('done', last?.t ?? 0, last?.wbuf ?? 0, peakRss - rssBefore);

  reader.stop();
  const delivered = reader.received;
  const sha256Received = reader.digest();
  const sentBytes = o.backpressure && drainComplete && o.handler === 'stream' ? o.stream!.size : sent();
  // The test pattern is deterministic: what was sent is its first `sent` bytes.
  const sha256Prefix = patternDigest(delivered);
  const prefixIntact = sha256Prefix === sha256Received;
  const complete = delivered === sentBytes;
  const sha256Sent = complete ? sha256Prefix : undefined;
  return {
    handler: o.handler,
    mode: o.backpressure ? 'bounded' : 'unbounded',
    backpressure: o.backpressure,
    direction: info.direction,
    limit: info.limit,
    peakWbuf,
    peakOverLimit: peakWbuf / info.limit,
    rssBefore,
    peakRss,
    peakRssGrowth: Math.max(0, peakRss - rssBefore),
    heapGrowth: final?.heapGrowth,
    buffersGrowth: final?.buffersGrowth,
    sent: sentBytes,
    delivered,
    intact: complete && prefixIntact,
    prefixIntact,
    sha256Sent,
    sha256Received,
    stoppedBy,
    stoppedAt,
    sourceEndedAt,
    drainSeconds,
    drainComplete,
    pauses: final?.pauses ?? 0,
    samples,
  };
}

/** Connects to the proxy and makes the request of the handler; resolves past the response head. */
async function openClient(o: RunOptions, proxyPort: number, backendPort: number | undefined) {
  let request: string;
  let expect: string;
  if (o.handler === 'spice') {
    const target = `127.0.0.1:${backendPort}`;
    request = `CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`;
    expect = 'HTTP/1.1 200 OK';
  } else if (o.handler === 'websocket') {
    request =
      `GET /websocket?port=${backendPort} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Protocol: binary\r\n\r\n`;
    expect = 'HTTP/1.1 101 Switching Protocols';
  } else {
    request = `GET /stream/${o.stream!.name} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
    expect = 'HTTP/1.1 200 OK';
  }
  const r = await openRaw(proxyPort, request, 10_000);
  if (!r.head.startsWith(expect)) throw new Error(`${o.handler}: the proxy answered '${r.head.split('\r\n')[0]}', expected '${expect}'`);
  return r;
}

/**
 * Opens a connection, sends `request`, and resolves once the response head is in, with the
 * bytes that followed it; the socket is then paused with no 'data' listener.
 */
function openRaw(port: number, request: string, waitMs: number): Promise<{ socket: net.Socket; head: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let got = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no response head within ${waitMs} ms`));
    }, waitMs);
    const onData = (d: Buffer) => {
      got = Buffer.concat([got, d]);
      const end = got.indexOf('\r\n\r\n');
      if (end < 0) return;
      clearTimeout(timer);
      socket.off('data', onData);
      socket.pause();
      resolve({ socket, head: got.subarray(0, end + 4).toString('latin1'), rest: got.subarray(end + 4) });
    };
    socket.on('data', onData);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.setNoDelay(true);
    socket.write(request);
  });
}

type Msg<T extends ChildMessage['type']> = Extract<ChildMessage, { type: T }>;

interface Child {
  process: ChildProcess;
  send(m: ParentMessage): void;
  on<T extends ChildMessage['type']>(type: T, fn: (m: Msg<T>) => void): void;
  next<T extends ChildMessage['type']>(type: T, timeoutMs: number): Promise<Msg<T>>;
}

/** Forks lib/demo/proxyChild (through tsx when running from the TypeScript sources). */
function startChild(config: ChildConfig): Child {
  const fromSource = import.meta.url.endsWith('.ts');
  const entry = new URL(`./proxyChild.${fromSource ? 'ts' : 'js'}`, import.meta.url);
  const execArgv = fromSource ? ['--import', import.meta.resolve('tsx')] : [];
  const proc = fork(entry, [JSON.stringify(config)], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
  const listeners = new Map<string, Array<(m: ChildMessage) => void>>();
  proc.on('message', (m: ChildMessage) => {
    for (const fn of listeners.get(m.type) ?? []) fn(m);
  });
  const on = <T extends ChildMessage['type']>(type: T, fn: (m: Msg<T>) => void) => {
    const list = listeners.get(type) ?? [];
    list.push(fn as (m: ChildMessage) => void);
    listeners.set(type, list);
  };
  return {
    process: proc,
    send: (m) => {
      if (proc.connected) proc.send(m);
    },
    on,
    next: (type, timeoutMs) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the proxy process sent no '${type}' within ${timeoutMs} ms`)), timeoutMs);
        const exited = (code: number | null, signal: string | null) => {
          clearTimeout(timer);
          reject(new Error(`the proxy process exited (${signal ?? `code ${code}`}) before '${type}'`));
        };
        proc.once('exit', exited);
        let done = false;
        on(type, (m) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          proc.off('exit', exited);
          resolve(m);
        });
      }),
  };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(what)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e as Error);
      },
    );
  });
}
