import { describe, expect, it } from 'vitest';
import {
  PATTERN_PERIOD,
  SimLoop,
  SimPeer,
  hashBytes,
  patternBytes,
  patternChunks,
  patternView,
  simSocketPair,
  type SimPeerOptions,
} from '../../../../lib/backend/sim/index.js';

/** A writer and a reader SimPeer on the two ends of one connection. */
function scenario(writer: SimPeerOptions, reader: SimPeerOptions, capacity = 64 * 1024) {
  const loop = new SimLoop();
  const [a, b] = simSocketPair(loop, { capacity });
  return { loop, a, b, writer: new SimPeer(a, writer), reader: new SimPeer(b, reader) };
}

describe('test pattern', () => {
  it('is the same bytes however it is cut, across the period boundary', () => {
    const whole = patternBytes(0, 2 * PATTERN_PERIOD + 10);
    expect(patternBytes(PATTERN_PERIOD - 5, 20)).toEqual(whole.subarray(PATTERN_PERIOD - 5, PATTERN_PERIOD + 15));
    expect(whole.subarray(0, 100)).toEqual(whole.subarray(PATTERN_PERIOD, PATTERN_PERIOD + 100));
    expect(new Set(whole.subarray(0, 1000)).size).toBeGreaterThan(200);
  });

  it('is periodic far out, across the point where its shared block wraps (16 MiB)', () => {
    const reference = (offset: number, length: number) => {
      const out = Buffer.alloc(length);
      for (let i = 0; i < length; i++) out[i] = patternBytes((offset + i) % PATTERN_PERIOD, 1)[0];
      return out;
    };
    for (const offset of [256 * PATTERN_PERIOD - 700, 1e9 + 12345, 2 ** 40 + 3]) {
      expect(patternBytes(offset, 1500)).toEqual(reference(offset, 1500));
      expect(patternView(offset, 1500)).toEqual(reference(offset, 1500));
    }
    expect(patternChunks(0, 3 * 1024 * 1024).length).toBe(3);
    expect(() => patternView(0, 2 * 1024 * 1024)).toThrow(RangeError);
  });

  it('gives views of consecutive ranges that are adjacent in memory, so a SimFh passes them on uncopied', () => {
    const first = patternView(5000, 70_000);
    const next = patternView(75_000, 30_000);
    expect(next.buffer).toBe(first.buffer);
    expect(next.byteOffset).toBe(first.byteOffset + first.length);
  });
});

