import { createHash } from 'node:crypto';

/**
 * The period of the test pattern: a prime, so the pattern never lines up with the powers of
 * two that buffer sizes, read sizes and capacities tend to be, and a misplaced or repeated
 * block shows up as a content mismatch rather than passing by coincidence.
 */
export const PATTERN_PERIOD = 65521;

let block: Buffer | undefined;

/** One period of the pattern: pseudo-random bytes (xorshift32), the same on every run. */
function patternBlock(): Buffer {
  if (block) return block;
  const bytes = Buffer.allocUnsafe(PATTERN_PERIOD);
  let state = 0x9e3779b9;
  for (let i = 0; i < PATTERN_PERIOD; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state >>> 24;
  }
  block = bytes;
  return bytes;
}

/**
 * Bytes `[offset, offset + length)` of the endless test pattern, as views into one shared
 * block (no copying; never modify them). Several chunks when the range wraps the period.
 */
export function patternChunks(offset: number, length: number): Buffer[] {
  const bytes = patternBlock();
  const chunks: Buffer[] = [];
  let start = offset % PATTERN_PERIOD;
  while (length > 0) {
    const n = Math.min(length, PATTERN_PERIOD - start);
    chunks.push(bytes.subarray(start, start + n));
    length -= n;
    start = 0;
  }
  return chunks;
}

/** Bytes `[offset, offset + length)` of the test pattern, as one new Buffer. */
export function patternBytes(offset: number, length: number): Buffer {
  return Buffer.concat(patternChunks(offset, length));
}

/** The digest SimPeer uses for what it received: hex SHA-1 of the bytes in order. */
export function hashBytes(chunks: readonly Buffer[]): string {
  const hash = createHash('sha1');
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest('hex');
}
