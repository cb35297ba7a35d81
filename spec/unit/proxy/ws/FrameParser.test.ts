import { describe, expect, it } from 'vitest';
import type { FrameErrorCode } from '../../../../lib/proxy/ws/errors.js';
import { DEFAULT_MAX_PAYLOAD, FrameParser, type FrameParserOptions } from '../../../../lib/proxy/ws/FrameParser.js';
import { everySplit, feed, hex, summary } from './feed.js';

// The RFC 6455 section 5.7 masking key and "Hello" masked with it.
const RFC_MASK = '37fa213d';
const HELLO_MASKED = '7f9f4d5158';
const HELLO = Buffer.from('Hello').toString('hex');

type Expected = { opcode: number; fin?: boolean; payload: string; close?: { code: number | undefined; reason: string } };

/** [name, wire hex, expected frames, parser options] */
const VALID: Array<[string, string, Expected[], FrameParserOptions?]> = [
  ['masked text (RFC 6455 5.7)', `8185 ${RFC_MASK} ${HELLO_MASKED}`, [{ opcode: 1, payload: HELLO }]],
  ['masked binary, empty', '8280 01020304', [{ opcode: 2, payload: '' }]],
  ['binary with the all-zero mask', '8285 00000000 0102030405', [{ opcode: 2, payload: '0102030405' }]],
  // "abcd" x 64 under key 01020304 is 0x60 in every byte.
  ['16-bit length', `82fe0100 01020304 ${'60'.repeat(256)}`, [{ opcode: 2, payload: '61626364'.repeat(64) }]],
  ['64-bit length field holding a small length', `82ff0000000000000005 ${RFC_MASK} ${HELLO_MASKED}`, [{ opcode: 2, payload: HELLO }]],
  ['64-bit length, 64 KiB', `82ff0000000000010000 00000000 ${'ab'.repeat(65536)}`, [{ opcode: 2, payload: 'ab'.repeat(65536) }]],
  ['masked ping', `8985 ${RFC_MASK} ${HELLO_MASKED}`, [{ opcode: 9, payload: HELLO }]],
  ['masked pong (RFC 6455 5.7)', `8a85 ${RFC_MASK} ${HELLO_MASKED}`, [{ opcode: 10, payload: HELLO }]],
  ['empty ping', '8980 01020304', [{ opcode: 9, payload: '' }]],
  ['ping of 125 bytes, the control maximum', `89fd 00000000 ${'5a'.repeat(125)}`, [{ opcode: 9, payload: '5a'.repeat(125) }]],
  ['close 1000 "bye"', '8885 ffffffff fc179d869a', [{ opcode: 8, payload: '03e8627965', close: { code: 1000, reason: 'bye' } }]],
  ['close without a payload', '8880 11223344', [{ opcode: 8, payload: '', close: { code: undefined, reason: '' } }]],
  [
    'three frames back to back',
    `8985 ${RFC_MASK} ${HELLO_MASKED} 8182 01020304 6060 8880 00000000`,
    [
      { opcode: 9, payload: HELLO },
      { opcode: 1, payload: '6162' },
      { opcode: 8, payload: '', close: { code: undefined, reason: '' } },
    ],
  ],
  // Server-to-client direction: the RFC 6455 5.7 unmasked examples.
  ['unmasked text, mask not required', `8105 ${HELLO}`, [{ opcode: 1, payload: HELLO }], { requireMask: false }],
  ['unmasked 256-byte binary, mask not required', `827e0100 ${'11'.repeat(256)}`, [{ opcode: 2, payload: '11'.repeat(256) }], { requireMask: false }],
  [
    'fragmented unmasked text, fragments allowed',
    `0103 48656c 8a00 8002 6c6f`,
    [
      { opcode: 1, fin: false, payload: '48656c' },
      { opcode: 10, payload: '' },
      { opcode: 0, payload: '6c6f' },
    ],
    { requireMask: false, allowFragments: true },
  ],
];

