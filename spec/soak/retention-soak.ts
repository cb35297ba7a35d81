/**
 * The retention soak (issue #4): 10,000 short sessions per handler through a real
 * ProxyServer on 127.0.0.1, then a forced GC; reports heapUsed before and after, and how
 * many of the sessions' ProxySessions, Handles and streams were collected.
 *
 *   npm run test:soak                     # node --expose-gc --import tsx spec/soak/retention-soak.ts
 *   npm run test:soak -- --count 2000     # fewer sessions per handler
 *
 * Exits 1 when more than 1% of any kind of object survived, or when the heap grew by more
 * than 2 MiB. The heap moves by a few hundred KB between runs whatever the count (JIT code,
 * Node's internal pools): 0.3-0.7 MiB measured for 9,000 to 60,000 sessions. Over 30,000
 * sessions, 2 MiB is 70 bytes each, and a session that stays reachable costs far more
 * (a ProxySession, two Handles, their closures and sockets: several KB).
 */
import { parseArgs } from 'node:util';
import type { SessionKind } from '../../lib/metrics.js';
import { RetentionTracker, type RetentionCount } from './gc.js';
import { proxyIdle, runSessions, startFixture } from './realSessions.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '10000' },
    warmup: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '16' },
  },
});
const COUNT = Number(values.count);
const WARMUP = Number(values.warmup);
const CONCURRENCY = Number(values.concurrency);
const HEAP_GROWTH_LIMIT = 2 * 1024 * 1024;
const KINDS: SessionKind[] = ['spice', 'websocket', 'stream'];

if (typeof (globalThis as { gc?: unknown }).gc !== 'function') {
  console.error('retention-soak: run with node --expose-gc (npm run test:soak does)');
  process.exit(2);
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;

async function main(): Promise<number> {
  const tracker = new RetentionTracker();
  const fx = await startFixture(tracker);
  let failed = false;
  try {
    // Warm up: JIT, Node's socket pools, the metrics' maps; then the baseline.
    for (const kind of KINDS) await runSessions(fx, kind, WARMUP, CONCURRENCY);
    await proxyIdle(fx);
    await tracker.settle();
    const before = tracker.heapUsed();
    const timings: Record<string, number> = {};
    for (const kind of KINDS) {
      const start = Date.now();
      await runSessions(fx, kind, COUNT, CONCURRENCY);
      timings[kind] = Date.now() - start;
      console.log(`${kind}: ${COUNT} sessions in ${timings[kind]} ms (${((COUNT / timings[kind]) * 1000).toFixed(0)}/s)`);
    }
    await proxyIdle(fx);
    const counts = await tracker.settle(40);
    const after = tracker.heapUsed();
    const sessions = COUNT * KINDS.length;
    const perSession = (after - before) / sessions;
    console.log(`heapUsed before: ${mb(before)}, after: ${mb(after)}, growth ${mb(after - before)} (${perSession.toFixed(1)} bytes per session over ${sessions} sessions)`);
    for (const [label, c] of Object.entries(counts)) {
      console.log(`${label}: ${c.registered} made, ${c.collected} collected, ${c.retained} still reachable`);
    }
    const leaked = Object.entries(counts).filter(([, c]: [string, RetentionCount]) => c.collected < c.registered * 0.99);
    if (leaked.length) {
      failed = true;
      console.error(`FAIL: retained: ${leaked.map(([label]) => label).join(', ')}`);
    }
    if (after - before > HEAP_GROWTH_LIMIT) {
      failed = true;
      console.error(`FAIL: the heap grew by ${mb(after - before)} (limit ${mb(HEAP_GROWTH_LIMIT)})`);
    }
    if (fx.logs.length) {
      failed = true;
      console.error(`FAIL: ${fx.logs.length} problems logged, first: ${fx.logs[0]}`);
    }
    console.log(
      JSON.stringify({ count: COUNT, warmup: WARMUP, heapUsedBefore: before, heapUsedAfter: after, bytesPerSession: perSession, timings, counts }),
    );
  } finally {
    await fx.close();
  }
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
