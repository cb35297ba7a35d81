import { createHash } from 'node:crypto';

/**
 * The period of the test pattern: a prime, so the pattern never lines up with the powers of
 * two that buffer sizes, read sizes and capacities tend to be, and a misplaced or repeated
 * block shows up as a content mismatch rather than passing by coincidence.
 */
export const PATTERN_PERIOD = 65521;

/** Periods in one stretch of the block: offsets are placed at `offset % SPAN` in it. */
const SPAN = 256 * PATTERN_PERIOD;
/** The longest range `patternChunks` returns as a single view. */
const MAX_VIEW = 1024 * 1024;

let block: Buffer | undefined;

/**
 * The pattern laid out over SPAN + MAX_VIEW bytes (about 17 MiB, made on first use): byte `i`
 * of the block is byte `i % PATTERN_PERIOD` of the pattern. Offset `o` lives at `o % SPAN`,
 * so a range of up to MAX_VIEW bytes is always one view, and consecutive ranges are adjacent
 * in memory except once per SPAN (16 MiB). A simulated socket merges adjacent views (see
 * Direction), so a pattern stream goes through the simulation without being copied, but
 * for the one read per SPAN that straddles the wrap.
 */
function patternBlock(): Buffer {
  if (block) return block;
  const bytes = Buffer.allocUnsafe(SPAN + MAX_VIEW);
  // One period from xorshift32, then copies of it: the same bytes on every run.
  let state = 0x9e3779b9;
  for (let i = 0; i < PATTERN_PERIOD; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state >>> 24;
  }
  for (let filled = PATTERN_PERIOD; filled < bytes.length; filled *= 2) {
    bytes.copy(bytes, filled, 0, Math.min(filled, bytes.length - filled));
  }
  block = bytes;
  return bytes;
}

/**
 * Bytes `[offset, offset + length)` of the endless test pattern, as views into one shared
 * block (no copying; never modify them): a single view for up to 1 MiB, more for longer
 * ranges. Views of consecutive ranges are usually adjacent in memory.
 */
export function patternChunks(offset: number, length: number): Buffer[] {
  const bytes = patternBlock();
  const chunks: Buffer[] = [];
  let start = offset % SPAN;
  while (length > 0) {
    const n = Math.min(length, MAX_VIEW);
    chunks.push(bytes.subarray(start, start + n));
    length -= n;
    start = (start + n) % SPAN;
  }
  return chunks;
}

/**
 * Bytes `[offset, offset + length)` of the test pattern as a single view into the shared
 * block (never modify it), for `length` up to 1 MiB: what `patternChunks` returns, minus the
 * array. Consecutive ranges are adjacent in memory except once per 16 MiB.
 */
export function patternView(offset: number, length: number): Buffer {
  if (!(length <= MAX_VIEW)) throw new RangeError(`patternView: at most ${MAX_VIEW} bytes at once, got ${length}`);
  const start = offset % SPAN;
  return (block ?? patternBlock()).subarray(start, start + length);
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
