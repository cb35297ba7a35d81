import { describe, expect, it } from 'vitest';
import { packInt, parseIntFormat, unpackInt } from '../../../lib/types/pack.js';

// `pack $f, 258` and `pack $f, -2` as perl 5.36 on x86_64 Linux gives them (copied from
// perl's output; packstring.test.ts also checks against a live perl when there is one).
// For the one-byte formats perl wraps 258 to 2, which packInt refuses, so those use 2.
const PERL_258_AND_MINUS_2: Array<[format: string, p258: string, pMinus2: string, signed: boolean]> = [
  ['C', '02', 'fe', false],
  ['c', '02', 'fe', true],
  ['n', '0102', 'fffe', false],
  ['N', '00000102', 'fffffffe', false],
  ['v', '0201', 'feff', false],
  ['V', '02010000', 'feffffff', false],
  ['s', '0201', 'feff', true],
  ['S', '0201', 'feff', false],
  ['l', '02010000', 'feffffff', true],
  ['L', '02010000', 'feffffff', false],
  ['q', '0201000000000000', 'feffffffffffffff', true],
  ['Q', '0201000000000000', 'feffffffffffffff', false],
  ['i', '02010000', 'feffffff', true],
  ['I', '02010000', 'feffffff', false],
  ['j', '0201000000000000', 'feffffffffffffff', true],
  ['J', '0201000000000000', 'feffffffffffffff', false],
  ['s!', '0201', 'feff', true],
  ['S!', '0201', 'feff', false],
  ['l!', '0201000000000000', 'feffffffffffffff', true],
  ['L!', '0201000000000000', 'feffffffffffffff', false],
  ['i!', '02010000', 'feffffff', true],
  ['I!', '02010000', 'feffffff', false],
  ['n!', '0102', 'fffe', true],
  ['N!', '00000102', 'fffffffe', true],
  ['v!', '0201', 'feff', true],
  ['V!', '02010000', 'feffffff', true],
  ['s<', '0201', 'feff', true],
  ['s>', '0102', 'fffe', true],
  ['S>', '0102', 'fffe', false],
  ['l>', '00000102', 'fffffffe', true],
  ['L<', '02010000', 'feffffff', false],
  ['q>', '0000000000000102', 'fffffffffffffffe', true],
  ['Q>', '0000000000000102', 'fffffffffffffffe', false],
  ['i>', '00000102', 'fffffffe', true],
  ['I>', '00000102', 'fffffffe', false],
  ['j>', '0000000000000102', 'fffffffffffffffe', true],
  ['J<', '0201000000000000', 'feffffffffffffff', false],
  ['s!>', '0102', 'fffe', true],
  ['l!>', '0000000000000102', 'fffffffffffffffe', true],
  ['L!<', '0201000000000000', 'feffffffffffffff', false],
  ['i!>', '00000102', 'fffffffe', true],
  ['l<!', '0201000000000000', 'feffffffffffffff', true],
];

const hex = (s: string) => Buffer.from(s, 'hex');

