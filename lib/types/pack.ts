/**
 * The one-integer subset of Perl's `pack`/`unpack` that the `packstring` read and write
 * types accept: one of `cCsSlLqQiInNvVjJw`, plus optional `!`, `<` or `>` modifiers.
 *
 * Sizes and byte orders are those of perl on x86_64 Linux, the platform AnyEvent peers
 * are built on: "native" is little-endian, `l!`/`L!`/`j`/`J` are 8 bytes (LP64), `i`/`I`
 * (with or without `!`) are 4. A template meant for another platform's native layout
 * should use explicit `<`/`>` or `n`/`N`/`v`/`V`, exactly as it would have to in Perl.
 */

/** A parsed packstring template. */
export interface IntFormat {
  /** The template as given, for messages. */
  readonly template: string;
  /** Bytes on the wire; 0 for `w`, whose length depends on the value. */
  readonly size: 0 | 1 | 2 | 4 | 8;
  readonly signed: boolean;
  readonly littleEndian: boolean;
}

/** What `unpackInt` found at the front of a buffer. */
export type Unpacked =
  // A safe integer (possibly negative) and the bytes it took.
  | { readonly kind: 'int'; readonly value: number; readonly size: number }
  // Not all of the integer's bytes are there yet.
  | { readonly kind: 'incomplete' }
  // The integer is (or, for an unfinished `w`, is bound to be) beyond ±(2^53-1).
  | { readonly kind: 'unsafe' }
  // A `w` integer with a leading zero group (0x80), which Perl cannot frame (see unpackBer).
  | { readonly kind: 'non-canonical' };

interface Letter {
  size: 0 | 1 | 2 | 4 | 8;
  /** Size with `!`, where `!` changes it (`l!`, `L!`). */
  bangSize?: 8;
  signed: boolean;
  /** `n!`, `N!`, `v!`, `V!` are the signed variants. */
  bangSigned?: true;
  /** Fixed byte order; undefined means native unless `<`/`>` says otherwise. */
  littleEndian?: boolean;
}

const LETTERS: Record<string, Letter> = {
  c: { size: 1, signed: true },
  C: { size: 1, signed: false },
  s: { size: 2, signed: true },
  S: { size: 2, signed: false },
  i: { size: 4, signed: true },
  I: { size: 4, signed: false },
  l: { size: 4, bangSize: 8, signed: true },
  L: { size: 4, bangSize: 8, signed: false },
  q: { size: 8, signed: true },
  Q: { size: 8, signed: false },
  j: { size: 8, signed: true },
  J: { size: 8, signed: false },
  n: { size: 2, signed: false, bangSigned: true, littleEndian: false },
  N: { size: 4, signed: false, bangSigned: true, littleEndian: false },
  v: { size: 2, signed: false, bangSigned: true, littleEndian: true },
  V: { size: 4, signed: false, bangSigned: true, littleEndian: true },
  w: { size: 0, signed: false },
};

// The letters perl allows each modifier after (its "allowed only after types" lists,
// restricted to the integer letters above).
const BANG_OK = 'sSiIlLnNvV';
const ENDIAN_OK = 'sSiIlLqQjJ';

const NATIVE_LITTLE_ENDIAN = true;

/**
 * Parses a packstring template. Throws TypeError for anything that is not a single
 * integer: other letters, counts, `*`, whitespace, or a modifier perl rejects after that
 * letter. Repeated modifiers (`s!!`) are accepted, as perl does (with a warning).
 */
