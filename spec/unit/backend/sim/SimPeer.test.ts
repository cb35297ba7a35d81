import { describe, expect, it } from 'vitest';
import {
  PATTERN_PERIOD,
  SimLoop,
  SimPeer,
  hashBytes,
  patternBytes,
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

  it('does not save up idle time for a burst: the bucket holds one tick', () => {
    const loop = new SimLoop();
    const [a, b] = simSocketPair(loop);
    const reader = new SimPeer(b, { readRate: 1000, record: 'count' });
    loop.timer(1, () => a.write([Buffer.alloc(5000)]));
    loop.advance(1.1);
    expect(reader.receivedBytes).toBeGreaterThanOrEqual(99);
    expect(reader.receivedBytes).toBeLessThanOrEqual(101);
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

  it('runs many 5-second schedules per wall-clock second (measured, not asserted)', () => {
    // A reader that alternates slow reads and stalls against a writer that always has more:
    // the writer is held back by the full buffer all along, and every tick moves bytes.
    const runSchedule = (tick: number, record: 'hash' | 'count') => {
      const s = scenario(
        { send: 100_000_000, tick },
        {
          tick,
          record,
          readRate: 100_000,
          readSchedule: [
            { at: 1, rate: 0 },
            { at: 2, rate: 500_000 },
            { at: 3, rate: 20_000 },
            { at: 4, rate: 200_000 },
          ],
        },
      );
      s.loop.advance(5);
      return s.reader.receivedBytes;
    };
    for (const tick of [0.001, 0.01]) {
      for (const record of ['hash', 'count'] as const) {
        expect(runSchedule(tick, record)).toBeGreaterThan(800_000);
        let runs = 0;
        const start = performance.now();
        while (performance.now() - start < 300) {
          runSchedule(tick, record);
          runs++;
        }
        const perSecond = Math.round(runs / ((performance.now() - start) / 1000));
        console.log(`SimPeer pair, 5 s read schedule with a stall, ${tick * 1000} ms tick, record ${record}: ${perSecond} schedules/s`);
      }
    }
  });
});
