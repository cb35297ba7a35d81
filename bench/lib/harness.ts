/**
 * Shared plumbing of the loopback benchmarks: child processes (peers, relays), their CPU
 * and memory from /proc, statistics, and the JSON every benchmark writes.
 *
 * Node children are bundled once with esbuild (a dependency of tsx) and run under plain
 * `node`: under `node --import tsx` an idle process holds about 40 MB more (the loader's
 * worker thread), which would swamp the memory figures.
 */
import { execFileSync, fork, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = resolve(HERE, '../..');
const CLK_TCK = 100;

// ------------------------------------------------------------------ statistics

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function spread(xs: number[]): Spread {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

export function fmtSpread(s: Spread, digits = 2, unit = ''): string {
  return `${s.median.toFixed(digits)}${unit} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
}

/** Per-round ratios `a[r] / b[r]`: both measured in the same round. */
export function ratios(a: number[], b: number[]): Spread {
  return spread(a.map((x, i) => x / b[i]));
}

// ------------------------------------------------------------------ /proc

export interface CpuTimes {
  /** Seconds of user and system time, reaped children included. */
  user: number;
  sys: number;
}

export function procCpu(pid: number): CpuTimes {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), counted from field 3.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(f[11]);
  const stime = Number(f[12]);
  const cutime = Number(f[13]);
  const cstime = Number(f[14]);
  return { user: (utime + cutime) / CLK_TCK, sys: (stime + cstime) / CLK_TCK };
}

/** Live children of `pid` (all threads' children). */
export function procChildren(pid: number): number[] {
  const out: number[] = [];
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
      if (text) out.push(...text.split(/\s+/).map(Number));
    }
  } catch {
    /* gone */
  }
  return out;
}

/**
 * VmRSS, VmHWM and RssAnon in bytes. RssAnon is the process's own memory (heap, buffers,
 * stacks); the rest of RSS is mostly the interpreter's binary and libraries, file pages
 * shared with every other process running them (36 MB of node's 45 MB idle RSS, 5 of perl's 9).
 */
export function procMem(pid: number): { rss: number; hwm: number; anon: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon') };
  } catch {
    return { rss: 0, hwm: 0, anon: 0 };
  }
}

/** RSS (and its anonymous part) of `pid` and its live children (socat forks one per connection). */
export function treeRss(pid: number): number {
  return treeMem(pid).rss;
}

export function treeMem(pid: number): { rss: number; anon: number } {
  const own = procMem(pid);
  const total = { rss: own.rss, anon: own.anon };
  for (const c of procChildren(pid)) {
    const child = treeMem(c);
    total.rss += child.rss;
    total.anon += child.anon;
  }
  return total;
}

/** Samples a process tree's RSS every `ms` and keeps the peak (and the peak of its anonymous part). */
export class RssSampler {
  peak = 0;
  peakAnon = 0;
  readonly #timer: NodeJS.Timeout;
  constructor(readonly pid: number, ms = 25) {
    this.sample();
    this.#timer = setInterval(() => this.sample(), ms);
  }
  sample(): number {
    const { rss, anon } = treeMem(this.pid);
    if (rss > this.peak) this.peak = rss;
    if (anon > this.peakAnon) this.peakAnon = anon;
    return rss;
  }
  stop(): number {
    clearInterval(this.#timer);
    this.sample();
    return this.peak;
  }
}

// ------------------------------------------------------------------ children

let bundleDir: string | undefined;
const bundles = new Map<string, string>();

/**
 * Bundles a TypeScript entry (a path under the repository) into one .mjs for plain node;
 * cached. With `rev`, lib/ is taken from that git revision instead of the working tree
 * (bench/ stays the working tree's): how an A/B run compares a change with the code before
 * it, side by side in one run.
 */
export async function bundle(entry: string, rev?: string): Promise<string> {
  const key = `${entry}@${rev ?? ''}`;
  const cached = bundles.get(key);
  if (cached) return cached;
  bundleDir ??= mkdtempSync(join(os.tmpdir(), 'ae-bench-'));
  let root = REPO;
  if (rev) {
    root = join(bundleDir, `tree-${rev.replace(/[^A-Za-z0-9]+/g, '_')}`);
    mkdirSync(root, { recursive: true });
    execFileSync('sh', ['-c', `git -C "${REPO}" archive "${rev}" lib | tar -x -C "${root}" && cp -r "${REPO}/bench" "${root}/bench"`]);
  }
  const out = join(bundleDir, `${`${entry}@${rev ?? ''}`.replace(/[^A-Za-z0-9]+/g, '_')}.mjs`);
  await build({
    entryPoints: [join(root, entry)],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    logLevel: 'error',
    nodePaths: [join(REPO, 'node_modules')],
    // Some dependencies are CommonJS and call require() on Node built-ins.
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  bundles.set(key, out);
  return out;
}

export function cleanupBundles(): void {
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true });
}

type Message = { ev: string; id?: string; [k: string]: unknown };

/** Every child started here, killed when this process exits, however it exits. */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});
function adopt(c: ChildProcess): ChildProcess {
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
}

/** A forked Node child speaking JSON over IPC. */
export class NodeChild {
  readonly proc: ChildProcess;
  readonly #waiters: Array<{ match: (m: Message) => boolean; resolve: (m: Message) => void }> = [];
  #exited = false;

  constructor(file: string, args: string[] = [], execArgv: string[] = []) {
    this.proc = adopt(fork(file, args, { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
    this.proc.on('message', (m: Message) => {
      const i = this.#waiters.findIndex((w) => w.match(m));
      if (i >= 0) this.#waiters.splice(i, 1)[0].resolve(m);
    });
    this.proc.on('exit', () => (this.#exited = true));
  }

  get pid(): number {
    return this.proc.pid!;
  }

  send(m: object): void {
    this.proc.send(m);
  }

  /** The next message matching `ev` (and `id`, when given). */
  next(ev: string, id?: string, timeoutMs = 120_000): Promise<Message> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no '${ev}' from child ${this.pid} within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push({
        match: (m) => m.ev === ev && (id === undefined || m.id === id),
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  async stop(): Promise<void> {
    if (this.#exited) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await exited;
  }
}

/** A traffic peer (bench/lib/peer.ts). */
export class Peer extends NodeChild {
  #n = 0;
  static async start(): Promise<Peer> {
    return new Peer(await bundle('bench/lib/peer.ts'));
  }
  id(): string {
    return `p${++this.#n}`;
  }
  async listen(role: 'send' | 'recv' | 'stall'): Promise<{ id: string; port: number }> {
    const id = this.id();
    const ready = this.next('listening', id);
    this.send({ cmd: 'listen', id, role });
    return { id, port: (await ready).port as number };
  }
}

/** The backend side of a transfer: a listening sink (up) or source (down). */
export interface Backend {
  port: number;
  /** Sinks: resolves at EOF of the next connection (epoch ms of its first byte and of EOF). */
  nextDone?(): Promise<{ bytes: number; start: number; end: number }>;
  /** Sources: the next connection gets `bytes`; resolves once they went to the kernel. */
  serve?(bytes: number): Promise<{ start: number; end: number }>;
  /** Every connection accepted and not yet reported. */
  stop(): Promise<void>;
}

/** A Node peer listening as a sink, a source or a stalled reader. */
export async function peerBackend(peer: Peer, role: 'send' | 'recv' | 'stall'): Promise<Backend> {
  const { id, port } = await peer.listen(role);
  return {
    port,
    nextDone: async () => (await peer.next('done', id)) as unknown as { bytes: number; start: number; end: number },
    serve: async (bytes) => {
      const sent = peer.next('sent', id);
      peer.send({ cmd: 'arm', id, bytes });
      return (await sent) as unknown as { start: number; end: number };
    },
    stop: async () => peer.send({ cmd: 'close', id }),
  };
}

/**
 * bench/perl/sink.pl: a sink reading 1 MiB per sysread, cheaper than any Node reader, so
 * that the relay under test has the most of the machine's cores. One connection at a time.
 */
export async function perlSink(): Promise<Backend> {
  const proc = adopt(spawn('perl', ['bench/perl/sink.pl'], { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] }));
  const waiting: Array<(m: { bytes: number; start: number; end: number }) => void> = [];
  const done: Array<{ bytes: number; start: number; end: number }> = [];
  let port = 0;
  await new Promise<void>((resolve, reject) => {
    let text = '';
    proc.once('exit', (code) => reject(new Error(`sink.pl exited with ${code}`)));
    proc.stdout!.on('data', (d: Buffer) => {
      text += d.toString();
      let nl: number;
      while ((nl = text.indexOf('\n')) >= 0) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 1);
        const l = /^listening (\d+)/.exec(line);
        if (l) {
          port = Number(l[1]);
          resolve();
        }
        const m = /^done (\d+) ([\d.]+) ([\d.]+)/.exec(line);
        if (m) {
          const r = { bytes: Number(m[1]), start: Number(m[2]) * 1000, end: Number(m[3]) * 1000 };
          const w = waiting.shift();
          if (w) w(r);
          else done.push(r);
        }
      }
    });
  });
  return {
    port,
    nextDone: () => new Promise((resolve) => (done.length ? resolve(done.shift()!) : waiting.push(resolve))),
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** The cheapest listening sink there is: sink.pl when perl runs, else a Node peer. */
export async function fastSink(peer: Peer): Promise<Backend & { kind: string }> {
  if (spawnSync('perl', ['-MTime::HiRes', '-MIO::Socket::INET', '-e1'], { stdio: 'ignore' }).status === 0) {
    return { ...(await perlSink()), kind: 'bench/perl/sink.pl (1 MiB sysread)' };
  }
  return { ...(await peerBackend(peer, 'recv')), kind: 'node peer' };
}

/** Preambles the peer sends before the payload. */
export const preamble = {
  none: { kind: 'none' as const },
  connect: (port: number) => ({ kind: 'request' as const, text: `CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n` }),
  websocket: (path: string) => ({
    kind: 'request' as const,
    text:
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: binary\r\n\r\n',
  }),
  get: (path: string) => ({ kind: 'request' as const, text: `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n` }),
};

/** A relay under test: something listening on `port`, run as process `pid`. */
export interface Relay {
  name: string;
  port: number;
  pid: number;
  /** CPU seconds used so far (user, sys). */
  cpu(): Promise<CpuTimes>;
  /** Node relays: their own report (process.memoryUsage(), the proxy's wbuf totals). */
  usage?(): Promise<Record<string, unknown>>;
  /** Resolves once the relay has nothing left of past connections (socat's forked children). */
  settle(): Promise<void>;
  stop(): Promise<void>;
}

/** A Node relay (bundled) that reports process.cpuUsage() over IPC. */
export async function nodeRelay(name: string, entry: string, config: object, execArgv: string[] = [], rev?: string): Promise<Relay> {
  const child = new NodeChild(await bundle(entry, rev), [JSON.stringify(config)], execArgv);
  const { port } = await child.next('listening', undefined, 30_000);
  return {
    name,
    port: port as number,
    pid: child.pid,
    async cpu() {
      const usage = child.next('usage');
      child.send({ cmd: 'usage' });
      const cpu = (await usage).cpu as NodeJS.CpuUsage;
      return { user: cpu.user / 1e6, sys: cpu.system / 1e6 };
    },
    async usage() {
      const usage = child.next('usage');
      child.send({ cmd: 'usage' });
      return await usage;
    },
    settle: async () => {},
    stop: () => child.stop(),
  };
}

/** An external relay that prints `listening PORT [detail]` on stdout, or listens on a given port. */
export async function externalRelay(name: string, command: string, args: string[], fixedPort?: number): Promise<Relay & { detail: string }> {
  const proc = adopt(spawn(command, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'] }));
  let port = fixedPort ?? 0;
  let detail = '';
  if (fixedPort === undefined) {
    await new Promise<void>((resolve, reject) => {
      let text = '';
      proc.once('exit', (code) => reject(new Error(`${name} exited with ${code} before listening`)));
      proc.stdout!.on('data', (d: Buffer) => {
        text += d.toString();
        const m = /listening (\d+)(?: (.*))?\n/.exec(text);
        if (m) {
          port = Number(m[1]);
          detail = m[2] ?? '';
          resolve();
        }
      });
    });
  } else {
    await waitForPort(fixedPort);
  }
  const pid = proc.pid!;
  return {
    name,
    port,
    pid,
    detail,
    cpu: async () => procCpu(pid),
    async settle() {
      // socat's per-connection child must be reaped for its time to count in cutime.
      for (let i = 0; i < 200 && procChildren(pid).length; i++) await sleep(10);
    },
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** Waits until something listens on 127.0.0.1:`port`, without connecting (a probe would reach the backend through socat). */
async function waitForPort(port: number): Promise<void> {
  const hex = `:${port.toString(16).toUpperCase().padStart(4, '0')} `;
  for (let i = 0; i < 500; i++) {
    const table = readFileSync('/proc/net/tcp', 'utf8').split('\n');
    // local_address is field 2, st (0A: LISTEN) field 4.
    if (table.some((line) => line.includes(hex) && line.trim().split(/\s+/)[3] === '0A')) return;
    await sleep(10);
  }
  throw new Error(`nothing listens on ${port}`);
}

/** Stops what a benchmark started, in the order given, then removes the bundles. */
export async function stopAll(...things: Array<{ stop(): Promise<unknown> } | undefined>): Promise<void> {
  for (const t of things) await t?.stop();
  cleanupBundles();
}

/** Runs a benchmark's main; an error is printed and ends the process with exit 1. */
export function runMain(main: () => Promise<void>): void {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ tools

/** Whether `cmd` runs; when not, `apt-get install -y` the packages (as root, once), then asks again. */
export function ensureTool(label: string, check: () => boolean, packages: string[]): { ok: boolean; note: string } {
  if (check()) return { ok: true, note: '' };
  const root = process.getuid?.() === 0;
  const apt = spawnSync('sh', ['-c', 'command -v apt-get'], { encoding: 'utf8' }).status === 0;
  if (!root || !apt) return { ok: false, note: `${label}: not available and cannot install (${root ? 'no apt-get' : 'not root'}): skipped` };
  process.stderr.write(`installing ${packages.join(' ')} for ${label}...\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let r = spawnSync('apt-get', ['install', '-y', '-q', ...packages], { stdio: 'ignore', env });
  if (r.status !== 0) {
    spawnSync('apt-get', ['update', '-q'], { stdio: 'ignore', env });
    r = spawnSync('apt-get', ['install', '-y', '-q', ...packages], { stdio: 'ignore', env });
  }
  if (check()) return { ok: true, note: `${label}: installed ${packages.join(' ')}` };
  return { ok: false, note: `${label}: apt-get install ${packages.join(' ')} failed: skipped` };
}

export const perlAnyEvent = () =>
  ensureTool('Perl AnyEvent::Handle', () => spawnSync('perl', ['-MAnyEvent::Handle', '-e1'], { stdio: 'ignore' }).status === 0, [
    'libanyevent-perl',
    'libev-perl',
  ]);

export const socat = () => ensureTool('socat', () => spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0, ['socat']);

// ------------------------------------------------------------------ results

/** HEAD, with "+dirty" when the measured code (lib/, bench/ but its results) differs from it. */
export function gitSha(paths: string[] = ['lib', 'bench', ':!bench/results', ':!lib/demo']): string {
  try {
    const quiet = { encoding: 'utf8' as const, stdio: ['ignore', 'pipe', 'ignore'] as ['ignore', 'pipe', 'ignore'], cwd: REPO };
    const sha = execFileSync('git', ['rev-parse', 'HEAD'], quiet).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', ...paths], quiet).trim();
    return dirty ? `${sha}+dirty` : sha;
  } catch {
    return 'unknown';
  }
}

export function machine() {
  return {
    date: new Date().toISOString(),
    git: gitSha(),
    node: process.version,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memory: os.totalmem(),
    kernel: os.release(),
  };
}

export function writeResult(file: string, result: object): void {
  const path = resolve(REPO, file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`wrote ${file}`);
}

/** `--key value` arguments over defaults; numbers stay numbers. */
export function args<T extends Record<string, string | number>>(defaults: T, usage: string): T {
  const out: Record<string, string | number> = { ...defaults };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '');
    const value = argv[++i];
    if (!(key in out) || value === undefined) throw new Error(`usage: ${usage}; got ${argv[i - 1]}`);
    out[key] = typeof defaults[key] === 'number' ? Number(value) : value;
  }
  return out as T;
}

export const gbps = (bytes: number, seconds: number) => bytes / seconds / 1e9;
export const mb = (bytes: number) => bytes / 1e6;