describe('parseIntFormat, packInt, unpackInt against perl', () => {
  it.each(PERL_258_AND_MINUS_2)('%s packs 258 as perl does and reads back both values', (f, p258, pMinus2, signed) => {
    const fmt = parseIntFormat(f);
    const value = fmt.size === 1 ? 2 : 258;
    expect(packInt(fmt, value).toString('hex')).toBe(p258);
    expect(unpackInt(fmt, hex(p258))).toEqual({ kind: 'int', value, size: p258.length / 2 });
    const minus2 = unpackInt(fmt, hex(pMinus2));
    if (signed) {
      expect(minus2).toEqual({ kind: 'int', value: -2, size: pMinus2.length / 2 });
      expect(packInt(fmt, -2).toString('hex')).toBe(pMinus2);
    } else if (fmt.size === 8) {
      expect(minus2).toEqual({ kind: 'unsafe' });
    } else {
      expect(minus2).toEqual({ kind: 'int', value: 2 ** (fmt.size * 8) - 2, size: fmt.size });
    }
  });

  it('reads only the integer, whatever follows it', () => {
    expect(unpackInt(parseIntFormat('n'), hex('0102ffff'))).toEqual({ kind: 'int', value: 258, size: 2 });
  });

  it.each(PERL_258_AND_MINUS_2)('%s is incomplete with one byte short', (f, p258) => {
    expect(unpackInt(parseIntFormat(f), hex(p258).subarray(0, p258.length / 2 - 1))).toEqual({ kind: 'incomplete' });
  });

  // Each of these makes perl's pack croak ("allowed only after types …", "can't use both").
  it.each(['n<', 'N>', 'v>', 'V<', 'w!', 'C!', 'c!', 'c<', 'C>', 'w<', 'q!', 'Q!', 'j!', 'J!', 's<>', 'n!<'])(
    'rejects %s, as perl does',
    (f) => {
      expect(() => parseIntFormat(f)).toThrow(TypeError);
      expect(() => parseIntFormat(f)).toThrow(/allowed only after|can't use both/);
    },
  );

  it.each(['', 'x', 'a', 'A*', 'U', 'n2', 'n*', ' n', 'n ', 'nn', 'n/a*', 'W', '!n'])('rejects %j: not a single integer', (f) => {
    expect(() => parseIntFormat(f)).toThrow(TypeError);
    expect(() => parseIntFormat(f)).toThrow(/is not a single integer/);
  });

  it('rejects a non-string format', () => {
    expect(() => parseIntFormat(7 as unknown as string)).toThrow(TypeError);
    expect(() => parseIntFormat(7 as unknown as string)).toThrow(/must be a string/);
  });

  it('takes repeated modifiers, as perl does (with a warning)', () => {
    expect(parseIntFormat('s!!')).toMatchObject({ size: 2, signed: true, littleEndian: true });
    expect(parseIntFormat('l>>')).toMatchObject({ size: 4, signed: true, littleEndian: false });
  });
});

describe('BER compressed integers (w)', () => {
  // perl -e 'print unpack "H*", pack "w", $_' for each value
  const PERL_W: Array<[number, string]> = [
    [0, '00'],
    [1, '01'],
    [127, '7f'],
    [128, '8100'],
    [258, '8202'],
    [16383, 'ff7f'],
    [16384, '818000'],
    [2 ** 32, '9080808000'],
    [Number.MAX_SAFE_INTEGER, '8fffffffffffff7f'],
  ];
  const w = parseIntFormat('w');

  it.each(PERL_W)('%d packs as perl does and reads back', (value, bytes) => {
    expect(packInt(w, value).toString('hex')).toBe(bytes);
    expect(unpackInt(w, hex(bytes + 'ff'))).toEqual({ kind: 'int', value, size: bytes.length / 2 });
  });

  it.each(PERL_W)('%d is incomplete without its last byte', (_value, bytes) => {
    expect(unpackInt(w, hex(bytes).subarray(0, bytes.length / 2 - 1))).toEqual({ kind: 'incomplete' });
  });

  it('is unsafe past 2^53-1, as soon as that is certain', () => {
    // 2^53 terminated, and an unterminated prefix already past the limit
    expect(unpackInt(w, hex('9080808080808000'))).toEqual({ kind: 'unsafe' });
    expect(unpackInt(w, hex('ffffffffffffffff'))).toEqual({ kind: 'unsafe' });
    // 2^53-1 itself is fine
    expect(unpackInt(w, hex('8fffffffffffff7f'))).toMatchObject({ kind: 'int' });
  });

  it('rejects a leading zero group, which perl reads but then frames wrongly', () => {
    expect(unpackInt(w, hex('8003'))).toEqual({ kind: 'non-canonical' });
    expect(unpackInt(w, hex('80'))).toEqual({ kind: 'non-canonical' });
  });

  it('cannot pack a negative number', () => {
    expect(() => packInt(w, -1)).toThrow(RangeError);
  });
});

describe('packInt ranges', () => {
  it.each([
    ['C', 256],
    ['C', -1],
    ['c', 128],
    ['c', -129],
    ['n', 65536],
    ['N', 2 ** 32],
    ['s', 32768],
    ['l', 2 ** 31],
    ['C', 1.5],
    ['Q', 2 ** 53],
  ])('%s cannot hold %d', (f, value) => {
    // The message is packInt's own: Buffer's writers would throw a RangeError of their own.
    expect(() => packInt(parseIntFormat(f), value)).toThrow(RangeError);
    expect(() => packInt(parseIntFormat(f), value)).toThrow(/packstring: .* (does not fit|is not a safe integer)/);
  });

  it.each([
    ['C', 255],
    ['c', -128],
    ['n', 65535],
    ['N', 2 ** 32 - 1],
    ['q', -(2 ** 53 - 1)],
    ['Q', 2 ** 53 - 1],
  ])('%s holds %d', (f, value) => {
    const fmt = parseIntFormat(f);
    expect(unpackInt(fmt, packInt(fmt, value))).toEqual({ kind: 'int', value, size: fmt.size });
  });

  it('reads 8-byte values at the edge of the safe range', () => {
    const q = parseIntFormat('q');
    expect(unpackInt(q, hex('0100000000002000'))).toEqual({ kind: 'unsafe' }); // 2^53 + 1
    expect(unpackInt(q, hex('000000000000e0ff'))).toEqual({ kind: 'unsafe' }); // -2^53
    expect(unpackInt(q, hex('010000000000e0ff'))).toEqual({ kind: 'int', value: -(2 ** 53 - 1), size: 8 });
  });
});
