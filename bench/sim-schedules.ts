/**
 * How many 5-second proxy schedules the simulated backend runs per wall-clock second.
 *
 * Each schedule: a SimPeer writer (1–200 MB/s, or unlimited) → pair 1 → a `Handle` relaying
 * with on_read → push_write into a second `Handle` on pair 2 → a SimPeer reader whose read
 * schedule alternates rates (100 KB/s–100 MB/s) with stalls (0.5–3 s). Kernel capacities
 * are 64–256 KiB per direction. The relay applies read backpressure as Proxmox's proxies do,
 * with this project's port of their apply_read_backpressure (lib/proxy/backpressure.ts):
 * when the destination wbuf exceeds 640 KiB it clears the source's on_read, and an on_drain
 * on the destination restores it.
 *
 * Schedules are random but seeded: every round runs the same N schedules, and the bytes they
 * move must match from round to round (the simulation is deterministic). Rates are drawn
 * log-uniformly, so each decade of the range is equally likely.
 *
 *   npm run bench:sim -- [--n 2000] [--rounds 3] [--seed 1] [--verify 20] [--out bench/results/sim-schedules.json]
 *   node --import tsx --cpu-prof bench/sim-schedules.ts --n 500    # to profile
 *
 * --verify K: before timing, the first K schedules also hash what their reader received and
 * compare it with the test pattern the writer sent.
 */
import { execFileSync, type ExecFileSyncOptionsWithStringEncoding } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname } from 'node:path';
import { Handle } from '../lib/index.js';
import { apply_read_backpressure } from '../lib/proxy/backpressure.js';
import { SimLoop, SimPeer, hashBytes, patternChunks, simSocketPair } from '../lib/backend/sim/index.js';
import type { ReadRateChange } from '../lib/backend/sim/index.js';

const KiB = 1024;
const SECONDS = 5;
/** The destination wbuf above which the relay pauses its source (Proxmox's $wbuf_limit). */
const WBUF_LIMIT = 640 * KiB;

interface Args {
  n: number;
  rounds: number;
  seed: number;
  out: string;
  verify: number;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { n: 2000, rounds: 3, seed: 1, out: 'bench/results/sim-schedules.json', verify: 20 };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    const value = argv[++i];
    if (!(key in args) || value === undefined) throw new Error(`usage: sim-schedules.ts [--n N] [--rounds R] [--seed S] [--out FILE] [--verify K]; got ${argv[i - 1]}`);
    (args as unknown as Record<string, string | number>)[key] = key === 'out' ? value : Number(value);
  }
  return args;
}

/** mulberry32: a small seeded PRNG, the same numbers on every machine. */
function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Schedule {
  sendRate: number;
  capacityIn: number;
  capacityOut: number;
  readRate: number;
  readSchedule: ReadRateChange[];
}

function makeSchedule(seed: number): Schedule {
  const random = rng(seed);
  const uniform = (lo: number, hi: number) => lo + (hi - lo) * random();
  const logUniform = (lo: number, hi: number) => Math.round(Math.exp(uniform(Math.log(lo), Math.log(hi))));
  const sendRate = random() < 0.2 ? Infinity : logUniform(1e6, 200e6);
  const capacityIn = Math.round(uniform(64 * KiB, 256 * KiB));
  const capacityOut = Math.round(uniform(64 * KiB, 256 * KiB));
  // Alternating segments: a rate for 0.1–1.5 s, then a stall of 0.5–3 s, and so on.
  const segments: ReadRateChange[] = [];
  let at = 0;
  let stall = random() < 0.3;
  while (at < SECONDS) {
    segments.push({ at, rate: stall ? 0 : logUniform(100e3, 100e6) });
    at += stall ? uniform(0.5, 3) : uniform(0.1, 1.5);
    stall = !stall;
  }
  return { sendRate, capacityIn, capacityOut, readRate: segments[0].rate, readSchedule: segments.slice(1) };
}

interface Outcome {
  sent: number;
  received: number;
  pauses: number;
  /** The loop's counters: how many timer, watcher and task callbacks the schedule cost. */
  timers: number;
  watcherCalls: number;
  tasks: number;
  iterations: number;
  hash?: string;
}

function runSchedule(schedule: Schedule, record: 'count' | 'hash' = 'count'): Outcome {
  const loop = new SimLoop();
  const [writerFh, srcFh] = simSocketPair(loop, { capacity: schedule.capacityIn });
  const [dstFh, readerFh] = simSocketPair(loop, { capacity: schedule.capacityOut });
  const writer = new SimPeer(writerFh, { send: 2 ** 50, sendRate: schedule.sendRate });
  const reader = new SimPeer(readerFh, { readRate: schedule.readRate, readSchedule: schedule.readSchedule, record });
  const fail = (_h: Handle, _fatal: boolean, message: string) => {
    throw new Error(`relay failed: ${message}`);
  };
  let pauses = 0;
  const dst = new Handle({ fh: dstFh, on_error: fail });
  const relay = (h: Handle) => {
    const data = h.rbuf;
    h.rbuf = data.subarray(data.length);
    dst.push_write(data);
    if (dst.wbuf.length > WBUF_LIMIT) {
      pauses++;
      apply_read_backpressure(h, dst, relay);
    }
  };
  const src = new Handle({ fh: srcFh, on_error: fail, on_read: relay });
  loop.advance(SECONDS);

  // Every byte the writer got rid of is somewhere: conservation catches lost or doubled data.
  const inFlight = writerFh.buffered() + src.rbuf.length + dst.wbuf.length + dstFh.buffered();
  if (writer.sentBytes !== reader.receivedBytes + inFlight) {
    throw new Error(`bytes lost: sent ${writer.sentBytes}, received ${reader.receivedBytes}, in flight ${inFlight}`);
  }
  src.destroy();
  dst.destroy();
  const stats = loop.stats;
  return {
    sent: writer.sentBytes,
    received: reader.receivedBytes,
    pauses,
    timers: stats.timers,
    watcherCalls: stats.watcherCalls,
    tasks: stats.tasks,
    iterations: stats.iterations,
    hash: record === 'hash' ? reader.receivedHash() : undefined,
  };
}

