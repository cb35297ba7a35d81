/**
 * `npm start`: bug #7483 on real loopback sockets, for each of pveproxy's three proxy
 * handlers. A fast writer pushes through the real `ProxyServer` (in a process of its own)
 * into a reader that stalls and then reads slowly; first without backpressure (the code
 * before the patch), then with it. Prints the peak write buffer against the handler's
 * limit, the proxy's peak RSS growth, and whether every byte arrived intact; draws wbuf
 * over time in the terminal and as an SVG.
 *
 *   npm start [-- --seconds 5] [--handler spice|websocket|stream] [--json] [--svg PATH|none]
 */
import { mkdirSync, mkdtempSync, openSync, closeSync, rmSync, statfsSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { patternChunks } from '../backend/sim/pattern.js';
import { svgChart, tRange, terminalChart, yRange, type Panel } from './chart.js';
import { HANDLERS, HANDLER_INFO, runExperiment, type HandlerName, type Progress, type RunResult } from './experiment.js';
import { bytes, ratio, seconds as secs, table } from './format.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const TITLES: Record<HandlerName, string> = {
  spice: 'spice relay',
  websocket: 'websocket proxy',
  stream: 'response stream',
};
const HELP = `npm start [-- options]: bug #7483 on loopback, for each proxy handler, without and with backpressure.

  --seconds N      length of each run (default 5)
  --handler NAME   spice, websocket or stream (default: all three; a comma list works too)
  --json           print the results as JSON instead of the table and charts
  --svg PATH|none  where to write the chart (default bench/results/demo-wbuf.svg,
                   or demo-wbuf-<handler>.svg for a subset)
  --rate MIB       the slow reader's rate in MiB/s (default 32)
  --stall S        how long the reader reads nothing at first (default a fifth of the run)
  --wbuf-cap MIB   stop an unbounded run at this much wbuf (default 1536, less on small machines)
  --drain S        how long a bounded run may take to drain at the end (default 30)`;

interface Options {
  seconds: number;
  handlers: HandlerName[];
  json: boolean;
  svg: string | undefined;
  slowRate: number;
  stall: number;
  wbufCap: number;
  rssCap: number;
  drain: number;
}

function parse(): Options {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '5' },
      handler: { type: 'string' },
      json: { type: 'boolean', default: false },
      svg: { type: 'string' },
      rate: { type: 'string', default: '32' },
      stall: { type: 'string' },
      'wbuf-cap': { type: 'string' },
      drain: { type: 'string', default: '30' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const num = (name: string, text: string, lo: number, hi: number) => {
    const n = Number(text);
    if (!(n > lo && n <= hi)) throw new Error(`--${name} must be a number in (${lo}, ${hi}], got '${text}'`);
    return n;
  };
  const seconds = num('seconds', values.seconds, 0, 600);
  const handlers = (values.handler ?? HANDLERS.join(','))
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean)
    .map((h) => {
      if (!(HANDLERS as readonly string[]).includes(h)) throw new Error(`--handler must be one of ${HANDLERS.join(', ')}, got '${h}'`);
      return h as HandlerName;
    });
  // Stay well inside the machine: at most a quarter of the memory available now.
  const available = os.freemem();
  const defaultCap = Math.min(1.5 * GiB, Math.floor(available / 4 / MiB) * MiB);
  const wbufCap = values['wbuf-cap'] ? num('wbuf-cap', values['wbuf-cap'], 0, 64 * 1024) * MiB : defaultCap;
  const here = dirname(fileURLToPath(import.meta.url));
  const results = join(here, '..', '..', 'bench', 'results');
  const all = handlers.length === HANDLERS.length;
  const svg =
    values.svg === 'none'
      ? undefined
      : (values.svg ?? join(results, all ? 'demo-wbuf.svg' : `demo-wbuf-${handlers.join('-')}.svg`));
  return {
    seconds,
    handlers: [...new Set(handlers)],
    json: values.json,
    svg,
    slowRate: num('rate', values.rate, 0, 1e6) * MiB,
    stall: values.stall === undefined ? seconds / 5 : stallSeconds(values.stall, seconds),
    wbufCap,
    // RSS also holds the heap and read buffers: a little more room than wbuf.
    rssCap: Math.round(wbufCap * (4 / 3)),
    drain: num('drain', values.drain, 0, 3600),
  };
}

function stallSeconds(text: string, seconds: number): number {
  const n = Number(text);
  if (!(n >= 0 && n <= seconds)) throw new Error(`--stall must be a number in [0, ${seconds}] (at most --seconds), got '${text}'`);
  return n;
}

