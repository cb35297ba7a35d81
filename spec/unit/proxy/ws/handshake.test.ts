import { describe, expect, it } from 'vitest';
import { isValidKey, secWebSocketAccept } from '../../../../lib/proxy/ws/handshake.js';

describe('secWebSocketAccept', () => {
  it('answers the RFC 6455 example key', () => {
    expect(secWebSocketAccept('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('answers another key (checked with openssl sha1 | base64)', () => {
    // printf '%s' 'x3JJHMbDL1EzLkh9GBhXDw==258EAFA5-E914-47DA-95CA-C5AB0DC85B11' | openssl sha1 -binary | base64
    expect(secWebSocketAccept('x3JJHMbDL1EzLkh9GBhXDw==')).toBe('HSmrc0sMlYUkAGmm5OPpG2HaGWk=');
  });
});

describe('isValidKey', () => {
  it('accepts base64 of 16 bytes', () => {
    expect(isValidKey('dGhlIHNhbXBsZSBub25jZQ==')).toBe(true);
    expect(isValidKey(Buffer.alloc(16, 0xff).toString('base64'))).toBe(true);
    expect(isValidKey('AAAAAAAAAAAAAAAAAAAAAA==')).toBe(true);
  });

  it('refuses other lengths', () => {
    expect(isValidKey(Buffer.alloc(15).toString('base64'))).toBe(false);
    expect(isValidKey(Buffer.alloc(17).toString('base64'))).toBe(false);
    expect(isValidKey('AAAAAAAAAAAAAAAAAAAAA==')).toBe(false); // 21 characters
    expect(isValidKey('AAAAAAAAAAAAAAAAAAAAAAA==')).toBe(false); // 23
    expect(isValidKey('')).toBe(false);
  });

  it('refuses a missing padding, other alphabets and surrounding space', () => {
    expect(isValidKey('dGhlIHNhbXBsZSBub25jZQ')).toBe(false);
    expect(isValidKey('dGhlIHNhbXBsZSBub25jZQ-_')).toBe(false);
    expect(isValidKey('dGhlIHNhbXBsZSBub25jZ_==')).toBe(false);
    expect(isValidKey(' dGhlIHNhbXBsZSBub25jZQ==')).toBe(false);
    expect(isValidKey('dGhlIHNhbXBsZSBub25jZQ==\n')).toBe(false);
  });
});
