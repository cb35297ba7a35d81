import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_WRITE_PIECE, NodeFh } from '../../../../lib/backend/node/index.js';

describe('NodeFh', () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => cleanup.splice(0).forEach((f) => f()));

  async function pair() {
    const server = net.createServer();
    cleanup.push(() => server.close());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const near = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    const far = await new Promise<net.Socket>((r) => server.once('connection', r));
    await new Promise((r) => near.once('connect', r));
    cleanup.push(() => near.destroy(), () => far.destroy());
    return { near, far };
  }

  it('close after shutdown still delivers what Node holds (as the kernel would after close)', async () => {
    const { near, far } = await pair();
    far.pause();
    let got = 0;
    const ended = new Promise<void>((r) => far.on('end', r));
    far.on('data', (d: Buffer) => (got += d.length));
    const fh = new NodeFh(near);
    let accepted = 0;
    const block = Buffer.alloc(64 * 1024, 7);
    for (let n = fh.write([block]); typeof n === 'number' && n > 0; n = fh.write([block])) accepted += n;
    expect(near.writableLength).toBeGreaterThan(0); // Node holds some of it
    fh.shutdown();
    fh.close();
    far.resume();
    await ended;
    expect(got).toBe(accepted);
  });

  it('refuses writes (EAGAIN) once Node holds its high-water mark, bounding what it buffers', async () => {
    const { near, far } = await pair();
    far.pause();
    const fh = new NodeFh(near);
    const block = Buffer.alloc(256 * 1024, 1);
    let result: ReturnType<NodeFh['write']> = 0;
    for (let i = 0; i < 4096 && result !== null; i++) result = fh.write([block]);
    expect(result).toBeNull();
    expect(near.writableLength).toBeLessThanOrEqual(near.writableHighWaterMark + MAX_WRITE_PIECE);
    expect(near.writableLength).toBeGreaterThan(0); // the bound was reached, not avoided
  });

  it('hands Node many queued chunks in batches of MAX_WRITE_PIECE, one writev each, in order', async () => {
    const { near, far } = await pair();
    const received: Buffer[] = [];
    far.on('data', (d: Buffer) => received.push(d));
    const calls: number[] = [];
    const s = near as unknown as { _write: (...a: unknown[]) => void; _writev: (chunks: Array<{ chunk: Buffer }>, cb: () => void) => void };
    const write = s._write.bind(near);
    const writev = s._writev.bind(near);
    s._write = (chunk, ...rest) => {
      calls.push((chunk as Buffer).length);
      write(chunk, ...rest);
    };
    s._writev = (chunks, cb) => {
      calls.push(chunks.reduce((n, c) => n + c.chunk.length, 0));
      writev(chunks, cb);
    };
    const fh = new NodeFh(near);
    const chunks = Array.from({ length: 12 }, (_, i) => Buffer.alloc(50_000, i + 1));
    const total = 12 * 50_000;
    let sent = 0;
    while (sent < total) {
      const n = fh.write(rest(chunks, sent));
      if (typeof n === 'number') sent += n;
      else await new Promise((r) => setImmediate(r));
    }
    await new Promise<void>((r) => {
      const check = () => (Buffer.concat(received).length >= total ? r() : setTimeout(check, 2));
      check();
    });
    expect(Buffer.concat(received).equals(Buffer.concat(chunks))).toBe(true);
    // 600,000 bytes in 50,000-byte chunks: a few batches of up to 256 KiB, not 12 writes.
    expect(Math.max(...calls)).toBeLessThanOrEqual(MAX_WRITE_PIECE);
    expect(calls.length).toBeLessThanOrEqual(4);
  });
});

/** The chunks after the first `n` bytes. */
function rest(chunks: Buffer[], n: number): Buffer[] {
  const out: Buffer[] = [];
  for (const c of chunks) {
    if (n >= c.length) n -= c.length;
    else {
      out.push(n ? c.subarray(n) : c);
      n = 0;
    }
  }
  return out;
}
