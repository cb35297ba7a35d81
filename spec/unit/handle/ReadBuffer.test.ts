import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReadBuffer } from '../../../lib/handle/ReadBuffer.js';

describe('ReadBuffer', () => {
  it('adopts the first chunk without copying', () => {
    const rb = new ReadBuffer();
    const data = Buffer.from('hello');
    rb.append(data);
    expect(rb.view().buffer).toBe(data.buffer);
  });

  it('takes a suffix of its own view in O(1), without reallocating', () => {
    const rb = new ReadBuffer();
    rb.append(Buffer.from('hello'));
    rb.append(Buffer.from(' world'));
    const before = rb.view();
    rb.assign(before.subarray(6), true);
    expect(rb.view().toString()).toBe('world');
    expect(rb.view().buffer).toBe(before.buffer);
  });

  it('never rewrites bytes already handed out as views', () => {
    const rb = new ReadBuffer();
    rb.append(Buffer.from('abc'));
    const handedOut = rb.take(3);
    rb.append(Buffer.from('xyz'));
    rb.append(Buffer.alloc(10_000, 0x51));
    expect(handedOut.toString()).toBe('abc');
  });

  it('in strict mode, refuses an assignment that is not a suffix', () => {
    const rb = new ReadBuffer();
    rb.append(Buffer.from('hello'));
    expect(() => rb.assign(Buffer.from('other'), true)).toThrow(/suffix/);
    rb.assign(Buffer.from('other'), false);
    expect(rb.view().toString()).toBe('other');
  });

  it('matches a plain concatenation model for any appends and consumes, within twice the peak size', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.record({ append: fc.uint8Array({ maxLength: 3000 }) }), fc.record({ consume: fc.nat(5000) })), {
          maxLength: 60,
        }),
        (ops) => {
          const rb = new ReadBuffer();
          let model = Buffer.alloc(0);
          const views: Array<[Buffer, Buffer]> = [];
          let peak = 0;
          for (const op of ops) {
            if ('append' in op) {
              rb.append(Buffer.from(op.append));
              model = Buffer.concat([model, Buffer.from(op.append)]);
            } else {
              const n = Math.min(op.consume, model.length);
              const taken = rb.take(n);
              views.push([taken, Buffer.from(taken)]);
              model = model.subarray(n);
            }
            expect(rb.view().equals(model)).toBe(true);
            // Memory held is bounded by twice the peak of live data (consumed bytes are
            // released at the next regrow, or at once when rbuf empties).
            peak = Math.max(peak, rb.length);
            expect(rb.footprint).toBeLessThanOrEqual(2 * peak + 4096);
          }
          for (const [view, copy] of views) expect(view.equals(copy)).toBe(true);
        },
      ),
      { seed: 42, numRuns: 200 },
    );
  });

  describe('reads into its spare room (Fh.readInto)', () => {
    /** What a file handle does with lent room: read `bytes` into it, return the view. */
    const readInto = (room: Buffer, bytes: string) => {
      room.write(bytes, 'latin1');
      return room.subarray(0, bytes.length);
    };

    it('appends a read that landed in the lent room in place, without copying', () => {
      const rb = new ReadBuffer();
      rb.append(Buffer.from('partial frame: '));
      const room = rb.spare(64);
      const footprint = rb.footprint;
      rb.append(readInto(room, 'its tail'));
      expect(rb.view().toString()).toBe('partial frame: its tail');
      expect(rb.view().buffer).toBe(room.buffer);
      expect(rb.footprint).toBe(footprint);
      expect(rb.owned).toBe(true);
    });

    it('regrows for room by copying only the live bytes, and lends room after them', () => {
      const rb = new ReadBuffer();
      rb.append(Buffer.from('abc'));
      const room = rb.spare(1000);
      expect(room.length).toBe(1000);
      expect(rb.view().toString()).toBe('abc');
      expect(room.byteOffset).toBe(rb.view().byteOffset + 3);
    });

    it('never copies other data into room that is lent', () => {
      const rb = new ReadBuffer();
      rb.append(Buffer.from('live'));
      const room = rb.spare(16);
      rb.append(Buffer.from('-copied'));
      room.fill(0xee); // the read lands later, where it was lent
      expect(rb.view().toString()).toBe('live-copied');
    });

    it('keeps the rest of a read taken in part: nothing is copied over it', () => {
      const rb = new ReadBuffer();
      rb.append(Buffer.from('live:'));
      const room = rb.spare(64);
      const read = readInto(room, '0123456789abcdefghij');
      rb.append(read.subarray(0, 10)); // the reader took 10 bytes; the file handle queues the rest
      rb.append(Buffer.from('|other'));
      expect(read.subarray(10).toString()).toBe('abcdefghij');
      expect(rb.view().toString()).toBe('live:0123456789|other');
    });

    it('extends an adopted read with the rest of the same read, without copying', () => {
      const rb = new ReadBuffer();
      const read = Buffer.from('one read, taken in two');
      rb.append(read.subarray(0, 9));
      rb.append(read.subarray(9));
      expect(rb.view().toString()).toBe('one read, taken in two');
      expect(rb.view().buffer).toBe(read.buffer);
      expect(rb.owned).toBe(false);
    });
  });
});
