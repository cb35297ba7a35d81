import { createHash } from 'node:crypto';

/** RFC 6455 section 1.3: the GUID appended to the client's key. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/**
 * The `Sec-WebSocket-Accept` value answering a client's `Sec-WebSocket-Key`: the base64
 * SHA-1 of the key followed by the GUID. The key is taken as it is (the HTTP reader has
 * already trimmed the header value); it is hashed as bytes, one per character, as perl
 * hashes its header string.
 *
 * Perl: `Digest::SHA::sha1_base64($wskey . "258EAFA5-E914-47DA-95CA-C5AB0DC85B11") . "="`
 * in pveproxy's websocket upgrade (sha1_base64 leaves out the padding, hence the "=").
 *
 * @example
 * secWebSocketAccept('dGhlIHNhbXBsZSBub25jZQ==') // 's3pPLMBiTxaQ9kYGzzhZRbK+xOo='
 */
export function secWebSocketAccept(key: string): string {
  return createHash('sha1').update(key + WEBSOCKET_GUID, 'latin1').digest('base64');
}

// 16 bytes are 128 bits: 21 full base64 characters, one carrying the last 2 bits, "==".
const KEY = /^[A-Za-z0-9+/]{22}==$/;

/**
 * Whether `key` is a valid `Sec-WebSocket-Key`: base64 that decodes to exactly 16 bytes
 * (RFC 6455 section 4.2.1, item 5). Only the standard alphabet with its padding is
 * accepted, with no surrounding space.
 */
export function isValidKey(key: string): boolean {
  return KEY.test(key);
}
