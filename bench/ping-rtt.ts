/**
 * The side effect the patch names: while reads are paused, in-band control frames wait
 * behind the bulk data. Measures the WebSocket ping round trip through websocket_proxy on
 * loopback: idle, and while a backend that reads at a limited rate drains a backlog.
 *
 *   npx tsx bench/ping-rtt.ts [--rounds 7] [--rate-mb 200] [--backlog-kb 16384]
 *
 * Each round: the client sends `backlog` bytes as 128 KiB frames as fast as the proxy
 * takes them, then a ping; the backend reads at `rate` MB/s. Reported: median and min–max
 * of the pong delay, with and without backpressure, in the same run, plus the time the
 * backlog takes to drain at that rate (the floor for any in-band message).
 */
import { execSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { ProxyServer } from '../lib/http/ProxyServer.js';
import { runMain } from './lib/harness.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '7' },
    'rate-mb': { type: 'string', default: '200' },
    'backlog-kb': { type: 'string', default: '16384' },
    out: { type: 'string', default: 'bench/results/ping-rtt.json' },
  },
});
const ROUNDS = Number(values.rounds);
const RATE = Number(values['rate-mb']) * 1e6;
const BACKLOG = Number(values['backlog-kb']) * 1024;

/** A backend that reads at most RATE bytes per second (pauses its socket to throttle). */
async function slowBackend(): Promise<{ port: number; close(): void }> {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    // A token bucket that starts at the first byte and never banks more than 64 KiB.
    let budget = 0;
    let last = 0;
    s.on('data', (d) => {
      const now = performance.now();
      budget = last ? Math.min(budget + ((now - last) / 1000) * RATE, 64 * 1024) : 0;
      last = now;
      budget -= d.length;
      if (budget < 0) {
        s.pause();
        setTimeout(() => s.resume(), (-budget / RATE) * 1000);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

async function pingOnce(url: string, backlog: number): Promise<number> {
  const ws = new WebSocket(url, ['binary']);
  await new Promise<void>((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const frame = Buffer.alloc(128 * 1024, 0x42);
  for (let sent = 0; sent < backlog; sent += frame.length) ws.send(frame);
  const start = performance.now();
  const pong = new Promise<number>((resolve) => ws.once('pong', () => resolve(performance.now() - start)));
  ws.ping('rtt');
  const timeout = new Promise<number>((_, reject) => setTimeout(() => reject(new Error('no pong within 30 s')), 30_000));
  const rtt = await Promise.race([pong, timeout]);
  ws.terminate();
  return rtt;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const backend = await slowBackend();
  const variants = [
    { name: 'idle', backpressure: true, backlog: 0 },
    { name: 'backlog, backpressure on', backpressure: true, backlog: BACKLOG },
    { name: 'backlog, backpressure off', backpressure: false, backlog: BACKLOG },
  ];
  const proxies = await Promise.all(
    variants.map(async (v) => {
      const proxy = new ProxyServer({ allowPorts: [[backend.port, backend.port]], backpressure: v.backpressure, shutdownGrace: 1 });
      const { port } = await proxy.listen('127.0.0.1', 0);
      return { ...v, proxy, url: `ws://127.0.0.1:${port}/websocket?port=${backend.port}`, samples: [] as number[] };
    }),
  );
  // Interleaved: every round runs every variant, so machine noise hits all alike.
  for (let round = 0; round < ROUNDS; round++) {
    for (const p of proxies) p.samples.push(await pingOnce(p.url, p.backlog));
    process.stderr.write(`\rround ${round + 1}/${ROUNDS}`);
  }
  process.stderr.write('\n');
  const drainMs = (BACKLOG / RATE) * 1000;
  console.log(`ping round trip through websocket_proxy, backend reading at ${RATE / 1e6} MB/s, backlog ${BACKLOG / 1024} KiB`);
  console.log(`(draining the backlog at that rate alone takes ${drainMs.toFixed(1)} ms)\n`);
  console.log('variant                       median ms   min–max ms        peak wbuf to backend');
  const results = proxies.map((p) => {
    const row = {
      variant: p.name,
      medianMs: median(p.samples),
      minMs: Math.min(...p.samples),
      maxMs: Math.max(...p.samples),
      peakWbufToBackend: p.proxy.metrics.directions.to_backend.peakWbuf,
    };
    console.log(
      `${row.variant.padEnd(29)} ${row.medianMs.toFixed(1).padStart(9)}   ${`${row.minMs.toFixed(1)}–${row.maxMs.toFixed(1)}`.padEnd(17)} ${(row.peakWbufToBackend / 1024).toFixed(0)} KiB`,
    );
    return row;
  });
  let sha = 'unknown';
  try {
    sha = execSync('git rev-parse --short HEAD').toString().trim();
  } catch {}
  writeFileSync(
    values.out!,
    JSON.stringify({ date: new Date().toISOString(), node: process.version, cpu: os.cpus()[0]?.model, sha, rounds: ROUNDS, rateBytesPerSec: RATE, backlog: BACKLOG, results }, null, 2),
  );
  await Promise.all(proxies.map((p) => p.proxy.close()));
  backend.close();
}

runMain(main);
