import net from 'node:net';
import { setImmediate as immediate, setTimeout as sleep } from 'node:timers/promises';
import { IoFailure, type Cancel, type Fh } from '../../../lib/backend/Backend.js';
import { adoptAccepted } from '../../../lib/backend/node/index.js';
import { SimLoop, simSocketPair } from '../../../lib/backend/sim/index.js';
import { Handle, type HandleOptions } from '../../../lib/index.js';
import {
  bytesOut,
  dataOf,
  utf8Out,
  type DataSpec,
  type HandlerSpec,
  type ReadSpec,
  type Scenario,
  type ScenarioOpts,
  type Step,
  type Trace,
  type TraceEvent,
  type WriteSpec,
} from './format.js';

/*
 * The TypeScript side of the differential suite: runs a scenario with `Handle`, as
 * driver.pl runs it with AnyEvent::Handle, and records the same trace.
 *
 * Three backends:
 * - 'sim': a SimLoop and a simSocketPair (lib/backend/sim). Idle is `loop.runUntilIdle()`:
 *   exact, and a scenario costs microseconds.
 * - 'node': real loopback TCP sockets; the handle's end goes to Handle as a net.Socket (the
 *   Node backend), the peer is a plain net.Socket in paused mode. Idle is detected as in
 *   driver.pl: a number of loop iterations (setImmediate rounds, each of which polls for
 *   I/O) in which nothing changed, then a 1 ms timer and the same again.
 * - 'node-direct': the same, but the handle's end is the Fh adoptAccepted makes of the
 *   accepted socket (read with onread, as the HTTP front's connections are).
 *
 * The backends are driven directly rather than through spec/helpers' TestEnv, because the
 * scenarios need a peer that reads exactly when and how much it is told to (TestEnv's peer
 * always reads), reports its own write errors, and an exact idle point on the simulation.
 */

export type BackendName = 'sim' | 'node' | 'node-direct';
export const BACKENDS: readonly BackendName[] = ['sim', 'node', 'node-direct'];

/**
 * Capacity of each direction of the simulated connection: about what a fresh Linux loopback
 * TCP connection takes before EAGAIN (3.9 MB with the default tcp_wmem/tcp_rmem).
 */
export const SIM_CAPACITY = 4 * 1024 * 1024;

/** The peer's end, with the same operations as driver.pl's Peer. */
interface Peer {
  write(data: Buffer): void;
  /** Reads up to `max` bytes (all there is when undefined) without waiting. */
  read(max?: number): { data: Buffer; end?: string };
  shutdown(): void;
  close(): void;
  /** How the stream ended, as seen by `read` ('EOF', an errno name), or 'closed'. */
  readonly end: string | undefined;
}

interface World {
  /** What the Handle gets as `fh`. */
  fh: object;
  peer: Peer;
  /** Runs the loop until nothing happens any more. */
  waitIdle(): Promise<void>;
  /** Something that changes whenever anything happened (for idle detection). */
  bump(): void;
  dispose(): void;
}

// ---------------------------------------------------------------------------- sim

function simWorld(record: (e: TraceEvent) => void): World {
  const loop = new SimLoop();
  const [hfh, pfh] = simSocketPair(loop, { capacity: SIM_CAPACITY });
  return {
    fh: hfh,
    peer: fhPeer(pfh, record, () => {}),
    async waitIdle() {
      // A callback that throws aborts the iteration; record it as EV does ("EV: error in
      // callback (ignoring)") and carry on.
      for (;;) {
        try {
          loop.runUntilIdle();
          return;
        } catch (err) {
          record({ ev: 'die', msg: errorMessage(err) });
        }
      }
    },
    bump() {},
    dispose() {
      hfh.close();
      pfh.close();
    },
  };
}

