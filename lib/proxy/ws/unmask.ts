/**
 * RFC 6455 masking: byte `i` of a payload is XORed with byte `i % 4` of the frame's
 * 4-byte masking key. The operation is its own inverse, so the same functions mask (the
 * encoder, for client frames) and unmask (the parser).
 *
 * Perl builds the whole key stream and XORs two strings:
 * `$mask = $mask x (int($payload_len / 4) + 1); substr($mask, $payload_len) = ""; $payload ^= $mask;`
 * which perl's C does at about 18 GB/s here. Payloads of WIDE_MIN bytes and more are XORed
 * one 64-bit word at a time through a BigUint64Array view, unrolled by eight: about
 * 15 GB/s once V8 has optimised the loop, twice the 32-bit words unrolled by four that this
 * did first (~7 GB/s; unrolled by one, the 64-bit loop measured no faster than those, which
 * is why they came first). Until the loop is optimised, or after a deoptimisation, every
 * element allocates a BigInt (the first 128 KiB call costs about twice a 32-bit one); a
 * relay is past that after its first few frames. Shorter payloads use Int32 words (unrolled
 * by four), the shortest the byte loop; unaligned heads and tails go byte by byte.
 * bench/ws-unmask.ts compares them.
 */

/** Below this many bytes the word loop's setup costs more than it saves. */
const WORD_MIN = 16;
/** From this many bytes on, 64-bit words. */
const WIDE_MIN = 256;

// The key rotated to the phase of the first aligned word, read back as the platform's
// 32-bit integer: going through memory makes this right whatever the endianness.
const rotated = new Uint8Array(4);
const rotatedWord = new Int32Array(rotated.buffer);
const rotated8 = new Uint8Array(8);
const rotatedWide = new BigUint64Array(rotated8.buffer);

/** Whether the 4-byte key at `mask[maskOffset]` is all zeros (masking with it is a no-op). */
export function isZeroMask(mask: Uint8Array, maskOffset = 0): boolean {
  return (mask[maskOffset] | mask[maskOffset + 1] | mask[maskOffset + 2] | mask[maskOffset + 3]) === 0;
}

/**
 * XORs `buf` in place with the 4-byte key at `mask[maskOffset]`, byte 0 of `buf` taking
 * key byte 0. `mask` may be a view into the same memory as the frame (the key just ahead
 * of the payload), as long as it does not overlap `buf`.
 */
export function unmask(buf: Uint8Array, mask: Uint8Array, maskOffset = 0): void {
  const len = buf.length;
  const m0 = mask[maskOffset];
  const m1 = mask[maskOffset + 1];
  const m2 = mask[maskOffset + 2];
  const m3 = mask[maskOffset + 3];
  let i = 0;
  if (len >= WIDE_MIN) {
    // Bytes before the first 8-byte-aligned address, then whole 64-bit words, then the tail.
    const head = (8 - (buf.byteOffset & 7)) & 7;
    for (; i < head; i++) buf[i] ^= keyByte(i, m0, m1, m2, m3);
    const words = (len - head) >>> 3;
    for (let k = 0; k < 8; k++) rotated8[k] = keyByte(head + k, m0, m1, m2, m3);
    const key = rotatedWide[0];
    const view = new BigUint64Array(buf.buffer, buf.byteOffset + head, words);
    const unrolled = words & ~7;
    let w = 0;
    for (; w < unrolled; w += 8) {
      view[w] ^= key;
      view[w + 1] ^= key;
      view[w + 2] ^= key;
      view[w + 3] ^= key;
      view[w + 4] ^= key;
      view[w + 5] ^= key;
      view[w + 6] ^= key;
      view[w + 7] ^= key;
    }
    for (; w < words; w++) view[w] ^= key;
    i = head + words * 8;
  } else if (len >= WORD_MIN) {
    // Bytes before the first 4-byte-aligned address, then whole words, then the tail.
    const head = (4 - (buf.byteOffset & 3)) & 3;
    for (; i < head; i++) buf[i] ^= keyByte(i, m0, m1, m2, m3);
    const words = (len - head) >>> 2;
    rotated[0] = keyByte(head, m0, m1, m2, m3);
    rotated[1] = keyByte(head + 1, m0, m1, m2, m3);
    rotated[2] = keyByte(head + 2, m0, m1, m2, m3);
    rotated[3] = keyByte(head + 3, m0, m1, m2, m3);
    const key = rotatedWord[0];
    const view = new Int32Array(buf.buffer, buf.byteOffset + head, words);
    const unrolled = words & ~3;
    let w = 0;
    for (; w < unrolled; w += 4) {
      view[w] ^= key;
      view[w + 1] ^= key;
      view[w + 2] ^= key;
      view[w + 3] ^= key;
    }
    for (; w < words; w++) view[w] ^= key;
    i = head + words * 4;
  }
  for (; i < len; i++) buf[i] ^= keyByte(i, m0, m1, m2, m3);
}

/**
 * A fresh Buffer holding `src` XORed with the key at `mask[maskOffset]`; `src` is left
 * untouched. Small payloads are done in one byte pass; larger ones are copied (a native
 * memcpy) and then unmasked in place, which measures the same as a single pass over two
 * phase-matched word views and is simpler.
 */
export function unmaskCopy(src: Uint8Array, mask: Uint8Array, maskOffset = 0): Buffer {
  const len = src.length;
  const out = Buffer.allocUnsafe(len);
  if (len < WORD_MIN) {
    for (let i = 0; i < len; i++) out[i] = src[i] ^ mask[maskOffset + (i & 3)];
    return out;
  }
  out.set(src);
  unmask(out, mask, maskOffset);
  return out;
}

/** The plain byte loop: the reference the tests and the benchmark compare against. */
export function unmaskBytewise(buf: Uint8Array, mask: Uint8Array, maskOffset = 0): void {
  for (let i = 0; i < buf.length; i++) buf[i] ^= mask[maskOffset + (i & 3)];
}

function keyByte(i: number, m0: number, m1: number, m2: number, m3: number): number {
  switch (i & 3) {
    case 0:
      return m0;
    case 1:
      return m1;
    case 2:
      return m2;
    default:
      return m3;
  }
}
