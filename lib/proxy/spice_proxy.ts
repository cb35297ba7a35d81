import type { Loop } from '../backend/Backend.js';
import { Handle, type HandleCallback } from '../handle/index.js';
import { apply_read_backpressure } from './backpressure.js';
import type { Direction, ProxySession } from './ProxySession.js';

/** pveproxy's SPICE write limit, both directions: 64 × 10 KiB. */
export const SPICE_WBUF_LIMIT = 64 * 10 * 1024;
/** The backend handle's rbuf_max in the original. */
export const SPICE_RBUF_MAX = 64 * 1024;

export interface SpiceProxyOptions {
  /** Where to connect: the SPICE backend, or (remote mode) the other node's proxy. */
  target: { host: string; port: number | string };
  /**
   * Remote mode: the target is another node's proxy; send it `CONNECT <connectStr>`, wait
   * for its `200 OK` and empty line, then relay. `clientIp` goes in `PVEClientIP`.
   */
  remote?: { connectStr: string; clientIp: string };
  /** true (default): the patch. false: the code before it (no pause, wbuf_max the 7.17 way). */
  backpressure?: boolean;
  /** The protocol of the client's request line, echoed in the response. Default HTTP/1.1. */
  proto?: string;
  /** Write limit per direction. Default 640 KiB. */
  wbufLimit?: number;
  /** The loop to connect on (the simulated one in tests). */
  loop?: Loop;
  /** Called once relaying has started (after the 200 was queued). */
  started?: (session: ProxySession) => void;
}

/**
 * The SPICE `CONNECT` relay: connect to the backend (or chain a CONNECT to another node's
 * proxy), answer the client with `200 OK`, then relay raw bytes both ways.
 *
 * With backpressure, a reader that leaves its destination's wbuf above the limit pauses
 * its source until that wbuf drains, so each destination wbuf stays at or below
 * limit + one read (at most max_read_size, 128 KiB). On EOF, whatever the source still
 * holds is flushed through the reader before the session ends.
 *
 * Perl: `handle_spice_proxy_request` in PVE::APIServer::AnyEvent, with the #7483 patch.
 */
export function spice_proxy(session: ProxySession, options: SpiceProxyOptions): void {
  const backpressure = options.backpressure ?? true;
  const wbuf_limit = options.wbufLimit ?? SPICE_WBUF_LIMIT;
  const proto = options.proto ?? 'HTTP/1.1';
  const { host, port } = options.target;
  const client = session.hdl;
  if (!client) throw new Error('spice_proxy: the session has no client handle');

  client.timeout(0);
  if (!backpressure) {
    // Before the patch: the only protection, and it never fires once a write is pending.
    client.wbuf_max(wbuf_limit);
    client.wbuf_max_check('anyevent-7.17');
  }

  const relay = (direction: Direction, destination: () => Handle | undefined): HandleCallback => {
    const reader = (hdl: Handle, no_backpressure = false) => {
      const dest = destination();
      if (!dest) return;
      const data = hdl.rbuf;
      hdl.rbuf = data.subarray(data.length);
      session.relayed(direction, data.length);
      dest.push_write(data);
      if (backpressure && !no_backpressure && !dest.destroyed() && dest.wbuf.length > wbuf_limit) {
        session.paused(direction);
        apply_read_backpressure(hdl, dest, reader);
      }
    };
    return reader;
  };

  const backendEof = (hdl: Handle) => {
    const reader = proxyhdlreader as (h: Handle, noBackpressure?: boolean) => void;
    // Flush what the backpressure pause left buffered before tearing down, so the tail of
    // a transfer is not dropped when the backend closes while reads are paused.
    while (hdl.rbuf.length && session.hdl) reader(hdl, true);
    session.log('info', 'backend closed the connection');
    session.disconnect();
  };

  const proxyhdl = new Handle({
    connect: [host, port],
    loop: options.loop,
    rbuf_max: SPICE_RBUF_MAX,
    ...(backpressure ? {} : { wbuf_max: wbuf_limit, wbuf_max_check: 'anyevent-7.17' as const }),
    timeout: 5,
    linger: 30,
    no_delay: true,
    on_connect: () => (options.remote ? chainConnect() : startproxy()),
    on_connect_error: (_hdl, message) => {
      session.hdl?.push_write(`${proto} 502 Bad Gateway\r\nConnection: close\r\n\r\n`);
      session.disconnect(`connect to '${host}:${port}' failed: ${message}`);
    },
    on_eof: backendEof,
    on_error: (_hdl, _fatal, message) => session.disconnect(`backend: ${message}`),
  });
  session.proxyhdl = proxyhdl;

  const proxyhdlreader = relay('to_client', () => session.hdl);
  const hdlreader = relay('to_backend', () => session.proxyhdl);

  function startproxy() {
    const backend = session.proxyhdl;
    const clienthdl = session.hdl;
    if (!backend || !clienthdl) return;
    session.watchDestination(clienthdl, 'to_client');
    session.watchDestination(backend, 'to_backend');
    backend.timeout(0);
    backend.on_read(proxyhdlreader);
    clienthdl.on_read(hdlreader);
    clienthdl.on_eof((hdl) => {
      const reader = hdlreader as (h: Handle, noBackpressure?: boolean) => void;
      while (hdl.rbuf.length && session.proxyhdl) reader(hdl, true);
      session.log('info', 'client closed the connection');
      session.disconnect();
    });
    // A response must be followed by an empty line.
    clienthdl.push_write(`${proto} 200 OK\r\n\r\n`);
    options.started?.(session);
  }

  function chainConnect() {
    const { connectStr, clientIp } = options.remote!;
    proxyhdl.push_write(
      `CONNECT ${connectStr} ${proto}\r\n` +
        `Host: ${connectStr}\r\n` +
        'Proxy-Connection: keep-alive\r\n' +
        'User-Agent: spiceproxy\r\n' +
        'PVEDisableProxy: true\r\n' +
        `PVEClientIP: ${clientIp}\r\n` +
        '\r\n',
    );
    proxyhdl.push_read('line', (hdl, line) => {
      if (line === `${proto} 200 OK`) {
        // The empty line after the 200 OK, then relay.
        hdl.unshift_read('line', () => startproxy());
      } else {
        session.hdl?.push_write(line);
        session.disconnect(`remote proxy refused: ${line}`);
      }
    });
  }
}