describe('SimPeer', () => {
  it('moves a byte source through intact, recorded as bytes or as a hash', () => {
    const total = 300_000;
    const bytes = scenario({ send: total, shutdownAt: 'sent' }, {}, 1000);
    expect(bytes.loop.runUntil(() => bytes.reader.eof, 10)).toBe(true);
    // Buffer.equals: a deep toEqual over 300 kB takes seconds.
    expect(bytes.reader.received.equals(patternBytes(0, total))).toBe(true);

    const hashed = scenario({ send: total, shutdownAt: 'sent' }, { record: 'hash' }, 1000);
    expect(hashed.loop.runUntil(() => hashed.reader.eof, 10)).toBe(true);
    expect(hashed.reader.receivedBytes).toBe(total);
    expect(hashed.reader.receivedHash()).toBe(hashBytes([patternBytes(0, total)]));
    expect(hashed.writer.sentHash()).toBe(hashed.reader.receivedHash());
  });

  it('sends a given Buffer', () => {
    const s = scenario({ send: Buffer.from('hello, peer'), closeAt: 'sent' }, {});
    expect(s.loop.runUntil(() => s.reader.eof, 1)).toBe(true);
    expect(s.reader.received.toString()).toBe('hello, peer');
  });

  it('reads at its rate; the writer is held back by the full buffer', () => {
    const capacity = 64 * 1024;
    const s = scenario({ send: 10_000_000 }, { readRate: 100_000, record: 'hash' }, capacity);
    s.loop.advance(2);
    expect(s.reader.receivedBytes).toBeGreaterThanOrEqual(199_000);
    expect(s.reader.receivedBytes).toBeLessThanOrEqual(201_000);
    expect(s.writer.sentBytes).toBe(s.reader.receivedBytes + capacity);
  });

  it('sends at its rate', () => {
    const s = scenario({ send: 10_000_000, sendRate: 50_000 }, { record: 'hash' });
    s.loop.advance(1);
    expect(s.reader.receivedBytes).toBeGreaterThanOrEqual(49_000);
    expect(s.reader.receivedBytes).toBeLessThanOrEqual(50_000);
  });

  it('handles rates below one byte per tick', () => {
    const s = scenario({ send: 1000, sendRate: 10 }, { readRate: 7 });
    s.loop.advance(10);
    expect(s.reader.receivedBytes).toBeGreaterThanOrEqual(69);
    expect(s.reader.receivedBytes).toBeLessThanOrEqual(71);
  });

  it('does not save up idle time for more than a one-chunk burst', () => {
    const loop = new SimLoop();
    const [a, b] = simSocketPair(loop);
    // 1000 B/s with the default 10 ms quantum: chunks of 10 bytes.
    const reader = new SimPeer(b, { readRate: 1000, record: 'count' });
    loop.timer(1, () => a.write([Buffer.alloc(5000)]));
    loop.advance(1.1);
    // A second of waiting buys one chunk (10 bytes), then 100 bytes in the next 0.1 s.
    expect(reader.receivedBytes).toBeGreaterThanOrEqual(100);
    expect(reader.receivedBytes).toBeLessThanOrEqual(110);
  });

  it('follows its read schedule, stalls included', () => {
    const s = scenario(
      { send: 10_000_000 },
      {
        readRate: 0,
        record: 'hash',
        readSchedule: [
          { at: 1, rate: 10_000 },
          { at: 2, rate: 0 },
          { at: 3, rate: Infinity },
        ],
      },
    );
    const at = (t: number) => {
      s.loop.advance(t - s.loop.now());
      return s.reader.receivedBytes;
    };
    expect(at(1)).toBe(0);
    const afterSlow = at(2);
    expect(afterSlow).toBeGreaterThanOrEqual(9_900);
    expect(afterSlow).toBeLessThanOrEqual(10_100);
    expect(at(2.999)).toBe(afterSlow);
    expect(at(3.5)).toBe(10_000_000);
  });

  it('half-closes and closes on cue', () => {
    const s = scenario({ send: Buffer.from('abc'), shutdownAt: 2 }, { closeAt: 3 });
    s.loop.advance(1.999);
    expect(s.reader.received.toString()).toBe('abc');
    expect(s.reader.eof).toBe(false);
    s.loop.advance(0.002);
    expect(s.reader.eof).toBe(true);
    expect(s.b.closed).toBe(false);
    s.loop.advance(1);
    expect(s.b.closed).toBe(true);
    expect(s.writer.eof).toBe(true);
  });

  it('records a write failure without giving up reading', () => {
    const s = scenario({ send: 10_000_000, readRate: 0 }, { send: Buffer.from('bye'), closeAt: 0.5, readRate: 0 });
    s.loop.advance(1);
    expect(s.writer.error?.code).toBe('EPIPE');
    s.loop.advance(0); // nothing pending: the failed writer is not spinning
    expect(s.loop.runOnce()).toBe(false);
  });

  it('is deterministic: the same script gives the same trace', () => {
    const run = () => {
      const s = scenario(
        { send: 500_000, sendRate: 300_000, shutdownAt: 'sent', trace: true },
        {
          readRate: 200_000,
          readSchedule: [
            { at: 0.5, rate: 0 },
            { at: 0.7, rate: 1_000_000 },
          ],
          trace: true,
          record: 'hash',
        },
        20_000,
      );
      s.loop.runUntil(() => s.reader.eof, 10);
      return [...s.writer.trace, '--', ...s.reader.trace, s.reader.receivedHash()];
    };
    const first = run();
    expect(first.length).toBeGreaterThan(100);
    expect(run()).toEqual(first);
  });
});

/** The `[seconds, bytes]` of each `event` ('read' or 'write') in a SimPeer trace. */
function events(peer: SimPeer, event: 'read' | 'write'): [number, number][] {
  return peer.trace
    .map((line) => line.split(' '))
    .filter((fields) => fields[1] === event)
    .map((fields) => [Number(fields[0]), Number(fields[2])]);
}

