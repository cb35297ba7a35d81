import { describe, expect, it } from 'vitest';
import { SimLoop, SimPeer, patternBytes, simSocketPair, type SimFh, type SimPeerOptions } from '../../../lib/backend/sim/index.js';
import { Handle } from '../../../lib/index.js';
import { Metrics, type SessionKind } from '../../../lib/metrics.js';
import { ProxySession, type SessionHooks } from '../../../lib/proxy/ProxySession.js';
import { response_stream } from '../../../lib/proxy/response_stream.js';
import { spice_proxy } from '../../../lib/proxy/spice_proxy.js';
import { frame, OPCODE } from '../../../lib/proxy/ws/frame.js';
import { websocket_proxy } from '../../../lib/proxy/websocket_proxy.js';
import { RetentionTracker } from '../../soak/gc.js';

/**
 * Issue #4: "a closed session must release its handles, closures, timers and listeners".
 * 10,000 short sessions per handler on the simulated backend (connect, 4 KB each way where
 * the handler relays both ways, close). Every ProxySession and Handle is registered in a
 * FinalizationRegistry; after a forced GC (nearly) all must have been collected, every
 * socket end the proxy used must be closed, and the loop must hold no timer and no watcher.
 *
 * "Nearly" (≥ 99%): the last few objects may still be reachable when the GC runs, from
 * this test's own frame (the last batch's locals, registers) or from V8's per-call-site
 * caches, and the language lets an engine skip a finalizer. A leak keeps every session
 * (or a fixed share of them), far above the 1% allowed; the control test at the end shows
 * that such a leak is caught. (In practice all 100% are collected.)
 */

const SESSIONS = 10_000;
/** Sessions run at once; each batch ends completely before the next one starts. */
const BATCH = 100;
const KB4 = 4096;
const OK = 'HTTP/1.1 200 OK\r\n\r\n';
const WS_ACCEPT = 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=';
/** The backend for clean sessions: sends 4 KB, reads everything, closes when the proxy does. */
const CLEAN_BACKEND_PORT = 5900;
/** The backend for lingering sessions: sends 4 KB and closes at once. */
const SEND_AND_CLOSE_PORT = 5901;

/** One session of a batch. */
interface Live {
  session: ProxySession;
  client: SimPeer;
  /** The proxy's own socket ends: all must be closed once the session is over. */
  proxyFhs: SimFh[];
}

class Run {
  readonly loop = new SimLoop();
  readonly metrics = new Metrics();
  readonly tracker = new RetentionTracker();
  /** Backend peers accepted during the current batch. */
  backends: SimPeer[] = [];

  /** `leak`: the control's deliberate leak, a hook that keeps every closed session. */
  constructor(readonly leak?: ProxySession[]) {
    const accept = (options: SimPeerOptions) => (fh: SimFh) => this.backends.push(new SimPeer(fh, options));
    this.loop.listen(CLEAN_BACKEND_PORT, accept({ send: KB4, record: 'count' }));
    this.loop.listen(SEND_AND_CLOSE_PORT, accept({ send: KB4, record: 'count', closeAt: 'sent' }));
  }

  hooks(kind: SessionKind): SessionHooks {
    const hooks = this.metrics.sessionHooks(kind);
    const leak = this.leak;
    if (!leak) return hooks;
    return { ...hooks, closed: (s, reason) => (leak.push(s), hooks.closed!(s, reason)) };
  }

  /** A session whose client handle is set up as the HTTP front leaves it after the request head. */
  newSession(kind: SessionKind, fh: SimFh): ProxySession {
    const session = new ProxySession(this.hooks(kind));
    session.hdl = new Handle({
      fh,
      rbuf_max: 64 * 1024,
      linger: 30,
      on_error: (_h, _f, message) => session.disconnect(message),
      on_eof: () => session.disconnect(),
    });
    return session;
  }

  /** Registers the session and both of its handles (every handler makes its second one at once). */
  track(session: ProxySession): void {
    this.tracker.track(session, 'ProxySession');
    expect(session.hdl).toBeInstanceOf(Handle);
    expect(session.proxyhdl).toBeInstanceOf(Handle);
    this.tracker.track(session.hdl!, 'Handle');
    this.tracker.track(session.proxyhdl!, 'Handle');
  }