describe('FrameParser: valid frames', () => {
  for (const [name, wireHex, expected, options] of VALID) {
    const wire = hex(wireHex);
    const want = expected.map((e) => ({ fin: true, ...e }));
    const boundaries = frameEnds(wire, want);

    it(`parses ${name}, split at every byte boundary`, () => {
      const splits = wire.length > 1000 ? [{ name: 'whole', cuts: [] }, ...headerAndTailSplits(wire.length)] : everySplit(wire.length);
      for (const { name: how, cuts } of splits) {
        const fed = feed(Buffer.from(wire), cuts, options, { boundaries });
        expect(fed.error, how).toBeUndefined();
        expect(fed.frames.map(summary), how).toEqual(want);
        expect(fed.left, how).toBe(0);
      }
    });

    it(`parses ${name} when every arrival moves rbuf to new memory`, () => {
      const fed = feed(Buffer.from(wire), [1, 2, 3, 5, 8, 13, 21, 34], options, { copy: true, boundaries });
      expect(fed.frames.map(summary)).toEqual(want);
      expect(fed.left).toBe(0);
    });
  }

  it('parses 64 KiB in 64-bit length form split at every byte boundary', () => {
    const wire = hex(`82ff0000000000010000 00000000 ${'ab'.repeat(65536)}`);
    const p = new FrameParser();
    for (let k = 1; k < wire.length; k++) {
      const first = p.next(wire.subarray(0, k));
      if (first.kind !== 'more') throw new Error(`split at ${k}: ${first.kind}`);
      const second = p.next(wire);
      if (second.kind !== 'frame' || second.consumed !== wire.length || second.frame.payload.length !== 65536) {
        throw new Error(`split at ${k}: ${JSON.stringify(second).slice(0, 100)}`);
      }
    }
  });

  it('never consumes part of a frame: nothing is reported until the last byte is there', () => {
    const wire = hex(`8185 ${RFC_MASK} ${HELLO_MASKED}`);
    const p = new FrameParser();
    for (let k = 0; k < wire.length; k++) expect(p.next(wire.subarray(0, k)).kind).toBe('more');
    expect(p.next(wire)).toMatchObject({ kind: 'frame', consumed: wire.length });
  });

  it('says how many bytes the next step needs, counted from the frame start', () => {
    const wire = hex(`82fe0100 01020304 ${'60'.repeat(256)}`);
    const p = new FrameParser();
    expect(p.next(wire.subarray(0, 1))).toEqual({ kind: 'more', need: 2 });
    expect(p.next(wire.subarray(0, 2))).toEqual({ kind: 'more', need: 4 });
    expect(p.state).toBe('len16');
    expect(p.next(wire.subarray(0, 4))).toEqual({ kind: 'more', need: 8 });
    expect(p.state).toBe('mask');
    expect(p.next(wire.subarray(0, 8))).toEqual({ kind: 'more', need: 264 });
    expect(p.state).toBe('payload');
    expect(p.next(wire.subarray(0, 263))).toEqual({ kind: 'more', need: 264 });
    expect(p.next(wire).kind).toBe('frame');
    expect(p.state).toBe('header');
  });

  it('walks the 64-bit length state', () => {
    const p = new FrameParser();
    const wire = hex(`82ff0000000000000005 ${RFC_MASK} ${HELLO_MASKED}`);
    p.next(wire.subarray(0, 2));
    expect(p.state).toBe('len64');
    expect(p.next(wire.subarray(0, 9))).toEqual({ kind: 'more', need: 10 });
    expect(p.next(wire.subarray(0, 10))).toEqual({ kind: 'more', need: 14 });
  });

  it('reads the frame that starts at `offset`', () => {
    const wire = hex(`ffff 8182 01020304 6060`);
    const step = new FrameParser().next(wire, 2);
    expect(step).toMatchObject({ kind: 'frame', consumed: 8 });
    if (step.kind === 'frame') expect(step.frame.payload.toString()).toBe('ab');
  });

  it('parse() returns every whole frame and leaves a partial one', () => {
    const wire = hex(`8182 01020304 6060 8980 00000000 8285 000000`);
    const p = new FrameParser();
    const r = p.parse(wire);
    expect(r.frames.map(summary)).toEqual([
      { opcode: 1, fin: true, payload: '6162' },
      { opcode: 9, fin: true, payload: '' },
    ]);
    expect(r.consumed).toBe(14);
    expect(r.error).toBeUndefined();
    expect(p.parse(Buffer.concat([wire.subarray(14), hex('00 0102030405')])).frames.map(summary)).toEqual([
      { opcode: 2, fin: true, payload: '0102030405' },
    ]);
  });

  it('accepts a payload of exactly maxPayload, and waits for it', () => {
    const p = new FrameParser();
    expect(p.next(hex('82ff0000000000020000 01020304'))).toEqual({ kind: 'more', need: 14 + DEFAULT_MAX_PAYLOAD });
    expect(new FrameParser({ maxPayload: 5 }).parse(hex(`8285 ${RFC_MASK} ${HELLO_MASKED}`)).frames).toHaveLength(1);
  });

  it('accepts a 64-bit length of 2^53-1 when maxPayload allows it', () => {
    const p = new FrameParser({ maxPayload: Number.MAX_SAFE_INTEGER });
    expect(p.next(hex('82ff001fffffffffffff 01020304'))).toEqual({ kind: 'more', need: 14 + Number.MAX_SAFE_INTEGER });
  });
});