export function parseIntFormat(template: string): IntFormat {
  if (typeof template !== 'string') throw new TypeError(`packstring: format must be a string, got ${typeof template}`);
  const m = /^([cCsSlLqQiInNvVjJw])([!<>]*)$/.exec(template);
  if (!m) {
    throw new TypeError(`packstring: format '${template}' is not a single integer (one of cCsSlLqQiInNvVjJw, plus ! < >)`);
  }
  const [, letter, mods] = m;
  const spec = LETTERS[letter];
  const bang = mods.includes('!');
  const little = mods.includes('<');
  const big = mods.includes('>');
  if (bang && !BANG_OK.includes(letter)) throw new TypeError(`packstring: '!' allowed only after types ${BANG_OK}, in '${template}'`);
  if ((little || big) && !ENDIAN_OK.includes(letter)) {
    throw new TypeError(`packstring: '<' and '>' allowed only after types ${ENDIAN_OK}, in '${template}'`);
  }
  if (little && big) throw new TypeError(`packstring: can't use both '<' and '>' in '${template}'`);
  return {
    template,
    size: bang && spec.bangSize ? spec.bangSize : spec.size,
    signed: spec.signed || (bang && !!spec.bangSigned),
    littleEndian: spec.littleEndian ?? (little ? true : big ? false : NATIVE_LITTLE_ENDIAN),
  };
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const MAX_SAFE_BIG = BigInt(MAX_SAFE);

/**
 * Perl: `unpack $format, $buf` — the integer at the front of `buf`.
 */
export function unpackInt(format: IntFormat, buf: Buffer): Unpacked {
  if (format.size === 0) return unpackBer(buf);
  if (buf.length < format.size) return { kind: 'incomplete' };
  const le = format.littleEndian;
  let value: number;
  switch (format.size) {
    case 1:
      value = format.signed ? buf.readInt8(0) : buf.readUInt8(0);
      break;
    case 2:
      value = format.signed ? (le ? buf.readInt16LE(0) : buf.readInt16BE(0)) : le ? buf.readUInt16LE(0) : buf.readUInt16BE(0);
      break;
    case 4:
      value = format.signed ? (le ? buf.readInt32LE(0) : buf.readInt32BE(0)) : le ? buf.readUInt32LE(0) : buf.readUInt32BE(0);
      break;
    case 8: {
      const big = format.signed
        ? le
          ? buf.readBigInt64LE(0)
          : buf.readBigInt64BE(0)
        : le
          ? buf.readBigUInt64LE(0)
          : buf.readBigUInt64BE(0);
      if (big > MAX_SAFE_BIG || big < -MAX_SAFE_BIG) return { kind: 'unsafe' };
      value = Number(big);
      break;
    }
  }
  return { kind: 'int', value, size: format.size };
}

/**
 * BER compressed integer: base 128, most significant group first, high bit set on every
 * byte but the last.
 */
function unpackBer(buf: Buffer): Unpacked {
  // Divergence: perl decodes a leading 0x80 group (a zero with a continuation bit) as if it
  // were absent, and AnyEvent then measures the prefix by re-packing the value, which gives
  // fewer bytes than were read: the data is taken from inside the prefix. Such a prefix is
  // rejected instead. It also bounds the scan: a valid prefix ends within 8 bytes.
  if (buf.length > 0 && buf[0] === 0x80) return { kind: 'non-canonical' };
  let value = 0;
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i];
    // Exact up to 2^53 + 127, and rounding is monotonic, so the comparison holds even when
    // the sum is not exact; once past the limit, every further group only makes it larger.
    value = value * 128 + (b & 0x7f);
    if (value > MAX_SAFE) return { kind: 'unsafe' };
    if (!(b & 0x80)) return { kind: 'int', value, size: i + 1 };
  }
  return { kind: 'incomplete' };
}

/**
 * Perl: `pack $format, $value`. Throws RangeError when `value` is not an integer the
 * format can hold (perl would wrap it silently, with a warning at most).
 */
export function packInt(format: IntFormat, value: number): Buffer {
  if (!Number.isSafeInteger(value)) throw new RangeError(`packstring: ${value} is not a safe integer`);
  if (format.size === 0) return packBer(value);
  const bits = format.size * 8;
  const min = format.signed ? -(2 ** (bits - 1)) : 0;
  const max = format.signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  if (value < min || value > max) {
    throw new RangeError(`packstring: ${value} does not fit in format '${format.template}' (${min}..${max})`);
  }
  const out = Buffer.allocUnsafe(format.size);
  const le = format.littleEndian;
  if (format.size === 1) {
    if (format.signed) out.writeInt8(value);
    else out.writeUInt8(value);
  } else if (format.size === 2) {
    if (format.signed) (le ? out.writeInt16LE : out.writeInt16BE).call(out, value);
    else (le ? out.writeUInt16LE : out.writeUInt16BE).call(out, value);
  } else if (format.size === 4) {
    if (format.signed) (le ? out.writeInt32LE : out.writeInt32BE).call(out, value);
    else (le ? out.writeUInt32LE : out.writeUInt32BE).call(out, value);
  } else if (format.signed) {
    (le ? out.writeBigInt64LE : out.writeBigInt64BE).call(out, BigInt(value));
  } else {
    (le ? out.writeBigUInt64LE : out.writeBigUInt64BE).call(out, BigInt(value));
  }
  return out;
}

function packBer(value: number): Buffer {
  if (value < 0) throw new RangeError('packstring: cannot compress negative numbers');
  const groups: number[] = [value % 128];
  // Division, not shifts: values go beyond 32 bits.
  for (let rest = Math.floor(value / 128); rest > 0; rest = Math.floor(rest / 128)) groups.push((rest % 128) | 0x80);
  return Buffer.from(groups.reverse());
}
