import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { echoServer, rawExchange } from './helpers.js';

/**
 * The ae-proxy CLI as a process. Started as `node --import tsx lib/cli.ts`: measured at
 * 0.4-0.55 s to print --help, against 0.5-0.75 s for node_modules/.bin/tsx (which also puts
 * a second process between the test and the proxy, in the way of signals) and 0.8-1.2 s
 * for `npx tsx`.
 *
 * Each run gets its own process group (detached), so that afterEach can kill the CLI and
 * any worker it forked with one signal, whatever state the test left them in.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WAIT_MS = 15_000;

interface Run {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal) once the process is gone. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Waits until `pred` holds over the output so far; fails after `ms` or if the process exits first. */
  waitFor(what: string, pred: () => boolean, ms?: number): Promise<void>;
}

const runs: Run[] = [];

function killGroup(run: Run, signal: NodeJS.Signals): void {
  try {
    process.kill(-run.child.pid!, signal);
  } catch {
    // ESRCH: the group is gone already.
  }
}

/** True while any process of the run's group is alive. */
function groupAlive(run: Run): boolean {
  try {
    process.kill(-run.child.pid!, 0);
    return true;
  } catch {
    return false;
  }
}

afterEach(async () => {
  for (const run of runs.splice(0)) {
    killGroup(run, 'SIGKILL');
    await Promise.race([run.exited, new Promise((r) => setTimeout(r, 5000))]);
  }
});
// Also if the worker is torn down without afterEach (a timeout in a hook).
afterAll(() => runs.forEach((run) => killGroup(run, 'SIGKILL')));
process.once('exit', () => runs.forEach((run) => killGroup(run, 'SIGKILL')));

function cli(args: string[]): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', 'lib/cli.ts', ...args], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let gone = false;
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      gone = true;
      resolve({ code, signal });
    }),
  );
  const run: Run = {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(what, pred, ms = WAIT_MS) {
      const deadline = Date.now() + ms;
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pred()) return resolve();
          const why = gone ? 'the process exited' : Date.now() > deadline ? `not within ${ms} ms` : undefined;
          if (why) return reject(new Error(`${what}: ${why}\n--- stdout:\n${out}\n--- stderr:\n${err}`));
          setTimeout(check, 10);
        };
        check();
      });
    },
  };
  runs.push(run);
  return run;
}

/** Bounded wait for the exit. */
async function exitOf(run: Run, ms = WAIT_MS) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no exit within ${ms} ms\n--- stderr:\n${run.stderr()}`)), ms);
  });
  try {
    return await Promise.race([run.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Starts the proxy and resolves with the port from its `listening on HOST:PORT` line. */
async function listening(run: Run): Promise<number> {
  const line = /^listening on 127\.0\.0\.1:(\d+)\b/m;
  await run.waitFor('the listening line', () => line.test(run.stdout()));
  const port = Number(line.exec(run.stdout())![1]);
  expect(port).toBeGreaterThan(0);
  return port;
}

/** A CONNECT tunnel through the proxy, with an echo check; resolves once the 200 is in. */
async function tunnel(port: number, target: string) {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  let buf = '';
  let ended = false;
  let closed = false;
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => (buf += d));
  socket.on('end', () => (ended = true));
  socket.on('close', () => (closed = true));
  socket.on('error', () => {});
  const waitBuf = async (what: string, pred: () => boolean) => {
    const deadline = Date.now() + WAIT_MS;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`${what}: not within ${WAIT_MS} ms (got ${JSON.stringify(buf)})`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`);
  await waitBuf('200 OK', () => buf.length >= 19 || ended);
  expect(buf).toBe('HTTP/1.1 200 OK\r\n\r\n');
  buf = '';
  return {
    socket,
    async echo(text: string) {
      buf = '';
      socket.write(text);
      await waitBuf(`echo of '${text}'`, () => buf === text);
    },
    ended: () => ended,
    closed: () => closed,
    waitEnd: () => waitBuf('the proxy closes the tunnel', () => ended || closed),
  };
}

