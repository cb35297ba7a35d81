import { describe, expect, it } from 'vitest';
import { OPCODE, frame, frameBuffer, isControlOpcode } from '../../../../lib/proxy/ws/frame.js';
import { hex } from './feed.js';

const HELLO = Buffer.from('Hello');

describe('frame() encoder', () => {
  it('encodes a binary FIN frame by default, as $encode does ("\\x82")', () => {
    expect(frameBuffer(HELLO).toString('hex')).toBe('8205' + HELLO.toString('hex'));
  });

  it('encodes a pong with the ping payload (0x8A)', () => {
    expect(frameBuffer(HELLO, { opcode: OPCODE.PONG }).toString('hex')).toBe('8a05' + HELLO.toString('hex'));
  });

  it('returns the header and the caller\'s own payload Buffer when unmasked (no copy)', () => {
    const payload = Buffer.alloc(131072, 7);
    const [head, body] = frame(payload);
    expect(body).toBe(payload);
    expect(head.toString('hex')).toBe('827f0000000000020000');
  });

  it('uses the 7-bit length up to 125 bytes', () => {
    expect(frame(Buffer.alloc(125))[0].toString('hex')).toBe('827d');
  });

  it('uses 126 and a 16-bit length from 126 to 65535 bytes', () => {
    expect(frame(Buffer.alloc(126))[0].toString('hex')).toBe('827e007e');
    expect(frame(Buffer.alloc(65535))[0].toString('hex')).toBe('827effff');
  });

  it('uses 127 and a 64-bit length from 65536 bytes', () => {
    expect(frame(Buffer.alloc(65536))[0].toString('hex')).toBe('827f0000000000010000');
  });

  it('masks with the given key into a fresh Buffer, leaving the payload as it was (RFC 6455 5.7)', () => {
    const payload = Buffer.from(HELLO);
    const [head, body] = frame(payload, { opcode: OPCODE.TEXT, mask: hex('37fa213d') });
    expect(Buffer.concat([head, body]).toString('hex')).toBe('818537fa213d7f9f4d5158');
    expect(payload.toString()).toBe('Hello');
  });

  it('sets the mask bit with extended lengths', () => {
    expect(frame(Buffer.alloc(200), { mask: hex('00000000') })[0].toString('hex')).toBe('82fe00c800000000');
  });

  it('builds invalid frames on request: no FIN, RSV bits, reserved opcodes', () => {
    expect(frameBuffer(Buffer.alloc(0), { opcode: OPCODE.TEXT, fin: false }).toString('hex')).toBe('0100');
    expect(frameBuffer(Buffer.alloc(0), { rsv: 4 }).toString('hex')).toBe('c200');
    expect(frameBuffer(Buffer.alloc(0), { rsv: 7, opcode: 0xf }).toString('hex')).toBe('ff00');
  });

  it('declares a length other than the payload\'s, in the encoding asked for', () => {
    expect(frame(HELLO, { declaredLength: 1n << 63n })[0].toString('hex')).toBe('827f8000000000000000');
    expect(frame(HELLO, { lengthBits: 64 })[0].toString('hex')).toBe('827f0000000000000005');
    expect(frame(HELLO, { lengthBits: 16 })[0].toString('hex')).toBe('827e0005');
    expect(frame(HELLO, { declaredLength: 2 ** 53 - 1 })[0].toString('hex')).toBe('827f001fffffffffffff');
  });

  it('throws on programmer mistakes', () => {
    expect(() => frame(HELLO, { opcode: 16 })).toThrow(RangeError);
    expect(() => frame(HELLO, { rsv: 8 })).toThrow(RangeError);
    expect(() => frame(HELLO, { mask: Buffer.alloc(3) })).toThrow(RangeError);
    expect(() => frame(Buffer.alloc(126), { lengthBits: 7 })).toThrow(RangeError);
    expect(() => frame(HELLO, { declaredLength: 1n << 64n })).toThrow(RangeError);
    expect(() => frame(HELLO, { declaredLength: 126n, lengthBits: 7 })).toThrow(RangeError);
    expect(() => frame(HELLO, { declaredLength: 0x10000n, lengthBits: 16 })).toThrow(RangeError);
    expect(() => frame(HELLO, { declaredLength: 2 ** 53 })).toThrow(RangeError);
  });

  it('tells control opcodes from data opcodes', () => {
    expect([0, 1, 2, 8, 9, 10].map(isControlOpcode)).toEqual([false, false, false, true, true, true]);
  });
});
