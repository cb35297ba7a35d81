/**
 * The model of a Handle on one end of a simulated socket pair, for the model-based property
 * (fast-check's `fc.commands` / `fc.modelRun`). The other end is driven by the commands
 * directly (PeerSend, PeerRead, PeerStall, PeerClose), so nothing moves unless a command
 * moves it, and every command ends with the loop run until idle (or time advanced).
 *
 * The model is small: byte counts on the write side (pushed, wbuf, in the socket,
 * delivered), the actual bytes on the read side (they are few, and lines need them), the
 * read queue, on_read, whether the handle is reading, read_size, and the callbacks in
 * order. It predicts AnyEvent's drain loop read by read, including the quirks that matter
 * here (on_drain on every write that empties wbuf; on_read(undef) costing one more read;
 * on_eof on every drain after EOF; EPIPE for a reader that cannot finish at EOF).
 *
 * Where the simulation's order is not the model's business, the commands' preconditions
 * keep the schedule clear of it: a peer closes only while the handle has nothing queued
 * (otherwise a read watcher and a write watcher race for the first error).
 */
import { IoFailure } from '../../../lib/backend/Backend.js';
import { SimLoop, patternBytes, simSocketPair, type SimFh } from '../../../lib/backend/sim/index.js';
import { Handle } from '../../../lib/index.js';
import type { WbufMaxCheck } from '../../../lib/handle/options.js';

/** AnyEvent's MAX_READ_SIZE. */
const MAX_READ_SIZE = 131072;
/** Seconds a destroyed handle keeps writing its wbuf out. */
export const LINGER = 2;

/** What an on_read callback does: consume up to `consume` bytes (Infinity: all) and record them. */
export interface OnReadMode {
  consume: number;
}

export type ModelReader = { kind: 'chunk'; n: number } | { kind: 'line' };

export interface Model {
  readonly capacity: number;
  now: number;
  // Write side (counts; the bytes are the test pattern from offset 0).
  pushed: number;
  /** The handle's wbuf; after destroy, what linger still has to write. */
  wbuf: number;
  /** Bytes in the socket towards the peer. */
  toPeer: number;
  /** Bytes the peer has read. */
  delivered: number;
  /** The handle's on_drain is the test's recorder (until push_shutdown replaces it). */
  drainRecorder: boolean;
  /** push_shutdown's on_drain is installed. */
  shutdownRequested: boolean;
  /** shutdown(fh) was called. */
  shutdown: boolean;
  wbufMax: number | undefined;
  // Read side.
  /** Bytes the peer wrote that the handle has not read yet. */
  fromPeer: string;
  rbuf: string;
  queue: ModelReader[];
  onRead: OnReadMode | undefined;
  /** The read watcher is installed. */
  reading: boolean;
  readSize: number;
  eof: boolean;
  // The peer.
  peerShut: boolean;
  peerClosed: boolean;
  /** The handle's reads end in ECONNRESET (the peer closed with unread data, or the handle wrote to a closed peer). */
  handleInReset: boolean;
  /** The peer's reads end in ECONNRESET (the handle's socket closed with unread data, or the peer wrote to it after). */
  peerInReset: boolean;
  /** What the peer's last read past the data returned. */
  peerEnd: 'eof' | 'reset' | undefined;
  // Life.
  destroyed: boolean;
  /** The handle's socket is closed (at once on destroy, or when linger is done). */
  fhClosed: boolean;
  lingerUntil: number | undefined;
  /** Callbacks, in order. */
  events: string[];
}

export interface Real {
  loop: SimLoop;
  hdl: Handle;
  /** The handle's end. */
  fh: SimFh;
  /** The peer's end. */
  peer: SimFh;
  events: string[];
  /** The read watcher is installed (from the instrumentation events). */
  reading: boolean;
  peerReceived: Buffer[];
  peerEnd: 'eof' | 'reset' | undefined;
}

export interface Setup {
  capacity: number;
  readSize: number;
  /** The wbuf_max_check option; 'default' leaves it out (the default must be 'checked'). */
  mode: WbufMaxCheck | 'default';
}