/** Bytes moved by `events` at instants within [t0, t1] (trace times are rounded to 1 µs). */
function bytesWithin(list: [number, number][], t0: number, t1: number): number {
  let sum = 0;
  for (const [t, n] of list) if (t >= t0 - 1e-6 && t <= t1 + 1e-6) sum += n;
  return sum;
}

/** Every window [t0, t0 + w] of [from, to] on a fixed grid, for a few lengths w. */
function* windows(from: number, to: number): Generator<[number, number]> {
  for (const w of [0.003, 0.01, 0.05, 0.25, 0.9]) {
    for (let t0 = from; t0 + w <= to; t0 += 0.0137) yield [t0, t0 + w];
  }
}

const chunkOf = (rate: number, size = 64 * 1024, quantum = 0.01) => Math.max(1, Math.min(size, Math.floor(rate * quantum)));

describe('SimPeer rate limiting', () => {
  it('reads within one chunk of rate × window, over every window, at any rate', () => {
    for (const rate of [7, 1000, 50_000, 3_000_000, 40_000_000]) {
      // An unlimited writer keeps the reader's socket full: only the rate holds the reader back.
      const s = scenario({ send: 1e12 }, { readRate: rate, record: 'count', trace: true });
      s.loop.advance(3);
      const reads = events(s.reader, 'read');
      const chunk = chunkOf(rate);
      const slack = chunk + rate * 2e-6;
      for (const [t0, t1] of windows(0, 3)) {
        const moved = bytesWithin(reads, t0, t1);
        const expected = rate * (t1 - t0);
        if (Math.abs(moved - expected) > slack) {
          throw new Error(`rate ${rate}: ${moved} bytes read in [${t0}, ${t1}], expected ${expected} ± ${chunk}`);
        }
      }
      expect(Math.abs(s.reader.receivedBytes - rate * 3)).toBeLessThanOrEqual(chunk);
    }
  });

  it('sends within one chunk of rate × window, in chunks of min(writeSize, rate × quantum) at the right times', () => {
    for (const rate of [10, 50_000, 2_000_000, 100_000_000]) {
      const s = scenario({ send: 1e12, sendRate: rate, trace: true }, { record: 'count' }, 1024 * 1024);
      s.loop.advance(2);
      const writes = events(s.writer, 'write');
      const chunk = chunkOf(rate);
      const slack = chunk + rate * 2e-6;
      for (const [t0, t1] of windows(0, 2)) {
        const moved = bytesWithin(writes, t0, t1);
        const expected = rate * (t1 - t0);
        if (Math.abs(moved - expected) > slack) {
          throw new Error(`rate ${rate}: ${moved} bytes written in [${t0}, ${t1}], expected ${expected} ± ${chunk}`);
        }
      }
      // Whole chunks, the k-th at k × chunk / rate: an event per chunk, none in between.
      const firstTen = writes.slice(0, 10);
      expect(firstTen.map(([, n]) => n)).toEqual(firstTen.map(() => chunk));
      firstTen.forEach(([t], k) => expect(t).toBeCloseTo(((k + 1) * chunk) / rate, 5));
    }
  });

  it('wakes about rate / chunk times per second, not on a fixed tick', () => {
    const timersFor = (reader: SimPeerOptions) => {
      const s = scenario({ send: 1e12 }, { record: 'count', ...reader });
      s.loop.advance(5);
      return { timers: s.loop.stats.timers, bytes: s.reader.receivedBytes };
    };
    // 1 MB/s: chunks of 10 kB (10 ms), 100 wake-ups a second.
    const slow = timersFor({ readRate: 1e6 });
    expect(slow.timers).toBeGreaterThanOrEqual(495);
    expect(slow.timers).toBeLessThanOrEqual(505);
    // 40 MB/s: 64 KiB reads (the read size caps the chunk), 610 a second.
    const fast = timersFor({ readRate: 40e6 });
    expect(Math.abs(fast.timers - (5 * 40e6) / 65536)).toBeLessThanOrEqual(5);
    expect(Math.abs(fast.bytes - 5 * 40e6)).toBeLessThanOrEqual(65536);
    // quantum: Infinity: whole reads even at 1 MB/s, 15 a second.
    const coarse = timersFor({ readRate: 1e6, quantum: Infinity });
    expect(Math.abs(coarse.timers - 5e6 / 65536)).toBeLessThanOrEqual(2);
    expect(Math.abs(coarse.bytes - 5e6)).toBeLessThanOrEqual(65536);
    // A smaller read size means smaller chunks.
    const small = timersFor({ readRate: 1e6, readSize: 1000 });
    expect(Math.abs(small.timers - 5000)).toBeLessThanOrEqual(5);
  });

  it('reads nothing at all during a stall, however much is buffered, and resumes after it', () => {
    const s = scenario(
      { send: 1e12 },
      {
        readRate: 1e6,
        readSchedule: [
          { at: 1, rate: 0 },
          { at: 2.5, rate: 2e5 },
          { at: 3.2, rate: 0 },
          { at: 4, rate: 50e6 },
        ],
        record: 'count',
        trace: true,
      },
    );
    s.loop.advance(4.5);
    const reads = events(s.reader, 'read');
    expect(reads.filter(([t]) => (t > 1 && t <= 2.5) || (t > 3.2 && t <= 4))).toEqual([]);
    expect(Math.abs(bytesWithin(reads, 0, 1) - 1e6)).toBeLessThanOrEqual(chunkOf(1e6));
    expect(Math.abs(bytesWithin(reads, 2.5, 3.2) - 2e5 * 0.7)).toBeLessThanOrEqual(chunkOf(2e5));
    expect(Math.abs(bytesWithin(reads, 4, 4.5) - 50e6 * 0.5)).toBeLessThanOrEqual(chunkOf(50e6));
  });

  it('while stalled sets no timer but the next schedule change, and runs nothing', () => {
    const s = scenario(
      // readRate 0: the writer does not watch for replies.
      { send: 1e12, readRate: 0 },
      {
        readRate: 1e6,
        readSchedule: [
          { at: 1, rate: 0 },
          { at: 3, rate: 1e6 },
          { at: 4, rate: 0 },
        ],
        record: 'count',
      },
    );
    s.loop.advance(1.2);
    // The writer waits on its full socket (a watcher), the reader on its schedule (a timer).
    expect(s.loop.pendingTimers).toBe(1);
    expect(s.loop.activeWatchers).toBe(1);
    expect(s.loop.runOnce()).toBe(false);
    const before = s.loop.stats;
    s.loop.advance(1.7);
    const during = s.loop.stats;
    expect(during.timers - before.timers).toBe(0);
    expect(during.watcherCalls - before.watcherCalls).toBe(0);
    expect(during.iterations - before.iterations).toBe(0);
    // After the last change, a stall that never ends: no timer at all, the loop is idle for good.
    s.loop.advance(1.2);
    expect(s.loop.pendingTimers).toBe(0);
    expect(s.loop.runUntil(() => false, 1e9)).toBe(false);
  });

  it('is deterministic down to the event counts', () => {
    const run = () => {
      const s = scenario(
        { send: 1e12, sendRate: 3_700_000 },
        { readRate: 123_457, readSchedule: [{ at: 0.7, rate: 0 }, { at: 1.9, rate: 9e6 }, { at: 3.3, rate: 31_000 }], record: 'hash' },
        100_000,
      );
      s.loop.advance(5);
      return { stats: s.loop.stats, sent: s.writer.sentBytes, received: s.reader.receivedBytes, hash: s.reader.receivedHash() };
    };
    const first = run();
    expect(first.received).toBeGreaterThan(1_000_000);
    expect(run()).toEqual(first);
  });

  it('rejects a quantum or sizes that make no sense', () => {
    const [a] = simSocketPair(new SimLoop());
    expect(() => new SimPeer(a, { quantum: 0 })).toThrow(/quantum/);
    expect(() => new SimPeer(a, { readSize: 0 })).toThrow(/readSize/);
    expect(() => new SimPeer(a, { writeSize: 0.5 })).toThrow(/writeSize/);
    expect(() => new SimPeer(a, { readRate: -1 })).toThrow(/rates/);
  });
});
