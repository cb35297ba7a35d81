import type { Handle } from '../../handle/Handle.js';
import { register_read_type } from '../registry.js';

type LineCallback = (hdl: Handle, line: string, eol: string) => void;

const LF = 0x0a;
const CR = 0x0d;

/**
 * `line => [$eol, ]$cb->($handle, $line, $eol)`: one line, without its end-of-line marker.
 *
 * With no `eol` argument the marker is Perl's `qr|\015?\012|`. A string `eol` is a fixed
 * marker; a RegExp is matched against the buffer's bytes (a latin1 view, so that offsets are
 * byte offsets, as Perl matches its byte strings). Lines are decoded as UTF-8.
 * Partial lines at the end of the stream are never returned.
 */
export function line(_hdl: Handle, cb: LineCallback, ...eolArg: [] | [string | RegExp]) {
  if (eolArg.length === 0) return defaultEol(cb);
  const eol = eolArg[0];
  return typeof eol === 'string' ? fixedEol(cb, Buffer.from(eol, 'utf8')) : regexEol(cb, eol);
}

function defaultEol(cb: LineCallback) {
  return (hdl: Handle) => {
    const rbuf = hdl.rbuf;
    const pos = rbuf.indexOf(LF);
    if (pos < 0) return false;
    const crlf = pos > 0 && rbuf[pos - 1] === CR;
    hdl.rbuf = rbuf.subarray(pos + 1);
    cb(hdl, rbuf.toString('utf8', 0, crlf ? pos - 1 : pos), crlf ? '\r\n' : '\n');
    return true;
  };
}

function fixedEol(cb: LineCallback, eol: Buffer) {
  return (hdl: Handle) => {
    const rbuf = hdl.rbuf;
    const pos = eol.length ? rbuf.indexOf(eol) : 0;
    if (pos < 0) return false;
    hdl.rbuf = rbuf.subarray(pos + eol.length);
    cb(hdl, rbuf.toString('utf8', 0, pos), eol.toString('utf8'));
    return true;
  };
}

function regexEol(cb: LineCallback, eol: RegExp) {
  // Perl: qr|^(.*?)($eol)|s. The /s belongs to the outer pattern; an interpolated qr//
  // keeps its own flags, so `.` inside the user's eol still stops at a newline. [\s\S]
  // gives the outer part /s without lending it to the eol.
  const flags = eol.flags.replace(/[gy]/g, '');
  const pattern = new RegExp(`^([\\s\\S]*?)(${eol.source})`, flags);
  return (hdl: Handle) => {
    const rbuf = hdl.rbuf;
    const m = pattern.exec(rbuf.toString('latin1'));
    if (!m) return false;
    const lineEnd = m[1].length;
    const end = lineEnd + m[2].length;
    hdl.rbuf = rbuf.subarray(end);
    cb(hdl, rbuf.toString('utf8', 0, lineEnd), rbuf.toString('utf8', lineEnd, end));
    return true;
  };
}

register_read_type('line', line);
