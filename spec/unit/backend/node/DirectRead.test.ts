import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { IoFailure } from '../../../../lib/backend/Backend.js';
import { DIRECT_READ_MAX, DirectRead, NodeFh, adoptAccepted, directSocket } from '../../../../lib/backend/node/index.js';

/** Bytes whose value depends on their offset, so reordering or overwriting shows. */
function pattern(from: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = ((from + i) * 7 + ((from + i) >>> 11)) & 0xff;
  return b;
}

async function until(pred: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(2);
  }
}

describe('DirectRead (sockets read with onread)', () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => cleanup.splice(0).forEach((f) => f()));

  /** A directSocket connected to a plain peer the test writes from. */
  async function connected() {
    const server = net.createServer({ allowHalfOpen: true });
    cleanup.push(() => server.close());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { socket, fh } = directSocket();
    const far = new Promise<net.Socket>((r) => server.once('connection', r));
    socket.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    const peer = await far;
    cleanup.push(() => socket.destroy(), () => peer.destroy());
    return { socket, fh, peer };
  }

  /** Reads everything until EOF through a read watcher, as the Handle does. */
  function drain(fh: NodeFh, max: number): Promise<{ views: Buffer[]; sizes: number[]; eof: boolean }> {
    return new Promise((resolve, reject) => {
      const views: Buffer[] = [];
      const sizes: number[] = [];
      const stop = fh.watchReadable(() => {
        const r = fh.read(max);
        if (r instanceof IoFailure) return reject(new Error(r.code));
        if (r === null) return;
        if (r.length === 0) {
          stop();
          return resolve({ views, sizes, eof: true });
        }
        views.push(r);
        sizes.push(r.length);
      });
    });
  }

  it('reads larger pieces than the 64 KiB Node reads without onread, and every byte stays as sent', async () => {
    const { fh, peer } = await connected();
    const total = 8 * 1024 * 1024;
    const got = drain(fh, 1024 * 1024);
    for (let off = 0; off < total; off += 1024 * 1024) peer.write(pattern(off, 1024 * 1024));
    peer.end();
    const { views, sizes, eof } = await got;
    expect(eof).toBe(true);
    expect(Math.max(...sizes)).toBeGreaterThan(64 * 1024);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(DIRECT_READ_MAX * 2);
    // The views handed out earlier were not overwritten by later reads.
    expect(Buffer.concat(views).equals(pattern(0, total))).toBe(true);
  });

  it('small reads are copied out and their buffer reused, without corrupting what was handed out', async () => {
    const { fh, peer } = await connected();
    const got = drain(fh, 64 * 1024);
    let off = 0;
    for (let i = 0; i < 200; i++) {
      const n = 1 + ((i * 37) % 700);
      peer.write(pattern(off, n));
      off += n;
      if (i % 10 === 0) await delay(1);
    }
    peer.end();
    const { views } = await got;
    expect(views.length).toBeGreaterThan(1);
    expect(Buffer.concat(views).equals(pattern(0, off))).toBe(true);
  });

  it('honours the reader’s max: a read never returns more than asked for', async () => {
    const { fh, peer } = await connected();
    const got = drain(fh, 1000);
    peer.end(pattern(0, 300_000));
    const { views, sizes } = await got;
    expect(Math.max(...sizes)).toBeLessThanOrEqual(1000);
    expect(Buffer.concat(views).equals(pattern(0, 300_000))).toBe(true);
  });

  it('stops reading the socket while nobody watches: read-ahead stays bounded, then resumes', async () => {
    const { socket, fh, peer } = await connected();
    const total = 32 * 1024 * 1024;
    let sent = 0;
    const pump = () => {
      while (sent < total && peer.write(pattern(sent, 256 * 1024))) sent += 256 * 1024;
      if (sent < total) {
        sent += 256 * 1024;
        peer.once('drain', pump);
      } else peer.end();
    };
    pump();
    // Nothing watches yet: the kernel's buffers fill and the peer cannot finish.
    await until(() => peer.writableLength > 0, 'the peer to be held up');
    await delay(200);
    expect(socket.bytesRead).toBeLessThanOrEqual(2 * DIRECT_READ_MAX);
    expect(fh.read(0)).not.toBeNull(); // the one read's worth it did take is queued
    const { views } = await drain(fh, 128 * 1024);
    expect(Buffer.concat(views).equals(pattern(0, total))).toBe(true);
  });

  it('reports data before EOF, and EOF once the queue is empty', async () => {
    const { fh, peer } = await connected();
    peer.end(pattern(0, 5000));
    await delay(50);
    const first = fh.read(100_000);
    expect(Buffer.isBuffer(first) && first.equals(pattern(0, 5000))).toBe(true);
    await until(() => {
      const r = fh.read(10);
      return Buffer.isBuffer(r) && r.length === 0;
    }, 'EOF');
  });

  it('gives a reader asking for less than a read the rest of it in the same tick', async () => {
    const { fh, peer } = await connected();
    let inTick = false;
    let sameTick = 0;
    const views: Buffer[] = [];
    const done = new Promise<void>((resolve) => {
      const stop = fh.watchReadable(() => {
        const r = fh.read(16 * 1024);
        if (!Buffer.isBuffer(r)) return;
        if (r.length === 0) {
          stop();
          return resolve();
        }
        views.push(r);
        // A read before the current tick's nextTick queue ran: the same delivery.
        if (inTick) sameTick++;
        else {
          inTick = true;
          process.nextTick(() => (inTick = false));
        }
      });
    });
    peer.end(pattern(0, 4 * 1024 * 1024));
    await done;
    expect(Buffer.concat(views).equals(pattern(0, 4 * 1024 * 1024))).toBe(true);
    expect(sameTick).toBeGreaterThan(0);
  });

  it('reads into the room the reader lends (Fh.readInto), when nothing is queued', async () => {
    const { fh, peer } = await connected();
    const rooms: Buffer[] = [];
    fh.readInto((size) => {
      const room = Buffer.alloc(size);
      rooms.push(room);
      return room;
    });
    const got = drain(fh, 1024 * 1024);
    peer.end(pattern(0, 2_000_000));
    const { views } = await got;
    expect(Buffer.concat(views).equals(pattern(0, 2_000_000))).toBe(true);
    const inRooms = views.filter((v) => rooms.some((r) => r.buffer === v.buffer)).length;
    expect(inRooms).toBeGreaterThan(views.length / 2);
  });

  it('reports a reset as a read failure', async () => {
    const { fh, peer } = await connected();
    peer.resetAndDestroy();
    await until(() => fh.read(10) instanceof IoFailure, 'the failure');
    expect((fh.read(10) as IoFailure).code).toBe('ECONNRESET');
  });
});