/** driver.pl's Peer over a backend Fh: a write queue flushed as the socket takes it. */
function fhPeer(fh: Fh, record: (e: TraceEvent) => void, bump: () => void): Peer {
  let queue: Buffer[] = [];
  let stopWatch: Cancel | undefined;
  let closed = false;
  let end: string | undefined;
  const flush = () => {
    while (queue.length) {
      const n = fh.write(queue);
      if (n === null) break;
      if (n instanceof IoFailure) {
        record({ ev: 'peer_write_error', code: n.code });
        queue = [];
        break;
      }
      bump();
      queue = dropPrefix(queue, n);
    }
    if (queue.length) stopWatch ??= fh.watchWritable(flush);
    else {
      stopWatch?.();
      stopWatch = undefined;
    }
  };
  return {
    write(data) {
      if (closed) return;
      queue.push(data);
      flush();
    },
    read(max) {
      const got: Buffer[] = [];
      let n = 0;
      let now: string | undefined;
      if (closed || end) return { data: Buffer.alloc(0) };
      while (max === undefined || n < max) {
        const want = Math.min(max === undefined ? 65536 : max - n, 65536);
        const r = fh.read(want);
        if (r === null) break;
        if (r instanceof IoFailure) {
          now = r.code;
          break;
        }
        if (!r.length) {
          now = 'EOF';
          break;
        }
        got.push(r);
        n += r.length;
        bump();
      }
      if (now) end = now;
      return { data: Buffer.concat(got), end: now };
    },
    shutdown() {
      if (!closed) fh.shutdown();
    },
    close() {
      if (closed) return;
      closed = true;
      end ??= 'closed';
      stopWatch?.();
      queue = [];
      fh.close();
    },
    get end() {
      return end;
    },
  };
}

function dropPrefix(chunks: Buffer[], n: number): Buffer[] {
  let i = 0;
  while (i < chunks.length && n >= chunks[i].length) n -= chunks[i++].length;
  const rest = chunks.slice(i);
  if (n && rest.length) rest[0] = rest[0].subarray(n);
  return rest;
}

// ---------------------------------------------------------------------------- node

let server: net.Server | undefined;
let serverPort = 0;
const acceptQueue: Array<(s: net.Socket) => void> = [];

async function listening(): Promise<number> {
  if (!server) {
    server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (s) => acceptQueue.shift()?.(s));
    server.unref();
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    serverPort = (server.address() as net.AddressInfo).port;
  }
  return serverPort;
}

/** Closes the shared listener (for scripts; vitest workers just exit). */
export function closeNodeListener(): void {
  server?.close();
  server = undefined;
}

/** How many quiet loop iterations count as idle on real sockets (then 1 ms, then again). */
const NODE_QUIET_ROUNDS = 4;

async function nodeWorld(record: (e: TraceEvent) => void, direct: boolean): Promise<World> {
  const port = await listening();
  const accepted = new Promise<net.Socket>((resolve) => acceptQueue.push(resolve));
  const client = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject));
  const socket = await accepted;
  const fh = direct ? adoptAccepted(socket) : socket;
  const hsock = fh instanceof net.Socket ? fh : (fh.native as net.Socket);
  // No Nagle, as in driver.pl: a small write must not wait for the ACK of the one before.
  hsock.setNoDelay(true);
  client.setNoDelay(true);
  let activity = 0;
  const bump = () => void activity++;
  const peer = socketPeer(client, record, bump);
  const fingerprint = () =>
    [activity, ...[hsock, client].flatMap((s) => [s.bytesRead, s.bytesWritten, s.readableLength, s.writableLength, s.destroyed, s.readableEnded, s.writableFinished])].join(',');
  const quiet = async () => {
    let last = fingerprint();
    for (let n = 0; n < NODE_QUIET_ROUNDS; ) {
      await immediate();
      const now = fingerprint();
      if (now === last) n++;
      else {
        last = now;
        n = 0;
      }
    }
    return last;
  };
  return {
    fh,
    peer,
    async waitIdle() {
      for (;;) {
        const before = await quiet();
        await sleep(1);
        if ((await quiet()) === before) return;
      }
    },
    bump,
    dispose() {
      hsock.destroy();
      client.destroy();
    },
  };
}

/**
 * The peer on a real socket: a net.Socket left in paused mode (Node reads ahead up to its
 * high-water mark, 16 KiB), read with `socket.read`. Closing with unread data resets the
 * connection, as closing a socket with unread data in the kernel does in Perl.
 */
