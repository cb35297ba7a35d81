import { describe, expect, it } from 'vitest';
import { CLOSE, closePayload, isValidCloseCode, parseClosePayload } from '../../../../lib/proxy/ws/closeCodes.js';
import { hex } from './feed.js';

describe('close codes', () => {
  it('names the codes the proxy uses', () => {
    expect(Object.values(CLOSE)).toEqual([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1011]);
  });

  it('accepts the codes a peer may send and refuses the reserved ones', () => {
    const valid = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999];
    const invalid = [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535];
    expect(valid.filter((c) => !isValidCloseCode(c))).toEqual([]);
    expect(invalid.filter((c) => isValidCloseCode(c))).toEqual([]);
  });
});

describe('parseClosePayload', () => {
  it('allows an empty payload: no status code', () => {
    expect(parseClosePayload(Buffer.alloc(0))).toEqual({ ok: true, close: { code: undefined, reason: '' } });
  });

  it('reads a big-endian status code alone', () => {
    expect(parseClosePayload(hex('03e9'))).toEqual({ ok: true, close: { code: 1001, reason: '' } });
  });

  it('reads the status code and a UTF-8 reason', () => {
    expect(parseClosePayload(Buffer.concat([hex('0fa0'), Buffer.from('gone 😀')]))).toEqual({
      ok: true,
      close: { code: 4000, reason: 'gone 😀' },
    });
  });

  it('refuses a 1-byte payload', () => {
    const r = parseClosePayload(hex('03'));
    expect(r.ok === false && r.error.code).toBe('WS_BAD_CLOSE_PAYLOAD');
  });

  it('refuses a status code a peer may not send', () => {
    const r = parseClosePayload(hex('03ee')); // 1006
    expect(r.ok === false && [r.error.code, r.error.message]).toEqual([
      'WS_BAD_CLOSE_CODE',
      'received websocket close frame with invalid status code 1006',
    ]);
  });

  it('refuses a reason that is not UTF-8, with close code 1007', () => {
    const r = parseClosePayload(hex('03e8 c328'));
    expect(r.ok === false && [r.error.code, r.error.closeCode]).toEqual(['WS_BAD_UTF8', 1007]);
  });
});

describe('closePayload', () => {
  it('encodes a code and a reason', () => {
    expect(closePayload(1000, 'bye').toString('hex')).toBe('03e8627965');
    expect(closePayload(1009).toString('hex')).toBe('03f1');
  });

  it('round-trips through parseClosePayload', () => {
    expect(parseClosePayload(closePayload(4321, 'é'))).toEqual({ ok: true, close: { code: 4321, reason: 'é' } });
  });

  it('throws on a code that may not be sent or a reason over 123 bytes', () => {
    expect(() => closePayload(1005)).toThrow(RangeError);
    expect(() => closePayload(1000, 'x'.repeat(124))).toThrow(RangeError);
    expect(closePayload(1000, 'x'.repeat(123))).toHaveLength(125);
  });
});
