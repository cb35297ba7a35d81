import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Handle } from '../../lib/index.js';
import type { TestEnv } from '../helpers/env.js';
import { ENVS } from '../helpers/envs.js';
import { mustCall, mustNotCall } from '../helpers/mustCall.js';

/** POD: connect, on_prepare, on_connect, on_connect_error. */
describe.each(ENVS)('connect on $name', ({ make }) => {
  let env: TestEnv;
  beforeEach(() => {
    env = make();
  });
  afterEach(() => env.close());

  it('connects, calls on_prepare then on_connect with the numeric peer, and flushes writes queued before', async () => {
    const server = await env.listen();
    const order: string[] = [];
    let peerAddr: [string, number] | undefined;
    const hdl = new Handle({
      connect: [server.host, server.port],
      loop: env.loop,
      on_prepare: mustCall((h: Handle) => {
        order.push('prepare');
        // Perl: `local $self->{fh}` is the socket being connected.
        expect(h.fh).toBeDefined();
        expect(h.fh).toBe(h.backendFh?.native ?? h.backendFh);
        return undefined;
      }),
      on_connect: mustCall((_h: Handle, host: string, port: number) => {
        order.push('connect');
        peerAddr = [host, port];
      }),
      on_connect_error: mustNotCall('on_connect_error'),
    });
    expect(hdl.peername).toBe(server.host);
    hdl.push_write('queued before connect');
    const peer = await server.accepted;
    await env.until(() => peer.received.toString() === 'queued before connect', 'queued write arrives');
    expect(order).toEqual(['prepare', 'connect']);
    if (env.name === 'node') expect(hdl.fh).toBeInstanceOf(net.Socket);
    expect(peerAddr).toEqual([server.host, server.port]);
    hdl.destroy();
    server.close();
  });

  it('reads queued before the connection completes are served after it', async () => {
    const server = await env.listen();
    const lines: string[] = [];
    const hdl = new Handle({ connect: [server.host, server.port], loop: env.loop });
    hdl.push_read('line', (_h, line) => lines.push(line));
    const peer = await server.accepted;
    peer.write('hello\n');
    await env.until(() => lines.length === 1, 'line');
    expect(lines).toEqual(['hello']);
    hdl.destroy();
    server.close();
  });

  it('calls on_connect_error with the message and destroys the handle on refusal', async () => {
    const port = await env.deadPort();
    let message = '';
    const hdl = new Handle({
      connect: ['127.0.0.1', port],
      loop: env.loop,
      on_connect: mustNotCall('on_connect'),
      on_connect_error: mustCall((_h: Handle, m: string) => void (message = m)),
      on_error: mustNotCall('on_error'),
    });
    await env.until(() => hdl.destroyed(), 'destroyed after refusal');
    expect(message).toBe('Connection refused');
  });

  it('without on_connect_error, raises a fatal on_error with the system error', async () => {
    const port = await env.deadPort();
    const errors: Array<[boolean, string, string]> = [];
    const hdl = new Handle({
      connect: ['127.0.0.1', port],
      loop: env.loop,
      on_error: (_h, fatal, m, code) => errors.push([fatal, m, code]),
    });
    await env.until(() => hdl.destroyed(), 'destroyed');
    expect(errors).toEqual([[true, 'Connection refused', 'ECONNREFUSED']]);
  });

  it('AnyEvent 7.17 quirk: retry forgets the read queue but keeps wbuf, then tries the next address', async () => {
    const server = await env.listen();
    let seen: { wbuf: number; queueServed: boolean } | undefined;
    let served = false;
    let message = '';
    const hdl = new Handle({
      connect: [server.host, server.port],
      loop: env.loop,
      autocork: true,
      on_connect: mustCall((h: Handle, _host: string, _port: number, retry: () => void) => {
        h.push_write('queued for the next host');
        h.push_read('chunk', 1, () => (served = true));
        retry();
        seen = { wbuf: h.wbuf.length, queueServed: served };
      }),
      // Only one address exists, so the retry ends in a connect error.
      on_connect_error: mustCall((_h: Handle, m: string) => void (message = m)),
    });
    await env.until(() => hdl.destroyed(), 'destroyed after the failed retry');
    expect(seen).toEqual({ wbuf: 'queued for the next host'.length, queueServed: false });
    expect(message).toBe('Connection refused');
    server.close();
  });

  it('destroy while connecting cancels the attempt', async () => {
    const server = await env.listen();
    const hdl = new Handle({ connect: [server.host, server.port], loop: env.loop, on_connect: mustNotCall('on_connect') });
    hdl.destroy();
    await env.sleep(0.05);
    expect(hdl.destroyed()).toBe(true);
    server.close();
  });

  it('rejects bad connect arguments at construction', () => {
    expect(() => new Handle({ connect: ['127.0.0.1', 70000] })).toThrow(RangeError);
    expect(() => new Handle({} as never)).toThrow(/either an existing fh or the connect parameter/);
    expect(() => new Handle({ connect: ['h', 1], frobnicate: 1 } as never)).toThrow(/unknown option 'frobnicate'/);
  });
});
