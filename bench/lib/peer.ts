/**
 * A traffic peer for the loopback benchmarks, run as a child process and driven over IPC:
 * a source that writes as fast as the socket takes data, or a sink that reads as fast as
 * data comes, as a listening server (the backend side of a relay) or a connecting client.
 * Kept out of the measured process so that the relay under test pays for nothing but
 * relaying.
 *
 * Messages in (all carry an `id`, echoed in every answer):
 * - `{ cmd: 'listen', role }`: listen on 127.0.0.1:0 as a `recv` sink, a `send` source or a
 *   `stall` backend (accepts, never reads); answers `{ ev: 'listening', port }`.
 * - `{ cmd: 'arm', bytes }`: the next connection to a `send` listener writes `bytes`.
 * - `{ cmd: 'connect', port, role, preamble, bytes, frames, sessions }`: connects (the
 *   `preamble`, if any, is a request whose response head is awaited first), then sends or
 *   receives. `sessions` > 1 opens that many connections at once (the scale benchmark);
 *   `hold`: a source keeps its connection open after the payload.
 * - `{ cmd: 'close' }`: ends every connection of this id.
 *
 * Answers: `{ ev: 'done', bytes, start, end, requested }` when a sink saw EOF (epoch ms, from
 * performance.timeOrigin: comparable across processes on one machine; `requested`: when a
 * connecting sink started to connect) and
 * `{ ev: 'sent', start, end }` when a source's data was all handed to the kernel; `start`
 * is the moment the first payload byte was written (source) or arrived (sink).
 */
import net from 'node:net';

const KiB = 1024;
const FRAME_PAYLOAD = 128 * KiB;
/** The block a source writes again and again: 1 MiB, 8 frames in ws mode. */
const BLOCK = 1024 * KiB;

type Role = 'send' | 'recv' | 'stall';
type Preamble = { kind: 'none' } | { kind: 'request'; text: string };
interface Msg {
  cmd: 'listen' | 'arm' | 'connect' | 'close';
  id: string;
  role?: Role;
  port?: number;
  bytes?: number;
  preamble?: Preamble;
  frames?: 'raw' | 'ws';
  sessions?: number;
  /** Sources: keep the connection open after the payload (no EOF). */
  hold?: boolean;
}

const now = () => performance.timeOrigin + performance.now();
const send = (m: object) => process.send!(m);

const rawBlock = Buffer.alloc(BLOCK);
for (let i = 0; i < BLOCK; i++) rawBlock[i] = (i * 131 + 7) & 0xff;

/** 8 client frames of 128 KiB, binary, FIN, each masked with its own non-zero key. */
function wsBlock(): Buffer {
  const frames: Buffer[] = [];
  for (let f = 0; f < BLOCK / FRAME_PAYLOAD; f++) {
    const header = Buffer.alloc(14);
    header[0] = 0x82;
    header[1] = 0x80 | 127;
    header.writeUInt32BE(0, 2);
    header.writeUInt32BE(FRAME_PAYLOAD, 6);
    const key = Buffer.from([0x37 + f, 0xfa, 0x21, 0x3d]);
    key.copy(header, 10);
    const payload = Buffer.alloc(FRAME_PAYLOAD);
    for (let i = 0; i < FRAME_PAYLOAD; i++) payload[i] = rawBlock[i] ^ key[i & 3];
    frames.push(header, payload);
  }
  return Buffer.concat(frames);
}
const blocks = { raw: rawBlock, ws: wsBlock() };

const sockets = new Map<string, Set<net.Socket>>();
const servers = new Map<string, net.Server>();
const armed = new Map<string, number[]>();

function track(id: string, s: net.Socket): void {
  let set = sockets.get(id);
  if (!set) sockets.set(id, (set = new Set()));
  set.add(s);
  s.on('close', () => set.delete(s));
  s.on('error', () => {});
}

/**
 * Writes `payload` bytes as fast as the socket takes them, then ends (unless `hold`: the
 * connection stays open); calls `sent` once all went to the kernel.
 */
function pump(s: net.Socket, payload: number, frames: 'raw' | 'ws', sent?: (start: number, end: number) => void, hold = false): void {
  const block = blocks[frames];
  // A ws block carries BLOCK payload bytes in block.length wire bytes.
  let left = payload;
  const start = now();
  const go = () => {
    while (left > 0) {
      const n = Math.min(left, BLOCK);
      left -= n;
      const piece = frames === 'ws' ? block.subarray(0, (n / FRAME_PAYLOAD) * (FRAME_PAYLOAD + 14)) : block.subarray(0, n);
      if (!s.write(piece)) return void s.once('drain', go);
    }
    if (hold) return void sent?.(start, now());
    s.end(() => sent?.(start, now()));
  };
  go();
}

