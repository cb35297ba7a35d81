import type { Handle } from '../../handle/Handle.js';
import { register_read_type } from '../registry.js';

type NetstringCallback = (hdl: Handle, data: Buffer) => void;

const ZERO = 0x30;
const NINE = 0x39;
const COLON = 0x3a;
const COMMA = 0x2c;

/**
 * `netstring => $cb->($handle, $string)`: one netstring (`<length>:<bytes>,`), whose
 * bytes are passed on as a Buffer (a view into the read buffer, as `chunk` gives).
 *
 * A malformed header raises a non-fatal EBADMSG, on every call, and the read stays
 * queued with rbuf untouched: the caller decides (usually by destroying the handle). A
 * trailer that is not `,` raises a non-fatal EBADMSG and drops that netstring.
 *
 * Perl: `register_read_type netstring` (`s/^(0|[1-9][0-9]*)://`, then `chunk => $len`,
 * then `chunk => 1` checked against ",").
 */
export function netstring(_hdl: Handle, cb: NetstringCallback) {
  return (hdl: Handle) => {
    const rbuf = hdl.rbuf;
    let digits = 0;
    while (digits < rbuf.length && rbuf[digits] >= ZERO && rbuf[digits] <= NINE) digits++;

    if (digits === rbuf.length) {
      // Only digits so far: Perl waits for the rest of the header.
      if (digits >= 16 && rbuf[0] !== ZERO && declaredLength(rbuf, digits) > Number.MAX_SAFE_INTEGER) {
        hdl._error('EBADMSG');
      }
      return false;
    }

    // Perl's header is ^(0|[1-9][0-9]*): and, failing that, any non-digit in rbuf is an
    // error; the first non-digit is at `digits`, so both tests reduce to this one.
    if (rbuf[digits] !== COLON || digits === 0 || (digits > 1 && rbuf[0] === ZERO)) {
      hdl._error('EBADMSG');
      return false;
    }

    const len = declaredLength(rbuf, digits);
    // Divergence: Perl accepts any length and waits for that many bytes, forever if need
    // be; a length that cannot even be counted exactly here is a bad message instead.
    // (The check above on a header still arriving is the same one, made early.)
    if (len > Number.MAX_SAFE_INTEGER) {
      hdl._error('EBADMSG');
      return false;
    }

    hdl.rbuf = rbuf.subarray(digits + 1);
    hdl.unshift_read('chunk', len, (h, data) => {
      h.unshift_read('chunk', 1, (h2, trailer) => {
        if (trailer[0] === COMMA) cb(h2, data);
        else h2._error('EBADMSG');
      });
    });
    return true;
  };
}

function declaredLength(rbuf: Buffer, digits: number): number {
  return Number(rbuf.toString('latin1', 0, digits));
}

register_read_type('netstring', netstring);
