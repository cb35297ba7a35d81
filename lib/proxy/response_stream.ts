import { Handle, type HandleCallback } from '../handle/index.js';
import { apply_read_backpressure } from './backpressure.js';
import type { ProxySession } from './ProxySession.js';

/** pveproxy's read-ahead bound for streamed responses. */
export const STREAM_BUF_SIZE = 4 * 1024 * 1024;

export interface ResponseStreamOptions {
  /**
   * true (default): the original's flow control (cap each push at what keeps the client's
   * wbuf within `bufSize`, pause reading via apply_read_backpressure). false: none at all,
   * every read is pushed to the client, so a slow client makes wbuf grow without bound.
   */
  backpressure?: boolean;
  /** Read-ahead bound in bytes. Default 4 MiB. */
  bufSize?: number;
  /** Called after the stream ended and the client's write side was shut down. */
  finished?: (session: ProxySession) => void;
}

/**
 * Streams `stream_fh` (a pipe, a child's stdout, a file's read stream, a socket) to the
 * session's client, whose response headers were already queued. At EOF the rest is
 * flushed and the client's write side shut down.
 *
 * Bound: with backpressure, the client's wbuf never exceeds `bufSize`, and the source's
 * rbuf stays under `bufSize` (its rbuf_max) because reading pauses while
 * rbuf + 4 × read_size would pass it ("read_size can double upon read, and we also need
 * to account for one more read after start_read").
 *
 * Perl: `response_stream ($self, $reqstate, $stream_fh)` in PVE::APIServer::AnyEvent.
 */
export function response_stream(session: ProxySession, stream_fh: object, options: ResponseStreamOptions = {}): void {
  const backpressure = options.backpressure ?? true;
  const buf_size = options.bufSize ?? STREAM_BUF_SIZE;
  const client = session.hdl;
  if (!client) throw new Error('response_stream: the session has no client handle');
  // We don't know how big the data is.
  client.timeout(0);
  session.watchDestination(client, 'to_client');

  const on_read: HandleCallback = (hdl) => {
    const reqhdl = session.hdl;
    if (!reqhdl) return;
    let rbuf_len = hdl.rbuf.length;
    if (!backpressure) {
      push(reqhdl, hdl, rbuf_len);
      return;
    }
    const to_read = Math.min(buf_size - reqhdl.wbuf.length, rbuf_len);
    if (to_read > 0) {
      push(reqhdl, hdl, to_read);
      if (reqhdl.destroyed()) return;
      rbuf_len -= to_read;
    } else if (hdl._eof) {
      // The original's workaround: at EOF, a reader that consumes nothing gets a fake EPIPE;
      // step aside, on_eof flushes the rest.
      hdl.on_read(null);
      return;
    }
    // Divergence: the original pauses only on the read-ahead test. Bytes left in rbuf because
    // the client's wbuf is at the bound then wait for the next read or EOF, and a stream that
    // stays open never delivers them (STREAM_STUCK_RBUF, found by the property suite);
    // pausing whenever rbuf is left non-empty lets the client's drain push them.
    if (rbuf_len > 0 || rbuf_len + hdl.read_size * 4 > buf_size) {
      session.paused('to_client');
      apply_read_backpressure(hdl, reqhdl, on_read);
    }
  };

  const push = (reqhdl: Handle, hdl: Handle, n: number) => {
    const rbuf = hdl.rbuf;
    hdl.rbuf = rbuf.subarray(n);
    session.relayed('to_client', n);
    reqhdl.push_write(rbuf.subarray(0, n));
  };

  /**
   * Divergence: the original pushes the whole remaining rbuf at EOF, which can take the
   * client's wbuf to nearly twice the bound; this flushes it within the bound, on drain.
   */
  const flush_and_finish = (source: Handle) => {
    const reqhdl = session.hdl;
    if (!reqhdl) return;
    const room = backpressure ? Math.max(buf_size - reqhdl.wbuf.length, 0) : Infinity;
    const n = Math.min(room, source.rbuf.length);
    if (n > 0) push(reqhdl, source, n);
    if (reqhdl.destroyed()) return;
    if (source.rbuf.length > 0) {
      reqhdl.on_drain(() => flush_and_finish(source));
      return;
    }
    reqhdl.on_drain(null);
    reqhdl.push_shutdown();
    session.log('info', 'stream finished');
    options.finished?.(session);
  };

  session.proxyhdl = new Handle({
    fh: stream_fh,
    rbuf_max: backpressure ? buf_size : undefined,
    timeout: 0,
    on_read,
    on_eof: (hdl) => flush_and_finish(hdl),
    on_error: (_hdl, _fatal, message) => session.disconnect(`stream source: ${message}`),
  });
}