describe('FrameParser: payload buffers', () => {
  it('unmasks into a fresh Buffer and leaves the input as it was', () => {
    const wire = hex(`8185 ${RFC_MASK} ${HELLO_MASKED}`);
    const before = Buffer.from(wire);
    const step = new FrameParser().next(wire);
    if (step.kind !== 'frame') throw new Error(step.kind);
    expect(step.frame.payload.toString()).toBe('Hello');
    expect(wire).toEqual(before);
    wire.fill(0); // the payload is not a view of the input
    expect(step.frame.payload.toString()).toBe('Hello');
  });

  it('with unmaskInPlace, unmasks in the input and returns a view of it', () => {
    const wire = hex(`8185 ${RFC_MASK} ${HELLO_MASKED}`);
    const step = new FrameParser({ unmaskInPlace: true }).next(wire);
    if (step.kind !== 'frame') throw new Error(step.kind);
    expect(step.frame.payload.toString()).toBe('Hello');
    expect(step.frame.payload.buffer).toBe(wire.buffer);
    expect(wire.subarray(6).toString()).toBe('Hello');
  });

  it('skips the all-zero mask and returns a view, as the original skips the NULL mask', () => {
    const wire = hex('8285 00000000 0102030405');
    const step = new FrameParser().next(wire);
    if (step.kind !== 'frame') throw new Error(step.kind);
    expect(step.frame.masked).toBe(true);
    expect(step.frame.payload.buffer).toBe(wire.buffer);
    expect(step.frame.payload.byteOffset).toBe(wire.byteOffset + 6);
  });

  it('reports whether a frame was masked', () => {
    const step = new FrameParser({ requireMask: false }).next(hex(`8105 ${HELLO}`));
    expect(step).toMatchObject({ kind: 'frame', frame: { masked: false } });
  });
});

