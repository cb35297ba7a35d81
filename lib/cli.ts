#!/usr/bin/env node
/**
 * ae-proxy: the HTTP front with the three proxy handlers.
 *
 *   ae-proxy --listen 127.0.0.1:8006 --allow-ports 5900-5999,61000-61999 --stream-dir ./files
 */
import cluster from 'node:cluster';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG, parsePeer, parsePortRanges, parseSocketPath, type ProxyConfig } from './http/config.js';
import { ProxyServer } from './http/ProxyServer.js';

const HELP = `Usage: ae-proxy [options]

Serves, on one HTTP/1.1 port:
  GET /websocket?port=N | ?socket=PATH   WebSocket proxy to a TCP or Unix socket backend
  CONNECT node:port                      SPICE relay (local, or chained to a peer node's proxy)
  GET /stream/NAME                       a file from --stream-dir, streamed with flow control
  GET /metrics                           Prometheus metrics

Options:
  --listen HOST:PORT        address to listen on (default 127.0.0.1:8006)
  --allow-ports LIST        backend ports clients may reach, e.g. 5900-5999,61000-61999
                            (default: none)
  --allow-socket PATH       a Unix socket clients may reach (repeatable)
  --stream-dir DIR          directory served under /stream/
  --node-name NAME          this node's name for CONNECT NAME:PORT (default localhost)
  --peer NAME=HOST:PORT     another node's proxy, for remote SPICE (repeatable)
  --no-backpressure         the code before the #7483 patch: no read pause, 7.17 wbuf_max
  --header-timeout SECONDS  time allowed for a request head (default 10)
  --shutdown-grace SECONDS  time sessions get to finish after SIGINT/SIGTERM (default 30)
  --workers N               serve from N processes (node:cluster), like pveproxy's workers
  --quiet                   log errors only
  -h, --help                this text
`;

class UsageError extends Error {}

interface CliOptions {
  host: string;
  port: number;
  workers: number;
  quiet: boolean;
  config: ProxyConfig;
}

export function parseCli(argv: string[]): CliOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        listen: { type: 'string', default: '127.0.0.1:8006' },
        'allow-ports': { type: 'string' },
        'allow-socket': { type: 'string', multiple: true, default: [] },
        'stream-dir': { type: 'string' },
        'node-name': { type: 'string', default: 'localhost' },
        peer: { type: 'string', multiple: true, default: [] },
        'no-backpressure': { type: 'boolean', default: false },
        'header-timeout': { type: 'string', default: '10' },
        'shutdown-grace': { type: 'string', default: '30' },
        workers: { type: 'string', default: '1' },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  const listen = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(v.listen!);
  if (!listen || Number(listen[2]) > 65535) throw new UsageError(`--listen: expected HOST:PORT, got '${v.listen}'`);
  const number = (name: string, text: string, min: number, max: number) => {
    const n = Number(text);
    if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`--${name}: expected a number from ${min} to ${max}, got '${text}'`);
    return n;
  };
  const wrap = <T>(name: string, f: () => T): T => {
    try {
      return f();
    } catch (err) {
      throw new UsageError(`--${name}: ${(err as Error).message}`);
    }
  };
  let streamDir: string | undefined;
  if (v['stream-dir'] !== undefined) {
    streamDir = resolve(v['stream-dir']);
    if (!existsSync(streamDir) || !statSync(streamDir).isDirectory()) throw new UsageError(`--stream-dir: '${v['stream-dir']}' is not a directory`);
  }
  const workers = number('workers', v.workers!, 1, 256);
  if (!Number.isInteger(workers)) throw new UsageError(`--workers: expected a whole number, got '${v.workers}'`);
  return {
    host: listen[1].replace(/^\[|\]$/g, ''),
    port: Number(listen[2]),
    workers,
    quiet: v.quiet!,
    config: {
      ...DEFAULT_CONFIG,
      allowPorts: v['allow-ports'] === undefined ? [] : wrap('allow-ports', () => parsePortRanges(v['allow-ports']!)),
      allowSockets: v['allow-socket']!.map((p) => wrap('allow-socket', () => parseSocketPath(p))),
      streamDir,
      nodeName: v['node-name']!,
      peers: new Map(v.peer!.map((p) => wrap('peer', () => parsePeer(p)))),
      backpressure: !v['no-backpressure'],
      headerTimeout: number('header-timeout', v['header-timeout']!, 0.01, 3600),
      shutdownGrace: number('shutdown-grace', v['shutdown-grace']!, 0, 3600),
    },
  };
}

async function serve(options: CliOptions): Promise<void> {
  const tag = cluster.isWorker ? `worker ${cluster.worker!.id}` : 'ae-proxy';
  const log = (level: string, message: string) => {
    if (options.quiet && level !== 'err') return;
    process.stderr.write(`${tag} ${level}: ${message}\n`);
  };
  const server = new ProxyServer(options.config, log);
  const address = await server.listen(options.host, options.port);
  // The line tests and scripts wait for; printed once, by the primary or the only process.
  if (!cluster.isWorker) {
    process.stdout.write(`listening on ${address.address}:${address.port} (backpressure ${options.config.backpressure ? 'on' : 'off'})\n`);
  }
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log('info', `${signal}: no longer accepting; waiting up to ${options.config.shutdownGrace}s for sessions`);
    void server.close().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

function primary(options: CliOptions): void {
  let listening = 0;
  let stopping = false;
  let failed = false;
  /** Workers that got as far as listening; one that exits before that cannot start at all. */
  const listened = new Set<number>();
  for (let i = 0; i < options.workers; i++) cluster.fork();
  cluster.on('listening', (worker, address) => {
    listened.add(worker.id);
    if (++listening === options.workers) {
      process.stdout.write(
        `listening on ${options.host}:${address.port} with ${options.workers} workers (backpressure ${options.config.backpressure ? 'on' : 'off'})\n`,
      );
    }
  });
  cluster.on('exit', (worker, code) => {
    if (stopping) {
      if (!Object.keys(cluster.workers ?? {}).length) process.exit(failed ? 1 : 0);
      return;
    }
    if (!listened.has(worker.id)) {
      // It failed to start (the address is taken, say): a new one would fail the same way,
      // and forking one after another would never end.
      process.stderr.write(`ae-proxy: worker ${worker.id} exited (${code}) before listening; stopping\n`);
      failed = true;
      stop('SIGTERM');
      if (!Object.keys(cluster.workers ?? {}).length) process.exit(1);
      return;
    }
    process.stderr.write(`ae-proxy: worker ${worker.id} exited (${code}); starting another\n`);
    cluster.fork();
  });
  const stop = (signal: NodeJS.Signals) => {
    stopping = true;
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

export async function main(argv: string[]): Promise<number> {
  let options;
  try {
    options = parseCli(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`ae-proxy: ${err.message}\nTry 'ae-proxy --help'.\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  if (options.workers > 1 && cluster.isPrimary) {
    primary(options);
    return -1;
  }
  try {
    await serve(options);
  } catch (err) {
    process.stderr.write(`ae-proxy: ${(err as Error).message}\n`);
    return 1;
  }
  return -1;
}

// Run when executed (directly, through tsx, or through the npm bin symlink), not when imported.
const invoked = process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
if (invoked) {
  void main(process.argv.slice(2)).then((code) => {
    if (code >= 0) process.exit(code);
  });
}
