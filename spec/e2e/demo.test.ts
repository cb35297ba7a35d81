import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * `npm start` (lib/demo/main.ts) end to end, short: the demo's own runs on real sockets,
 * read back from `--json`. The shape of #7483: without backpressure the destination's wbuf
 * grows far past the limit; with it, it stays within the limit plus one read, and every
 * byte arrives (SHA-256 of all sent = SHA-256 of all received, after the drain).
 */

interface Row {
  handler: string;
  mode: 'unbounded' | 'bounded';
  limit: number;
  peakWbuf: number;
  peakOverLimit: number;
  peakRssGrowth: number;
  sent: number;
  delivered: number;
  intact: boolean;
  prefixIntact: boolean;
  sha256Sent?: string;
  sha256Received: string;
  stoppedBy: string;
  drainComplete: boolean;
  pauses: number;
}

const dir = mkdtempSync(join(tmpdir(), 'demo-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function demo(args: string[]): Promise<{ parameters: Record<string, unknown>; results: Row[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'lib/demo/main.ts', '--json', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`demo exited ${code}: ${err.slice(-2000)}`));
      try {
        resolve(JSON.parse(out));
      } catch (e) {
        reject(new Error(`not JSON (${(e as Error).message}): ${out.slice(0, 500)}`));
      }
    });
  });
}

/** One handler's pair of runs: what the table shows, asserted. */
function checkPair(rows: Row[], handler: string) {
  const unbounded = rows.find((r) => r.handler === handler && r.mode === 'unbounded')!;
  const bounded = rows.find((r) => r.handler === handler && r.mode === 'bounded')!;
  expect(unbounded, `${handler} unbounded`).toBeDefined();
  expect(bounded, `${handler} bounded`).toBeDefined();
  // Without backpressure: far past the limit, never paused; what did arrive is correct.
  expect(unbounded.pauses).toBe(0);
  expect(unbounded.peakOverLimit).toBeGreaterThan(10);
  expect(unbounded.prefixIntact).toBe(true);
  // With backpressure: the limit plus at most one read (a 128 KiB read or frame), paused.
  expect(bounded.pauses).toBeGreaterThan(0);
  expect(bounded.peakWbuf).toBeGreaterThanOrEqual(bounded.limit * 0.9);
  expect(bounded.peakOverLimit).toBeLessThanOrEqual(1.25);
  expect(bounded.peakOverLimit).toBeLessThan(unbounded.peakOverLimit);
  // Drained: everything sent arrived, byte for byte.
  expect(bounded.drainComplete).toBe(true);
  expect(bounded.delivered).toBe(bounded.sent);
  expect(bounded.sent).toBeGreaterThan(0);
  expect(bounded.sha256Sent).toBe(bounded.sha256Received);
  expect(bounded.intact).toBe(true);
  // The proxy process held the unbounded run's bytes; the bounded one's growth is small beside it.
  expect(unbounded.peakRssGrowth).toBeGreaterThan(unbounded.peakWbuf * 0.5);
  expect(bounded.peakRssGrowth).toBeLessThan(unbounded.peakRssGrowth);
  return { unbounded, bounded };
}

describe('npm start (the #7483 demo)', () => {
  it('spice, 1 s per run: unbounded grows far past 640 KiB, bounded stays ≤ 1.25x and is intact; the SVG is written', async () => {
    const svg = join(dir, 'spice.svg');
    const { parameters, results } = await demo(['--seconds', '1', '--handler', 'spice', '--svg', svg]);
    expect(parameters.seconds).toBe(1);
    expect(results.map((r) => `${r.handler} ${r.mode}`)).toEqual(['spice unbounded', 'spice bounded']);
    const { unbounded, bounded } = checkPair(results, 'spice');
    expect(bounded.limit).toBe(640 * 1024);
    expect(['time', 'wbuf cap', 'RSS cap']).toContain(unbounded.stoppedBy);
    const text = readFileSync(svg, 'utf8');
    expect(text.startsWith('<svg')).toBe(true);
    expect(text).toContain('stroke-dasharray'); // the limit
    expect(text.match(/<polyline /g)).toHaveLength(2); // both runs
  });

  it('every handler, 0.5 s per run, a 256 MiB cap: the same shape for websocket and stream', async () => {
    const { results } = await demo(['--seconds', '0.5', '--wbuf-cap', '256', '--svg', 'none']);
    expect(results).toHaveLength(6);
    for (const h of ['spice', 'websocket', 'stream']) checkPair(results, h);
    const limits = Object.fromEntries(results.map((r) => [r.handler, r.limit]));
    expect(limits).toEqual({ spice: 640 * 1024, websocket: 5 * 128 * 1024, stream: 4 * 1024 * 1024 });
  });
});
