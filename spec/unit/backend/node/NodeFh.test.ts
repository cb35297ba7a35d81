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
});
