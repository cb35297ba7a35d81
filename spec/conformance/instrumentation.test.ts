import { describe, expect, it } from 'vitest';
import { Handle } from '../../lib/index.js';
import type { TestEnv, TestPeer } from '../helpers/env.js';
import { ENVS } from '../helpers/envs.js';
import { usePair } from '../helpers/usePair.js';

/** hdl.events: what tests, benchmarks and metrics listen to instead of wrapping callbacks. */
describe.each(ENVS)('instrumentation events on $name', ({ make }) => {
  let env: TestEnv;
  let fh: object;
  let peer: TestPeer;
  usePair(make, (p) => ({ env, fh, peer } = p));

  it('reports reads, writes, wbuf changes, drains, pause/resume, eof and destroy', async () => {
    const log: string[] = [];
    const hdl = new Handle({ fh, on_eof: (h) => h.destroy() });
    const ev = hdl.events;
    ev.on('read', (n) => log.push(`read ${n}`));
    ev.on('write', (n) => log.push(`write ${n}`));
    ev.on('wbuf', (n) => log.push(`wbuf ${n}`));
    ev.on('drain', () => log.push('drain'));
    ev.on('pause', () => log.push('pause'));
    ev.on('resume', () => log.push('resume'));
    ev.on('eof', () => log.push('eof'));
    ev.on('destroy', () => log.push('destroy'));
    hdl.on_drain(() => {});
    hdl.push_write('abc');
    hdl.on_read((h) => void (h.rbuf = h.rbuf.subarray(h.rbuf.length)));
    peer.write('xy');
    await env.until(() => log.includes('read 2'), 'read');
    hdl.on_read(null);
    peer.shutdown();
    hdl.on_read(() => {});
    await env.until(() => log.includes('destroy'), 'destroy');
    expect(log.slice(0, 5)).toEqual(['drain', 'wbuf 3', 'write 3', 'wbuf 0', 'drain']);
    expect(log).toContain('resume');
    expect(log).toContain('eof');
    expect(log.indexOf('eof')).toBeLessThan(log.indexOf('destroy'));
  });

  it('reports errors before on_error runs', async () => {
    const order: string[] = [];
    const hdl = new Handle({ fh, rbuf_max: 1, on_error: (_h, _f, _m, code) => order.push(`on_error ${code}`) });
    hdl.events.on('error', (err) => order.push(`event ${err.code} ${err.fatal}`));
    hdl.push_read('line', () => {});
    peer.write('too long');
    await env.until(() => order.length === 2, 'error');
    expect(order).toEqual(['event ENOSPC true', 'on_error ENOSPC']);
  });
});