export function setup(s: Setup): { model: Model; real: Real } {
  const loop = new SimLoop();
  const [fh, peer] = simSocketPair(loop, { capacity: s.capacity });
  const events: string[] = [];
  const real: Real = { loop, hdl: undefined as unknown as Handle, fh, peer, events, reading: false, peerReceived: [], peerEnd: undefined };
  real.hdl = new Handle({
    fh,
    read_size: s.readSize,
    linger: LINGER,
    ...(s.mode === 'default' ? {} : { wbuf_max_check: s.mode }),
    on_error: (_h, fatal, _message, code) => events.push(`error:${code}${fatal ? ':fatal' : ''}`),
    on_eof: () => events.push('eof'),
    on_drain: () => events.push('drain'),
  });
  real.hdl.events.on('resume', () => (real.reading = true));
  real.hdl.events.on('pause', () => (real.reading = false));
  real.hdl.events.on('eof', () => (real.reading = false));
  const model: Model = {
    capacity: s.capacity,
    now: 0,
    pushed: 0,
    wbuf: 0,
    toPeer: 0,
    delivered: 0,
    drainRecorder: true,
    shutdownRequested: false,
    shutdown: false,
    wbufMax: undefined,
    fromPeer: '',
    rbuf: '',
    queue: [],
    onRead: undefined,
    reading: false,
    readSize: s.readSize,
    eof: false,
    peerShut: false,
    peerClosed: false,
    handleInReset: false,
    peerInReset: false,
    peerEnd: undefined,
    destroyed: false,
    fhClosed: false,
    lingerUntil: undefined,
    // on_drain set on a drained handle is called at once, at construction too.
    events: ['drain'],
  };
  return { model, real };
}

// ------------------------------------------------------------------------------- the real side's callbacks

export function chunkCallback(real: Real) {
  return (_h: Handle, data: Buffer) => void real.events.push(`chunk:${data.toString('latin1')}`);
}

export function lineCallback(real: Real) {
  return (_h: Handle, line: string) => void real.events.push(`line:${line}`);
}

export function onReadCallback(real: Real, mode: OnReadMode) {
  return (h: Handle) => {
    const rbuf = h.rbuf;
    const n = Math.min(mode.consume, rbuf.length);
    h.rbuf = rbuf.subarray(n);
    real.events.push(`read:${rbuf.subarray(0, n).toString('latin1')}`);
  };
}

/** The peer reads up to `n` bytes, as SimPeer would; records data, EOF or a reset. */
export function peerRead(real: Real, n: number): void {
  const result = real.peer.read(n);
  if (result === null) return;
  if (result instanceof IoFailure) real.peerEnd = result.code === 'ECONNRESET' ? 'reset' : real.peerEnd;
  else if (result.length === 0) real.peerEnd = 'eof';
  else real.peerReceived.push(result);
}

// ------------------------------------------------------------------------------- the model's handle

function error(m: Model, code: string, fatal: boolean): void {
  if (m.destroyed) return;
  m.events.push(`error:${code}${fatal ? ':fatal' : ''}`);
  if (fatal) destroy(m);
}

/** `destroy`: stop everything; a non-empty wbuf lingers, otherwise the socket closes now. */
export function destroy(m: Model): void {
  m.destroyed = true;
  m.reading = false;
  m.queue = [];
  m.rbuf = '';
  m.onRead = undefined;
  m.drainRecorder = m.shutdownRequested = false;
  if (m.wbuf > 0) m.lingerUntil = m.now + LINGER;
  else closeFh(m);
}

/** `close` on the handle's socket. */
function closeFh(m: Model): void {
  m.fhClosed = true;
  m.wbuf = 0;
  m.lingerUntil = undefined;
  // Unread incoming data: the close is a reset for the peer.
  if (m.fromPeer.length > 0) m.peerInReset = true;
  m.fromPeer = '';
}

/** One write attempt of the write watcher (or push_write's immediate one): `#writeReady`. */
function writeOnce(m: Model): void {
  if (m.shutdown) return error(m, 'EPIPE', true);
  if (m.peerClosed) {
    m.handleInReset = true;
    return error(m, 'EPIPE', true);
  }
  const room = m.capacity - m.toPeer;
  if (room <= 0) return;
  const n = Math.min(room, m.wbuf);
  m.wbuf -= n;
  m.toPeer += n;
  if (m.wbuf === 0) {
    if (m.drainRecorder) m.events.push('drain');
    if (m.shutdownRequested) m.shutdown = true;
  }
}

