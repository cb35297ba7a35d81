import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isZeroMask, unmask, unmaskBytewise, unmaskCopy } from '../../../../lib/proxy/ws/unmask.js';

const SEED = 0x5eed_0004;

describe('unmask', () => {
  it('unmasks the RFC 6455 example in place', () => {
    const buf = Buffer.from('7f9f4d5158', 'hex');
    unmask(buf, Buffer.from('37fa213d', 'hex'));
    expect(buf.toString()).toBe('Hello');
  });

  it('reads the key at maskOffset', () => {
    const frame = Buffer.from('818537fa213d7f9f4d5158', 'hex');
    expect(unmaskCopy(frame.subarray(6), frame, 2).toString()).toBe('Hello');
  });

  it('starts the key at byte 0 of the payload whatever its alignment, and keeps the phase across head, words and tail', () => {
    const key = Buffer.from('a1b2c3d4', 'hex');
    const backing = Buffer.alloc(300);
    for (let start = 0; start < 8; start++) {
      for (const len of [15, 16, 17, 18, 19, 20, 31, 32, 33, 64, 255]) {
        const view = backing.subarray(start, start + len);
        for (let i = 0; i < len; i++) view[i] = (i * 7) & 0xff;
        const expected = Buffer.from(view);
        unmaskBytewise(expected, key);
        unmask(view, key);
        expect(view.equals(expected), `start ${start}, len ${len}`).toBe(true);
      }
    }
  });

  it('agrees with the byte loop on any payload, offset and key', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 600 }),
        fc.integer({ min: 0, max: 7 }),
        fc.uint8Array({ minLength: 4, maxLength: 4 }),
        (bytes, start, key) => {
          const backing = new Uint8Array(bytes.length + start);
          const view = backing.subarray(start);
          view.set(bytes);
          const expected = Uint8Array.from(bytes);
          unmaskBytewise(expected, key);
          expect(Buffer.from(unmaskCopy(view, key))).toEqual(Buffer.from(expected));
          expect(Buffer.from(view)).toEqual(Buffer.from(bytes)); // unmaskCopy leaves src alone
          unmask(view, key);
          expect(Buffer.from(view)).toEqual(Buffer.from(expected));
        },
      ),
      { seed: SEED, numRuns: 500 },
    );
  });

  it('is its own inverse', () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i & 0xff));
    const key = Buffer.from('deadbeef', 'hex');
    const masked = unmaskCopy(data, key);
    expect(masked.equals(data)).toBe(false);
    unmask(masked, key);
    expect(masked.equals(data)).toBe(true);
  });

  it('touches no byte outside the view', () => {
    const backing = Buffer.alloc(100, 0x55);
    unmask(backing.subarray(3, 97), Buffer.from('ffffffff', 'hex'));
    expect(backing.subarray(0, 3).toString('hex')).toBe('555555');
    expect(backing.subarray(97).toString('hex')).toBe('555555');
    expect(backing.subarray(3, 97).every((b) => b === 0xaa)).toBe(true);
  });

  it('recognises the all-zero key, at an offset too', () => {
    expect(isZeroMask(Buffer.alloc(4))).toBe(true);
    expect(isZeroMask(Buffer.from('00000001', 'hex'))).toBe(false);
    expect(isZeroMask(Buffer.from('80000000', 'hex'))).toBe(false);
    expect(isZeroMask(Buffer.from('ff00000000ff', 'hex'), 1)).toBe(true);
  });
});
