import { createHash } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Handle } from '../../lib/index.js';

/** 100 MB through a Handle on real loopback, both directions, checked byte for byte. */
describe('large transfers on node', () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => cleanup.splice(0).forEach((f) => f()));

  const TOTAL = 100 * 1024 * 1024;

  /** Deterministic, non-repeating-looking data: block i is filled from a counter. */
  function block(i: number, size: number): Buffer {
    const b = Buffer.allocUnsafe(size);
    for (let off = 0; off < size; off += 4) b.writeUInt32LE((i * 2654435761 + off) >>> 0, off);
    return b;
  }

  it('relays 100 MB through a Handle echo server intact', async () => {
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      // Echo with backpressure: stop reading while the write side is backed up.
      const echo = (h: Handle) => {
        h.push_write(h.rbuf);
        h.rbuf = h.rbuf.subarray(h.rbuf.length);
        if (h.wbuf.length > 1 << 20) {
          h.on_read(null);
          h.on_drain((drained) => {
            drained.on_drain(null);
            drained.on_read(echo);
          });
        }
      };
      new Handle({
        fh: socket,
        on_error: (_h, _f, m) => {
          throw new Error(`server: ${m}`);
        },
        on_eof: (h) => h.push_shutdown(),
        on_read: echo,
      });
    });
    cleanup.push(() => server.close());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;

    const sent = createHash('sha256');
    const got = createHash('sha256');
    let received = 0;
    const done = new Promise<void>((resolve, reject) => {
      const client = new Handle({
        connect: ['127.0.0.1', port],
        on_error: (_h, _f, m) => reject(new Error(`client: ${m}`)),
        on_read: (h) => {
          got.update(h.rbuf);
          received += h.rbuf.length;
          h.rbuf = h.rbuf.subarray(h.rbuf.length);
        },
        on_eof: (h) => {
          h.destroy();
          resolve();
        },
      });
      let i = 0;
      const BLOCK = 256 * 1024;
      const feed = (h: Handle) => {
        if (i * BLOCK >= TOTAL) {
          h.on_drain(null);
          h.push_shutdown();
          return;
        }
        const b = block(i++, BLOCK);
        sent.update(b);
        h.push_write(b);
      };
      client.low_water_mark = 1 << 20;
      client.on_drain(feed);
    });
    await done;
    expect(received).toBe(TOTAL);
    expect(got.digest('hex')).toBe(sent.digest('hex'));
  });
});
