import { afterEach, describe, expect, it } from 'vitest';
import type { SessionKind } from '../../lib/metrics.js';
import { RetentionTracker } from '../soak/gc.js';
import { proxyIdle, runSessions, startFixture, type Fixture } from '../soak/realSessions.js';

/**
 * Issue #4 on real sockets: 1,000 short sessions per handler through the ProxyServer on
 * 127.0.0.1 (spec/soak/realSessions.ts); afterwards (nearly) every ProxySession, Handle and
 * stream the server made for them must have been collected. `npm run test:soak` runs
 * 10,000 per handler and reports the heap.
 *
 * ≥ 99% rather than all: the last few objects can still be reachable when the GC runs (the
 * last sessions' promise chains and sockets, which Node releases a tick or two after their
 * 'close', V8's per-call-site caches), and an engine may skip a finalizer. A leak keeps
 * every session, far beyond 1%.
 */
const COUNT = 1000;

describe('a closed session releases everything (1,000 sessions per handler, real sockets)', () => {
  let fx: Fixture | undefined;
  afterEach(async () => {
    await fx?.close();
    fx = undefined;
  });

  it.each<SessionKind>(['spice', 'websocket', 'stream'])('%s', async (kind) => {
    const tracker = new RetentionTracker();
    fx = await startFixture(tracker);
    const started = Date.now();
    await runSessions(fx, kind, COUNT);
    await proxyIdle(fx);
    const elapsed = Date.now() - started;
    const m = fx.proxy.metrics;
    expect(m.sessionsTotal[kind]).toBe(COUNT);
    expect(m.sessionsOpen).toBe(0);
    expect(m.connectionsOpen).toBe(0);
    expect(m.directions.to_client.wbuf).toBe(0);
    expect(m.directions.to_backend.wbuf).toBe(0);
    expect(fx.logs).toEqual([]);
    const counts = await tracker.settle();
    console.log(kind, `${elapsed} ms`, JSON.stringify(counts));
    expect(counts.ProxySession.registered).toBe(COUNT);
    expect(counts.Handle.registered).toBe(2 * COUNT);
    expect(counts.stream.registered).toBe(2 * COUNT);
    for (const { registered, collected } of Object.values(counts)) expect(collected).toBeGreaterThanOrEqual(registered * 0.99);
  });
});
