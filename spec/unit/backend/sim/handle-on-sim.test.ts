import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Handle } from '../../../../lib/index.js';
import type { TestEnv } from '../../../helpers/env.js';
import { simEnv } from '../../../helpers/simEnv.js';

/** The real Handle on the simulated backend, driven through the sim TestEnv. */
describe('Handle on the simulated backend', () => {
  let env: TestEnv;
  beforeEach(() => {
    env = simEnv();
  });
  afterEach(() => env.close());

  /**
   * Echoes every complete line back with a prefix; at EOF shuts down its write side. Lines
   * are cut in on_read rather than with a queued `line` reader: a reader still queued at
   * EOF is an error (EPIPE), as in AnyEvent.
   */
  function echoServer(fh: object) {
    const events: string[] = [];
    const hdl = new Handle({
      fh,
      on_error: (_h, fatal, message) => events.push(`error ${fatal} ${message}`),
      on_read: (h) => {
        let end: number;
        while ((end = h.rbuf.indexOf('\n')) >= 0) {
          h.push_write(`echo: ${h.rbuf.toString('utf8', 0, end + 1)}`);
          h.rbuf = h.rbuf.subarray(end + 1);
        }
      },
      on_eof: (h) => {
        events.push('eof');
        h.push_shutdown();
      },
    });
    return { hdl, events };
  }

  it('echoes lines, however they are cut, then passes the EOF on', async () => {
    const { fh, peer } = await env.pair();
    const { hdl, events } = echoServer(fh);
    peer.write('one\ntw');
    peer.write('o\nthr');
    peer.write('ee\n');
    await env.until(() => peer.received.toString() === 'echo: one\necho: two\necho: three\n', 'three echoes');
    peer.shutdown();
    await env.until(() => peer.eof, 'EOF passed back');
    expect(events).toEqual(['eof']);
    expect(peer.closed).toBe(true);
    hdl.destroy();
  });

  it('connects through the loop and echoes to the accepted peer', async () => {
    const server = await env.listen();
    let connectedTo: string | undefined;
    const client = new Handle({
      connect: [server.host, server.port],
      loop: env.loop,
      on_connect: (_h, host, port) => (connectedTo = `${host}:${port}`),
      on_error: (_h, _fatal, message) => {
        throw new Error(message);
      },
    });
    const lines: string[] = [];
    client.push_write('hello\n');
    client.push_read('line', (_h: Handle, line: string) => lines.push(line));
    const peer = await server.accepted;
    await env.until(() => peer.received.toString() === 'hello\n', 'the greeting');
    peer.write('welcome\n');
    await env.until(() => lines.length === 1, 'the reply');
    expect(lines).toEqual(['welcome']);
    expect(connectedTo).toBe(`127.0.0.1:${server.port}`);
    client.destroy();
  });

  it('fails to connect to a dead port with ECONNREFUSED', async () => {
    const port = await env.deadPort();
    let failure: string | undefined;
    new Handle({
      connect: ['127.0.0.1', port],
      loop: env.loop,
      on_connect_error: (_h, message) => (failure = message),
    });
    await env.until(() => failure !== undefined, 'on_connect_error');
    expect(failure).toBe('Connection refused');
  });

  it('backs up a large write while the peer does not read, and drains when it resumes', async () => {
    const { fh, peer } = await env.pair({ capacity: 16 * 1024 });
    peer.pause();
    let drained = 0;
    const hdl = new Handle({ fh, on_error: () => {}, on_drain: () => drained++ });
    drained = 0;
    const payload = Buffer.alloc(1024 * 1024, 'x');
    hdl.push_write(payload);
    await env.sleep(10);
    expect(hdl.wbuf.length).toBe(payload.length - 16 * 1024);
    expect(drained).toBe(0);
    peer.resume();
    await env.until(() => peer.received.length === payload.length, 'the whole payload');
    expect(hdl.wbuf.length).toBe(0);
    expect(drained).toBe(1);
    hdl.destroy();
  });

  it('times out in virtual time', async () => {
    const { fh } = await env.pair();
    const timeouts: number[] = [];
    const start = env.loop.now();
    const hdl = new Handle({ fh, timeout: 5, on_timeout: () => timeouts.push(env.loop.now() - start) });
    await env.sleep(4.999);
    expect(timeouts).toEqual([]);
    await env.sleep(0.002);
    expect(timeouts).toEqual([5]);
    hdl.destroy();
  });

  it('reports a deadlock by name instead of hanging', async () => {
    const { fh } = await env.pair();
    const hdl = new Handle({ fh, on_error: () => {} });
    await expect(env.until(() => hdl.rbuf.length > 0, 'data nobody sends')).rejects.toThrow(
      /deadlock.*data nobody sends/,
    );
    hdl.destroy();
  });
});