describe('DirectRead, driven without a socket', () => {
  it('lets go of every read once consumed, also while the queue never empties', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const direct = new DirectRead();
    direct.want(true);
    const reads: Array<WeakRef<ArrayBufferLike>> = [];
    const taken: number[] = [];
    // A reader taking less than a read per call, that lets some stay queued from one read to
    // the next (as a Handle reading 128 KiB at a time from 256 KiB reads can).
    const takeSome = () => {
      const b = direct.take(100_000);
      if (b) taken.push(b.length);
    };
    direct.attach({ resume() {}, destroyed: false } as unknown as net.Socket, () => {});
    for (let i = 0; i < 200; i++) {
      const buf = direct.onread.buffer();
      buf.fill(i & 0xff);
      reads.push(new WeakRef(buf.buffer));
      direct.onread.callback(buf.length, buf);
      // The next loop iterations' reads (NodeFh's level-triggered dispatch), until little is left.
      while (direct.length > 150_000) takeSome();
      expect(direct.length).toBeGreaterThan(0);
    }
    expect(direct.length).toBeGreaterThan(0);
    expect(taken.reduce((a, b) => a + b, 0) + direct.length).toBe(sumOfReads(reads.length));
    await delay(0);
    gc();
    const alive = reads.filter((r) => r.deref() !== undefined).length;
    expect(alive).toBeLessThanOrEqual(3);
  });
});