/** Counts bytes until EOF; reports from the first byte to EOF. */
function drain(id: string, s: net.Socket): void {
  let bytes = 0;
  let start: number | undefined;
  s.on('data', (d: Buffer) => {
    start ??= now();
    bytes += d.length;
  });
  s.on('end', () => {
    send({ ev: 'done', id, bytes, start: start ?? now(), end: now() });
    s.end();
  });
}

/** Sends the preamble and waits for the end of the response head (a source ignores what follows). */
function handshake(s: net.Socket, preamble: Preamble, then: () => void): void {
  if (preamble.kind === 'none') return then();
  s.write(preamble.text);
  let head = Buffer.alloc(0);
  const onData = (d: Buffer) => {
    head = Buffer.concat([head, d]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    s.off('data', onData);
    s.pause();
    const status = head.subarray(0, head.indexOf('\r\n')).toString();
    if (!/^HTTP\/1\.[01] (200|101)/.test(status)) throw new Error(`peer: preamble refused: ${status}`);
    then();
  };
  s.on('data', onData);
}

/** One buffer every connecting sink reads into (Node's `onread`): no allocation per read. */
const sinkBuffer = Buffer.allocUnsafe(BLOCK);

/** A connecting sink: sends the preamble, skips the response head, counts the rest until EOF. */
function connectSink(m: Msg): void {
  const requested = now();
  const preamble = m.preamble ?? { kind: 'none' };
  let head: Buffer | undefined = preamble.kind === 'request' ? Buffer.alloc(0) : undefined;
  let bytes = 0;
  let start: number | undefined;
  const s = net.connect({
    port: m.port!,
    host: '127.0.0.1',
    allowHalfOpen: true,
    noDelay: true,
    onread: {
      buffer: sinkBuffer,
      callback: (n: number, buf: Uint8Array): boolean => {
        if (head) {
          head = Buffer.concat([head, buf.subarray(0, n)]);
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) return true;
          const status = head.subarray(0, head.indexOf('\r\n')).toString();
          if (!/^HTTP\/1\.[01] (200|101)/.test(status)) throw new Error(`peer: preamble refused: ${status}`);
          const rest = head.length - end - 4;
          head = undefined;
          if (rest) {
            start = now();
            bytes += rest;
          }
          return true;
        }
        start ??= now();
        bytes += n;
        return true;
      },
    },
  });
  track(m.id, s);
  if (preamble.kind === 'request') s.once('connect', () => s.write(preamble.text));
  s.on('end', () => {
    send({ ev: 'done', id: m.id, bytes, start: start ?? now(), end: now(), requested });
    s.end();
  });
}

process.on('message', (m: Msg) => {
  switch (m.cmd) {
    case 'listen': {
      const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (s) => {
        track(m.id, s);
        if (m.role === 'recv') drain(m.id, s);
        else if (m.role === 'send') {
          const bytes = armed.get(m.id)?.shift() ?? 0;
          s.on('data', () => {});
          pump(s, bytes, 'raw', (start, end) => send({ ev: 'sent', id: m.id, start, end }));
        } else s.pause(); // stall: accept, never read
      });
      servers.set(m.id, server);
      server.listen(0, '127.0.0.1', () => send({ ev: 'listening', id: m.id, port: (server.address() as net.AddressInfo).port }));
      break;
    }
    case 'arm': {
      const list = armed.get(m.id) ?? [];
      list.push(m.bytes!);
      armed.set(m.id, list);
      break;
    }
    case 'connect': {
      const n = m.sessions ?? 1;
      let ready = 0;
      for (let i = 0; i < n; i++) {
        if (m.role === 'recv') {
          connectSink(m);
          continue;
        }
        const s = net.connect({ port: m.port!, host: '127.0.0.1', allowHalfOpen: true, noDelay: true });
        track(m.id, s);
        s.once('connect', () =>
          handshake(s, m.preamble ?? { kind: 'none' }, () => {
            s.on('data', () => {}); // responses (close frames and such) are read and dropped
            s.resume();
            if (n > 1) {
              if (++ready === n) send({ ev: 'connected', id: m.id, at: now() });
              pump(s, m.bytes!, m.frames ?? 'raw', undefined, m.hold);
            } else pump(s, m.bytes!, m.frames ?? 'raw', (start, end) => send({ ev: 'sent', id: m.id, start, end }));
          }),
        );
      }
      break;
    }
    case 'close': {
      for (const s of sockets.get(m.id) ?? []) s.destroy();
      sockets.delete(m.id);
      servers.get(m.id)?.close();
      servers.delete(m.id);
      break;
    }
  }
});
process.on('disconnect', () => process.exit(0));
