import { describe, expect, it } from 'vitest';
import { Handle } from '../../lib/index.js';
import type { TestEnv, TestPeer } from '../helpers/env.js';
import { ENVS } from '../helpers/envs.js';
import { usePair } from '../helpers/usePair.js';
import { mustCall, mustNotCall } from '../helpers/mustCall.js';

/** POD: "READ QUEUE", on_read, push_read/unshift_read, on_eof, rbuf, rbuf_max, stop_read. */
describe.each(ENVS)('read queue on $name', ({ make }) => {
  let env: TestEnv;
  let fh: object;
  let peer: TestPeer;
  usePair(make, (p) => ({ env, fh, peer } = p));

  it('serves queued reads in order before on_read', async () => {
    const log: string[] = [];
    const hdl = new Handle({
      fh,
      on_read: (h) => {
        log.push(`on_read:${h.rbuf.toString()}`);
        h.rbuf = h.rbuf.subarray(h.rbuf.length);
      },
    });
    hdl.push_read('chunk', 2, (_h, data) => log.push(`chunk:${data.toString()}`));
    hdl.push_read('line', (_h, line) => log.push(`line:${line}`));
    peer.write('abline\r\nrest');
    await env.until(() => log.length === 3, 'three callbacks');
    expect(log).toEqual(['chunk:ab', 'line:line', 'on_read:rest']);
    hdl.destroy();
  });

  it('unshift_read inside a callback runs before reads already queued (EPP example)', async () => {
    const log: string[] = [];
    const hdl = new Handle({ fh });
    hdl.push_read('line', (h, line) => {
      log.push(line);
      if (line === 'OK') h.unshift_read('line', (_h, extra) => log.push(`extra:${extra}`));
    });
    hdl.push_read('chunk', 4, (_h, data) => log.push(`chunk:${data.toString()}`));
    peer.write('OK\nmore\nDATA');
    await env.until(() => log.length === 3, 'three reads');
    expect(log).toEqual(['OK', 'extra:more', 'chunk:DATA']);
    hdl.destroy();
  });

  it('calls a plain read callback until it returns true', async () => {
    const seen: number[] = [];
    const hdl = new Handle({ fh });
    hdl.push_read((h) => {
      seen.push(h.rbuf.length);
      if (h.rbuf.length < 6) return false;
      h.rbuf = h.rbuf.subarray(6);
      return true;
    });
    expect(seen).toEqual([0]); // called once when queued
    peer.write('abc');
    await env.until(() => seen.length >= 2, 'second call');
    peer.write('def');
    await env.until(() => seen.includes(6), 'done');
    expect(seen[seen.length - 1]).toBe(6);
    expect(hdl.rbuf.length).toBe(0);
    hdl.destroy();
  });

  it('calls on_eof after feeding the remaining data to the readers', async () => {
    const log: string[] = [];
    const hdl = new Handle({
      fh,
      on_read: (h) => {
        log.push(h.rbuf.toString());
        h.rbuf = h.rbuf.subarray(h.rbuf.length);
      },
      on_eof: () => log.push('eof'),
    });
    peer.write('tail');
    peer.shutdown();
    await env.until(() => log.includes('eof'), 'eof');
    expect(log.join('')).toBe('taileof');
    hdl.destroy();
  });

  it('raises fatal EPIPE when EOF arrives and a queued read can make no progress', async () => {
    const errors: Array<[boolean, string, string]> = [];
    const hdl = new Handle({
      fh,
      on_eof: mustNotCall('on_eof'),
      on_error: (_h, fatal, message, code) => errors.push([fatal, message, code]),
    });
    hdl.push_read('chunk', 10, mustNotCall('chunk callback'));
    peer.write('short');
    peer.shutdown();
    await env.until(() => errors.length > 0, 'EPIPE');
    expect(errors).toEqual([[true, 'Broken pipe', 'EPIPE']]);
    expect(hdl.destroyed()).toBe(true);
  });

  it('raises fatal EPIPE when on_read consumes nothing at EOF', async () => {
    const codes: string[] = [];
    const hdl = new Handle({ fh, on_read: () => {}, on_error: (_h, _f, _m, code) => codes.push(code) });
    peer.write('ignored');
    peer.shutdown();
    await env.until(() => codes.length > 0, 'EPIPE');
    expect(codes).toEqual(['EPIPE']);
    expect(hdl.destroyed()).toBe(true);
  });

  it('raises "Unexpected end-of-file" (fatal, no errno) at EOF without on_eof', async () => {
    const errors: Array<[boolean, string, string]> = [];
    const hdl = new Handle({
      fh,
      on_read: (h) => void (h.rbuf = h.rbuf.subarray(h.rbuf.length)),
      on_error: (_h, fatal, message, code) => errors.push([fatal, message, code]),
    });
    peer.shutdown();
    await env.until(() => errors.length > 0, 'EOF error');
    expect(errors).toEqual([[true, 'Unexpected end-of-file', 'EOF']]);
    expect(hdl.destroyed()).toBe(true);
  });

  it('raises fatal ENOSPC when rbuf strictly exceeds rbuf_max after draining', async () => {
    const codes: string[] = [];
    const hdl = new Handle({ fh, rbuf_max: 100, on_error: (_h, fatal, _m, code) => codes.push(`${code}:${fatal}`) });
    hdl.push_read('line', mustNotCall('line callback'));
    peer.write('x'.repeat(100));
    await env.sleep(0.05);
    expect(codes).toEqual([]); // exactly at the limit is fine
    peer.write('x');
    await env.until(() => codes.length > 0, 'ENOSPC');
    expect(codes).toEqual(['ENOSPC:true']);
  });

  it('checks rbuf_max only after the readers ran, so consumed data does not count', async () => {
    const got: number[] = [];
    const hdl = new Handle({ fh, rbuf_max: 10, read_size: 4096, on_error: mustNotCall('on_error') });
    hdl.on_read((h) => {
      got.push(h.rbuf.length);
      h.rbuf = h.rbuf.subarray(h.rbuf.length);
    });
    peer.write(Buffer.alloc(1000, 1));
    await env.until(() => got.reduce((a, b) => a + b, 0) === 1000, 'all consumed');
    hdl.destroy();
  });

  it('stop_read pauses reading until start_read', async () => {
    const got: string[] = [];
    const hdl = new Handle({ fh });
    hdl.on_read((h) => {
      got.push(h.rbuf.toString());
      h.rbuf = h.rbuf.subarray(h.rbuf.length);
    });
    hdl.stop_read();
    peer.write('while stopped');
    await env.sleep(0.05);
    expect(got).toEqual([]);
    hdl.start_read();
    await env.until(() => got.join('') === 'while stopped', 'data after start_read');
    hdl.destroy();
  });

  it('AnyEvent 7.17 quirk: stop_read inside on_read does not pause', async () => {
    const got: string[] = [];
    const hdl = new Handle({ fh });
    hdl.on_read((h) => {
      got.push(h.rbuf.toString());
      h.rbuf = h.rbuf.subarray(h.rbuf.length);
      h.stop_read();
    });
    peer.write('first');
    await env.until(() => got.length === 1, 'first');
    peer.write('second');
    // The drain loop restarted the read watcher, so this still arrives.
    await env.until(() => got.length === 2, 'second despite stop_read');
    expect(got).toEqual(['first', 'second']);
    hdl.destroy();
  });

  it('AnyEvent 7.17 quirk: on_read(undef) outside a callback costs one more read', async () => {
    const got: string[] = [];
    const hdl = new Handle({
      fh,
      on_read: (h) => {
        got.push(h.rbuf.toString());
        h.rbuf = h.rbuf.subarray(h.rbuf.length);
      },
    });
    peer.write('a');
    await env.until(() => got.length === 1, 'a');
    hdl.on_read(null);
    peer.write('b');
    await env.until(() => hdl.rbuf.length === 1, 'one more read lands in rbuf');
    peer.write('c');
    await env.sleep(0.05);
    expect(hdl.rbuf.toString()).toBe('b'); // then reading stopped
    expect(got).toEqual(['a']);
    hdl.destroy();
  });

  it("AnyEvent 7.17 quirk: that one more read is fatal ENOSPC with pveproxy's 64 KiB rbuf_max and a 128 KiB read", async () => {
    const codes: string[] = [];
    // Node hands over at most what one libuv read (64 KiB) plus its stream buffer holds, so
    // on real sockets the same shape is shown with smaller numbers (a declared difference).
    const [rbufMax, readSize] = env.name === 'sim' ? [64 * 1024, 128 * 1024] : [1024, 4096];
    // The simulated kernel buffer must hold the whole 128 KiB for one read to take it.
    if (env.name === 'sim') ({ fh, peer } = await env.pair({ capacity: 256 * 1024 }));
    const hdl = new Handle({
      fh,
      rbuf_max: rbufMax,
      read_size: readSize,
      on_read: (h) => void (h.rbuf = h.rbuf.subarray(h.rbuf.length)),
      on_error: (_h, _f, _m, code) => codes.push(code),
    });
    hdl.on_read(null);
    peer.write(Buffer.alloc(readSize, 2));
    await env.until(() => codes.length > 0, 'ENOSPC');
    expect(codes).toEqual(['ENOSPC']);
  });

  it('doubles read_size after each full read, up to max_read_size', async () => {
    const sizes: number[] = [];
    const hdl = new Handle({ fh, read_size: 16, max_read_size: 64 });
    hdl.on_read((h) => {
      sizes.push(h.read_size);
      h.rbuf = h.rbuf.subarray(h.rbuf.length);
    });
    peer.write(Buffer.alloc(4096, 3));
    await env.until(() => hdl.read_size === 64, 'read_size reached max');
    await env.sleep(0.02);
    expect(hdl.read_size).toBe(64);
    expect(sizes[0]).toBe(16);
    hdl.destroy();
  });

  it('raises max_read_size to read_size when read_size is larger', () => {
    const hdl = new Handle({ fh, read_size: 1 << 20 });
    expect(hdl.max_read_size).toBe(1 << 20);
    hdl.destroy();
  });

  it('push_read after EOF raises EPIPE at once', async () => {
    const codes: string[] = [];
    const hdl = new Handle({ fh, on_eof: mustCall(), on_read: () => {}, on_error: (_h, _f, _m, c) => codes.push(c) });
    peer.shutdown();
    await env.until(() => codes.length > 0 || hdl.destroyed() === false, 'eof');
    await env.sleep(0.05);
    hdl.push_read('line', mustNotCall('line'));
    expect(codes).toEqual(['EPIPE']);
  });

  it('rejects an unknown read type with a TypeError', () => {
    const hdl = new Handle({ fh });
    expect(() => hdl.push_read('bogus', () => {})).toThrow(/unsupported\/unloadable type 'bogus' passed to AnyEvent::Handle::push_read/);
    expect(() => hdl.unshift_read('bogus', () => {})).toThrow(/unshift_read/);
    hdl.destroy();
  });
});