/** `push_write` of `n` bytes; the corrected wbuf_max check ('checked') after it. */
export function pushWrite(m: Model, n: number): void {
  if (m.destroyed) return;
  const watcher = m.wbuf > 0;
  m.pushed += n;
  m.wbuf += n;
  if (!watcher && m.wbuf > 0) {
    writeOnce(m);
    if (m.destroyed) return;
  }
  if (m.wbufMax !== undefined && m.wbuf > m.wbufMax) error(m, 'ENOSPC', true);
}

export function pushShutdown(m: Model): void {
  if (m.destroyed) return;
  m.drainRecorder = false;
  m.shutdownRequested = true;
  if (m.wbuf === 0) m.shutdown = true;
}

/** Whether the front reader can finish with what rbuf holds; consumes and records if so. */
function serve(m: Model, reader: ModelReader): boolean {
  if (reader.kind === 'chunk') {
    if (m.rbuf.length < reader.n) return false;
    m.events.push(`chunk:${m.rbuf.slice(0, reader.n)}`);
    m.rbuf = m.rbuf.slice(reader.n);
    return true;
  }
  const lf = m.rbuf.indexOf('\n');
  if (lf < 0) return false;
  const end = lf > 0 && m.rbuf[lf - 1] === '\r' ? lf - 1 : lf;
  m.events.push(`line:${m.rbuf.slice(0, end)}`);
  m.rbuf = m.rbuf.slice(lf + 1);
  return true;
}

/** AnyEvent's `_drain_rbuf`: the queue first, then on_read, then EOF, then restart reading. */
export function drain(m: Model): void {
  if (m.destroyed) return;
  for (;;) {
    const len = m.rbuf.length;
    const reader = m.queue[0];
    if (reader) {
      if (!serve(m, reader)) {
        // No progress possible: not enough data, and none is coming.
        if (m.eof) return error(m, 'EPIPE', true);
        break;
      }
      m.queue.shift();
    } else if (m.onRead) {
      if (!len) break;
      const n = Math.min(m.onRead.consume, len);
      m.events.push(`read:${m.rbuf.slice(0, n)}`);
      m.rbuf = m.rbuf.slice(n);
      if (n === 0) {
        if (m.eof) return error(m, 'EPIPE', true);
        break;
      }
    } else {
      // The read side goes idle.
      m.reading = false;
      break;
    }
  }
  if (m.eof) {
    // AnyEvent calls on_eof at the end of every drain once EOF was read.
    m.events.push('eof');
    return;
  }
  if (!m.reading && (m.onRead || m.queue.length)) m.reading = true;
}

export function startRead(m: Model): void {
  if (!m.destroyed && !m.eof && !m.fhClosed) m.reading = true;
}

/** One read of the read watcher. Returns false when nothing was there to read. */
function readOnce(m: Model): boolean {
  if (m.fromPeer.length > 0) {
    const size = m.readSize;
    const n = Math.min(size, m.fromPeer.length);
    m.rbuf += m.fromPeer.slice(0, n);
    m.fromPeer = m.fromPeer.slice(n);
    drain(m);
    if (m.destroyed) return true;
    if (n === size) m.readSize = Math.min(size * 2, MAX_READ_SIZE);
    return true;
  }
  if (m.handleInReset) {
    error(m, 'ECONNRESET', true);
    return true;
  }
  if (m.peerClosed || m.peerShut) {
    m.reading = false;
    m.eof = true;
    drain(m);
    return true;
  }
  return false;
}

