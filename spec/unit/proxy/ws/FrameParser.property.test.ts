import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { closePayload } from '../../../../lib/proxy/ws/closeCodes.js';
import { frameBuffer, type FrameOptions } from '../../../../lib/proxy/ws/frame.js';
import { FrameParser } from '../../../../lib/proxy/ws/FrameParser.js';
import { feed } from './feed.js';

// Fixed so that CI runs the same cases every time; a failure prints its seed and path.
const SEED = 0x5eed_6455;

interface Spec {
  opcode: number;
  payload: Buffer;
  close?: { code: number; reason: string };
  mask: Uint8Array;
  lengthBits?: 16 | 64;
}

/** A payload of `length` bytes from a cheap pattern (fast-check arrays of 64 KiB are slow). */
const bigPayload = fc
  .record({ length: fc.integer({ min: 65_536, max: 70_000 }), salt: fc.integer({ min: 0, max: 255 }) })
  .map(({ length, salt }) => Buffer.from(Uint8Array.from({ length }, (_, i) => (i * 31 + salt) & 0xff)));

const dataPayload = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 125 }).map((a) => Buffer.from(a)) },
  { weight: 3, arbitrary: fc.uint8Array({ minLength: 126, maxLength: 3000 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: bigPayload },
);

const mask = fc.oneof(
  { weight: 1, arbitrary: fc.constant(new Uint8Array(4)) }, // the all-zero key: a view, not a copy
  { weight: 4, arbitrary: fc.uint8Array({ minLength: 4, maxLength: 4 }) },
);

const closeCode = fc.oneof(
  fc.constantFrom(1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014),
  fc.integer({ min: 3000, max: 4999 }),
);

const spec: fc.Arbitrary<Spec> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      opcode: fc.constantFrom(1, 2),
      payload: dataPayload,
      mask,
      // Longer length fields than needed are legal for the parser (Perl reads them too).
      lengthBits: fc.constantFrom(undefined, 16 as const, 64 as const),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      opcode: fc.constantFrom(9, 10),
      payload: fc.uint8Array({ maxLength: 125 }).map((a) => Buffer.from(a)),
      mask,
    }),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ code: closeCode, reason: fc.string({ maxLength: 30, unit: 'binary' }) /* at most 120 bytes of UTF-8 */, mask })
      .map(({ code, reason, mask: m }) => ({ opcode: 8, payload: closePayload(code, reason), close: { code, reason }, mask: m })),
  },
);

function encode(s: Spec): Buffer {
  const opts: FrameOptions = { opcode: s.opcode, mask: s.mask };
  if (s.lengthBits && !(s.lengthBits === 16 && s.payload.length > 0xffff)) opts.lengthBits = s.lengthBits;
  return frameBuffer(s.payload, opts);
}

describe(`FrameParser round trip (fast-check seed ${SEED})`, () => {
  it('parses any sequence of valid masked frames, cut anywhere, back to the same frames', () => {
    fc.assert(
      fc.property(
        fc.array(spec, { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.boolean(),
        fc.boolean(),
        (specs, rawCuts, copy, unmaskInPlace) => {
          const encoded = specs.map(encode);
          const wire = Buffer.concat(encoded);
          const boundaries: number[] = [];
          let at = 0;
          for (const e of encoded) boundaries.push((at += e.length));
          const cuts = rawCuts.map((c) => c % (wire.length + 1));

          const fed = feed(wire, cuts, { unmaskInPlace }, { copy, boundaries });

          expect(fed.error).toBeUndefined();
          expect(fed.left).toBe(0);
          expect(fed.ends).toEqual(boundaries);
          expect(fed.frames.map((f) => f.opcode)).toEqual(specs.map((s) => s.opcode));
          expect(fed.frames.every((f) => f.fin && f.masked)).toBe(true);
          fed.frames.forEach((f, i) => {
            expect(f.payload.equals(specs[i].payload), `frame ${i} payload`).toBe(true);
            if (specs[i].close) expect(f.close).toEqual(specs[i].close);
          });
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it('never throws on arbitrary bytes, and consumes only whole frames', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.record({ requireMask: fc.boolean(), allowFragments: fc.boolean(), maxPayload: fc.integer({ min: 0, max: 200 }) }),
        (bytes, options) => {
          const wire = Buffer.from(bytes);
          const p = new FrameParser(options);
          let offset = 0;
          for (let steps = 0; steps <= wire.length; steps++) {
            const step = p.next(wire, offset);
            if (step.kind !== 'frame') {
              expect(step.kind === 'error' || step.need > wire.length - offset).toBe(true);
              return;
            }
            expect(step.consumed).toBeGreaterThan(1);
            offset += step.consumed;
            expect(offset).toBeLessThanOrEqual(wire.length);
          }
          throw new Error('parser made no progress');
        },
      ),
      { seed: SEED, numRuns: 2000 },
    );
  });
});
