/**
 * One timed transfer through a relay on loopback, and interleaved rounds of them.
 *
 * `up`: a client peer connects to the relay and writes `bytes` as fast as it can; the backend
 * peer (listening) reads as fast as it can, until EOF. `down`: the backend peer writes
 * `bytes` to the relay's connection, the client reads until EOF. `source`: the relay itself
 * produces the data (response_stream) and the client reads. The time runs from the source's
 * first write (or, with `source`, the client's request) to the sink's EOF.
 */
import {
  RssSampler,
  fmtSpread,
  procMem,
  spread,
  type Backend,
  type CpuTimes,
  type Peer,
  type Relay,
  type Spread,
} from './harness.js';

type Preamble = { kind: 'none' } | { kind: 'request'; text: string };

export interface Variant {
  name: string;
  /** undefined: a direct connection (no relay). */
  relay: Relay | undefined;
  direction: 'up' | 'down' | 'source';
  /** Where the client connects, and what it says first. */
  port: number;
  preamble: Preamble;
  frames?: 'raw' | 'ws';
  /** The listening backend (sink for up, source for down); unused with `source`. */
  backend?: Backend;
  client: Peer;
  /** Bytes per run; the payload (frames' headers not counted). */
  bytes: number;
}

export interface Sample {
  seconds: number;
  gbps: number;
  /** user+sys seconds of the relay (and its children) during the run. */
  cpu?: CpuTimes;
  /** Peak RSS of the relay (tree) during the run, bytes. */
  peakRss?: number;
  /** Peak of its anonymous part (RssAnon: heap, buffers; not the binary's file pages). */
  peakAnon?: number;
  /** Bytes the sink got (ws frames' headers and response heads included). */
  received: number;
}

export async function transfer(v: Variant): Promise<Sample> {
  const cid = v.client.id();
  const relay = v.relay;
  const cpu0 = relay ? await relay.cpu() : undefined;
  const sampler = relay ? new RssSampler(relay.pid) : undefined;
  let start: number;
  let end: number;
  let received: number;
  if (v.direction === 'up') {
    const done = v.backend!.nextDone!();
    const sent = v.client.next('sent', cid);
    v.client.send({ cmd: 'connect', id: cid, port: v.port, role: 'send', preamble: v.preamble, bytes: v.bytes, frames: v.frames ?? 'raw' });
    const [d, s] = await Promise.all([done, sent]);
    start = (s as unknown as { start: number }).start;
    ({ end, bytes: received } = d);
  } else {
    const sent = v.direction === 'down' ? v.backend!.serve!(v.bytes) : undefined;
    const done = v.client.next('done', cid);
    v.client.send({ cmd: 'connect', id: cid, port: v.port, role: 'recv', preamble: v.preamble, bytes: v.bytes });
    const d = (await done) as unknown as { end: number; bytes: number; requested: number };
    ({ end, bytes: received } = d);
    start = sent ? (await sent).start : d.requested;
  }
  v.client.send({ cmd: 'close', id: cid });
  if (received < v.bytes) throw new Error(`${v.name}: the sink got ${received} bytes of ${v.bytes}`);
  const seconds = (end - start) / 1000;
  let cpu: CpuTimes | undefined;
  let peakRss: number | undefined;
  let peakAnon: number | undefined;
  if (relay && cpu0 && sampler) {
    await relay.settle();
    const cpu1 = await relay.cpu();
    cpu = { user: cpu1.user - cpu0.user, sys: cpu1.sys - cpu0.sys };
    peakRss = sampler.stop();
    peakAnon = sampler.peakAnon;
  }
  return { seconds, gbps: v.bytes / seconds / 1e9, cpu, peakRss, peakAnon, received };
}

export interface VariantResult {
  name: string;
  samples: Sample[];
  gbps: Spread;
  /** CPU seconds (user+sys) per GB (1e9 bytes) of payload. */
  cpuPerGB?: Spread;
  userPerGB?: Spread;
  sysPerGB?: Spread;
  /** RSS right after start, before any traffic, bytes. */
  idleRss?: number;
  /** The highest RSS sampled over all runs, bytes. */
  peakRss?: number;
  /** The same two for RssAnon, the process's own memory. */
  idleAnon?: number;
  peakAnon?: number;
}

/**
 * `rounds` rounds; every round runs every variant once, in an order rotated by one each
 * round, so that drift in the machine's load hits all alike. One untimed warm-up run each
 * first (JIT, socket buffers, page cache).
 */
export async function rounds(variants: Variant[], n: number, warmupBytes: number, label: string): Promise<VariantResult[]> {
  const idle = variants.map((v) => (v.relay ? procMem(v.relay.pid) : undefined));
  for (const v of variants) await transfer({ ...v, bytes: Math.min(warmupBytes, v.bytes) });
  const samples: Sample[][] = variants.map(() => []);
  for (let r = 0; r < n; r++) {
    for (let k = 0; k < variants.length; k++) {
      const i = (k + r) % variants.length;
      samples[i].push(await transfer(variants[i]));
    }
    process.stderr.write(`\r${label}: round ${r + 1}/${n}`);
  }
  process.stderr.write('\n');
  return variants.map((v, i) => {
    const s = samples[i];
    const gb = v.bytes / 1e9;
    const withCpu = s.every((x) => x.cpu);
    return {
      name: v.name,
      samples: s,
      gbps: spread(s.map((x) => x.gbps)),
      cpuPerGB: withCpu ? spread(s.map((x) => (x.cpu!.user + x.cpu!.sys) / gb)) : undefined,
      userPerGB: withCpu ? spread(s.map((x) => x.cpu!.user / gb)) : undefined,
      sysPerGB: withCpu ? spread(s.map((x) => x.cpu!.sys / gb)) : undefined,
      idleRss: idle[i]?.rss,
      peakRss: v.relay ? Math.max(...s.map((x) => x.peakRss ?? 0)) : undefined,
      idleAnon: idle[i]?.anon,
      peakAnon: v.relay ? Math.max(...s.map((x) => x.peakAnon ?? 0)) : undefined,
    };
  });
}

/** One line per variant: throughput, CPU per GB, memory. */
export function printRows(results: VariantResult[]): void {
  console.log(`  ${'variant'.padEnd(30)} ${'GB/s median (min–max)'.padEnd(22)} ${'CPU s/GB (user+sys)'.padEnd(27)} RSS idle → peak MB (anonymous)`);
  for (const r of results) {
    const mb = (b: number | undefined) => ((b ?? 0) / 1e6).toFixed(0);
    const mem = r.idleRss !== undefined ? `${mb(r.idleRss)} → ${mb(r.peakRss)} (${mb(r.idleAnon)} → ${mb(r.peakAnon)})` : '-';
    const cpu = r.cpuPerGB ? `${fmtSpread(r.cpuPerGB, 2)} ${r.userPerGB!.median.toFixed(2)}+${r.sysPerGB!.median.toFixed(2)}` : '-';
    console.log(`  ${r.name.padEnd(30)} ${fmtSpread(r.gbps, 2).padEnd(22)} ${cpu.padEnd(27)} ${mem}`);
  }
}

/** Per-round throughput ratio of `a` to `b` (same round, side by side). */
export function ratio(a: VariantResult, b: VariantResult): Spread {
  return spread(a.samples.map((x, i) => x.gbps / b.samples[i].gbps));
}
