import type { Loop } from '../backend/Backend.js';
import { Handle } from '../handle/index.js';
import { apply_read_backpressure } from './backpressure.js';
import type { ProxySession } from './ProxySession.js';
import { closePayload } from './ws/closeCodes.js';
import type { FrameError } from './ws/errors.js';
import { frame, OPCODE } from './ws/frame.js';
import { FrameParser } from './ws/FrameParser.js';

/** pveproxy's largest websocket payload, per frame, both directions. */
export const WS_MAX_PAYLOAD = 128 * 1024;
/** The longest frame header a client may send: 2 + 8 (length) + 4 (mask). */
const MAX_HEADER = 14;
/**
 * The most one read adds to rbuf (the Handle's max_read_size default). A backpressure pause
 * returns from the reader with the rest of that read still in rbuf, and rbuf_max is checked
 * right after, so each handle's rbuf_max must hold a whole read as well as a whole frame.
 */
const MAX_READ = 128 * 1024;

export interface WebsocketProxyOptions {
  /** The backend: `{ host, port }`, or `{ host: 'unix/', port: path }`. */
  target: { host: string; port: number | string };
  /** The Sec-WebSocket-Accept value for the 101 response. */
  accept: string;
  /** The subprotocol chosen from the client's offer, echoed in the 101 response. */
  protocol: string;
  /** The protocol of the client's request line. Default HTTP/1.1. */
  proto?: string;
  /** true (default): the patch. false: the code before it (no pause, wbuf_max the 7.17 way). */
  backpressure?: boolean;
  /** Payload limit per frame. Default 128 KiB; the write limit is 5 times this. */
  maxPayload?: number;
  /** The loop to connect on (the simulated one in tests). */
  loop?: Loop;
  /** Called once the 101 was queued and relaying started. */
  started?: (session: ProxySession) => void;
}

/**
 * The WebSocket proxy: connect to the backend, answer the client's upgrade with `101`,
 * then relay: backend bytes go to the client as binary frames of at most `maxPayload`;
 * client frames are parsed from `rbuf` (masked, no RSV bits, no fragments, at most
 * `maxPayload`), data payloads go to the backend, pings are answered with pongs, a close
 * shuts both write sides down. A bad frame ends this session with a log line naming it.
 *
 * With backpressure, a reader that leaves its destination's wbuf above 5 × maxPayload
 * pauses its source until that wbuf drains. Pings wait behind paused data: while the
 * client's frames are not read, neither are its pings.
 *
 * Perl: `websocket_proxy` in PVE::APIServer::AnyEvent, with the #7483 patch.
 */
