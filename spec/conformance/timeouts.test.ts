import { describe, expect, it } from 'vitest';
import { Handle } from '../../lib/index.js';
import type { TestEnv, TestPeer } from '../helpers/env.js';
import { ENVS } from '../helpers/envs.js';
import { usePair } from '../helpers/usePair.js';

/** POD: timeout/rtimeout/wtimeout, on_*timeout, *timeout_reset. */
describe.each(ENVS)('timeouts on $name', ({ make }) => {
  let env: TestEnv;
  let fh: object;
  let peer: TestPeer;
  usePair(make, (p) => ({ env, fh, peer } = p));

  it('raises a non-fatal ETIMEDOUT after the inactivity timeout when no on_timeout is set', async () => {
    const errors: Array<[boolean, string, string]> = [];
    const hdl = new Handle({ fh, timeout: 0.05, on_error: (_h, fatal, message, code) => errors.push([fatal, message, code]) });
    await env.until(() => errors.length >= 1, 'ETIMEDOUT');
    expect(errors[0]).toEqual([false, 'Connection timed out', 'ETIMEDOUT']);
    expect(hdl.destroyed()).toBe(false);
    // Non-fatal: the timer restarts and fires again.
    await env.until(() => errors.length >= 2, 'second ETIMEDOUT');
    hdl.destroy();
  });

  for (const kind of ['timeout', 'rtimeout', 'wtimeout'] as const) {
    it(`calls on_${kind}, and returning from it keeps the connection`, async () => {
      let fired = 0;
      const hdl = new Handle({ fh, [kind]: 0.05, [`on_${kind}`]: () => fired++ });
      await env.until(() => fired >= 2, `two on_${kind} calls`);
      expect(hdl.destroyed()).toBe(false);
      hdl.push_write('still usable');
      await env.until(() => peer.received.toString() === 'still usable', 'write after timeout');
      hdl.destroy();
    });
  }

  it('counts reads as activity for timeout and rtimeout, not for wtimeout', async () => {
    const fired: string[] = [];
    const hdl = new Handle({
      fh,
      on_read: (h) => void (h.rbuf = h.rbuf.subarray(h.rbuf.length)),
      rtimeout: 1,
      wtimeout: 0.3,
      on_rtimeout: () => fired.push('r'),
      on_wtimeout: () => fired.push('w'),
    });
    // Margins are wide because real sleeps overrun on a loaded machine.
    for (let i = 0; i < 12; i++) {
      peer.write('.');
      await env.sleep(0.05);
    }
    expect(fired).toContain('w');
    expect(fired).not.toContain('r');
    hdl.destroy();
  });

  it('timeout_reset postpones the timeout', async () => {
    let fired = 0;
    const hdl = new Handle({ fh, timeout: 0.5, on_timeout: () => fired++ });
    for (let i = 0; i < 12; i++) {
      await env.sleep(0.05);
      hdl.timeout_reset();
    }
    expect(fired).toBe(0);
    await env.until(() => fired === 1, 'timeout after resets stop');
    hdl.destroy();
  });

  it('rtimeout_reset and wtimeout_reset postpone their own timeouts', async () => {
    const fired: string[] = [];
    const hdl = new Handle({
      fh,
      rtimeout: 0.5,
      wtimeout: 0.3,
      on_rtimeout: () => fired.push('r'),
      on_wtimeout: () => fired.push('w'),
    });
    for (let i = 0; i < 12; i++) {
      await env.sleep(0.05);
      hdl.rtimeout_reset();
    }
    expect(fired).toContain('w');
    expect(fired).not.toContain('r');
    hdl.wtimeout_reset();
    hdl.destroy();
  });

  it('a callback can disable its timeout', async () => {
    let fired = 0;
    const hdl = new Handle({
      fh,
      timeout: 0.05,
      on_timeout: (h) => {
        fired++;
        h.timeout(0);
      },
    });
    await env.until(() => fired === 1, 'first timeout');
    await env.sleep(0.2);
    expect(fired).toBe(1);
    hdl.destroy();
  });

  it('a timeout that is already due fires at once when set', async () => {
    const hdl = new Handle({ fh });
    await env.sleep(0.1);
    let fired = 0;
    hdl.on_timeout(() => fired++);
    hdl.timeout(0.05); // last activity was at construction, more than 0.05 s ago
    expect(fired).toBe(1);
    hdl.destroy();
  });

  it('throws on a negative timeout, as Perl croaks', () => {
    const hdl = new Handle({ fh });
    expect(() => hdl.timeout(-1)).toThrow(/negative timeout/);
    expect(() => new Handle({ fh, rtimeout: -1 })).toThrow(RangeError);
    hdl.destroy();
  });

  it('the handle can be destroyed from on_timeout', async () => {
    let fired = 0;
    const hdl = new Handle({
      fh,
      timeout: 0.05,
      on_timeout: (h) => {
        fired++;
        h.destroy();
      },
    });
    await env.until(() => hdl.destroyed(), 'destroyed by on_timeout');
    await env.sleep(0.15);
    expect(fired).toBe(1);
    await env.until(() => peer.closed || peer.eof, 'peer sees the close');
  });
});
