import type { Handle } from '../../handle/Handle.js';
import { JsonScanner } from '../json/JsonScanner.js';
import { register_read_type } from '../registry.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- decoded JSON, as in Perl
type JsonCallback = (hdl: Handle, value: any) => void;

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * `json => $cb->($handle, $hash_or_arrayref)`: one JSON object or array, decoded.
 *
 * Leading whitespace is skipped. The text must be UTF-8; it is decoded with `hdl.json`
 * when the handle has a coder, with `JSON.parse` otherwise. Bytes after the value stay in
 * rbuf for the next read.
 *
 * A syntax error raises a non-fatal EBADMSG after dropping the bad text, and the read
 * stays queued (it resumes when more data arrives). What is dropped, from the front:
 * - text that does not start with `{` or `[`: up to the next `{` or `[`;
 * - a closing bracket of the wrong kind: up to and including it;
 * - a complete value that is not valid UTF-8, or that the decoder rejects: the value.
 *
 * Divergence: Perl hands rbuf to JSON::PP's (or JSON::XS's) incremental parser and empties
 * rbuf while a value is incomplete, so the partial text is invisible to `rbuf_max`; and
 * JSON::PP 4 loops forever, at 100% CPU, when the buffer ends in a number inside a value
 * (`[1` followed by a pause). Here nothing is consumed until a value is complete, so
 * `rbuf_max` counts the partial text, and each call scans only the bytes that are new
 * since the last one (O(n) in all).
 * Divergence: JSON::PP 4 also accepts bare scalars (`5`, `"str"`) at the top level; they
 * are not self-delimiting on a stream (`5` may be the start of `56`), so they are rejected.
 *
 * Perl: `register_read_type json`.
 */
export function json(_hdl: Handle, cb: JsonCallback) {
  const scanner = new JsonScanner();
  return (hdl: Handle) => {
    const rbuf = hdl.rbuf;
    const found = scanner.scan(rbuf);
    if (found.kind === 'more') return false;
    if (found.kind === 'error') {
      hdl.rbuf = rbuf.subarray(found.drop);
      hdl._error('EBADMSG');
      return false;
    }
    let value: unknown;
    try {
      const text = UTF8.decode(rbuf.subarray(found.start, found.end));
      value = hdl.json ? hdl.json.decode(text) : JSON.parse(text);
    } catch {
      // As JSON::PP's incr_skip after a failed decode: the value's text goes.
      hdl.rbuf = rbuf.subarray(found.end);
      hdl._error('EBADMSG');
      return false;
    }
    hdl.rbuf = rbuf.subarray(found.end);
    cb(hdl, value);
    return true;
  };
}

register_read_type('json', json);