/** Resolves once a new connection to `port` is refused (bounded). */
async function refused(port: number): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const code = await new Promise<string | undefined>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.on('connect', () => {
        s.destroy();
        resolve(undefined);
      });
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code));
    });
    if (code === 'ECONNREFUSED') return;
    if (Date.now() > deadline) throw new Error(`port ${port} still accepts connections after ${WAIT_MS} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function metrics(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(WAIT_MS) });
  expect(res.status).toBe(200);
  return res.text();
}

describe('ae-proxy CLI', () => {
  it('--help prints the usage and exits 0', async () => {
    const run = cli(['--help']);
    expect(await exitOf(run)).toEqual({ code: 0, signal: null });
    expect(run.stdout()).toMatch(/^Usage: ae-proxy \[options\]\n/);
    for (const option of ['--listen', '--allow-ports', '--workers', '--shutdown-grace', '--header-timeout']) expect(run.stdout()).toContain(option);
    expect(run.stderr()).toBe('');
  });

  it.each([
    [['--listen', 'nope'], "--listen: expected HOST:PORT, got 'nope'"],
    [['--listen', '127.0.0.1:70000'], "--listen: expected HOST:PORT, got '127.0.0.1:70000'"],
    [['--allow-ports', '70000'], "--allow-ports: bad port range '70000' (ports are 1-65535, low before high)"],
    [['--allow-ports', '6000-5900'], "--allow-ports: bad port range '6000-5900'"],
    [['--workers', '0'], "--workers: expected a number from 1 to 256, got '0'"],
    [['--workers', 'two'], "--workers: expected a number from 1 to 256, got 'two'"],
    [['--bogus'], "Unknown option '--bogus'"],
  ])('%j exits 2 with a clear message', async (args, message) => {
    const run = cli(args);
    expect(await exitOf(run)).toEqual({ code: 2, signal: null });
    expect(run.stderr()).toContain(`ae-proxy: ${message}`);
    expect(run.stderr()).toContain("Try 'ae-proxy --help'.");
    expect(run.stdout()).toBe('');
  });

  it('serves on the port it prints; SIGTERM stops accepting, lets the open session finish, exits 0', async () => {
    const echo = await echoServer();
    try {
      const run = cli(['--listen', '127.0.0.1:0', '--allow-ports', String(echo.port), '--shutdown-grace', '20']);
      const port = await listening(run);
      expect(run.stdout()).toContain('(backpressure on)');
      expect(await metrics(port)).toContain('aeproxy_connections_total');
      const t = await tunnel(port, `127.0.0.1:${echo.port}`);
      await t.echo('before the signal');

      const signalled = Date.now();
      run.child.kill('SIGTERM');
      await refused(port);
      await run.waitFor('the shutdown log line', () => run.stderr().includes('SIGTERM: no longer accepting; waiting up to 20s for sessions'));
      // The open session goes on as if nothing happened.
      await t.echo('after the signal');
      expect(groupAlive(run)).toBe(true);
      // It ends: the proxy closes it, and the process exits at once, well within the grace.
      t.socket.end();
      await t.waitEnd();
      expect(await exitOf(run)).toEqual({ code: 0, signal: null });
      expect(Date.now() - signalled).toBeLessThan(10_000);
    } finally {
      echo.close();
    }
  });

  it('SIGTERM with a session that does not end: the session is closed after --shutdown-grace, then exit 0', async () => {
    const echo = await echoServer();
    try {
      const run = cli(['--listen', '127.0.0.1:0', '--allow-ports', String(echo.port), '--shutdown-grace', '1']);
      const port = await listening(run);
      const t = await tunnel(port, `127.0.0.1:${echo.port}`);
      await t.echo('open');
      const signalled = Date.now();
      run.child.kill('SIGTERM');
      expect(await exitOf(run)).toEqual({ code: 0, signal: null });
      const took = Date.now() - signalled;
      expect(took).toBeGreaterThanOrEqual(900);
      expect(took).toBeLessThan(5000);
      await t.waitEnd();
      expect(run.stderr()).toContain('shutdown: grace period over');
    } finally {
      echo.close();
    }
  });

  it('--workers 2: both workers serve (sessions and /metrics); SIGINT to the group, as Ctrl-C, ends them all with exit 0', async () => {
    const echo = await echoServer();
    try {
      const run = cli(['--listen', '127.0.0.1:0', '--allow-ports', String(echo.port), '--workers', '2']);
      const port = await listening(run);
      expect(run.stdout()).toMatch(/^listening on 127\.0\.0\.1:\d+ with 2 workers/m);
      // Tunnels one after another, until both workers have served one and their session
      // counts differ (so that their /metrics can be told apart).
      const perWorker = () => [1, 2].map((id) => run.stderr().match(new RegExp(`^worker ${id} info: session \\d+: spice session for 127\\.0\\.0\\.1:\\d+$`, 'gm'))?.length ?? 0);
      const tunnels = [];
      while (tunnels.length < 12) {
        const t = await tunnel(port, `127.0.0.1:${echo.port}`);
        tunnels.push(t);
        await t.echo(`tunnel ${tunnels.length}`);
        await run.waitFor('the session log line', () => perWorker()[0] + perWorker()[1] === tunnels.length);
        const [a, b] = perWorker();
        if (a > 0 && b > 0 && a !== b) break;
      }
      const [a, b] = perWorker();
      expect(a).toBeGreaterThan(0);
      expect(b).toBeGreaterThan(0);
      expect(a).not.toBe(b);
      // /metrics on new connections: each worker answers with its own count.
      const seen = new Set<number>();
      for (let i = 0; i < 20 && seen.size < 2; i++) {
        const reply = await rawExchange(port, 'GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', WAIT_MS);
        expect(reply).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
        seen.add(Number(/^aeproxy_sessions_total\{handler="spice"\} (\d+)$/m.exec(reply)![1]));
      }
      expect([...seen].sort()).toEqual([a, b].sort());
      for (const t of tunnels) t.socket.end();
      await Promise.all(tunnels.map((t) => t.waitEnd()));

      killGroup(run, 'SIGINT');
      expect(await exitOf(run)).toEqual({ code: 0, signal: null });
      // Every process of the group is gone (the workers are in it).
      const deadline = Date.now() + 5000;
      while (groupAlive(run) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(groupAlive(run)).toBe(false);
      expect(run.stderr()).toMatch(/^worker 1 info: SIGINT: no longer accepting/m);
      expect(run.stderr()).toMatch(/^worker 2 info: SIGINT: no longer accepting/m);
      expect(run.stderr()).not.toMatch(/exited \(\d+\); starting another/);
    } finally {
      echo.close();
    }
  });

  it.each([1, 2])('an address in use: exits 1 with the error (--workers %i), without forking workers forever', async (workers) => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    try {
      const busy = (holder.address() as net.AddressInfo).port;
      const run = cli(['--listen', `127.0.0.1:${busy}`, '--workers', String(workers)]);
      expect(await exitOf(run)).toEqual({ code: 1, signal: null });
      expect(run.stderr()).toContain('EADDRINUSE');
      expect(run.stdout()).toBe('');
      if (workers > 1) {
        expect(run.stderr()).toMatch(/^ae-proxy: worker \d+ exited \(1\) before listening; stopping$/m);
        expect(run.stderr()).not.toContain('starting another');
      }
    } finally {
      holder.close();
    }
  });
});
