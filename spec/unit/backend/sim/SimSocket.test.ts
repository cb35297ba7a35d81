import { describe, expect, it } from 'vitest';
import { IoFailure } from '../../../../lib/backend/Backend.js';
import { DEFAULT_SIM_CAPACITY, SimLoop, simSocketPair } from '../../../../lib/backend/sim/index.js';

const bytes = (s: string) => Buffer.from(s);
const code = (result: unknown) => (result instanceof IoFailure ? result.code : result);

describe('SimFh capacity and backpressure', () => {
  it('accepts min(room, total) bytes, then EAGAIN until the peer reads', () => {
    const loop = new SimLoop();
    const [a, b] = simSocketPair(loop, { capacity: 10 });
    expect(a.write([bytes('hello'), bytes('world!!')])).toBe(10);
    expect(a.buffered()).toBe(10);
    expect(a.write([bytes('x')])).toBe(null);
    expect(b.read(4)?.toString()).toBe('hell');
    expect(a.write([bytes('abcdef')])).toBe(4);
    expect(b.read(100)?.toString()).toBe('oworldabcd');
    expect(b.read(100)).toBe(null);
    expect(a.bytesWritten).toBe(14);
    expect(b.bytesRead).toBe(14);
    expect(a.buffered()).toBe(0);
  });

  it('keeps each direction separate, with its own capacity', () => {
    const loop = new SimLoop();
    const [a, b] = simSocketPair(loop, { capacityAtoB: 3, capacityBtoA: 5 });
    expect(a.write([bytes('123456')])).toBe(3);
    expect(b.write([bytes('123456')])).toBe(5);
    expect(a.available()).toBe(5);
    expect(b.available()).toBe(3);
  });

  it('defaults to 64 KiB per direction', () => {
    const [a] = simSocketPair(new SimLoop());
    expect(a.write([Buffer.alloc(DEFAULT_SIM_CAPACITY + 1)])).toBe(DEFAULT_SIM_CAPACITY);
  });

  it('returns 0 only for an empty write', () => {
    const [a] = simSocketPair(new SimLoop(), { capacity: 1 });
    expect(a.write([])).toBe(0);
    expect(a.write([Buffer.alloc(0)])).toBe(0);
    expect(a.write([bytes('x')])).toBe(1);
    expect(a.write([Buffer.alloc(0), bytes('y')])).toBe(null);
    expect(a.write([])).toBe(0);
  });

  it('delivers bytes in order across partial writes and reads, whatever the chunking', () => {
    const loop = new SimLoop();
    const [a, b] = simSocketPair(loop, { capacity: 7 });
    const sent = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    const received: Buffer[] = [];
    let offset = 0;
    for (let step = 0; offset < sent.length || b.available(); step++) {
      if (offset < sent.length) {
        const pieces = [sent.subarray(offset, offset + (step % 3)), sent.subarray(offset + (step % 3), offset + 5)];
        const n = a.write(pieces);
        if (typeof n === 'number') offset += n;
      }
      const data = b.read(1 + (step % 4));
      if (Buffer.isBuffer(data)) received.push(data);
    }
    expect(Buffer.concat(received)).toEqual(sent);
  });
});