function socketPeer(socket: net.Socket, record: (e: TraceEvent) => void, bump: () => void): Peer {
  let end: string | undefined;
  let readError: string | undefined;
  let writeError: string | undefined;
  let ended = false;
  let closed = false;
  socket.on('end', () => {
    ended = true;
    bump();
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    bump();
    const code = err.code ?? 'EIO';
    if (err.syscall === 'write') {
      writeError = code;
      record({ ev: 'peer_write_error', code });
    } else readError ??= code;
  });
  // 'readable' keeps Node filling its buffer and emitting 'end' once it is drained.
  socket.on('readable', bump);
  const eofReceived = () => ended || (socket as unknown as { _readableState: { ended: boolean } })._readableState.ended;
  return {
    write(data) {
      if (closed) return;
      // Node destroys the socket on a write error; a syscall would fail again, every time.
      if (writeError) record({ ev: 'peer_write_error', code: writeError });
      // After shutdown(SHUT_WR) a write fails with EPIPE (Node would throw it in later).
      else if (socket.writableEnded) record({ ev: 'peer_write_error', code: 'EPIPE' });
      else if (!socket.destroyed) socket.write(data);
    },
    read(max) {
      if (closed || end) return { data: Buffer.alloc(0) };
      const got: Buffer[] = [];
      let n = 0;
      while (max === undefined || n < max) {
        const available = socket.readableLength;
        if (!available) break;
        const chunk = socket.read(Math.min(available, max === undefined ? available : max - n)) as Buffer | null;
        if (!chunk) break;
        got.push(chunk);
        n += chunk.length;
        bump();
      }
      let now: string | undefined;
      if (!socket.readableLength && (max === undefined || n < max)) {
        if (readError) now = readError;
        else if (eofReceived()) now = 'EOF';
      }
      if (now) end = now;
      return { data: Buffer.concat(got), end: now };
    },
    shutdown() {
      if (!closed) socket.end();
    },
    close() {
      if (closed) return;
      closed = true;
      end ??= 'closed';
      if (socket.readableLength > 0 && !socket.destroyed) socket.resetAndDestroy();
      else socket.destroy();
    },
    get end() {
      return end;
    },
  };
}

// ---------------------------------------------------------------------------- the driver

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function regexOf(src: string | null | undefined, flags = ''): RegExp | null {
  return src === undefined || src === null ? null : new RegExp(src, flags);
}

function handlerParts(spec: HandlerSpec | undefined): { actions: Step[]; max: number | undefined } {
  if (spec === undefined || spec === true) return { actions: [], max: undefined };
  if (Array.isArray(spec)) return { actions: spec, max: undefined };
  return { actions: spec.do ?? [], max: spec.max };
}

class Run {
  readonly trace: Trace = [];
  hdl: Handle | undefined;
  inStep = false;
  readSeq = 0;
  world!: World;

  record = (ev: TraceEvent, h: Handle | undefined = this.hdl): void => {
    if (h && !('r' in ev)) {
      ev.r = h.rbuf.length;
      ev.w = h.wbuf.length;
    }
    // The peer's own events are the harness, not the handle: never marked (on real
    // sockets Node reports the peer's write errors asynchronously anyway).
    if (!this.inStep && !ev.ev.startsWith('peer_')) ev.async = true;
    this.trace.push(ev);
    this.world?.bump();
  };

  mark(i: number, op: string): void {
    this.trace.push({ ev: 'step', i, op });
  }

  handler(kind: 'on_read' | 'on_eof' | 'on_drain', spec: HandlerSpec): (h: Handle) => void {
    const { actions, max } = handlerParts(spec);
    let calls = 0;
    return (h) => {
      this.record(kind === 'on_read' ? { ev: kind, data: bytesOut(h.rbuf) } : { ev: kind }, h);
      if (max === undefined || ++calls <= max) this.actions(h, actions);
    };
  }

  errorHandler(spec: HandlerSpec): (h: Handle, fatal: boolean, msg: string, code: string) => void {
    const { actions, max } = handlerParts(spec);
    let calls = 0;
    return (h, fatal, msg, code) => {
      this.record({ ev: 'on_error', fatal: !!fatal, code, msg }, h);
      if (max === undefined || ++calls <= max) this.actions(h, actions);
    };
  }

  actions(h: Handle, steps: Step[]): void {
    for (const step of steps) this.step(h, step, true);
  }

