import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WbufView, WriteBuffer } from '../../../lib/handle/WriteBuffer.js';

describe('WriteBuffer', () => {
  it('ignores empty appends', () => {
    const wb = new WriteBuffer();
    wb.append(Buffer.alloc(0));
    expect(wb.length).toBe(0);
    expect(wb.pending()).toEqual([]);
  });

  it('releases partial chunks and keeps the rest in order', () => {
    const wb = new WriteBuffer();
    wb.append(Buffer.from('abc'));
    wb.append(Buffer.from('defg'));
    wb.release(4);
    expect(wb.length).toBe(3);
    expect(Buffer.concat(wb.pending()).toString()).toBe('efg');
  });

  it('lists only the chunks that hold the bytes asked for, from a partly written first one', () => {
    const wb = new WriteBuffer();
    for (const c of ['abcd', 'efgh', 'ijkl', 'mnop']) wb.append(Buffer.from(c));
    wb.release(2);
    expect(wb.pending(1).map(String)).toEqual(['cd']);
    expect(wb.pending(3).map(String)).toEqual(['cd', 'efgh']);
    expect(wb.pending(6).map(String)).toEqual(['cd', 'efgh']);
    expect(wb.pending(7).map(String)).toEqual(['cd', 'efgh', 'ijkl']);
    expect(wb.pending(100).map(String)).toEqual(['cd', 'efgh', 'ijkl', 'mnop']);
  });

  it('matches a plain concatenation model for any appends and releases', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.record({ append: fc.uint8Array({ maxLength: 200 }) }), fc.record({ release: fc.nat(400) })), {
          maxLength: 300,
        }),
        (ops) => {
          const wb = new WriteBuffer();
          const view = new WbufView(wb);
          let model = Buffer.alloc(0);
          for (const op of ops) {
            if ('append' in op) {
              wb.append(Buffer.from(op.append));
              model = Buffer.concat([model, Buffer.from(op.append)]);
            } else {
              const n = Math.min(op.release, model.length);
              wb.release(n);
              model = model.subarray(n);
            }
            expect(view.length).toBe(model.length);
            expect(view.toBuffer().equals(model)).toBe(true);
          }
        },
      ),
      { seed: 7, numRuns: 200 },
    );
  });
});