/** [code, name, wire hex, bytes needed before the error shows, options] */
const INVALID: Array<[FrameErrorCode, string, string, number, FrameParserOptions?]> = [
  ['WS_FRAGMENTED', 'text without FIN', `0185 ${RFC_MASK} ${HELLO_MASKED}`, 2],
  ['WS_FRAGMENTED', 'ping without FIN', `0980 ${RFC_MASK}`, 2],
  ['WS_RSV', 'RSV1', `c185 ${RFC_MASK} ${HELLO_MASKED}`, 2],
  ['WS_RSV', 'RSV2', `a185 ${RFC_MASK} ${HELLO_MASKED}`, 2],
  ['WS_RSV', 'RSV3', `9185 ${RFC_MASK} ${HELLO_MASKED}`, 2],
  ['WS_UNMASKED', 'unmasked text', `8105 ${HELLO}`, 2],
  ['WS_TOO_LARGE', '64-bit length of 128 KiB + 1', '82ff0000000000020001 01020304', 10],
  ['WS_TOO_LARGE', '16-bit length over a lower limit', `82fe03e9 01020304 ${'00'.repeat(1001)}`, 4, { maxPayload: 1000 }],
  ['WS_TOO_LARGE', '7-bit length over a lower limit', `8285 ${RFC_MASK} ${HELLO_MASKED}`, 2, { maxPayload: 4 }],
  ['WS_TOO_LARGE', '64-bit length of 2^53', '82ff0020000000000000 01020304', 10, { maxPayload: Number.MAX_SAFE_INTEGER }],
  ['WS_BAD_LENGTH', '64-bit length with the top bit set', '82ff8000000000000005 01020304', 10],
  ['WS_BAD_OPCODE', 'continuation frame, fragments not allowed', `8080 ${RFC_MASK}`, 2],
  ...[3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf].map(
    (op): [FrameErrorCode, string, string, number] => ['WS_BAD_OPCODE', `opcode ${op}`, `${(0x80 | op).toString(16)}80 ${RFC_MASK}`, 2],
  ),
  ['WS_CONTROL_TOO_LONG', 'ping with a 16-bit length', `89fe007e ${RFC_MASK} ${'00'.repeat(126)}`, 2],
  ['WS_CONTROL_TOO_LONG', 'close with a 64-bit length', `88ff0000000000000002 ${RFC_MASK} 03e8`, 2],
  ['WS_CONTROL_TOO_LONG', 'pong of 126 bytes', `8afe007e ${RFC_MASK} ${'00'.repeat(126)}`, 2],
  ['WS_CONTROL_FRAGMENTED', 'ping without FIN, fragments allowed', `0980 ${RFC_MASK}`, 2, { allowFragments: true }],
  ['WS_BAD_CONTINUATION', 'continuation with no message', `8080 ${RFC_MASK}`, 2, { allowFragments: true }],
  ['WS_BAD_CLOSE_PAYLOAD', 'close with 1 byte', '8881 00000000 03', 7],
  ['WS_BAD_CLOSE_CODE', 'close with 1005', '8882 00000000 03ed', 8],
  ['WS_BAD_CLOSE_CODE', 'close with 999', '8882 00000000 03e7', 8],
  ['WS_BAD_UTF8', 'close reason not UTF-8', '8883 00000000 03e8ff', 9],
];