  /** The arguments of push_read/unshift_read for a read spec. */
  readArgs(spec: ReadSpec): unknown[] {
    const id = spec.id ?? ++this.readSeq;
    const { actions } = handlerParts(spec.do ?? []);
    const t = spec.t;
    if (t === 'cb') {
      const want = spec.want ?? 0;
      return [
        (h: Handle) => {
          if (h.rbuf.length >= want) {
            const data = h.rbuf.subarray(0, want);
            h.rbuf = h.rbuf.subarray(want);
            this.record({ ev: 'read', id, t, args: [bytesOut(data)] }, h);
            this.actions(h, actions);
            return true;
          }
          this.record({ ev: 'poll', id }, h);
          return false;
        },
      ];
    }
    const done = (h: Handle, args: unknown[]) => {
      this.record({ ev: 'read', id, t, args }, h);
      this.actions(h, actions);
    };
    switch (t) {
      case 'chunk':
        return ['chunk', spec.n, (h: Handle, data: Buffer) => done(h, [bytesOut(data)])];
      case 'line': {
        const cb = (h: Handle, line: string, eol: string) => done(h, [utf8Out(line), utf8Out(eol)]);
        if (spec.eol !== undefined) return ['line', dataOf(spec.eol).toString('utf8'), cb];
        if (spec.eol_re !== undefined) return ['line', new RegExp(spec.eol_re, spec.flags ?? ''), cb];
        return ['line', cb];
      }
      case 'regex': {
        const cb = (h: Handle, data: string, m: RegExpExecArray) => {
          const args: unknown[] = [utf8Out(data)];
          if (spec.g) args.push(m?.[1] === undefined ? null : bytesOut(Buffer.from(m[1], 'latin1')));
          done(h, args);
        };
        const res: unknown[] = [regexOf(spec.accept, spec.flags)];
        if ('reject' in spec || 'skip' in spec) res.push(regexOf(spec.reject, spec.flags));
        if ('skip' in spec) res.push(regexOf(spec.skip, spec.flags));
        return ['regex', ...res, cb];
      }
      case 'netstring':
        return ['netstring', (h: Handle, data: Buffer | string) => done(h, [binOut(data)])];
      case 'packstring':
        return ['packstring', spec.fmt, (h: Handle, data: Buffer | string) => done(h, [binOut(data)])];
      case 'json':
        return ['json', (h: Handle, value: unknown) => done(h, [value])];
      default:
        // Anything else goes to the Handle as it is (an unknown type must throw there).
        return [(spec as { t: string }).t, (h: Handle) => done(h, [])];
    }
  }

  step(h: Handle, step: Step, inside: boolean): void {
    const [op] = step;
    if (inside && (op.startsWith('peer_') || op === 'batch' || op === 'idle')) {
      throw new Error(`'${op}' is not allowed inside a callback`);
    }
    const peer = this.world.peer;
    switch (step[0]) {
      case 'write':
        (h.push_write as (...a: unknown[]) => void)(...writeArgs(step[1]));
        break;
      case 'push_read':
        (h.push_read as (...a: unknown[]) => void)(...this.readArgs(step[1]));
        break;
      case 'unshift_read':
        (h.unshift_read as (...a: unknown[]) => void)(...this.readArgs(step[1]));
        break;
      case 'on_read':
        h.on_read(step[1] === null || step[1] === undefined ? null : this.handler('on_read', step[1]));
        break;
      case 'on_eof':
        h.on_eof(step[1] === null || step[1] === undefined ? null : this.handler('on_eof', step[1]));
        break;
      case 'on_drain':
        h.on_drain(step[1] === null || step[1] === undefined ? null : this.handler('on_drain', step[1]));
        break;
      case 'on_error':
        h.on_error(this.errorHandler(step[1] ?? true));
        break;
      case 'stop_read':
        h.stop_read();
        break;
      case 'start_read':
        h.start_read();
        break;
      case 'push_shutdown':
        h.push_shutdown();
        break;
      case 'wbuf_max':
        h.wbuf_max(step[1]);
        break;
      case 'rbuf_max':
        h.rbuf_max(step[1]);
        break;
      case 'low_water_mark':
        if (!h.destroyed()) h.low_water_mark = step[1];
        break;
      case 'read_size':
        if (!h.destroyed()) h.read_size = step[1];
        break;
      case 'autocork':
        h.autocork(!!step[1]);
        break;
      case 'no_delay':
        h.no_delay(!!step[1]);
        break;
      case 'keepalive':
        h.keepalive(!!step[1]);
        break;
      case 'destroy':
        h.destroy();
        break;
      case 'consume':
        if (!h.destroyed()) {
          const len = h.rbuf.length;
          const n = step[1] === 'all' ? len : Math.min(step[1], len);
          h.rbuf = h.rbuf.subarray(n);
        }
        break;
      case 'state':
        this.record(stateEvent('state', h), h);
        break;
      case 'peer_write':
        peer.write(dataOf(step[1]));
        break;
      case 'peer_read':
      case 'peer_drain':
        throw new Error('peer reads are asynchronous; run through stepTop');
      case 'peer_shutdown':
        peer.shutdown();
        break;
      case 'peer_close':
        peer.close();
        break;
      case 'batch':
        throw new Error('batch is asynchronous; run through stepTop');
      case 'idle':
        break;
      default:
        throw new Error(`unknown step '${String(op)}'`);
    }
  }

