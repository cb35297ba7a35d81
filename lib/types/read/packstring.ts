import type { Handle } from '../../handle/Handle.js';
import { parseIntFormat, unpackInt } from '../pack.js';
import { register_read_type } from '../registry.js';

type PackstringCallback = (hdl: Handle, data: Buffer) => void;

/**
 * `packstring => $format, $cb->($handle, $data)`: a length in the Perl `pack` format
 * `format` (one integer: `cCsSlLqQiInNvVjJw`, plus `!`, `<`, `>`; see `pack.ts`), then that
 * many bytes, passed on as a Buffer (a view into the read buffer).
 *
 * Throws TypeError at once for a format that is not a single integer.
 *
 * Divergence: Perl croaks neither at `push_read` nor later: the reader's `unpack` is in an
 * `eval`, so a bad format makes a read that waits forever.
 *
 * A length that is negative or beyond 2^53-1 raises a non-fatal EBADMSG, on every call,
 * and the read stays queued with rbuf untouched (as `netstring` does with a bad header).
 *
 * Perl: `register_read_type packstring`.
 */
export function packstring(_hdl: Handle, cb: PackstringCallback, format: string) {
  const fmt = parseIntFormat(format);
  return (hdl: Handle) => {
    const rbuf = hdl.rbuf;
    const prefix = unpackInt(fmt, rbuf);
    if (prefix.kind === 'incomplete') return false;
    // Divergence: Perl uses a negative length as it is. The prefix size plus the length is
    // then always at most length $rbuf, so it takes its shortcut: the data is
    // `substr $rbuf, $prefix, $len` (everything after the prefix but the last -$len bytes)
    // and `substr $rbuf, 0, $prefix + $len, ""` removes that many bytes from the front, or
    // all but the last -($prefix + $len) when that is negative, or none at all when it is 0,
    // leaving the prefix to be read again. A length beyond 2^53-1 (only `q`, `Q`, `j`, `J`,
    // `l!`, `L!` and `w` can declare one) would be waited for, forever.
    if (prefix.kind !== 'int' || prefix.value < 0) {
      hdl._error('EBADMSG');
      return false;
    }
    const { size, value: len } = prefix;
    if (size + len <= rbuf.length) {
      // Perl's bypass: no unshift when all the data is already there.
      hdl.rbuf = rbuf.subarray(size + len);
      cb(hdl, rbuf.subarray(size, size + len));
    } else {
      hdl.rbuf = rbuf.subarray(size);
      hdl.unshift_read('chunk', len, cb);
    }
    return true;
  };
}

register_read_type('packstring', packstring);
