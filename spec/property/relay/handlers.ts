/**
 * Runs one schedule on one of the three proxy handlers, on a fresh SimLoop, with
 * backpressure on or off, and reports what the properties check: what each destination
 * received against what its source sent, whether the transfer completed (and when, in
 * virtual time), the wbuf at every step, the handler's total buffered bytes, and pauses.
 *
 * The setups are those of spec/unit/proxy/*.test.ts and wsSim.ts, with every size and
 * rate taken from the schedule.
 *
 * Which directions must arrive whole (`mustComplete`) follows from how the schedule ends:
 * - nobody ends: every direction;
 * - a peer half-closes (shutdown), at any time, paused or not: what that peer sent (the
 *   tail: the proxy flushes it on EOF and lingers until it is written); the other
 *   direction is cut when the session ends, so only a prefix of it is required;
 * - a peer closes: what it sent only when the proxy writes nothing to it (a backend that
 *   only sends, a stream producer). A client always gets the 200/101 header, and the
 *   simulated socket fails a write to a closed peer with EPIPE at once, which ends the
 *   session then (Linux would take that first write and fail the next one).
 * Every direction must always be a prefix of what was sent: no byte lost in the middle,
 * duplicated or reordered.
 */
import { SimLoop, SimPeer, patternBytes, simSocketPair, type SimFh } from '../../../lib/backend/sim/index.js';
import { Handle } from '../../../lib/index.js';
import { ProxySession, type Direction, type SessionHooks } from '../../../lib/proxy/ProxySession.js';
import { response_stream } from '../../../lib/proxy/response_stream.js';
import { spice_proxy } from '../../../lib/proxy/spice_proxy.js';
import { websocket_proxy } from '../../../lib/proxy/websocket_proxy.js';
import { frame, OPCODE } from '../../../lib/proxy/ws/frame.js';
import { FrameParser } from '../../../lib/proxy/ws/FrameParser.js';
import { BufferWatch, type Bounds, type Observation } from './observe.js';
import { KiB, MiB, deadline, peerOptions, type EndPlan, type PeerPlan, type ReaderPlan, type SenderPlan } from './schedule.js';

/** AnyEvent's MAX_READ_SIZE: the most one read can bring (every handle here keeps read_size ≤ this). */
export const ONE_READ = 128 * KiB;

/** Largest transfer any schedule makes, per direction. */
const MAX_BYTES = 8 * MiB;
/** What backends and producers send: the test pattern from offset 0 (SimPeer's `send: n`). */
const BACKEND_DATA = patternBytes(0, MAX_BYTES);
/** What clients send: the pattern at another phase, so that a byte sent the wrong way shows. */
const CLIENT_DATA = patternBytes(12_345, MAX_BYTES);

export interface DirectionOutcome {
  /** Everything the source handed to its socket. */
  sent: Buffer;
  /** Everything the destination peer received (payloads, for websocket). */
  delivered: Buffer;
  /** Whether `delivered` must equal `sent` (otherwise a prefix is enough). */
  mustComplete: boolean;
}

export interface RunOutcome extends Observation {
  backpressure: boolean;
  /** runUntil's answer: the transfer completed before the deadline (false: stuck, or too slow). */
  done: boolean;
  /** Virtual seconds from the start to completion (or to the deadline). */
  time: number;
  deadline: number;
  directions: Partial<Record<Direction, DirectionOutcome>>;
  pauses: Record<Direction, number>;
  closed: boolean;
  closeReason: string | undefined;
  /** A source's peer ended (shutdown or close) while the proxy had paused reading from it. */
  endedWhilePaused: boolean;
  /** Problems found while running (a malformed stream, a header that is not a prefix). */
  problems: string[];
  /** websocket only. */
  pings?: PingOutcome;
  /** Why this run's time must not be compared with the other mode's (a known bug; see checks.ts). */
  untimed?: string;
  /** The handlers' on_eof callbacks: how often they ran, and how often rbuf still held bytes then (what the patch's EOF flush is for). */
  onEof: EofSeen;
}

