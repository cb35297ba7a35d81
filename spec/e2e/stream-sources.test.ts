import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Handle } from '../../lib/index.js';
import { ProxySession } from '../../lib/proxy/ProxySession.js';
import { response_stream } from '../../lib/proxy/response_stream.js';
import { until } from './helpers.js';

/** response_stream's other sources: a child's stdout pipe and a socket. */
describe('response_stream from pipes and sockets on node', () => {
  const cleanup: Array<() => void> = [];
  afterEach(() => cleanup.splice(0).forEach((f) => f()));

  /** A session whose client handle writes to a real socket; returns what the far end got. */
  async function clientSession() {
    const server = net.createServer();
    cleanup.push(() => server.close());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const far = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1' });
    cleanup.push(() => far.destroy());
    const near = await new Promise<net.Socket>((r) => server.once('connection', r));
    const hash = createHash('sha256');
    const state = { bytes: 0, ended: false, digest: '' };
    far.on('data', (d: Buffer) => {
      state.bytes += d.length;
      hash.update(d);
    });
    far.on('end', () => {
      state.ended = true;
      state.digest = hash.digest('hex');
    });
    const session = new ProxySession();
    session.hdl = new Handle({ fh: near, linger: 30, on_error: (_h, _f, m) => session.disconnect(m) });
    return { session, state };
  }

  it("streams a child process's stdout to EOF, intact", async () => {
    const { session, state } = await clientSession();
    // 20 MiB of deterministic output from another process.
    const child = spawn('sh', ['-c', 'head -c 20971520 /dev/zero | tr "\\000" "a"']);
    cleanup.push(() => child.kill());
    response_stream(session, child.stdout, { finished: (s) => s.hdl?.on_drain(() => s.disconnect()) });
    await until(() => state.ended, 'client sees the end of the stream', 30_000);
    expect(state.bytes).toBe(20 * 1024 * 1024);
    expect(state.digest).toBe(createHash('sha256').update(Buffer.alloc(20 * 1024 * 1024, 'a')).digest('hex'));
    expect(session.stats.to_client.peakWbuf).toBeLessThanOrEqual(4 * 1024 * 1024);
  });

  it('streams from a socket until its peer shuts down', async () => {
    const { session, state } = await clientSession();
    const server = net.createServer({ allowHalfOpen: true });
    cleanup.push(() => server.close());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const producer = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
    cleanup.push(() => producer.destroy());
    const source = await new Promise<net.Socket>((r) => server.once('connection', r));
    response_stream(session, source, { finished: (s) => s.hdl?.on_drain(() => s.disconnect()) });
    const payload = Buffer.alloc(3 * 1024 * 1024, 'b');
    producer.end(payload);
    await until(() => state.ended, 'client sees the end of the stream', 30_000);
    expect(state.bytes).toBe(payload.length);
    expect(state.digest).toBe(createHash('sha256').update(payload).digest('hex'));
  });
});
