import type { Handle } from '../../handle/Handle.js';
import { register_read_type } from '../registry.js';

type RegexCallback = (hdl: Handle, data: string, match: RegExpExecArray) => void;

/**
 * `regex => $accept[, $reject[, $skip]], $cb->($handle, $data)`.
 *
 * Everything up to and including the first match of `accept` is passed on (decoded as
 * UTF-8), together with the match itself (Perl's `$1`, `%+`, … are its groups). When
 * `accept` does not match and `reject` does, a non-fatal EBADMSG is raised. When neither
 * matches and `skip` does, everything up to the end of the skip match is set aside and
 * prefixed to the eventual result, so accept and reject need not rescan it.
 *
 * Patterns are matched against the buffer's bytes (a latin1 view), as Perl matches a byte
 * string, so match offsets are byte offsets.
 */
export function regex(
  _hdl: Handle,
  cb: RegexCallback,
  accept: RegExp,
  reject?: RegExp | null,
  skip?: RegExp | null,
) {
  const acceptRe = unsticky(accept);
  const rejectRe = reject ? unsticky(reject) : undefined;
  const skipRe = skip ? unsticky(skip) : undefined;
  const skipped: Buffer[] = [];
  return (hdl: Handle) => {
    const rbuf = hdl.rbuf;
    const text = rbuf.toString('latin1');
    const m = acceptRe.exec(text);
    if (m) {
      const end = m.index + m[0].length;
      hdl.rbuf = rbuf.subarray(end);
      skipped.push(rbuf.subarray(0, end));
      cb(hdl, Buffer.concat(skipped).toString('utf8'), m);
      return true;
    }
    if (rejectRe && rejectRe.test(text)) {
      hdl._error('EBADMSG');
      if (hdl.destroyed()) return false;
    }
    if (skipRe) {
      const s = skipRe.exec(hdl.rbuf.toString('latin1'));
      if (s) {
        const current = hdl.rbuf;
        const end = s.index + s[0].length;
        skipped.push(current.subarray(0, end));
        hdl.rbuf = current.subarray(end);
      }
    }
    return false;
  };
}

/** A copy without `g`/`y`, so that `exec` always starts at 0 and keeps no state. */
function unsticky(re: RegExp): RegExp {
  return re.global || re.sticky ? new RegExp(re.source, re.flags.replace(/[gy]/g, '')) : re;
}

register_read_type('regex', regex);
