import type { Handle } from '../../handle/Handle.js';
import { register_write_type } from '../registry.js';

/**
 * `netstring => $string`: `<length>:<bytes>,`. A string is written as UTF-8 and its
 * length counted in bytes.
 *
 * Perl: `register_write_type netstring` (`(length $string) . ":$string,"`; perl counts
 * characters, which is the same for the byte strings a socket carries).
 */
export function netstring(_hdl: Handle, data: Buffer | Uint8Array | string): Buffer {
  const bytes = toBytes(data, 'netstring');
  return Buffer.concat([Buffer.from(`${bytes.length}:`, 'latin1'), bytes, Buffer.from(',', 'latin1')]);
}

/** The bytes of a write type's data argument: strings as UTF-8. */
export function toBytes(data: Buffer | Uint8Array | string, type: string): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (Buffer.isBuffer(data)) return data;
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError(`${type} write type: data must be a string, Buffer or Uint8Array, got ${typeof data}`);
}

register_write_type('netstring', netstring);