  /**
   * Runs `count` sessions, BATCH at a time: start them, run until `transferred` holds for
   * all, `end` them, and check each ended cleanly with every socket end closed.
   */
  sessions(
    count: number,
    start: () => Live,
    transferred: (live: Live) => boolean,
    end: (batch: Live[]) => void,
    withBackend = true,
  ): void {
    for (let done = 0; done < count; done += BATCH) {
      this.backends = [];
      const batch = Array.from({ length: BATCH }, start);
      expect(this.loop.runUntil(() => batch.every(transferred), 60)).toBe(true);
      end(batch);
      this.loop.runUntilIdle();
      for (const { session, client, proxyFhs } of batch) {
        expect(session.closed).toBe(true);
        expect(session.closeReason).toBeUndefined();
        expect(client.fh.closed).toBe(true);
        expect(proxyFhs.every((fh) => fh.closed)).toBe(true);
      }
      expect(this.backends).toHaveLength(withBackend ? batch.length : 0);
      for (const backend of this.backends) {
        // It read the proxy's EOF, or closed first (the send-and-close backend).
        expect(backend.eof || backend.fh.closed).toBe(true);
        backend.fh.close();
      }
    }
    this.backends = [];
  }

  /** Nothing is left: no timer, no watcher, no open session; (nearly) everything collected. */
  async expectReleased(sessions: number): Promise<void> {
    const { loop, metrics } = this;
    loop.runUntilIdle();
    expect(loop.pendingTimers).toBe(0);
    expect(loop.activeWatchers).toBe(0);
    expect(metrics.sessionsOpen).toBe(0);
    expect(metrics.directions.to_client.wbuf).toBe(0);
    expect(metrics.directions.to_backend.wbuf).toBe(0);
    const counts = await this.tracker.settle();
    expect(counts.ProxySession.registered).toBe(sessions);
    expect(counts.Handle.registered).toBe(2 * sessions);
    expect(counts.ProxySession.collected).toBeGreaterThanOrEqual(sessions * 0.99);
    expect(counts.Handle.collected).toBeGreaterThanOrEqual(2 * sessions * 0.99);
  }
}

const masked = (payload: Buffer, opcode: number = OPCODE.BINARY) =>
  Buffer.concat(frame(payload, { opcode, mask: Buffer.from([1, 2, 3, 4]) }));
const CLOSE_FRAME = masked(Buffer.from([0x03, 0xe8]), OPCODE.CLOSE);

/** Closes every client: the proxy reads EOF and ends the session. */
const closeClients = (batch: Live[]) => batch.forEach(({ client }) => client.fh.close());

/**
 * A relay session (spice or websocket). Clean: the client sends `send`, the backend 4 KB,
 * then the client closes (websocket: after a close frame). Linger: the backend sends 4 KB
 * and closes at once while the client does not read yet (1 KiB socket buffer), so the
 * session ends with data queued for the client, which the destroyed handle writes out in
 * the background (linger, with its timer) once the client reads, at 1 s.
 */
function relaySessions(run: Run, kind: 'spice' | 'websocket', mode: 'clean' | 'linger', count = SESSIONS): void {
  const linger = mode === 'linger';
  const send = kind === 'spice' ? patternBytes(0, KB4) : Buffer.concat([masked(patternBytes(0, KB4 / 2)), masked(patternBytes(KB4 / 2, KB4 / 2))]);
  const start = (): Live => {
    const [proxySide, clientSide] = simSocketPair(run.loop, { capacity: linger ? 1024 : undefined });
    const session = run.newSession(kind, proxySide);
    const client = new SimPeer(
      clientSide,
      linger ? { record: 'count', readRate: 0, readSchedule: [{ at: 1, rate: Infinity }] } : { send, record: 'count' },
    );
    const live: Live = { session, client, proxyFhs: [proxySide] };
    const common = {
      target: { host: '127.0.0.1', port: linger ? SEND_AND_CLOSE_PORT : CLEAN_BACKEND_PORT },
      loop: run.loop,
      started: (s: ProxySession) => live.proxyFhs.push(s.proxyhdl!.backendFh as SimFh),
    };
    if (kind === 'spice') spice_proxy(session, common);
    else websocket_proxy(session, { ...common, accept: WS_ACCEPT, protocol: 'binary' });
    run.track(session);
    return live;
  };
  const responseHead = kind === 'spice' ? OK.length : 0;
  const transferred = ({ session, client }: Live) =>
    linger
      ? client.eof
      : session.stats.to_client.bytes === KB4 &&
        session.stats.to_backend.bytes === KB4 &&
        session.proxyhdl!.wbuf.length === 0 &&
        session.hdl!.wbuf.length === 0 &&
        client.fh.available() === 0 &&
        client.receivedBytes >= responseHead + KB4;
  run.sessions(count, start, transferred, (batch) => {
    for (const { session, client } of batch) {
      expect(session.stats.to_client.bytes).toBe(KB4);
      if (kind === 'spice') expect(client.receivedBytes).toBe(OK.length + KB4);
    }
    if (kind === 'websocket' && !linger) {
      // A close frame: the proxy shuts both write sides down (the client reads EOF).
      for (const { client } of batch) expect(client.fh.write([CLOSE_FRAME])).toBe(CLOSE_FRAME.length);
      run.loop.runUntilIdle();
      for (const { client } of batch) expect(client.eof).toBe(true);
    }
    closeClients(batch);
  });
}