/**
 * Enough for an unbounded run to reach the wbuf cap: the cap, what the slow reader takes
 * meanwhile, and the kernel's buffers; but no more than a proxy could read in the time
 * at 512 MiB/s (a short run needs a small file).
 */
function streamFileSize(o: Options): number {
  const needed = o.wbufCap + o.slowRate * Math.max(0, o.seconds - o.stall) + 64 * MiB;
  return Math.ceil(Math.min(needed, o.seconds * 512 * MiB) / MiB) * MiB;
}

/** The stream handler's fast writer is a file: the test pattern, big enough to reach the cap. */
function makeStreamFile(o: Options): { dir: string; name: string; size: number; note?: string } {
  let size = streamFileSize(o);
  const dir = mkdtempSync(join(os.tmpdir(), 'ae-demo-'));
  let note: string | undefined;
  try {
    const fs = statfsSync(dir);
    const free = fs.bavail * fs.bsize;
    if (free < size + 512 * MiB) {
      size = Math.max(16 * MiB, Math.floor((free - 512 * MiB) / 2 / MiB) * MiB);
      note = `only ${bytes(free)} free in ${os.tmpdir()}: the stream file is ${bytes(size)}`;
    }
  } catch {
    // statfs unsupported: go ahead
  }
  const name = 'pattern.bin';
  const fd = openSync(join(dir, name), 'w');
  try {
    const piece = 16 * MiB;
    for (let offset = 0; offset < size; offset += piece) {
      for (const view of patternChunks(offset, Math.min(piece, size - offset))) writeSync(fd, view);
    }
  } finally {
    closeSync(fd);
  }
  return { dir, name, size, note };
}

function progressPrinter(total: number) {
  const tty = !!process.stderr.isTTY;
  let last = 0;
  let shown = false;
  return {
    update(index: number, p: Progress) {
      const limit = HANDLER_INFO[p.handler].limit;
      const line =
        `[${index}/${total}] ${p.handler} ${p.backpressure ? 'bounded' : 'unbounded'}, ${p.phase}, ${p.t.toFixed(1)} s: ` +
        `wbuf ${bytes(p.wbuf)} (${ratio(p.wbuf / limit)}), RSS +${bytes(Math.max(0, p.rssGrowth))}, ` +
        `sent ${bytes(p.sent)}, delivered ${bytes(p.delivered)}`;
      const now = performance.now();
      if (tty) {
        if (now - last < 100 && p.phase !== 'done') return;
        last = now;
        const width = process.stderr.columns || 120;
        process.stderr.write(`\r\x1b[K${line.slice(0, width - 1)}`);
        shown = true;
      } else if (now - last >= 1000 || p.phase === 'done') {
        process.stderr.write(`${line}\n`);
        last = now;
      }
    },
    note(text: string) {
      this.clear();
      process.stderr.write(`${text}\n`);
    },
    clear() {
      if (tty && shown) process.stderr.write('\r\x1b[K');
      shown = false;
    },
  };
}

/** How this chart was made: `npm start` and the options that change the runs. */
function command(): string {
  const args: string[] = [];
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--json') continue;
    if (argv[i] === '--svg') {
      i++;
      continue;
    }
    if (argv[i].startsWith('--svg=')) continue;
    args.push(argv[i]);
  }
  return args.length ? `npm start -- ${args.join(' ')}` : 'npm start';
}

function stoppedText(r: RunResult): string {
  let at = r.stoppedBy === 'time' ? `time (${secs(r.stoppedAt)})` : `${r.stoppedBy} at ${secs(r.stoppedAt)}`;
  if (r.sourceEndedAt !== undefined) at += `; the file ended at ${secs(r.sourceEndedAt)}`;
  if (r.drainSeconds === undefined) return at;
  return `${at}, drained in ${r.drainSeconds.toFixed(1)} s${r.drainComplete ? '' : ' (cut short)'}`;
}

function intactText(r: RunResult): string {
  if (r.intact) return 'yes';
  if (r.prefixIntact) return 'prefix';
  return 'NO';
}

