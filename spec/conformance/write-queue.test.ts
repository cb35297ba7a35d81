import { describe, expect, it } from 'vitest';
import { Handle } from '../../lib/index.js';
import type { TestEnv, TestPeer } from '../helpers/env.js';
import { ENVS } from '../helpers/envs.js';
import { usePair } from '../helpers/usePair.js';
import { mustCall } from '../helpers/mustCall.js';

/** POD: "WRITE QUEUE", on_drain, push_write, push_shutdown, wbuf_max, autocork, linger. */
describe.each(ENVS)('write queue on $name', ({ make }) => {
  let env: TestEnv;
  let fh: object;
  let peer: TestPeer;
  usePair(make, (p) => ({ env, fh, peer } = p));

  it('writes pushed data to the peer in order', async () => {
    const hdl = new Handle({ fh });
    hdl.push_write('one ');
    hdl.push_write(Buffer.from('two '));
    hdl.push_write(new Uint8Array([0x33]));
    await env.until(() => peer.received.length === 9, 'all bytes');
    expect(peer.received.toString()).toBe('one two 3');
    hdl.destroy();
  });

  it('calls on_drain at once when set on a drained handle, construction included', () => {
    const calls: string[] = [];
    const hdl = new Handle({ fh, on_drain: () => calls.push('ctor') });
    expect(calls).toEqual(['ctor']);
    hdl.on_drain(() => calls.push('set'));
    expect(calls).toEqual(['ctor', 'set']);
    hdl.destroy();
  });

  it('calls on_drain after every write that leaves wbuf at or below low_water_mark (level-triggered)', async () => {
    let drains = 0;
    const hdl = new Handle({ fh, on_drain: () => drains++ });
    expect(drains).toBe(1);
    hdl.push_write('a');
    hdl.push_write('b');
    hdl.push_write('c');
    // Each push_write writes at once and empties wbuf, so each one calls on_drain.
    expect(drains).toBe(4);
    await env.until(() => peer.received.length === 3, 'abc');
    hdl.destroy();
  });

  it('never calls on_drain for push_write of an empty string', () => {
    let drains = 0;
    const hdl = new Handle({ fh });
    hdl.on_drain(() => drains++);
    expect(drains).toBe(1);
    hdl.push_write('');
    hdl.push_write(Buffer.alloc(0));
    expect(drains).toBe(1);
    hdl.destroy();
  });

  it('does not call on_drain on a write that leaves wbuf above low_water_mark', async () => {
    peer.pause();
    let drains = 0;
    const hdl = new Handle({ fh, low_water_mark: 1000 });
    hdl.on_drain(() => drains++);
    expect(drains).toBe(1);
    // Fill the kernel so that data stays in wbuf.
    const block = Buffer.alloc(1 << 20, 7);
    for (let i = 0; i < 64 && hdl.wbuf.length <= 1000; i++) hdl.push_write(block);
    expect(hdl.wbuf.length).toBeGreaterThan(1000);
    const before = drains;
    hdl.push_write('x');
    expect(drains).toBe(before);
    peer.resume();
    await env.until(() => hdl.wbuf.length === 0, 'wbuf drained');
    expect(drains).toBeGreaterThan(before);
    hdl.destroy();
  });

  it('exposes wbuf with an O(1) length and its bytes on demand', () => {
    peer.pause();
    const hdl = new Handle({ fh, autocork: true });
    hdl.push_write('abc');
    hdl.push_write('def');
    expect(hdl.wbuf.length).toBe(6);
    expect(hdl.wbuf.toString()).toBe('abcdef');
    hdl.destroy();
  });

  it('queues writes with autocork until the next loop iteration', async () => {
    const hdl = new Handle({ fh, autocork: true });
    hdl.push_write('corked');
    expect(hdl.wbuf.length).toBe(6);
    await env.until(() => hdl.wbuf.length === 0, 'corked data written');
    await env.until(() => peer.received.toString() === 'corked', 'peer got it');
    hdl.destroy();
  });

  it('push_shutdown sends EOF after the queued data, and reading goes on', async () => {
    const lines: string[] = [];
    const hdl = new Handle({ fh, on_eof: mustCall(), on_read: () => {} });
    hdl.push_write('last words');
    hdl.push_shutdown();
    expect(hdl.low_water_mark).toBe(0);
    await env.until(() => peer.eof, 'peer sees EOF');
    expect(peer.received.toString()).toBe('last words');
    hdl.push_read('line', (_h, line) => lines.push(line));
    peer.write('still here\n');
    peer.shutdown();
    await env.until(() => lines.length === 1, 'line after half-close');
    expect(lines).toEqual(['still here']);
    // on_read keeps the read watcher on, so the peer's EOF reaches on_eof.
    await env.sleep(0.05);
    hdl.destroy();
  });

  it('raises fatal ENOSPC when wbuf strictly exceeds wbuf_max (checked mode, write pending)', async () => {
    peer.pause();
    const errors: Array<[boolean, string, string]> = [];
    const hdl = new Handle({
      fh,
      wbuf_max: 256 * 1024,
      on_error: (_h, fatal, message, code) => errors.push([fatal, message, code]),
    });
    const block = Buffer.alloc(64 * 1024, 1);
    for (let i = 0; i < 2048 && !hdl.destroyed(); i++) {
      hdl.push_write(block);
      // The check runs on every push: wbuf never stays above the limit.
      if (!hdl.destroyed()) expect(hdl.wbuf.length).toBeLessThanOrEqual(256 * 1024);
    }
    expect(errors).toEqual([[true, 'No space left on device', 'ENOSPC']]);
    expect(hdl.destroyed()).toBe(true);
  });

  it('accepts wbuf exactly at wbuf_max (the check is strict)', () => {
    peer.pause();
    const hdl = new Handle({ fh, autocork: true, wbuf_max: 10, on_error: mustCall(() => {}, 0) });
    hdl.push_write('0123456789');
    expect(hdl.wbuf.length).toBe(10);
    expect(hdl.destroyed()).toBe(false);
    hdl.destroy();
  });

  it('anyevent-7.17 mode misses the overflow once a write watcher is installed', async () => {
    peer.pause();
    const errors: string[] = [];
    const hdl = new Handle({
      fh,
      wbuf_max: 256 * 1024,
      wbuf_max_check: 'anyevent-7.17',
      on_error: (_h, _fatal, _message, code) => errors.push(code),
    });
    const block = Buffer.alloc(64 * 1024, 1);
    // Push until wbuf is far past the limit; 7.17 never notices.
    for (let i = 0; i < 4096 && hdl.wbuf.length < 4 * 1024 * 1024; i++) hdl.push_write(block);
    expect(errors).toEqual([]);
    expect(hdl.wbuf.length).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    hdl.destroy();
  });

  it('anyevent-7.17 mode still catches an overflow by a single write when no watcher is installed', () => {
    peer.pause();
    const errors: string[] = [];
    const hdl = new Handle({
      fh,
      autocork: true,
      wbuf_max: 1000,
      wbuf_max_check: 'anyevent-7.17',
      on_error: (_h, _f, _m, code) => errors.push(code),
    });
    hdl.push_write(Buffer.alloc(1001));
    expect(errors).toEqual(['ENOSPC']);
  });

  it('lingers after an ENOSPC destroy and writes the buffer out', async () => {
    peer.pause();
    const hdl = new Handle({ fh, autocork: true, wbuf_max: 100_000, on_error: mustCall(() => {}) });
    const payload = Buffer.alloc(100_001, 0x61);
    hdl.push_write(payload);
    expect(hdl.destroyed()).toBe(true);
    peer.resume();
    await env.until(() => peer.received.length === payload.length, 'lingered bytes');
    expect(peer.received.equals(payload)).toBe(true);
  });

  it('with linger 0, destroy drops wbuf and closes at once', async () => {
    peer.pause();
    const hdl = new Handle({ fh, autocork: true, linger: 0 });
    hdl.push_write('never sent');
    hdl.destroy();
    peer.resume();
    await env.until(() => peer.closed || peer.eof, 'peer sees the close');
    expect(peer.received.length).toBe(0);
  });

  it('push_write of a registered type formats its arguments', async () => {
    Handle.register_write_type('upper', (_hdl, text: string) => text.toUpperCase());
    const hdl = new Handle({ fh });
    hdl.push_write('upper', 'shout');
    await env.until(() => peer.received.length === 5, 'typed write');
    expect(peer.received.toString()).toBe('SHOUT');
    expect(() => hdl.push_write('no-such-type', 1)).toThrow(/unsupported\/unloadable type 'no-such-type'/);
    hdl.destroy();
  });
});
