import { describe, expect, it } from 'vitest';
import { IoFailure, type Connected, type Fh } from '../../../../lib/backend/Backend.js';
import { SimLoop, type SimFh } from '../../../../lib/backend/sim/index.js';

type Result = Connected | IoFailure;

describe('SimLoop.listen and connect', () => {
  it('connects to a listened port, asynchronously, with the server end going to onAccept', () => {
    const loop = new SimLoop();
    const accepted: SimFh[] = [];
    const port = loop.unusedPort();
    loop.listen(port, (fh) => accepted.push(fh));
    const results: Result[] = [];
    loop.connect('localhost', port, (r) => results.push(r));
    expect(results).toEqual([]);
    loop.runUntilIdle();
    expect(accepted).toHaveLength(1);
    expect(results).toHaveLength(1);
    const connected = results[0] as Connected;
    expect(connected.host).toBe('127.0.0.1');
    expect(connected.port).toBe(port);
    expect(connected.fh.write([Buffer.from('ping')])).toBe(4);
    expect(accepted[0].read(10)?.toString()).toBe('ping');
    expect(accepted[0].peer()?.host).toBe('127.0.0.1');
    expect(connected.fh.peer?.()).toEqual({ host: '127.0.0.1', port });
  });

  it('gives accepted connections the listener capacity', () => {
    const loop = new SimLoop();
    const port = loop.unusedPort();
    loop.listen(port, () => {}, { capacity: 3 });
    let client: Fh | undefined;
    loop.connect('::1', port, (r) => (client = (r as Connected).fh));
    loop.runUntilIdle();
    expect(client!.write([Buffer.from('12345')])).toBe(3);
  });

  it('refuses an unknown port, or one no longer listened on, with ECONNREFUSED', () => {
    const loop = new SimLoop();
    const port = loop.unusedPort();
    const stop = loop.listen(port, () => {});
    stop();
    const results: Result[] = [];
    loop.connect('127.0.0.1', port, (r) => results.push(r));
    loop.connect('127.0.0.1', loop.unusedPort(), (r) => results.push(r));
    loop.runUntilIdle();
    expect(results.map((r) => r instanceof IoFailure && `${r.code}: ${r.message}`)).toEqual([
      'ECONNREFUSED: Connection refused',
      'ECONNREFUSED: Connection refused',
    ]);
  });

  it('knows only loopback hosts', () => {
    const loop = new SimLoop();
    const port = loop.unusedPort();
    loop.listen(port, () => {});
    let result: Result | undefined;
    loop.connect('example.com', port, (r) => (result = r));
    loop.runUntilIdle();
    expect((result as IoFailure).code).toBe('ENOTFOUND');
  });

  it('runs onPrepare with the client end before connecting, and reports nothing after cancel', () => {
    const loop = new SimLoop();
    const port = loop.unusedPort();
    const accepted: SimFh[] = [];
    loop.listen(port, (fh) => accepted.push(fh));
    const prepared: Fh[] = [];
    const results: Result[] = [];
    loop.connect('127.0.0.1', port, (r) => results.push(r), (fh) => void prepared.push(fh));
    const cancel = loop.connect('127.0.0.1', port, (r) => results.push(r), (fh) => void prepared.push(fh));
    cancel();
    loop.runUntilIdle();
    expect(results).toHaveLength(1);
    expect(prepared).toEqual([(results[0] as Connected).fh]);
    expect(accepted).toHaveLength(1);
  });

  it('retry closes the connection and reports ECONNREFUSED later, once', () => {
    const loop = new SimLoop();
    const port = loop.unusedPort();
    const accepted: SimFh[] = [];
    loop.listen(port, (fh) => accepted.push(fh));
    const results: Result[] = [];
    loop.connect('127.0.0.1', port, (r) => results.push(r));
    loop.runUntilIdle();
    const connected = results[0] as Connected;
    connected.retry();
    connected.retry();
    expect(results).toHaveLength(1);
    loop.runUntilIdle();
    expect(results.slice(1).map((r) => (r as IoFailure).code)).toEqual(['ECONNREFUSED']);
    expect(accepted[0].read(10)).toEqual(Buffer.alloc(0));
  });

  it('refuses a second listener on the same port', () => {
    const loop = new SimLoop();
    loop.listen(5000, () => {});
    expect(() => loop.listen(5000, () => {})).toThrow(/EADDRINUSE/);
  });

  it('hands out distinct unused ports', () => {
    const loop = new SimLoop();
    const first = loop.unusedPort();
    loop.listen(first + 1, () => {});
    const second = loop.unusedPort();
    expect(second).not.toBe(first);
    expect(second).not.toBe(first + 1);
  });
});