export function websocket_proxy(session: ProxySession, options: WebsocketProxyOptions): void {
  const backpressure = options.backpressure ?? true;
  const max_payload_size = options.maxPayload ?? WS_MAX_PAYLOAD;
  const wbuf_limit = max_payload_size * 5;
  const proto = options.proto ?? 'HTTP/1.1';
  const { host, port } = options.target;
  const client = session.hdl;
  if (!client) throw new Error('websocket_proxy: the session has no client handle');
  const parser = new FrameParser({ maxPayload: max_payload_size, requireMask: true, allowFragments: false });

  const endWithError = (error: FrameError) => {
    // Tell the client why, best effort, then end only this session.
    session.hdl?.push_write(Buffer.concat(frame(closePayload(error.closeCode), { opcode: OPCODE.CLOSE })));
    session.disconnect(`websocket: ${error.message} (${error.code})`);
  };

  /** Backend → client: cut rbuf into binary frames. Perl: `$proxyhdlreader`. */
  const proxyhdlreader = (hdl: Handle, no_backpressure = false): void => {
    const clienthdl = session.hdl;
    if (!clienthdl) return;
    const rbuf = hdl.rbuf;
    const n = Math.min(rbuf.length, max_payload_size);
    hdl.rbuf = rbuf.subarray(n);
    session.relayed('to_client', n);
    // Header and payload in one push: one writev, not a 10-byte segment before each frame.
    clienthdl.push_write(frame(rbuf.subarray(0, n), { opcode: OPCODE.BINARY }));
    if (backpressure && !no_backpressure && !clienthdl.destroyed() && clienthdl.wbuf.length > wbuf_limit) {
      session.paused('to_client');
      apply_read_backpressure(hdl, clienthdl, proxyhdlreader);
    }
  };

  /** Client → backend: parse frames from rbuf. Perl: `$hdlreader`. */
  const hdlreader = (hdl: Handle, no_backpressure = false): void => {
    for (;;) {
      const rbuf = hdl.rbuf;
      if (!rbuf.length) return;
      // A frame in memory the Handle allocated (any frame that came in more than one read,
      // so every large one) is unmasked where it lies: the masked bytes are consumed with
      // the frame, and the payload goes to the backend as a view of rbuf, with no
      // allocation and no copy (rbuf's memory is never written twice, so the view stays
      // intact in the backend's wbuf). Otherwise rbuf may be the writer's own Buffer: copy.
      const step = parser.next(rbuf, 0, hdl.rbuf_owned);
      if (step.kind === 'more') return;
      if (step.kind === 'error') return endWithError(step.error);
      // Consume before acting, as the original does.
      hdl.rbuf = rbuf.subarray(step.consumed);
      const { opcode, payload } = step.frame;
      if (opcode === OPCODE.TEXT || opcode === OPCODE.BINARY) {
        const proxyhdl = session.proxyhdl;
        if (!proxyhdl) return;
        session.relayed('to_backend', payload.length);
        proxyhdl.push_write(payload);
        if (backpressure && !no_backpressure && !proxyhdl.destroyed() && proxyhdl.wbuf.length > wbuf_limit) {
          session.paused('to_backend');
          apply_read_backpressure(hdl, proxyhdl, hdlreader);
          return;
        }
      } else if (opcode === OPCODE.CLOSE) {
        session.log('info', `websocket received close. status code: '${step.frame.close?.code ?? ''}'`);
        session.proxyhdl?.push_shutdown();
        hdl.push_shutdown();
      } else if (opcode === OPCODE.PING) {
        // Ping received, schedule pong.
        const clienthdl = session.hdl;
        clienthdl?.push_write(frame(payload, { opcode: OPCODE.PONG }));
        // Divergence: the original queues pongs without looking at the limit, so a client
        // that pings and never reads grows its wbuf without bound (WS_PONG_FLOOD, found by
        // the property suite). Reading from it pauses until it has taken its pongs.
        if (backpressure && !no_backpressure && clienthdl && !clienthdl.destroyed() && clienthdl.wbuf.length > wbuf_limit) {
          session.paused('to_client');
          apply_read_backpressure(hdl, clienthdl, hdlreader);
          return;
        }
      }
      // Pong received: continue.
      if (hdl.destroyed() || session.closed) return;
    }
  };

  session.proxyhdl = new Handle({
    connect: [host, port],
    loop: options.loop,
    rbuf_max: Math.max(max_payload_size, MAX_READ),
    ...(backpressure ? {} : { wbuf_max: wbuf_limit, wbuf_max_check: 'anyevent-7.17' as const }),
    timeout: 5,
    linger: 30,
    no_delay: true,
    on_connect: () => start(),
    on_connect_error: (_hdl, message) => {
      session.hdl?.push_write(`${proto} 502 Bad Gateway\r\nConnection: close\r\n\r\n`);
      session.disconnect(`connect to '${host}:${port}' failed: ${message}`);
    },
    on_eof: (hdl) => {
      // Flush frames buffered by the backpressure pause before tearing down; without this
      // the tail of a bulk transfer could be dropped when the backend closes while paused.
      while (hdl.rbuf.length && session.hdl) proxyhdlreader(hdl, true);
      session.log('info', 'backend closed the connection');
      session.disconnect();
    },
    on_error: (_hdl, _fatal, message) => session.disconnect(`backend: ${message}`),
  });

  function start() {
    const backend = session.proxyhdl;
    const clienthdl = session.hdl;
    if (!backend || !clienthdl) return;
    session.watchDestination(clienthdl, 'to_client');
    session.watchDestination(backend, 'to_backend');
    // Divergence: the client handle's rbuf_max stays at pveproxy's accept-time 64 KiB in the
    // original, so a client frame above 64 KiB is a fatal ENOSPC before the 128 KiB check is
    // ever reached; here a whole largest frame fits.
    clienthdl.rbuf_max(Math.max(max_payload_size + MAX_HEADER, MAX_READ));
    clienthdl.timeout(0);
    backend.timeout(0);
    // The 101 goes first: setting on_read parses frames already in rbuf at once, and a bad
    // one ends the session (with a close frame that must follow the 101).
    clienthdl.push_write(
      `${proto} 101 Switching Protocols\r\n` +
        'Upgrade: websocket\r\n' +
        'Connection: upgrade\r\n' +
        `Sec-WebSocket-Accept: ${options.accept}\r\n` +
        `Sec-WebSocket-Protocol: ${options.protocol}\r\n` +
        '\r\n',
    );
    backend.on_read(proxyhdlreader);
    clienthdl.on_read(hdlreader);
    // Frames buffered by the pause are drained before tearing down (the patch).
    clienthdl.on_eof((hdl) => {
      if (hdl.rbuf.length >= 2) hdlreader(hdl, true);
      session.log('info', 'client closed the connection');
      session.disconnect();
    });
    options.started?.(session);
  }
}
