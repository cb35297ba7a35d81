import { describe, expect, it } from 'vitest';
import { frameError, type FrameErrorCode } from '../../../../lib/proxy/ws/errors.js';

const CODES: Array<[FrameErrorCode, number]> = [
  ['WS_FRAGMENTED', 1003],
  ['WS_RSV', 1002],
  ['WS_UNMASKED', 1002],
  ['WS_TOO_LARGE', 1009],
  ['WS_BAD_OPCODE', 1002],
  ['WS_BAD_CONTINUATION', 1002],
  ['WS_CONTROL_FRAGMENTED', 1002],
  ['WS_CONTROL_TOO_LONG', 1002],
  ['WS_BAD_LENGTH', 1002],
  ['WS_BAD_CLOSE_PAYLOAD', 1002],
  ['WS_BAD_CLOSE_CODE', 1002],
  ['WS_BAD_UTF8', 1007],
];

describe('frameError', () => {
  it.each(CODES)('gives %s the close code %i and a one-line message', (code, closeCode) => {
    const e = frameError(code, 7);
    expect(e.code).toBe(code);
    expect(e.closeCode).toBe(closeCode);
    expect(e.message).toMatch(/^received [^\n]+$/);
  });

  it('names the detail it is given', () => {
    expect(frameError('WS_TOO_LARGE', 1n << 60n).message).toBe('received too large websocket frame (len = 1152921504606846976)');
    expect(frameError('WS_BAD_OPCODE', 11).message).toBe('received unhandled websocket opcode 11');
  });

  it('returns a frozen value', () => {
    expect(Object.isFrozen(frameError('WS_RSV'))).toBe(true);
  });
});
