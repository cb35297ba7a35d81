import type { Handle } from '../handle/index.js';

/** A parsed HTTP/1.x request head. */
export interface RequestHead {
  method: string;
  target: string;
  /** e.g. 'HTTP/1.1' */
  proto: string;
  minor: number;
  /** Lower-cased names; repeated headers joined with ', '. */
  headers: Map<string, string>;
}

/** Why a request head was refused: the status to answer with, and a message for the log. */
export interface RequestError {
  status: 400 | 431 | 501 | 505;
  message: string;
}

export interface RequestLimits {
  /** Header lines, request line included (pveproxy: 64). */
  maxHeaders: number;
  /** Bytes of the whole head (pveproxy: 8 KiB). */
  maxHeaderSize: number;
}

export const DEFAULT_LIMITS: RequestLimits = { maxHeaders: 64, maxHeaderSize: 8 * 1024 };

/** What the caller can see of a head while it is being read. */
export interface RequestHeadProgress {
  /**
   * The request line has been read: a request is under way, even when rbuf is empty
   * because every line received so far was consumed.
   */
  readonly started: boolean;
}

const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/(\d)\.(\d)$/;
const HEADER_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*$/;

/**
 * Reads one request head from `hdl` with the Handle's own read queue, as pveproxy's
 * push_request_header/unshift_read_header do: a line reader per line, bounded in count and
 * size. A line that grows past the size limit without an end is refused at once, before
 * rbuf_max would end the connection without an answer.
 */
export function read_request_head(
  hdl: Handle,
  limits: RequestLimits,
  done: (head: RequestHead | RequestError) => void,
): RequestHeadProgress {
  let size = 0;
  let count = 0;
  let head: RequestHead | undefined;
  let lastName: string | undefined;

  const fail = (status: RequestError['status'], message: string) => done({ status, message });

  /** A line of at most what the head has left; `\r?\n` terminated. */
  const boundedLine = (onLine: (line: string) => void) => (h: Handle) => {
    const rbuf = h.rbuf;
    const room = limits.maxHeaderSize - size;
    const end = rbuf.indexOf(0x0a);
    if (end < 0 || end > room) {
      if (rbuf.length > room || end > room) {
        h.rbuf = rbuf.subarray(rbuf.length);
        fail(431, `request header too large (> ${limits.maxHeaderSize} bytes)`);
        return true;
      }
      return false;
    }
    size += end + 1;
    h.rbuf = rbuf.subarray(end + 1);
    const cr = end > 0 && rbuf[end - 1] === 0x0d;
    onLine(rbuf.toString('latin1', 0, cr ? end - 1 : end));
    return true;
  };

  const onHeaderLine = (line: string) => {
    if (++count >= limits.maxHeaders) return fail(431, `too many http header lines (> ${limits.maxHeaders})`);
    if (line === '') return done(head!);
    const folded = /^[ \t]+(.*)$/.exec(line);
    if (folded && lastName) {
      head!.headers.set(lastName, `${head!.headers.get(lastName)} ${folded[1]}`);
    } else {
      const m = HEADER_LINE.exec(line);
      if (!m) return fail(400, 'unable to parse request header');
      const name = m[1].toLowerCase();
      const prev = head!.headers.get(name);
      head!.headers.set(name, prev === undefined ? m[2] : `${prev}, ${m[2]}`);
      lastName = name;
    }
    hdl.unshift_read(boundedLine(onHeaderLine));
  };

  const onRequestLine = (line: string) => {
    // Empty lines before a request are ignored (browsers send them after a POST body).
    if (line === '') return void hdl.push_read(boundedLine(onRequestLine));
    const m = REQUEST_LINE.exec(line);
    if (!m) return fail(400, `bad request line '${printable(line)}'`);
    const [, method, target, major, minor] = m;
    if (major !== '1') return fail(505, `http protocol version ${major}.${minor} not supported`);
    head = { method, target, proto: `HTTP/1.${minor}`, minor: Number(minor), headers: new Map() };
    count = 1;
    hdl.unshift_read(boundedLine(onHeaderLine));
  };

  hdl.push_read(boundedLine(onRequestLine));
  return {
    get started() {
      return head !== undefined;
    },
  };
}

function printable(line: string): string {
  const shown = line.length > 80 ? `${line.slice(0, 80)}…` : line;
  return shown.replace(/[^\x20-\x7e]/g, '?');
}
