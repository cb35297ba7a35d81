import type { Handle } from '../../handle/Handle.js';
import { register_write_type } from '../registry.js';

/**
 * `json => $array_or_hashref`: the value as JSON text in UTF-8, encoded with `hdl.json`
 * when the handle has a coder, with `JSON.stringify` otherwise. The default encoding
 * contains no newline (JSON.stringify without indentation escapes every line break in
 * strings), so a newline may be written after it as a delimiter for other readers.
 *
 * Throws TypeError when the value has no JSON text (`undefined`, a function: JSON.stringify
 * returns `undefined` for those), and lets through whatever the encoder throws (a BigInt,
 * a cycle).
 *
 * Perl: `register_write_type json` (`($self->{json} ||= json_coder)->encode ($ref)`).
 */
export function json(hdl: Handle, value: unknown): Buffer {
  const text: unknown = hdl.json ? hdl.json.encode(value) : JSON.stringify(value);
  if (typeof text !== 'string') throw new TypeError(`json write type: ${typeof value} value has no JSON text`);
  return Buffer.from(text, 'utf8');
}

register_write_type('json', json);
