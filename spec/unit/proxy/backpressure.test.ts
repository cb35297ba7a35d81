import { describe, expect, it } from 'vitest';
import { SimLoop, simSocketPair, SimPeer } from '../../../lib/backend/sim/index.js';
import { Handle } from '../../../lib/index.js';
import { apply_read_backpressure } from '../../../lib/proxy/backpressure.js';

/** A source handle and a destination handle whose peer reads only when told to. */
function pair() {
  const loop = new SimLoop();
  const [srcFh, srcPeerFh] = simSocketPair(loop, { capacity: 4096 });
  const [dstFh, dstPeerFh] = simSocketPair(loop, { capacity: 4096 });
  const source = new Handle({ fh: srcFh });
  const dest = new Handle({ fh: dstFh });
  const producer = new SimPeer(srcPeerFh, { send: 100_000 });
  const consumer = new SimPeer(dstPeerFh, { readRate: 0, readSchedule: [{ at: 1, rate: Infinity }] });
  return { loop, source, dest, producer, consumer };
}

describe('apply_read_backpressure', () => {
  it('pauses the source until the destination drains, then resumes the same reader', () => {
    const { loop, source, dest, consumer } = pair();
    let reads = 0;
    const reader = (h: Handle) => {
      reads++;
      dest.push_write(h.rbuf);
      h.rbuf = h.rbuf.subarray(h.rbuf.length);
      if (dest.wbuf.length > 8192) apply_read_backpressure(h, dest, reader);
    };
    source.on_read(reader);
    loop.advance(0.5);
    const readsWhilePaused = reads;
    expect(source.callback('on_read')).toBeUndefined();
    expect(dest.wbuf.length).toBeGreaterThan(8192);
    loop.advance(0.4);
    expect(reads).toBe(readsWhilePaused); // no read while paused
    expect(loop.runUntil(() => consumer.receivedBytes === 100_000, 10)).toBe(true);
    expect(reads).toBeGreaterThan(readsWhilePaused);
  });

  it('restores a previous on_drain and calls it once per drain, leaving no resume callback behind', () => {
    const { loop, source, dest } = pair();
    let prevCalls = 0;
    const prev = () => void prevCalls++;
    dest.on_drain(prev);
    prevCalls = 0;
    const reader = (h: Handle) => {
      dest.push_write(h.rbuf);
      h.rbuf = h.rbuf.subarray(h.rbuf.length);
      if (dest.wbuf.length > 8192) apply_read_backpressure(h, dest, reader);
    };
    source.on_read(reader);
    loop.advance(0.5);
    expect(dest.callback('on_drain')).not.toBe(prev); // the resume callback is installed
    loop.advance(0.6); // the consumer starts at t=1 and drains the destination
    expect(dest.callback('on_drain')).toBe(prev);
    expect(prevCalls).toBeGreaterThan(0);
  });

  it('without a previous on_drain, removes its own after resuming', () => {
    const { loop, source, dest, consumer } = pair();
    const reader = (h: Handle) => {
      dest.push_write(h.rbuf);
      h.rbuf = h.rbuf.subarray(h.rbuf.length);
      if (dest.wbuf.length > 8192) apply_read_backpressure(h, dest, reader);
    };
    source.on_read(reader);
    expect(loop.runUntil(() => consumer.receivedBytes === 100_000, 10)).toBe(true);
    expect(dest.callback('on_drain')).toBeUndefined();
  });
});
