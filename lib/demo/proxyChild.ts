/**
 * The proxy process of one demo run: a real `ProxyServer` on 127.0.0.1, alone in its
 * process, so that its RSS is the proxy's and nothing else's (the writer and the reader run
 * in the parent, lib/demo/experiment.ts).
 *
 * Started by the parent with an IPC channel and one argument, a JSON `ChildConfig`. It
 * listens, reports `ready`, and on `start` samples every `sampleMs`: the largest wbuf of the
 * watched direction since the previous sample (Metrics.intervalPeakWbuf, so no peak is
 * missed between samples), the RSS, the bytes relayed. On `stop` it reports its totals and
 * exits. It also stops by itself past a hard memory bound, in case the parent does not.
 */
import { ProxyServer } from '../http/ProxyServer.js';
import type { Direction } from '../proxy/ProxySession.js';
import '../index.js';

export interface ChildConfig {
  backpressure: boolean;
  /** The only backend port the proxy may reach (spice, websocket). */
  backendPort?: number;
  /** The stream directory (stream). */
  streamDir?: string;
  /** The direction whose destination wbuf is measured. */
  direction: Direction;
  sampleMs: number;
  /** Exit by itself once wbuf or RSS growth passes these (a safety net behind the parent's caps). */
  hardWbuf: number;
  hardRssGrowth: number;
}

export type ChildMessage =
  | { type: 'ready'; port: number; rss: number }
  | { type: 'sample'; t: number; wbuf: number; rss: number; relayed: number; pauses: number }
  | {
      type: 'final';
      peakWbuf: number;
      pauses: number;
      relayed: number;
      rssBefore: number;
      peakRss: number;
      /** At the sample with the highest RSS, growth since the start of: V8's heap, and Buffer memory. */
      heapGrowth: number;
      buffersGrowth: number;
      sessions: number;
      log: string[];
    }
  | { type: 'hard-cap'; what: string };

export type ParentMessage = { type: 'start' } | { type: 'stop' };

const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
const send = (m: ChildMessage, then?: () => void) => process.send?.(m, undefined, {}, () => then?.());
// Without the parent there is nobody to stop the run: end at once.
process.on('disconnect', () => process.exit(0));

const log: string[] = [];
const proxy = new ProxyServer(
  {
    backpressure: config.backpressure,
    allowPorts: config.backendPort ? [[config.backendPort, config.backendPort]] : [],
    streamDir: config.streamDir,
    shutdownGrace: 0,
  },
  (level, message) => {
    if (log.length < 50) log.push(`${level}: ${message}`);
  },
);

const maxRss = () => process.resourceUsage().maxRSS * 1024;
let rssBefore = 0;
let maxRssBefore = 0;
let peakRss = 0;
let before = process.memoryUsage();
let atPeak = before;
let t0 = 0;
let timer: NodeJS.Timeout | undefined;

function sample(): void {
  const usage = process.memoryUsage();
  const rss = usage.rss;
  if (rss > peakRss) {
    peakRss = rss;
    atPeak = usage;
  }
  const totals = proxy.metrics.directions[config.direction];
  const wbuf = proxy.metrics.intervalPeakWbuf(config.direction);
  send({ type: 'sample', t: (performance.now() - t0) / 1000, wbuf, rss, relayed: totals.bytes, pauses: totals.pauses });
  const what =
    totals.peakWbuf >= config.hardWbuf ? 'wbuf' : rss - rssBefore >= config.hardRssGrowth ? 'rss' : undefined;
  if (what) {
    clearInterval(timer);
    send({ type: 'hard-cap', what }, () => process.exit(3));
  }
}

process.on('message', (m: ParentMessage) => {
  if (m.type === 'start') {
    before = atPeak = process.memoryUsage();
    rssBefore = before.rss;
    maxRssBefore = maxRss();
    peakRss = rssBefore;
    proxy.metrics.intervalPeakWbuf(config.direction);
    t0 = performance.now();
    timer = setInterval(sample, config.sampleMs);
  } else if (m.type === 'stop') {
    clearInterval(timer);
    sample();
    // maxRSS is the whole process's high-water mark: it counts only if it rose during the run
    // (otherwise it may be a start-up transient).
    const hwm = maxRss();
    if (hwm > maxRssBefore) peakRss = Math.max(peakRss, hwm);
    const totals = proxy.metrics.directions[config.direction];
    const message: ChildMessage = {
      type: 'final',
      peakWbuf: totals.peakWbuf,
      pauses: totals.pauses,
      relayed: totals.bytes,
      rssBefore,
      peakRss,
      heapGrowth: atPeak.heapTotal - before.heapTotal,
      buffersGrowth: atPeak.arrayBuffers - before.arrayBuffers,
      sessions: proxy.metrics.sessionsTotal.spice + proxy.metrics.sessionsTotal.websocket + proxy.metrics.sessionsTotal.stream,
      log,
    };
    // Gigabytes may be queued: no graceful close, the parent is done with us.
    send(message, () => process.exit(0));
  }
});

const { port } = await proxy.listen('127.0.0.1', 0);
send({ type: 'ready', port, rss: process.memoryUsage.rss() });