function streamSessions(run: Run): void {
  const body = patternBytes(0, 2 * KB4);
  const header = 'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n';
  run.sessions(
    SESSIONS,
    () => {
      const [proxySide, clientSide] = simSocketPair(run.loop);
      const [sourceSide, producerSide] = simSocketPair(run.loop);
      const session = run.newSession('stream', proxySide);
      const client = new SimPeer(clientSide, { record: 'count' });
      // The producer writes the stream's bytes and closes: the source reads them, then EOF.
      new SimPeer(producerSide, { send: body, closeAt: 'sent' });
      session.hdl!.push_write(header);
      // As the HTTP front: disconnect once everything went out.
      response_stream(session, sourceSide, { finished: (s) => s.hdl?.on_drain(() => s.disconnect()) });
      run.track(session);
      return { session, client, proxyFhs: [proxySide, sourceSide] };
    },
    // The session ends by itself; the client reads to EOF.
    ({ client }) => client.eof && client.receivedBytes === header.length + body.length,
    closeClients,
    false,
  );
}

describe('a closed session releases everything (10,000 sessions per handler, simulated backend)', () => {
  it('spice_proxy', async () => {
    const run = new Run();
    relaySessions(run, 'spice', 'clean');
    expect(run.metrics.directions.to_backend.bytes).toBe(SESSIONS * KB4);
    expect(run.metrics.directions.to_client.bytes).toBe(SESSIONS * KB4);
    await run.expectReleased(SESSIONS);
  });

  it('websocket_proxy', async () => {
    const run = new Run();
    relaySessions(run, 'websocket', 'clean');
    expect(run.metrics.directions.to_backend.bytes).toBe(SESSIONS * KB4);
    expect(run.metrics.directions.to_client.bytes).toBe(SESSIONS * KB4);
    await run.expectReleased(SESSIONS);
  });

  it('response_stream', async () => {
    const run = new Run();
    streamSessions(run);
    expect(run.metrics.directions.to_client.bytes).toBe(SESSIONS * 2 * KB4);
    await run.expectReleased(SESSIONS);
  });

  it('spice_proxy and websocket_proxy sessions that end with data still queued (linger)', async () => {
    const run = new Run();
    lingerProbe(new Run());
    for (const kind of ['spice', 'websocket'] as const) relaySessions(run, kind, 'linger', SESSIONS / 2);
    expect(run.metrics.directions.to_client.bytes).toBe(SESSIONS * KB4);
    await run.expectReleased(SESSIONS);
  });

  it('control: sessions kept by a leaky hook are reported as retained', async () => {
    const leak: ProxySession[] = [];
    const run = new Run(leak);
    const n = 2000;
    relaySessions(run, 'spice', 'clean', n);
    expect(leak).toHaveLength(n);
    const counts = await run.tracker.settle();
    // Every session is still reachable; their handles are not (disconnect lets go of them).
    expect(counts.ProxySession.retained).toBe(n);
    expect(counts.Handle.collected).toBeGreaterThanOrEqual(2 * n * 0.99);
    leak.length = 0;
  });
});

/** One lingering session, step by step: shows that the linger path (data and a timer outliving the session) is taken. */
function lingerProbe(run: Run): void {
  const [proxySide, clientSide] = simSocketPair(run.loop, { capacity: 1024 });
  const session = run.newSession('spice', proxySide);
  const client = new SimPeer(clientSide, { record: 'count', readRate: 0, readSchedule: [{ at: 1, rate: Infinity }] });
  spice_proxy(session, { target: { host: '127.0.0.1', port: SEND_AND_CLOSE_PORT }, loop: run.loop });
  expect(run.loop.runUntil(() => session.closed, 0.5)).toBe(true);
  expect(session.closeReason).toBeUndefined();
  // The 4 KB did not fit the client's socket: the closed handle still writes it out.
  expect(proxySide.closed).toBe(false);
  expect(run.loop.pendingTimers).toBeGreaterThan(0);
  expect(client.receivedBytes).toBe(0);
  expect(run.loop.runUntil(() => client.eof, 5)).toBe(true);
  expect(client.receivedBytes).toBe(OK.length + KB4);
  expect(proxySide.closed).toBe(true);
  expect(run.loop.pendingTimers).toBe(0);
}