describe('SimFh end of stream', () => {
  it('shutdown: the peer reads the data, then EOF, and can still write back', () => {
    const loop = new SimLoop();
    const [a, b] = simSocketPair(loop);
    a.write([bytes('last words')]);
    a.shutdown();
    expect(code(a.write([bytes('more')]))).toBe('EPIPE');
    expect(b.read(100)?.toString()).toBe('last words');
    expect(b.read(100)).toEqual(Buffer.alloc(0));
    expect(b.read(100)).toEqual(Buffer.alloc(0));
    expect(b.write([bytes('reply')])).toBe(5);
    expect(a.read(100)?.toString()).toBe('reply');
  });

  it('close with nothing unread is a FIN: the peer reads the data, then EOF; its writes fail with EPIPE', () => {
    const loop = new SimLoop();
    const [a, b] = simSocketPair(loop);
    a.write([bytes('bye')]);
    a.close();
    expect(b.read(100)?.toString()).toBe('bye');
    expect(b.read(100)).toEqual(Buffer.alloc(0));
    expect(code(b.write([bytes('x')]))).toBe('EPIPE');
    expect(code(a.read(1))).toBe('EBADF');
    expect(code(a.write([bytes('x')]))).toBe('EBADF');
  });

  it('writing to a closed peer resets the connection: EPIPE, then reads end in ECONNRESET', () => {
    const loop = new SimLoop();
    const [a, b] = simSocketPair(loop);
    a.write([bytes('data')]);
    a.close();
    expect(code(b.write([bytes('x')]))).toBe('EPIPE');
    expect(b.read(100)?.toString()).toBe('data');
    expect(code(b.read(100))).toBe('ECONNRESET');
  });

  it('close with unread incoming data is a reset: the peer reads what was sent, then ECONNRESET', () => {
    const loop = new SimLoop();
    const [a, b] = simSocketPair(loop);
    b.write([bytes('unread')]);
    a.write([bytes('sent')]);
    a.close();
    expect(b.read(100)?.toString()).toBe('sent');
    expect(code(b.read(100))).toBe('ECONNRESET');
    expect(code(b.read(100))).toBe('ECONNRESET');
    expect(b.buffered()).toBe(0);
  });

  it('reports EOF and failing writes as readiness, like poll', () => {
    const loop = new SimLoop();
    const [a, b] = simSocketPair(loop, { capacity: 1 });
    const events: string[] = [];
    b.watchReadable(() => events.push('b readable'));
    a.watchWritable(() => events.push('a writable'));
    a.write([bytes('x')]);
    loop.runOnce();
    expect(events).toEqual(['b readable']);
    b.read(1);
    a.write([bytes('y')]);
    a.shutdown();
    events.length = 0;
    loop.runOnce();
    // Full, but a write would fail at once (EPIPE): writable. Data, then EOF: readable.
    expect(events).toEqual(['b readable', 'a writable']);
    b.read(1);
    events.length = 0;
    loop.runOnce();
    expect(events).toEqual(['b readable', 'a writable']);
    expect(b.read(1)).toEqual(Buffer.alloc(0));
  });
});

describe('SimFh watchers', () => {
  it('are level-triggered: once per iteration while the condition holds, then silent', () => {
    const loop = new SimLoop();
    const [a, b] = simSocketPair(loop);
    let calls = 0;
    b.watchReadable(() => calls++);
    loop.runUntilIdle();
    expect(calls).toBe(0);
    a.write([bytes('abc')]);
    loop.runOnce();
    loop.runOnce();
    expect(calls).toBe(2);
    b.read(1);
    loop.runOnce();
    expect(calls).toBe(3);
    b.read(10);
    expect(loop.runOnce()).toBe(false);
    expect(calls).toBe(3);
  });

  it('never run after cancel, even when the cancel comes from an earlier callback of the same iteration', () => {
    const loop = new SimLoop();
    const [a, b] = simSocketPair(loop);
    a.write([bytes('x')]);
    const calls: string[] = [];
    let stopWrite = () => {};
    const stopRead = b.watchReadable(() => {
      calls.push('read');
      stopWrite();
    });
    stopWrite = b.watchWritable(() => calls.push('write'));
    loop.runOnce();
    expect(calls).toEqual(['read']);
    stopRead();
    loop.runUntilIdle();
    expect(calls).toEqual(['read']);
  });

  it('stop when the fh is closed, even by another watcher of the same iteration', () => {
    const loop = new SimLoop();
    const [a, b] = simSocketPair(loop);
    a.write([bytes('x')]);
    const calls: string[] = [];
    const stopA = a.watchWritable(() => {
      calls.push('a writable');
      b.close();
      stopA();
    });
    b.watchReadable(() => calls.push('b readable'));
    b.watchWritable(() => calls.push('b writable'));
    loop.runUntilIdle();
    expect(calls).toEqual(['a writable']);
  });

  it('installed during an iteration first run in the next one', () => {
    const loop = new SimLoop();
    const [a, b] = simSocketPair(loop);
    a.write([bytes('x')]);
    const calls: string[] = [];
    loop.post(() => b.watchReadable(() => calls.push('late')));
    loop.runOnce();
    expect(calls).toEqual([]);
    loop.runOnce();
    expect(calls).toEqual(['late']);
  });

  it('of a closed end are dropped from the loop', () => {
    const loop = new SimLoop();
    const [a, b] = simSocketPair(loop);
    a.write([bytes('x')]);
    b.watchReadable(() => {});
    b.watchWritable(() => {});
    a.watchWritable(() => {});
    expect(loop.activeWatchers).toBe(3);
    b.close();
    expect(loop.activeWatchers).toBe(1);
    expect(b.watchReadable(() => {})).toBeTypeOf('function');
    expect(loop.activeWatchers).toBe(1);
  });

  it('allow several watchers on one condition, each cancelled on its own', () => {
    const loop = new SimLoop();
    const [a, b] = simSocketPair(loop);
    a.write([bytes('x')]);
    const calls: string[] = [];
    const stopFirst = b.watchReadable(() => calls.push('first'));
    b.watchReadable(() => calls.push('second'));
    loop.runOnce();
    stopFirst();
    loop.runOnce();
    expect(calls).toEqual(['first', 'second', 'second']);
  });
});

