import type { Handle } from '../../handle/Handle.js';
import { packInt, parseIntFormat } from '../pack.js';
import { register_write_type } from '../registry.js';
import { toBytes } from './netstring.js';

/**
 * `packstring => $format, $data`: the byte length of `data` in the Perl `pack` format
 * `format` (one integer: `cCsSlLqQiInNvVjJw`, plus `!`, `<`, `>`), then the bytes. A
 * string is written as UTF-8.
 *
 * Throws TypeError for a format that is not a single integer (Perl croaks in `pack`).
 * Divergence: throws RangeError when the length does not fit the format (300 bytes with
 * `C`, say), where perl wraps the length with a warning and writes all the data, so that
 * the peer misreads the stream from there on.
 *
 * Perl: `register_write_type packstring` (`pack "$format/a*", $string`).
 */
export function packstring(_hdl: Handle, format: string, data: Buffer | Uint8Array | string): Buffer {
  const fmt = parseIntFormat(format);
  const bytes = toBytes(data, 'packstring');
  return Buffer.concat([packInt(fmt, bytes.length), bytes]);
}

register_write_type('packstring', packstring);