/** The loop run until idle: the read watcher reads while it is installed and data (or EOF) is there; the write watcher, or linger, writes while there is room. */
export function settle(m: Model): void {
  for (let guard = 0; guard < 100_000; guard++) {
    let moved = false;
    if (!m.destroyed && m.wbuf > 0 && (m.toPeer < m.capacity || m.shutdown || m.peerClosed)) {
      const before = m.wbuf;
      writeOnce(m);
      moved = m.destroyed || m.wbuf !== before;
    } else if (m.destroyed && !m.fhClosed) {
      // linger: write what fits; once all is written, the next writable event closes; a
      // failed write (our own shutdown, a closed peer) closes at once.
      if (m.peerClosed || m.shutdown) {
        closeFh(m);
        moved = true;
      } else if (m.toPeer < m.capacity) {
        if (m.wbuf > 0) {
          const n = Math.min(m.capacity - m.toPeer, m.wbuf);
          m.wbuf -= n;
          m.toPeer += n;
        } else {
          closeFh(m);
        }
        moved = true;
      }
    }
    if (!m.destroyed && m.reading) moved = readOnce(m) || moved;
    if (!moved) return;
  }
  throw new Error('model: settle did not become idle');
}

/** Virtual time passes: linger gives up at its deadline. */
export function advance(m: Model, seconds: number): void {
  settle(m);
  m.now += seconds;
  if (m.lingerUntil !== undefined && !m.fhClosed && m.now >= m.lingerUntil) closeFh(m);
  settle(m);
}

/** The peer reads up to `n` bytes. */
export function modelPeerRead(m: Model, n: number): void {
  if (m.toPeer > 0) {
    const k = Math.min(n, m.toPeer);
    m.toPeer -= k;
    m.delivered += k;
  } else if (m.peerInReset) {
    m.peerEnd = 'reset';
  } else if (m.shutdown || m.fhClosed) {
    m.peerEnd = 'eof';
  }
}

/** The peer writes `data`; returns what the socket accepted (-1: EPIPE). */
export function modelPeerSend(m: Model, data: string): number {
  if (m.peerShut) return -1;
  if (m.fhClosed) {
    m.peerInReset = true;
    return -1;
  }
  const n = Math.min(m.capacity - m.fromPeer.length, data.length);
  m.fromPeer += data.slice(0, n);
  return n;
}

export function modelPeerClose(m: Model, kind: 'shutdown' | 'close'): void {
  m.peerShut = true;
  if (kind === 'close') {
    m.peerClosed = true;
    if (m.toPeer > 0) m.handleInReset = true;
    m.toPeer = 0;
  }
}

// ------------------------------------------------------------------------------- comparison

function fail(what: string, model: unknown, real: unknown): never {
  throw new Error(`model and handle disagree on ${what}: model ${JSON.stringify(model)}, handle ${JSON.stringify(real)}`);
}

/** Everything the model predicts, against the real handle, socket and peer. */
export function compare(m: Model, r: Real): void {
  if (m.events.length !== r.events.length || m.events.some((e, i) => e !== r.events[i])) fail('the callbacks', m.events, r.events);
  if (m.destroyed !== r.hdl.destroyed()) fail('destroyed', m.destroyed, r.hdl.destroyed());
  if (!m.destroyed) {
    if (r.hdl.wbuf.length !== m.wbuf) fail('wbuf', m.wbuf, r.hdl.wbuf.length);
    const rbuf = r.hdl.rbuf.toString('latin1');
    if (rbuf !== m.rbuf) fail('rbuf', m.rbuf, rbuf);
    if (r.reading !== m.reading) fail('reading', m.reading, r.reading);
    if (r.hdl.read_size !== m.readSize) fail('read_size', m.readSize, r.hdl.read_size);
  }
  if (r.fh.closed !== m.fhClosed) fail('the socket closed', m.fhClosed, r.fh.closed);
  if (r.peer.available() !== m.toPeer) fail('bytes on the way to the peer', m.toPeer, r.peer.available());
  if (!m.fhClosed && r.fh.available() !== m.fromPeer.length) fail('bytes on the way to the handle', m.fromPeer.length, r.fh.available());
  const received = Buffer.concat(r.peerReceived);
  if (received.length !== m.delivered) fail('bytes delivered', m.delivered, received.length);
  if (!received.equals(patternBytes(0, received.length))) fail('the bytes delivered', 'the test pattern', 'other bytes');
  if (r.peerEnd !== m.peerEnd) fail("the peer's end of stream", m.peerEnd, r.peerEnd);
}

/** The command interface of this model (fast-check's shape). */
export type HandleCommand = import('fast-check').Command<Model, Real>;
