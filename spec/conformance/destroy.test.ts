import { describe, expect, it } from 'vitest';
import { Handle, type HandleOptions } from '../../lib/index.js';
import type { TestEnv, TestPeer } from '../helpers/env.js';
import { ENVS } from '../helpers/envs.js';
import { usePair } from '../helpers/usePair.js';
import { mustNotCall } from '../helpers/mustCall.js';

/** POD: destroy, destroyed; "callbacks may destroy the handle at any point". */
describe.each(ENVS)('destroy on $name', ({ make }) => {
  let env: TestEnv;
  let fh: object;
  let peer: TestPeer;
  usePair(make, (p) => ({ env, fh, peer } = p));

  /** Every callback that can run, each given a way to make it run, destroying in it. */
  const scenarios: Array<{
    name: string;
    options: (destroyIn: (h: Handle) => void) => Partial<HandleOptions>;
    trigger: (hdl: Handle, peer: TestPeer) => void;
  }> = [
    { name: 'on_drain at construction', options: (d) => ({ on_drain: d }), trigger: () => {} },
    {
      name: 'on_drain after a write',
      options: () => ({}),
      trigger: (h) => {
        h.push_write('x');
        h.on_drain(null);
        h.push_write('y');
      },
    },
    { name: 'on_read', options: (d) => ({ on_read: d }), trigger: (_h, p) => p.write('data') },
    { name: 'on_eof', options: (d) => ({ on_eof: d, on_read: () => {} }), trigger: (_h, p) => p.shutdown() },
    { name: 'on_error (fatal EPIPE)', options: (d) => ({ on_error: d }), trigger: (h, p) => (h.push_read('chunk', 9, () => {}), p.shutdown()) },
    { name: 'on_timeout', options: (d) => ({ on_timeout: d, timeout: 0.02 }), trigger: () => {} },
    { name: 'on_rtimeout', options: (d) => ({ on_rtimeout: d, rtimeout: 0.02 }), trigger: () => {} },
    { name: 'on_wtimeout', options: (d) => ({ on_wtimeout: d, wtimeout: 0.02 }), trigger: () => {} },
  ];

  for (const { name, options, trigger } of scenarios) {
    it(`nothing touches the handle after destroy inside ${name}`, async () => {
      let calls = 0;
      const destroyIn = (h: Handle) => {
        calls++;
        h.destroy();
      };
      const opts = options(destroyIn);
      const hdl = new Handle({ fh, on_error: opts.on_error ?? (() => {}), ...opts });
      if (name === 'on_drain after a write') hdl.on_drain(destroyIn);
      if (!hdl.destroyed()) trigger(hdl, peer);
      await env.until(() => hdl.destroyed(), `destroy in ${name}`);
      await env.sleep(0.05);
      expect(calls).toBe(1);
      // Every method is a no-op now.
      hdl.push_write('ignored');
      hdl.push_read('line', mustNotCall('line after destroy'));
      hdl.on_read(mustNotCall('on_read after destroy'));
      hdl.on_drain(mustNotCall('on_drain after destroy'));
      hdl.timeout(0.01);
      hdl.start_read();
      hdl.push_shutdown();
      expect(hdl.wbuf.length).toBe(0);
      expect(hdl.rbuf.length).toBe(0);
      await env.sleep(0.05);
    });
  }

  it('destroy inside a queued read stops the queue', async () => {
    const log: string[] = [];
    const hdl = new Handle({ fh });
    hdl.push_read('line', (h, line) => {
      log.push(line);
      h.destroy();
    });
    hdl.push_read('line', mustNotCall('second line'));
    hdl.on_read(mustNotCall('on_read'));
    peer.write('one\ntwo\nthree');
    await env.until(() => hdl.destroyed(), 'destroyed');
    expect(log).toEqual(['one']);
  });

  it('destroy closes the connection (the peer sees EOF)', async () => {
    const hdl = new Handle({ fh });
    hdl.destroy();
    expect(hdl.destroyed()).toBe(true);
    await env.until(() => peer.eof, 'peer EOF');
  });

  it('destroy is idempotent', () => {
    const hdl = new Handle({ fh });
    hdl.destroy();
    hdl.destroy();
    expect(hdl.destroyed()).toBe(true);
  });

  it('throws the error when no on_error is set, as Perl croaks, and destroys the handle', () => {
    peer.pause();
    const hdl = new Handle({ fh, autocork: true, wbuf_max: 1 });
    expect(() => hdl.push_write('too much')).toThrow(/AnyEvent::Handle uncaught error: No space left on device/);
    expect(hdl.destroyed()).toBe(true);
  });
});