  /** A top-level step: peer_drain waits for the loop between reads, batch runs its steps. */
  async stepTop(h: Handle, step: Step): Promise<void> {
    const peer = this.world.peer;
    if (step[0] === 'peer_read' || step[0] === 'peer_drain') {
      let data: Buffer;
      let end: string | undefined;
      if (step[0] === 'peer_read') {
        ({ data, end } = peer.read(step[1]));
      } else {
        const got: Buffer[] = [];
        for (let i = 0; i < 10000; i++) {
          const r = peer.read();
          got.push(r.data);
          end ??= r.end;
          if (r.end || !r.data.length) break;
          this.inStep = false;
          await this.world.waitIdle();
          this.inStep = true;
        }
        data = Buffer.concat(got);
      }
      const ev: TraceEvent = { ev: 'peer_read', data: bytesOut(data) };
      if (end) ev.eof = end;
      this.record(ev);
    } else if (step[0] === 'batch') {
      for (const s of step[1]) await this.stepTop(h, s);
    } else {
      this.step(h, step, false);
    }
  }
}

function binOut(data: Buffer | string): unknown {
  return Buffer.isBuffer(data) ? bytesOut(data) : utf8Out(data);
}

function writeArgs(d: WriteSpec): [Buffer] | [string, ...unknown[]] {
  if (typeof d === 'string' || !('t' in d)) return [dataOf(d)];
  switch (d.t) {
    case 'netstring':
      return ['netstring', dataOf(d.data)];
    case 'packstring':
      return ['packstring', d.fmt, dataOf(d.data)];
    case 'json':
      return ['json', d.v];
    default:
      return [(d as { t: string }).t, dataOf((d as { data: DataSpec }).data)];
  }
}

function stateEvent(ev: string, h: Handle): TraceEvent {
  return { ev, rbuf: bytesOut(h.rbuf), r: h.rbuf.length, w: h.wbuf.length, destroyed: h.destroyed() };
}

const OPTIONS = ['read_size', 'max_read_size', 'rbuf_max', 'wbuf_max', 'low_water_mark', 'autocork', 'linger', 'wbuf_max_check'] as const;

/** Runs one scenario on `backend`, returning the trace driver.pl would print for it. */
export async function runScenario(sc: Scenario, backend: BackendName): Promise<Trace> {
  const run = new Run();
  const world = backend === 'sim' ? simWorld(run.record) : await nodeWorld(run.record, backend === 'node-direct');
  run.world = world;
  try {
    const opts: ScenarioOpts = sc.opts ?? {};
    const args: Record<string, unknown> = { fh: world.fh, wbuf_max_check: 'anyevent-7.17' };
    for (const key of Object.keys(opts) as Array<keyof ScenarioOpts>) {
      const value = opts[key];
      if ((OPTIONS as readonly string[]).includes(key)) args[key] = value;
      else if (key === 'on_error') {
        if (value !== null && value !== undefined) args.on_error = run.errorHandler(value as HandlerSpec);
      } else if (key === 'on_read' || key === 'on_eof' || key === 'on_drain') {
        if (value !== null && value !== undefined) args[key] = run.handler(key, value as HandlerSpec);
      } else throw new Error(`unknown option '${key}'`);
    }
    if (!('on_error' in opts)) args.on_error = run.errorHandler(true);

    run.inStep = true;
    run.mark(0, 'new');
    try {
      run.hdl = new Handle(args as unknown as HandleOptions);
    } catch (err) {
      run.record({ ev: 'die', msg: errorMessage(err) });
    }
    run.inStep = false;
    await world.waitIdle();

    let i = 0;
    for (const step of sc.steps) {
      run.inStep = true;
      run.mark(++i, step[0]);
      if (run.hdl) {
        try {
          await run.stepTop(run.hdl, step);
        } catch (err) {
          run.record({ ev: 'die', msg: errorMessage(err) });
        }
      }
      run.inStep = false;
      await world.waitIdle();
    }

    run.inStep = true;
    if (run.hdl) {
      run.record(stateEvent('end', run.hdl), run.hdl);
      run.hdl.destroy();
    }
    run.inStep = false;
    await world.waitIdle();

    const peer = world.peer;
    const got: Buffer[] = [];
    let end = peer.end;
    for (let n = 0; n < 10000 && !end; n++) {
      const r = peer.read();
      got.push(r.data);
      end ??= r.end;
      if (r.end || !r.data.length) break;
      await world.waitIdle();
    }
    run.trace.push({ ev: 'peer_end', data: bytesOut(Buffer.concat(got)), eof: end ?? 'open' });
    peer.close();
    return run.trace;
  } finally {
    world.dispose();
  }
}