export interface EofSeen {
  calls: number;
  withBytes: number;
}

/**
 * Wraps the on_eof a handler installed on `hdl` to count its calls and those with bytes
 * still in rbuf, then calls it unchanged: pure observation.
 */
function watchOnEof(hdl: Handle | undefined, seen: EofSeen): void {
  const original = hdl?.callback('on_eof');
  if (!hdl || !original) return;
  hdl.on_eof((h) => {
    seen.calls++;
    if (h.rbuf.length) seen.withBytes++;
    original(h);
  });
}

/**
 * A source peer's end, watched from outside: `finished` once its `sentBytes` can no longer
 * grow (it sent everything, or it ended), and whether the proxy had paused reading from it
 * at the moment it ended (half-closed or closed).
 */
class SourceEnd {
  finished = false;
  endedWhilePaused = false;
  #ended = false;

  constructor(
    private readonly loop: SimLoop,
    private readonly peer: () => SimPeer | undefined,
    private readonly end: EndPlan | undefined,
    private readonly sourceHdl: () => Handle | undefined,
  ) {}

  /**
   * Call right after the peer was constructed: a timer posted now is created after the
   * peer's own end timer, so at the same instant it fires after the peer has ended.
   */
  arm(): void {
    const at = this.end?.at;
    if (typeof at === 'number') this.loop.post(() => this.loop.timer(at, () => this.#end()));
  }

  /** Polled on every iteration: the source is done once it sent everything, or ended. */
  poll(): boolean {
    if (!this.finished && this.peer()?.sendDone) {
      this.finished = true;
      if (this.end?.at === 'sent') this.#end();
    }
    return this.finished;
  }

  #end(): void {
    if (this.#ended) return;
    this.#ended = this.finished = true;
    const hdl = this.sourceHdl();
    // Paused by backpressure: no on_read, so no read watcher, so the EOF is not seen yet.
    if (hdl && !hdl.destroyed() && hdl.callback('on_read') === undefined) this.endedWhilePaused = true;
  }
}

function isPrefix(delivered: Buffer, sent: Buffer): boolean {
  return delivered.length <= sent.length && delivered.equals(sent.subarray(0, delivered.length));
}

/** Problems with one direction: not a prefix, or incomplete when it had to be whole. */
export function directionProblems(name: string, d: DirectionOutcome): string[] {
  const out: string[] = [];
  if (!isPrefix(d.delivered, d.sent)) {
    let at = 0;
    while (at < d.delivered.length && at < d.sent.length && d.delivered[at] === d.sent[at]) at++;
    out.push(`${name}: delivered ${d.delivered.length} of ${d.sent.length} bytes, differing at byte ${at}`);
  } else if (d.mustComplete && d.delivered.length !== d.sent.length) {
    out.push(`${name}: delivered only ${d.delivered.length} of ${d.sent.length} bytes`);
  }
  return out;
}

/**
 * Runs the loop until `data()` and `rest()` both hold, or the deadline. `data`: every byte
 * that had to arrive has arrived at its destination peer; `rest`: everything else a
 * complete run ends with (the session closed, a lingering socket closed, pongs read).
 * Returns whether it completed, and the virtual time at which `data` first held (the
 * transfer time the properties compare), or the deadline.
 */
function drive(loop: SimLoop, data: () => boolean, rest: () => boolean, maxSeconds: number): [boolean, number] {
  let dataTime: number | undefined;
  const done = loop.runUntil(() => {
    if (!data()) return false;
    dataTime ??= loop.now();
    return rest();
  }, maxSeconds);
  return [done, dataTime ?? loop.now()];
}

/** The destination side of `fh` has taken everything: nothing queued in the handle, nothing unread in the socket. */
function flushed(hdl: Handle, fh: SimFh): boolean {
  return (hdl.destroyed() ? fh.closed : hdl.wbuf.length === 0) && fh.buffered() === 0;
}

/** The sides of a spice or websocket run that relayWorld sets up. */
interface RelaySides {
  client: { end?: EndPlan };
  backend: PeerPlan;
  capacity: { clientToProxy: number; proxyToClient: number; backend: number };
  readSize: { client: number; backend: number };
}

/**
 * What a spice or websocket run starts from: the loop, the session and its buffer watch, a
 * backend peer accepted on `port`, and the proxy's client handle (as the front leaves it)
 * with its simulated socket; the client peer starts when the caller has hooked in
 * (`startClient`).
 */
function relayWorld(port: number, s: RelaySides, bounds: Bounds, backpressure: boolean, hooks?: SessionHooks) {
  const loop = new SimLoop();
  const session = new ProxySession(hooks);
  const watch = new BufferWatch(loop, bounds, backpressure);
  /** The backend peer once accepted, the client peer once started. */
  const peers: { backend?: SimPeer; client?: SimPeer } = {};
  const ends = {
    client: new SourceEnd(loop, () => peers.client, s.client.end, () => session.hdl),
    backend: new SourceEnd(loop, () => peers.backend, s.backend.end, () => session.proxyhdl),
  };
  loop.listen(
    port,
    (fh) => {
      peers.backend = new SimPeer(fh, peerOptions(s.backend));
      ends.backend.arm();
    },
    { capacity: s.capacity.backend },
  );
  const [proxySide, clientSide] = simSocketPair(loop, { capacityAtoB: s.capacity.proxyToClient, capacityBtoA: s.capacity.clientToProxy });
  const hdl = new Handle({
    fh: proxySide,
    rbuf_max: 64 * KiB,
    read_size: s.readSize.client,
    linger: 30,
    on_error: (_h, _f, message) => session.disconnect(message),
    on_eof: () => session.disconnect(),
  });
  session.hdl = hdl;
  watch.destination(hdl, 'to_client');
  return {
    loop,
    session,
    watch,
    ends,
    hdl,
    proxySide,
    peers,
    startClient(plan: PeerPlan, data: Buffer): SimPeer {
      const client = (peers.client = new SimPeer(clientSide, peerOptions(plan, data)));
      ends.client.arm();
      return client;
    },
  };
}

// ------------------------------------------------------------------------------- spice

export interface SpiceSchedule {
  /** The write limit per direction (pveproxy: 640 KiB). */
  limit: number;
  client: PeerPlan;
  backend: PeerPlan;
  capacity: { clientToProxy: number; proxyToClient: number; backend: number };
  readSize: { client: number; backend: number };
}

const SPICE_OK = Buffer.from('HTTP/1.1 200 OK\r\n\r\n');

/**
 * spice_proxy's bound with backpressure: each destination wbuf ≤ limit + one read (128 KiB):
 * a reader pushes all of rbuf (one read) and only then compares with the limit. The total,
 * rbuf + wbuf of both handles at any event: both wbufs at their bound, plus one read in
 * the rbuf of the handle being read (a relay reader always empties rbuf, also when it
 * pauses, so the other rbuf is empty).
 */
export function spiceBounds(limit: number): Bounds {
  const wbuf = limit + ONE_READ;
  return { wbuf: { to_client: wbuf, to_backend: wbuf }, total: 2 * wbuf + ONE_READ };
}

export function runSpice(s: SpiceSchedule, backpressure: boolean): RunOutcome {
  const world = relayWorld(5900, s, spiceBounds(s.limit), backpressure);
  const { loop, session, watch, ends, peers } = world;
  const client = world.startClient(s.client, CLIENT_DATA.subarray(0, s.client.send));
  const onEof: EofSeen = { calls: 0, withBytes: 0 };
  spice_proxy(session, {
    target: { host: '127.0.0.1', port: 5900 },
    loop,
    backpressure,
    wbufLimit: s.limit,
    started: (started) => watchOnEof(started.hdl, onEof),
  });
  const proxyhdl = session.proxyhdl!;
  watchOnEof(proxyhdl, onEof);
  proxyhdl.read_size = s.readSize.backend;
  watch.destination(proxyhdl, 'to_backend');

  const ender = s.client.end ? 'client' : s.backend.end ? 'backend' : undefined;
  const mustComplete: Record<Direction, boolean> = {
    // backend → client
    to_client: !ender || (ender === 'backend' && (s.backend.end!.kind === 'shutdown' || s.client.send === 0)),
    // client → backend
    to_backend: !ender || (ender === 'client' && s.client.end!.kind === 'shutdown'),
  };
  const data = () => {
    const clientDone = ends.client.poll();
    const backendDone = ends.backend.poll();
    if (mustComplete.to_client && !(backendDone && peers.backend && client.receivedBytes === SPICE_OK.length + peers.backend.sentBytes)) return false;
    if (mustComplete.to_backend && !(clientDone && peers.backend && peers.backend.receivedBytes === client.sentBytes)) return false;
    return true;
  };
  const rest = () => {
    if (!ender) return true;
    if (!session.closed) return false;
    // The lingering destination is closed once it has written everything out.
    if (mustComplete.to_client && !(client.eof || client.error)) return false;
    if (mustComplete.to_backend && !(peers.backend?.eof || peers.backend?.error)) return false;
    return true;
  };
  const limitSeconds = deadline({ readers: [s.client, s.backend], senders: [s.client, s.backend], endAt: endTime(s.client.end, s.backend.end) });
  const [done, time] = drive(loop, data, rest, limitSeconds);

  const received = client.received;
  const problems: string[] = [];
  const header = received.subarray(0, SPICE_OK.length);
  if (!isPrefix(header, SPICE_OK)) problems.push(`client: the response does not start with 200 OK: ${JSON.stringify(header.toString())}`);
  return {
    backpressure,
    done,
    time,
    deadline: limitSeconds,
    directions: {
      to_client: {
        sent: BACKEND_DATA.subarray(0, peers.backend?.sentBytes ?? 0),
        delivered: received.subarray(SPICE_OK.length),
        mustComplete: mustComplete.to_client,
      },
      to_backend: {
        sent: CLIENT_DATA.subarray(0, client.sentBytes),
        delivered: peers.backend?.received ?? Buffer.alloc(0),
        mustComplete: mustComplete.to_backend,
      },
    },
    pauses: { to_client: session.stats.to_client.pauses, to_backend: session.stats.to_backend.pauses },
    closed: session.closed,
    closeReason: session.closeReason,
    endedWhilePaused: ends.client.endedWhilePaused || ends.backend.endedWhilePaused,
    problems,
    peakWbuf: watch.peakWbuf,
    peakTotal: watch.peakTotal,
    violation: watch.violation,
    onEof,
  };
}

function endTime(...ends: Array<EndPlan | undefined>): number {
  return Math.max(0, ...ends.map((e) => (typeof e?.at === 'number' ? e.at : 0)));
}

// ------------------------------------------------------------------------------- websocket

/** One client frame: data (binary or text) of `size` bytes, or a ping with a payload of `size` bytes (≤ 125). */
export type WsItem = { kind: 'data'; size: number; text: boolean } | { kind: 'ping'; size: number };

export interface WsSchedule {
  items: WsItem[];
  /** Mask client frames with a random-looking key (true) or the all-zero key (false). */
  mask: boolean;
  /** How the client sends its frames (the bytes come from `items`), reads, and ends. */
  client: Omit<PeerPlan, 'send'>;
  backend: PeerPlan;
  capacity: { clientToProxy: number; proxyToClient: number; backend: number };
  readSize: { client: number; backend: number };
}

/** The bytes a client sends for `items`, and where each frame ends. */
export interface ClientStream {
  bytes: Buffer;
  /** A copy of `bytes`, to check that nobody wrote into the sender's memory. */
  pristine: Buffer;
  /** Per frame: the stream offset after it, the data bytes before and including it, and the ping index (pings only). */
  frames: Array<{ end: number; dataEnd: number; ping?: number }>;
  pings: Buffer[];
  /** Data bytes in the whole stream. */
  dataBytes: number;
}

const MASK_KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
const ZERO_KEY = Buffer.alloc(4);

export function pingPayload(index: number, size: number): Buffer {
  const tag = `#${index}:`;
  return Buffer.from((tag + '.'.repeat(125)).slice(0, Math.max(size, tag.length)));
}

export function clientStream(items: WsItem[], mask: boolean): ClientStream {
  const key = mask ? MASK_KEY : ZERO_KEY;
  const parts: Buffer[] = [];
  const frames: ClientStream['frames'] = [];
  const pings: Buffer[] = [];
  let offset = 0;
  let data = 0;
  for (const item of items) {
    let header: Buffer;
    let payload: Buffer;
    let ping: number | undefined;
    if (item.kind === 'data') {
      [header, payload] = frame(CLIENT_DATA.subarray(data, data + item.size), { opcode: item.text ? OPCODE.TEXT : OPCODE.BINARY, mask: key });
      data += item.size;
    } else {
      ping = pings.length;
      pings.push(pingPayload(ping, item.size));
      [header, payload] = frame(pings[ping], { opcode: OPCODE.PING, mask: key });
    }
    parts.push(header, payload);
    offset += header.length + payload.length;
    frames.push({ end: offset, dataEnd: data, ping });
  }
  const bytes = Buffer.concat(parts, offset);
  return { bytes, pristine: Buffer.from(bytes), frames, pings, dataBytes: data };
}

export interface PingOutcome {
  /** Payloads of the pings the client sent completely, in order. */
  sent: Buffer[];
  /** Payloads of the pongs the client received, in order. */
  answered: Buffer[];
  /** Whether every ping sent must have been answered. */
  mustAnswerAll: boolean;
  /**
   * For each pong the proxy queued: the client data bytes it had relayed to the backend
   * when it did, and how many data bytes the client sent before that ping. A pong never
   * overtakes the data in front of its ping.
   */
  order: Array<{ relayed: number; before: number }>;
  /** Pings the proxy read while its reading from the client had been paused at least once. */
  afterPause: number;
}

/** The 101 response websocket_proxy sends (accept 'x', protocol 'binary'). */
const WS_101 = Buffer.from(
  'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n' +
    'Sec-WebSocket-Accept: x\r\nSec-WebSocket-Protocol: binary\r\n\r\n',
);

/** A pong frame as the proxy queues it: header 2 bytes (payload ≤ 125) + payload. */
function pongBytes(pings: Buffer[]): number {
  return pings.reduce((n, p) => n + 2 + p.length, 0);
}

/**
 * websocket_proxy's bound with backpressure, where L = 5 × 128 KiB and M = 128 KiB:
 * - client wbuf ≤ L + one frame (M + 10 bytes of header) + the pongs of the schedule's
 *   pings (2 + payload each): pongs are queued without looking at the limit, as in the
 *   original (see the pong-flood regression);
 * - backend wbuf ≤ L + M (one payload);
 * - total ≤ both wbufs + the client's rbuf (a partial frame, < M + 14, plus one read) +
 *   the backend's rbuf (one read).
 */
export function wsBounds(pongs: number, maxPayload = 128 * KiB): Bounds {
  const limit = 5 * maxPayload;
  const toClient = limit + maxPayload + 10 + pongs;
  const toBackend = limit + maxPayload;
  return { wbuf: { to_client: toClient, to_backend: toBackend }, total: toClient + toBackend + (maxPayload + 13 + ONE_READ) + ONE_READ };
}

export function runWebsocket(s: WsSchedule, stream: ClientStream, backpressure: boolean): RunOutcome {
  const hooks: SessionHooks = {};
  const world = relayWorld(6000, s, wsBounds(pongBytes(stream.pings)), backpressure, hooks);
  const { loop, session, watch, ends, hdl, peers, proxySide } = world;

  // Bytes queued to the client so far (what the kernel took, plus wbuf: this does not depend
  // on how the handler splits its push_writes), and where the last data frame queued ends:
  // the proxy reports a relayed payload of n bytes, then queues its header and the payload.
  let written = 0;
  hdl.events.on('write', (n) => (written += n));
  let dataPushedEnd = 0;
  hooks.relayed = (_s, direction, n) => {
    if (direction === 'to_client') dataPushedEnd = written + hdl.wbuf.length + (n <= 125 ? 2 : n <= 0xffff ? 4 : 10) + n;
  };
  // Pongs: record, when the proxy queues one, how much client data it had relayed by then.
  // A pong is queued as its header (0x8A, length) and body, in one push_write or two.
  const order: PingOutcome['order'] = [];
  let afterPause = 0;
  const pingsBefore = stream.frames.filter((f) => f.ping !== undefined).map((f) => f.dataEnd);
  const push = hdl.push_write.bind(hdl) as (...args: unknown[]) => void;
  hdl.push_write = ((...args: unknown[]) => {
    const data = args[0];
    const first = Array.isArray(data) ? data[0] : data;
    if (args.length === 1 && Buffer.isBuffer(first) && first.length >= 2 && first[0] === (0x80 | OPCODE.PONG) && first[1] <= 125) {
      order.push({ relayed: session.stats.to_backend.bytes, before: pingsBefore[order.length] ?? -1 });
      if (session.stats.to_backend.pauses > 0) afterPause++;
    }
    push(...args);
  }) as Handle['push_write'];

  const client = world.startClient({ ...s.client, send: stream.bytes.length }, stream.bytes);
  const onEof: EofSeen = { calls: 0, withBytes: 0 };
  websocket_proxy(session, {
    target: { host: '127.0.0.1', port: 6000 },
    accept: 'x',
    protocol: 'binary',
    loop,
    backpressure,
    started: (started) => watchOnEof(started.hdl, onEof),
  });
  const proxyhdl = session.proxyhdl!;
  watchOnEof(proxyhdl, onEof);
  proxyhdl.read_size = s.readSize.backend;
  watch.destination(proxyhdl, 'to_backend');

  const ender = s.client.end ? 'client' : s.backend.end ? 'backend' : undefined;
  const mustComplete: Record<Direction, boolean> = {
    to_client: !ender || (ender === 'backend' && (s.backend.end!.kind === 'shutdown' || stream.bytes.length === 0)),
    to_backend: !ender || (ender === 'client' && s.client.end!.kind === 'shutdown'),
  };
  /** Client data in the frames the client sent completely. */
  const dataSent = () => {
    let data = 0;
    for (const f of stream.frames) {
      if (f.end > client.sentBytes) break;
      data = f.dataEnd;
    }
    return data;
  };
  const pingsSent = () => {
    let n = 0;
    for (const f of stream.frames) {
      if (f.end > client.sentBytes) break;
      if (f.ping !== undefined) n++;
    }
    return n;
  };
  const dataDone = () => {
    const clientDone = ends.client.poll();
    const backendDone = ends.backend.poll();
    // Backend → client: everything relayed, and the client has read up to the end of the last data frame.
    const dataEnd = Math.max(dataPushedEnd, WS_101.length);
    if (mustComplete.to_client && !(backendDone && peers.backend && session.stats.to_client.bytes === peers.backend.sentBytes && client.receivedBytes >= dataEnd)) {
      return false;
    }
    if (mustComplete.to_backend && !(clientDone && peers.backend && peers.backend.receivedBytes === dataSent())) return false;
    return true;
  };
  const rest = () => {
    // Every ping the client sent was answered, and the client has read everything the proxy wrote to it.
    if (mustComplete.to_backend && order.length !== pingsSent()) return false;
    if ((mustComplete.to_client || mustComplete.to_backend) && !flushed(hdl, proxySide)) return false;
    if (!ender) return true;
    if (!session.closed) return false;
    if (mustComplete.to_client && !(client.eof || client.error)) return false;
    if (mustComplete.to_backend && !(peers.backend?.eof || peers.backend?.error)) return false;
    return true;
  };
  const limitSeconds = deadline({
    readers: [s.client, s.backend],
    senders: [{ send: stream.bytes.length, sendRate: s.client.sendRate }, s.backend],
    endAt: endTime(s.client.end, s.backend.end),
  });
  const [done, time] = drive(loop, dataDone, rest, limitSeconds);

  // What the client received: the 101, then frames (binary data from the backend, pongs).
  const problems: string[] = [];
  // The simulated socket hands the reader views of the writer's Buffers (no copy), so a
  // reader that writes into what it read (unmasking in place, say) changes the sender's
  // memory; a real socket would have copied. The client's bytes must be as it sent them.
  if (!stream.bytes.equals(stream.pristine)) problems.push("client: the proxy wrote into the client's send buffer (bytes it read from the simulated socket are the sender's memory)");
  const received = client.received;
  const header = received.subarray(0, WS_101.length);
  if (!isPrefix(header, WS_101)) problems.push(`client: the response does not start with the 101: ${JSON.stringify(header.toString())}`);
  const parsed = new FrameParser({ requireMask: false, maxPayload: 1 << 20 }).parse(received.subarray(WS_101.length));
  if (parsed.error) problems.push(`client: malformed frames from the proxy: ${parsed.error.message}`);
  const data: Buffer[] = [];
  const answered: Buffer[] = [];
  for (const f of parsed.frames) {
    if (f.opcode === OPCODE.BINARY) {
      if (f.payload.length > 128 * KiB) problems.push(`client: a frame of ${f.payload.length} bytes (> 128 KiB)`);
      data.push(f.payload);
    } else if (f.opcode === OPCODE.PONG) answered.push(f.payload);
    else problems.push(`client: unexpected opcode ${f.opcode}`);
  }
  const sentPings = stream.frames.filter((f) => f.ping !== undefined && f.end <= client.sentBytes).map((f) => stream.pings[f.ping!]);
  return {
    backpressure,
    done,
    time,
    deadline: limitSeconds,
    directions: {
      to_client: { sent: BACKEND_DATA.subarray(0, peers.backend?.sentBytes ?? 0), delivered: Buffer.concat(data), mustComplete: mustComplete.to_client },
      to_backend: { sent: CLIENT_DATA.subarray(0, dataSent()), delivered: peers.backend?.received ?? Buffer.alloc(0), mustComplete: mustComplete.to_backend },
    },
    pings: { sent: sentPings, answered, mustAnswerAll: mustComplete.to_backend, order, afterPause },
    pauses: { to_client: session.stats.to_client.pauses, to_backend: session.stats.to_backend.pauses },
    closed: session.closed,
    closeReason: session.closeReason,
    endedWhilePaused: ends.client.endedWhilePaused || ends.backend.endedWhilePaused,
    problems,
    peakWbuf: watch.peakWbuf,
    peakTotal: watch.peakTotal,
    violation: watch.violation,
    onEof,
  };
}

// ------------------------------------------------------------------------------- response_stream

export interface StreamSchedule {
  /** The read-ahead bound (pveproxy: 4 MiB). */
  bufSize: number;
  /** The producer ends its stream (EOF) at some time or once it sent everything; or keeps it open. */
  producer: SenderPlan & { end?: EndPlan };
  /** The client reads; it may go away (close) at some time. */
  client: ReaderPlan & { closeAt?: number };
  capacity: { source: number; client: number };
  /** The stream handle's initial read_size. */
  readSize: number;
}

/**
 * response_stream's bound with backpressure: the client's wbuf ≤ bufSize (each push is
 * capped at bufSize − wbuf), the source's rbuf ≤ bufSize (its rbuf_max; reading pauses
 * while rbuf + 4 × read_size would pass it), so the total ≤ 2 × bufSize.
 */
export function streamBounds(bufSize: number): Bounds {
  return { wbuf: { to_client: bufSize, to_backend: 0 }, total: 2 * bufSize };
}

export function runStream(s: StreamSchedule, backpressure: boolean): RunOutcome {
  const loop = new SimLoop();
  const session = new ProxySession();
  const watch = new BufferWatch(loop, streamBounds(s.bufSize), backpressure);
  const [sourceFh, producerFh] = simSocketPair(loop, { capacity: s.capacity.source });
  const [proxySide, clientSide] = simSocketPair(loop, { capacity: s.capacity.client });
  const hdl = new Handle({ fh: proxySide, linger: 30, on_error: (_h, _f, m) => session.disconnect(m) });
  session.hdl = hdl;
  watch.destination(hdl, 'to_client');
  const producer = new SimPeer(producerFh, peerOptions({ ...s.producer, readRate: 0, readSchedule: [], readSize: 1 }));
  const producerEnd = new SourceEnd(loop, () => producer, s.producer.end, () => session.proxyhdl);
  producerEnd.arm();
  const client = new SimPeer(clientSide, peerOptions({ ...s.client, ...(s.client.closeAt === undefined ? {} : { end: { kind: 'close', at: s.client.closeAt } }) }));
  response_stream(session, sourceFh, {
    backpressure,
    bufSize: s.bufSize,
    finished: (done) => done.hdl?.on_drain(() => done.disconnect()),
  });
  const source = session.proxyhdl!;
  source.read_size = s.readSize;
  const onEof: EofSeen = { calls: 0, withBytes: 0 };
  watchOnEof(source, onEof);
  watch.source(source);

  const mustComplete = s.client.closeAt === undefined;
  const ends = s.producer.end !== undefined;
  const data = () => !mustComplete || (producerEnd.poll() && client.receivedBytes === producer.sentBytes);
  // An open stream (the producer never ends) leaves the session open; otherwise it finishes, or the client went away.
  const rest = () => (ends ? session.closed && (!mustComplete || client.eof) : true);
  const limitSeconds = deadline({ readers: [s.client], senders: [s.producer], endAt: endTime(s.producer.end) });
  const [done, time] = drive(loop, data, rest, limitSeconds);
  return {
    backpressure,
    done,
    time,
    deadline: limitSeconds,
    directions: { to_client: { sent: BACKEND_DATA.subarray(0, producer.sentBytes), delivered: client.received, mustComplete } },
    pauses: { to_client: session.stats.to_client.pauses, to_backend: 0 },
    closed: session.closed,
    closeReason: session.closeReason,
    endedWhilePaused: producerEnd.endedWhilePaused,
    problems: [],
    // See STREAM_STUCK_RBUF in checks.ts: with backpressure, bytes that found the client's wbuf
    // full wait in rbuf for the next read or EOF, so a stream that ends later finishes later.
    ...(typeof s.producer.end?.at === 'number' ? { untimed: 'the producer ends at a set time (STREAM_STUCK_RBUF)' } : {}),
    peakWbuf: watch.peakWbuf,
    peakTotal: watch.peakTotal,
    violation: watch.violation,
    onEof,
  };
}

/** Every integrity problem of a run (prefix, completeness, malformed output). */
export function integrityProblems(run: RunOutcome): string[] {
  const out = [...run.problems];
  for (const [name, d] of Object.entries(run.directions)) if (d) out.push(...directionProblems(name, d));
  return out;
}