function gitSha(): string {
  try {
    const quiet: ExecFileSyncOptionsWithStringEncoding = { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] };
    const sha = execFileSync('git', ['rev-parse', 'HEAD'], quiet).trim();
    // "+dirty" when what is measured differs from the commit.
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'lib/backend/sim', 'lib/handle', 'bench/sim-schedules.ts'], quiet).trim();
    return dirty ? `${sha}+dirty` : sha;
  } catch {
    return 'unknown';
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmtBytes = (n: number) => (n >= 1e12 ? `${(n / 1e12).toFixed(2)} TB` : n >= 1e9 ? `${(n / 1e9).toFixed(2)} GB` : `${(n / 1e6).toFixed(1)} MB`);

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  const schedules = Array.from({ length: args.n }, (_, i) => makeSchedule(args.seed * 1_000_003 + i));

  // Content check, untimed: the first few schedules hash what the reader got against the pattern.
  for (let i = 0; i < Math.min(args.verify, args.n); i++) {
    const outcome = runSchedule(schedules[i], 'hash');
    if (outcome.hash !== hashBytes(patternChunks(0, outcome.received))) throw new Error(`schedule ${i}: the reader got different bytes than were sent`);
  }
  // Warm-up, untimed.
  for (let i = 0; i < Math.min(100, args.n); i++) runSchedule(schedules[i]);

  const rounds: { seconds: number; perSecond: number }[] = [];
  let reference: Outcome[] | undefined;
  for (let r = 0; r < args.rounds; r++) {
    const outcomes: Outcome[] = new Array(args.n);
    const start = process.hrtime.bigint();
    for (let i = 0; i < args.n; i++) outcomes[i] = runSchedule(schedules[i]);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    rounds.push({ seconds, perSecond: args.n / seconds });
    if (!reference) reference = outcomes;
    else if (outcomes.some((o, i) => o.sent !== reference![i].sent || o.received !== reference![i].received)) {
      throw new Error(`round ${r + 1} moved different bytes than round 1: the simulation is not deterministic`);
    }
  }
  const outcomes = reference!;
  const received = outcomes.reduce((sum, o) => sum + o.received, 0);
  const sent = outcomes.reduce((sum, o) => sum + o.sent, 0);
  const total = (key: 'pauses' | 'timers' | 'watcherCalls' | 'tasks' | 'iterations') => outcomes.reduce((sum, o) => sum + o[key], 0);
  const pauses = total('pauses');
  const callbacks = total('timers') + total('watcherCalls') + total('tasks');
  const perSecond = median(rounds.map((r) => r.perSecond));
  const cpu = cpus()[0]?.model ?? 'unknown';

  const line = (label: string, value: string) => console.log(`  ${label.padEnd(34)} ${value}`);
  console.log(`sim-schedules: ${args.n} seeded ${SECONDS}-second relay schedules (seed ${args.seed}), ${args.rounds} rounds`);
  console.log(`  node ${process.version} on ${cpu}`);
  console.log('');
  rounds.forEach((r, i) => line(`round ${i + 1}`, `${r.seconds.toFixed(3)} s   ${r.perSecond.toFixed(0).padStart(6)} schedules/s`));
  line('median', `${perSecond.toFixed(0)} schedules/s   (${(1e3 / perSecond).toFixed(3)} ms each)`);
  line('virtual time per wall second', `${(perSecond * SECONDS).toFixed(0)} s`);
  line('bytes delivered to readers', `${fmtBytes(received)}   (${fmtBytes(received / args.n)} per schedule)`);
  line('bytes sent by writers', fmtBytes(sent));
  line('relay pauses (backpressure)', `${pauses}   (${(pauses / args.n).toFixed(1)} per schedule)`);
  line('loop callbacks per schedule', `${(callbacks / args.n).toFixed(0)}   (timers ${(total('timers') / args.n).toFixed(0)}, watchers ${(total('watcherCalls') / args.n).toFixed(0)}, tasks ${(total('tasks') / args.n).toFixed(0)}; ${(total('iterations') / args.n).toFixed(0)} iterations)`);
  line('wall time per loop callback', `${((1e9 / perSecond) / (callbacks / args.n)).toFixed(0)} ns`);
  line('deterministic across rounds', 'yes');
  line(`content verified (first ${Math.min(args.verify, args.n)})`, 'yes');

  const result = {
    bench: 'sim-schedules',
    date: new Date().toISOString(),
    git: gitSha(),
    node: process.version,
    cpu,
    cores: cpus().length,
    n: args.n,
    seed: args.seed,
    virtualSecondsPerSchedule: SECONDS,
    rounds,
    medianSchedulesPerSecond: Math.round(perSecond),
    bytesDelivered: received,
    bytesSent: sent,
    relayPauses: pauses,
    perSchedule: {
      timers: total('timers') / args.n,
      watcherCalls: total('watcherCalls') / args.n,
      tasks: total('tasks') / args.n,
      iterations: total('iterations') / args.n,
    },
  };
  mkdirSync(dirname(args.out), { recursive: true });
  writeFileSync(args.out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\n  wrote ${args.out}`);
}

main();
