import { expect } from 'vitest';
import type { FrameError } from '../../../../lib/proxy/ws/errors.js';
import { FrameParser, type Frame, type FrameParserOptions } from '../../../../lib/proxy/ws/FrameParser.js';

/** Bytes from a hex string, spaces allowed for readability. */
export function hex(text: string): Buffer {
  const clean = text.replace(/\s+/g, '');
  if (!/^([0-9a-f]{2})*$/i.test(clean)) throw new Error(`bad hex fixture: ${text.slice(0, 40)}`);
  return Buffer.from(clean, 'hex');
}

export interface Fed {
  frames: Frame[];
  error: FrameError | undefined;
  /** Bytes left in the simulated rbuf: the unconsumed tail. */
  left: number;
  /** Offsets into the wire at which frames were consumed (each a frame's end). */
  ends: number[];
}

/**
 * Feeds `wire` to a parser as an AnyEvent rbuf would see it: arriving in pieces cut at
 * `cuts`, each arrival followed by the reader's loop (`next` until `'more'` or an error,
 * dropping exactly `consumed` after each frame).
 *
 * With `copy`, every arrival builds a new rbuf Buffer (as ReadBuffer does when it
 * regrows), so the parser also sees its partial frame moved to new memory; otherwise
 * rbuf is a view of `wire`.
 *
 * Checks on the way that a `'more'` names more bytes than rbuf holds, and that nothing
 * is consumed that is not a whole frame (`boundaries`, when given: the frame ends).
 */
export function feed(
  wire: Buffer,
  cuts: readonly number[] = [],
  options: FrameParserOptions = {},
  { copy = false, boundaries }: { copy?: boolean; boundaries?: readonly number[] } = {},
  parser = new FrameParser(options),
): Fed {
  const points = [...new Set(cuts)].filter((c) => c > 0 && c < wire.length).sort((a, b) => a - b);
  points.push(wire.length);
  const frames: Frame[] = [];
  const ends: number[] = [];
  let start = 0; // first unconsumed byte of wire
  let rbuf: Buffer = Buffer.alloc(0);
  let error: FrameError | undefined;
  let arrived = 0;
  for (const end of points) {
    const chunk = wire.subarray(arrived, end);
    arrived = end;
    rbuf = copy ? Buffer.concat([rbuf, chunk]) : wire.subarray(start, end);
    for (;;) {
      const step = parser.next(rbuf);
      if (step.kind === 'more') {
        expect(step.need, 'need counts more bytes than rbuf holds').toBeGreaterThan(rbuf.length);
        break;
      }
      if (step.kind === 'error') {
        error = step.error;
        break;
      }
      expect(step.consumed).toBeGreaterThan(0);
      expect(step.consumed).toBeLessThanOrEqual(rbuf.length);
      start += step.consumed;
      ends.push(start);
      if (boundaries) expect(boundaries, `consumed up to ${start}, not a frame end`).toContain(start);
      rbuf = rbuf.subarray(step.consumed);
      frames.push(step.frame);
    }
    if (error) break;
  }
  return { frames, error, left: rbuf.length, ends };
}

/** A frame as plain data, for deep equality: opcode, fin, payload hex, close fields. */
export function summary(frame: Frame) {
  return {
    opcode: frame.opcode,
    fin: frame.fin,
    payload: frame.payload.toString('hex'),
    ...(frame.close ? { close: { ...frame.close } } : {}),
  };
}

/** Every way to cut `length` bytes in two, plus one byte at a time. */
export function everySplit(length: number): Array<{ name: string; cuts: number[] }> {
  const out: Array<{ name: string; cuts: number[] }> = [{ name: 'whole', cuts: [] }];
  for (let k = 1; k < length; k++) out.push({ name: `split at ${k}`, cuts: [k] });
  if (length > 1) out.push({ name: 'byte by byte', cuts: Array.from({ length: length - 1 }, (_, i) => i + 1) });
  return out;
}