/** `length` bytes of a counting pattern, in memory of their own (never the shared pool). */
function owned(length: number, step = 1): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i++) out[i] = (i * step) % 256;
  return out;
}

/** True when `view` is bytes [start, start + length) of `source`'s very memory. */
const isViewOf = (view: Buffer, source: Buffer, start: number) =>
  view.buffer === source.buffer && view.byteOffset === source.byteOffset + start;

describe('SimFh zero-copy buffering', () => {
  it('merges writes that are adjacent in memory, so a read across them is a view, not a copy', () => {
    const loop = new SimLoop();
    const [a, b] = simSocketPair(loop, { capacity: 1000 });
    const source = owned(600);
    expect(a.write([source.subarray(0, 100)])).toBe(100);
    expect(a.write([source.subarray(100, 250), source.subarray(250, 400)])).toBe(300);
    const out = b.read(1000) as Buffer;
    expect(out.equals(source.subarray(0, 400))).toBe(true);
    // The same memory as the source: nothing was copied.
    expect(isViewOf(out, source, 0)).toBe(true);
  });

  it('keeps merging after a partial write and after partial reads', () => {
    const loop = new SimLoop();
    const [a, b] = simSocketPair(loop, { capacity: 300 });
    const source = owned(1000, 7);
    expect(a.write([source.subarray(0, 500)])).toBe(300);
    expect((b.read(120) as Buffer).equals(source.subarray(0, 120))).toBe(true);
    expect(a.write([source.subarray(300, 1000)])).toBe(120);
    const out = b.read(1000) as Buffer;
    expect(out.equals(source.subarray(120, 420))).toBe(true);
    expect(isViewOf(out, source, 120)).toBe(true);
  });

  it('copies when the pieces are not adjacent, and never merges different memory', () => {
    const loop = new SimLoop();
    const [a, b] = simSocketPair(loop, { capacity: 100 });
    // Same byte offsets, different ArrayBuffers: adjacent offsets must not be mistaken for adjacent memory.
    const first = Buffer.from(new ArrayBuffer(20), 0, 10).fill(1);
    const second = Buffer.from(new ArrayBuffer(20), 10, 10).fill(2);
    a.write([first]);
    a.write([second]);
    const out = b.read(100) as Buffer;
    expect([...out]).toEqual([...Array(10).fill(1), ...Array(10).fill(2)]);
    expect(isViewOf(out, first, 0)).toBe(false);
    // Out of order pieces of one Buffer are not adjacent either.
    const source = Buffer.from('abcdefghij');
    a.write([source.subarray(5), source.subarray(0, 5)]);
    expect(b.read(100)?.toString()).toBe('fghijabcde');
  });
});