describe('DirectRead.take', () => {
  /** A DirectRead with `reads` delivered and nothing taken yet. */
  function queued(reads: string[]) {
    const direct = new DirectRead();
    direct.attach({ resume() {}, destroyed: false } as unknown as net.Socket, () => {});
    direct.want(true);
    for (const r of reads) {
      const buf = direct.onread.buffer();
      buf.write(r, 'latin1');
      direct.onread.callback(r.length, buf);
    }
    return direct;
  }

  it('returns everything queued up to max, as one sysread returns all the kernel holds', () => {
    const direct = queued(['first ', 'second ', 'third']);
    expect(direct.take(100)?.toString()).toBe('first second third');
    const capped = queued(['first ', 'second ', 'third']);
    expect(capped.take(9)?.toString()).toBe('first sec');
    expect(capped.take(100)?.toString()).toBe('ond third');
  });
});

/** The sizes DirectRead asks for: 64 KiB, then doubling while reads fill, up to the max. */
function sumOfReads(n: number): number {
  let size = 64 * 1024;
  let total = 0;
  for (let i = 0; i < n; i++) {
    total += size;
    size = Math.min(size * 2, DIRECT_READ_MAX);
  }
  return total;
}

describe('adoptAccepted', () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => cleanup.splice(0).forEach((f) => f()));

  async function accept(pauseOnConnect: boolean) {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect });
    cleanup.push(() => server.close());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    cleanup.push(() => client.destroy());
    const accepted = await new Promise<net.Socket>((r) => server.once('connection', r));
    return { server, client, fh: adoptAccepted(accepted), accepted };
  }

  const connections = (server: net.Server) => new Promise<number>((r, j) => server.getConnections((e, n) => (e ? j(e) : r(n))));

  it('moves the connection into a socket read with onread, both ways working', async () => {
    const { client, fh, accepted } = await accept(true);
    expect(fh.native).not.toBe(accepted);
    client.write(pattern(0, 3 * 1024 * 1024));
    client.end();
    const echoed: Buffer[] = [];
    client.on('data', (d: Buffer) => echoed.push(d));
    const got: Buffer[] = [];
    await new Promise<void>((resolve) => {
      fh.watchReadable(() => {
        const r = fh.read(512 * 1024);
        if (!Buffer.isBuffer(r)) return;
        if (r.length === 0) {
          fh.shutdown();
          return resolve();
        }
        got.push(r);
        expect(fh.write([r])).toBeTypeOf('number');
      });
    });
    expect(Buffer.concat(got).equals(pattern(0, 3 * 1024 * 1024))).toBe(true);
    expect(Math.max(...got.map((g) => g.length))).toBeGreaterThan(64 * 1024);
    expect(fh.peer()?.host).toBe('127.0.0.1');
  });

  it('keeps the server’s connection count: close() waits for the adopted connection', async () => {
    const { server, fh } = await accept(true);
    expect(await connections(server)).toBe(1);
    let closed = false;
    server.close(() => (closed = true));
    await delay(50);
    expect(closed).toBe(false);
    fh.close();
    await until(() => closed, 'server close');
  });

  it('falls back to the stream when the socket is already reading', async () => {
    const { client, fh, accepted } = await accept(false);
    expect(fh.native).toBe(accepted);
    client.end('hello');
    let got = '';
    await new Promise<void>((resolve) => {
      fh.watchReadable(() => {
        const r = fh.read(100);
        if (!Buffer.isBuffer(r)) return;
        if (r.length === 0) return resolve();
        got += r.toString();
      });
    });
    expect(got).toBe('hello');
  });
});