describe('FrameParser: refused frames', () => {
  for (const [code, name, wireHex, earliest, options] of INVALID) {
    const wire = hex(wireHex);

    it(`refuses ${name} with ${code}, however the bytes arrive`, () => {
      for (const { name: how, cuts } of everySplit(wire.length)) {
        const fed = feed(wire, cuts, options);
        expect(fed.error?.code, how).toBe(code);
        expect(fed.frames, how).toEqual([]);
      }
    });

    it(`refuses ${name} as soon as byte ${earliest} arrives, not before`, () => {
      const p = new FrameParser(options);
      expect(p.next(wire.subarray(0, earliest - 1)).kind).toBe('more');
      expect(p.state).not.toBe('closed');
      const step = p.next(wire.subarray(0, earliest));
      expect(step.kind === 'error' && step.error.code).toBe(code);
      expect(p.state).toBe('closed');
    });

    it(`delivers the frame before ${name} and consumes nothing of it`, () => {
      const good = hex(`8182 01020304 6060`);
      const r = new FrameParser(options).parse(Buffer.concat([good, wire]));
      expect(r.frames.map((f) => f.payload.toString())).toEqual(['ab']);
      expect(r.consumed).toBe(good.length);
      expect(r.error?.code).toBe(code);
    });
  }

  it('refuses a new data frame inside a fragmented message', () => {
    const r = new FrameParser({ allowFragments: true }).parse(hex(`0181 00000000 61 0181 00000000 62`));
    expect(r.frames.map(summary)).toEqual([{ opcode: 1, fin: false, payload: '61' }]);
    expect(r.error?.code).toBe('WS_BAD_CONTINUATION');
  });

  it('accepts control frames between fragments and a continuation after them', () => {
    const r = new FrameParser({ allowFragments: true }).parse(hex(`0281 00000000 61 8980 00000000 0081 00000000 62 8081 00000000 63 8281 00000000 64`));
    expect(r.error).toBeUndefined();
    expect(r.frames.map((f) => [f.opcode, f.fin, f.payload.toString()])).toEqual([
      [2, false, 'a'],
      [9, true, ''],
      [0, false, 'b'],
      [0, true, 'c'],
      [2, true, 'd'],
    ]);
  });

  it('stays closed: every later call returns the same error, whatever it is given', () => {
    const p = new FrameParser();
    const first = p.next(hex(`8105 ${HELLO}`));
    const again = p.next(hex(`8185 ${RFC_MASK} ${HELLO_MASKED}`));
    expect(again).toEqual(first);
    expect(p.error).toEqual(first.kind === 'error' ? first.error : undefined);
    expect(p.parse(hex('8980 00000000')).frames).toEqual([]);
  });

  it("uses the original's wording for the checks it makes", () => {
    const message = (wire: string, options?: FrameParserOptions) => new FrameParser(options).parse(hex(wire)).error?.message;
    expect(message('0180')).toBe('received fragmented websocket frame');
    expect(message('c180')).toBe('received websocket frame with RSV flags');
    expect(message('8100')).toBe('received unmasked websocket frame from client');
    expect(message('82ff0000000000020001')).toBe('received too large websocket frame (len = 131073)');
    expect(message('82ff0020000000000001', { maxPayload: Number.MAX_SAFE_INTEGER })).toBe(
      'received too large websocket frame (len = 9007199254740993)',
    );
    expect(message('8380')).toBe('received unhandled websocket opcode 3');
    expect(message('8080')).toBe('received unhandled websocket opcode 0');
  });

  it('gives close codes: 1009 for too large, 1003 for fragments, 1007 for bad UTF-8, 1002 otherwise', () => {
    const closeCode = (wire: string) => new FrameParser().parse(hex(wire)).error?.closeCode;
    expect(closeCode('82ff0000000000020001')).toBe(1009);
    expect(closeCode('0180')).toBe(1003);
    expect(closeCode('8883 00000000 03e8ff')).toBe(1007);
    expect(closeCode('8100')).toBe(1002);
  });
});

describe('FrameParser: contract', () => {
  it('throws when the caller drops bytes of a frame it is in the middle of', () => {
    const wire = hex(`8185 ${RFC_MASK} ${HELLO_MASKED}`);
    const p = new FrameParser();
    p.next(wire.subarray(0, 7));
    expect(() => p.next(wire.subarray(1))).toThrow(/first byte not yet consumed/);
  });

  it('throws when the caller passes a different frame after a partial one', () => {
    const p = new FrameParser();
    p.next(hex('8185 37'));
    expect(() => p.next(hex(`8285 ${RFC_MASK} ${HELLO_MASKED}`))).toThrow(/first byte not yet consumed/);
  });

  it('throws on a maxPayload that is not a safe integer', () => {
    expect(() => new FrameParser({ maxPayload: Infinity })).toThrow(RangeError);
    expect(() => new FrameParser({ maxPayload: -1 })).toThrow(RangeError);
  });
});

/** The wire offset at which each expected frame ends, from the headers themselves. */
function frameEnds(wire: Buffer, frames: readonly unknown[]): number[] {
  const ends: number[] = [];
  let at = 0;
  for (let i = 0; i < frames.length; i++) {
    const len7 = wire[at + 1] & 0x7f;
    let headerLen = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0);
    const len = len7 === 126 ? wire.readUInt16BE(at + 2) : len7 === 127 ? Number(wire.readBigUInt64BE(at + 2)) : len7;
    if (wire[at + 1] & 0x80) headerLen += 4;
    at += headerLen + len;
    ends.push(at);
  }
  return ends;
}

/** For large fixtures: every cut in the first and last 64 bytes, and a few in between. */
function headerAndTailSplits(length: number): Array<{ name: string; cuts: number[] }> {
  const out: Array<{ name: string; cuts: number[] }> = [];
  for (let k = 1; k < length; k++) {
    if (k <= 64 || k >= length - 64 || k % 4099 === 0) out.push({ name: `split at ${k}`, cuts: [k] });
  }
  return out;
}