async function main() {
  const o = parse();
  const runs: Array<{ handler: HandlerName; backpressure: boolean }> = o.handlers.flatMap((handler) => [
    { handler, backpressure: false },
    { handler, backpressure: true },
  ]);
  const progress = progressPrinter(runs.length);
  let stream: ReturnType<typeof makeStreamFile> | undefined;
  const removeStream = () => {
    if (stream) rmSync(stream.dir, { recursive: true, force: true });
    stream = undefined;
  };
  process.on('exit', removeStream);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(130));

  const results: RunResult[] = [];
  try {
    for (const [i, run] of runs.entries()) {
      if (run.handler === 'stream' && !stream) {
        progress.note(`writing the stream handler's source file (${bytes(streamFileSize(o))} of test pattern) in ${os.tmpdir()} …`);
        stream = makeStreamFile(o);
        if (stream.note) progress.note(stream.note);
      }
      results.push(
        await runExperiment({
          handler: run.handler,
          backpressure: run.backpressure,
          seconds: o.seconds,
          stallSeconds: o.stall,
          slowRate: o.slowRate,
          drainSeconds: o.drain,
          wbufCap: o.wbufCap,
          rssCap: o.rssCap,
          sampleMs: 20,
          stream: run.handler === 'stream' ? stream : undefined,
          onProgress: (p) => progress.update(i + 1, p),
        }),
      );
    }
  } finally {
    progress.clear();
  }
  const streamSize = stream?.size;
  removeStream();

  const caption =
    `Real sockets on loopback, the ProxyServer in a process of its own (${command()}).\n` +
    `The reader reads nothing for ${secs(o.stall)}, then ${bytes(o.slowRate)}/s; runs stop after ${secs(o.seconds)} or at ${bytes(o.wbufCap)} of wbuf.\n` +
    `Each point: the largest wbuf of the proxy's destination handle in a 20 ms interval.`;
  const panels: Panel[] = o.handlers.map((h) => ({
    title: `${TITLES[h]} (${HANDLER_INFO[h].what}): limit ${bytes(HANDLER_INFO[h].limit)}`,
    limit: HANDLER_INFO[h].limit,
    unbounded: results.find((r) => r.handler === h && !r.backpressure),
    bounded: results.find((r) => r.handler === h && r.backpressure),
  }));
  if (o.svg) {
    mkdirSync(dirname(o.svg), { recursive: true });
    writeFileSync(o.svg, svgChart(panels, { caption, stall: o.stall, seconds: o.seconds }));
  }

  const parameters = {
    seconds: o.seconds,
    stallSeconds: o.stall,
    slowRateBytesPerSecond: o.slowRate,
    wbufCap: o.wbufCap,
    rssCap: o.rssCap,
    drainLimitSeconds: o.drain,
    streamFileSize: streamSize,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}, ${os.cpus().length} CPUs`,
    date: new Date().toISOString(),
    svg: o.svg,
  };
  if (o.json) {
    console.log(JSON.stringify({ parameters, results: results.map(({ samples: _samples, ...row }) => row) }, null, 2));
    return;
  }

  const rows = [['handler', 'mode', 'limit', 'peak wbuf', 'peak/limit', 'peak RSS growth', 'sent', 'delivered', 'intact', 'stopped by']];
  for (const r of results) {
    rows.push([
      r.handler,
      r.mode,
      bytes(r.limit),
      bytes(r.peakWbuf),
      ratio(r.peakOverLimit),
      `+${bytes(r.peakRssGrowth)}`,
      bytes(r.sent),
      bytes(r.delivered),
      intactText(r),
      stoppedText(r),
    ]);
  }
  const out: string[] = [];
  out.push(`#7483 on loopback: a fast writer pushes through the ProxyServer (its own process) into a slow reader.`);
  out.push(
    `The reader reads nothing for ${secs(o.stall)}, then ${bytes(o.slowRate)}/s. Each run: ${secs(o.seconds)}, or until ` +
      `${bytes(o.wbufCap)} of wbuf or +${bytes(o.rssCap)} of RSS.`,
  );
  out.push('');
  out.push(table(rows, new Set([2, 3, 4, 5, 6, 7])));
  out.push('');
  out.push(`intact: SHA-256 of all that arrived equals SHA-256 of all that was sent. prefix: an unbounded run is`);
  out.push(`not drained (what its proxy holds is what an OOM kill would lose); what did arrive is the start of`);
  out.push(`what was sent, byte for byte. A bounded run drains at the end: the writer stops, the reader reads`);
  out.push(`at full speed.${streamSize ? ` stream: the fast writer is a ${bytes(streamSize)} file; sent is what the proxy read of it.` : ''}`);
  out.push('');
  out.push(
    `wbuf over time (the largest in each 20 ms; log scale, a row per doubling). The reader is stalled until ` +
      `${secs(o.stall)},\nthen slow; after ${secs(o.seconds)} a bounded run drains.`,
  );
  for (const [i, panel] of panels.entries()) {
    out.push('');
    out.push(terminalChart(panel, { width: 60, tMax: tRange(panels), ...yRange(panels) }));
    if (i === panels.length - 1) out.push('');
  }
  if (o.svg) out.push(`Chart: ${relative(process.cwd(), o.svg) || o.svg}`);
  console.log(out.join('\n'));
}

main().catch((err: Error) => {
  console.error(`error: ${err.message}`);
  process.exit(1);
});
