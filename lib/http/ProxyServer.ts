import { constants as fsConstants, createReadStream, promises as fsp } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { NodeFh, adoptAccepted, nodeLoop } from '../backend/node/index.js';
import { Handle } from '../handle/index.js';
import { Metrics, type SessionKind } from '../metrics.js';
import { ProxySession, type LogLevel } from '../proxy/ProxySession.js';
import { response_stream } from '../proxy/response_stream.js';
import { spice_proxy } from '../proxy/spice_proxy.js';
import { websocket_proxy } from '../proxy/websocket_proxy.js';
import { isValidKey, secWebSocketAccept } from '../proxy/ws/handshake.js';
import { DEFAULT_CONFIG, portAllowed, type ProxyConfig } from './config.js';
import { read_request_head, type RequestHead, type RequestHeadProgress } from './requestReader.js';
import { write_response } from './response.js';

/** Bytes a client may send before its request head is read (pveproxy's rbuf_max). */
const CLIENT_RBUF_MAX = 64 * 1024;
/** How long a closing connection may take to write out what it has queued. */
const CLIENT_LINGER = 30;
/** After an error response: how long, and how much, to read and discard before closing. */
const LINGERING_CLOSE_SECONDS = 2;
const LINGERING_CLOSE_BYTES = 1024 * 1024;
const STREAM_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

export type Logger = (level: LogLevel, message: string) => void;

/** One accepted client connection: pveproxy's `$reqstate` before (and during) a session. */
interface Connection {
  readonly id: number;
  readonly hdl: Handle;
  readonly peer: string;
  /** A request head is being read or answered (not idle between keep-alive requests). */
  busy: boolean;
  /** The head being read (or last read) on this connection. */
  reading?: RequestHeadProgress;
  session?: ProxySession;
  closed: boolean;
}

/**
 * The HTTP/1.1 front, written on Handle: reads each request head with the Handle's read
 * queue, routes it, and hands upgraded connections to the proxy handlers.
 *
 * - `GET /websocket?port=N` or `?socket=PATH` with `Upgrade: websocket` → websocket_proxy
 * - `CONNECT host:port` → spice_proxy (local, or chained to a peer node's proxy)
 * - `GET /stream/NAME` → response_stream of a file in the stream directory
 * - `GET /metrics` → Prometheus text
 *
 * Errors in one connection (bad request, disallowed backend, invalid frames) end that
 * connection with a status line and a log line; they are never thrown into the loop.
 */
export class ProxyServer {
  readonly metrics = new Metrics();
  readonly config: ProxyConfig;
  readonly #log: Logger;
  readonly #server: net.Server;
  readonly #connections = new Set<Connection>();
  #nextId = 1;
  #closing = false;

  constructor(config: Partial<ProxyConfig> = {}, log: Logger = () => {}) {
    this.config = { ...DEFAULT_CONFIG, ...config };
    this.#log = log;
    // Paused, so that adoptAccepted can move each connection into a socket that reads with
    // larger buffers (see lib/backend/node/sockets.ts).
    this.#server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
      try {
        this.#accept(socket);
      } catch (err) {
        this.#log('err', `accept: ${(err as Error).message}`);
        socket.destroy();
      }
    });
  }

  /** Listens; resolves with the bound address (port 0 picks a free one). */
  listen(host: string, port: number): Promise<net.AddressInfo> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve(this.#server.address() as net.AddressInfo);
      });
    });
  }

  /** Open client connections (for tests and graceful shutdown). */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /**
   * Stops accepting, closes idle keep-alive connections at once, lets sessions and
   * requests in progress finish for up to `config.shutdownGrace` seconds, then ends them.
   */
  async close(): Promise<void> {
    this.#closing = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const conn of this.#connections) if (this.#idle(conn) && !conn.session) this.#close(conn);
    const deadline = Date.now() + this.config.shutdownGrace * 1000;
    while (this.#connections.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const conn of this.#connections) this.#close(conn, 'shutdown: grace period over');
    await closed;
  }

  #accept(socket: net.Socket): void {
    if (this.#closing) return void socket.destroy();
    this.metrics.connectionsTotal++;
    this.metrics.connectionsOpen++;
    const id = this.#nextId++;
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    let conn!: Connection;
    const hdl = new Handle({
      fh: adoptAccepted(socket),
      rbuf_max: CLIENT_RBUF_MAX,
      // Interactive traffic (consoles, pings) must not wait for Nagle and delayed ACKs.
      no_delay: true,
      timeout: this.config.headerTimeout,
      linger: CLIENT_LINGER,
      on_timeout: () => this.#timedOut(conn),
      on_eof: () => this.#close(conn),
      on_error: (_h, _fatal, message, code) =>
        // EOF while waiting for the next request is a client hanging up, not an error.
        this.#close(conn, code === 'EPIPE' && this.#idle(conn) ? undefined : `client ${peer}: ${message}`),
    });
    conn = { id, hdl, peer, busy: false, closed: false };
    this.#connections.add(conn);
    this.#nextRequest(conn);
  }

  #nextRequest(conn: Connection): void {
    if (conn.closed) return;
    conn.busy = false;
    conn.hdl.timeout_reset();
    conn.hdl.timeout(this.config.headerTimeout);
    conn.reading = read_request_head(conn.hdl, this.config.limits, (head) => {
      conn.busy = true;
      if ('status' in head) {
        this.metrics.requestErrors++;
        this.#log('warn', `conn ${conn.id} ${conn.peer}: ${head.message}`);
        return this.#answer(conn, 'HTTP/1.1', head.status, `${head.message}\n`, false);
      }
      this.metrics.requestsTotal++;
      // The head is in: no inactivity timeout while the request is served (as pveproxy).
      conn.hdl.timeout(0);
      try {
        this.#route(conn, head);
      } catch (err) {
        this.#fail(conn, head, 500, `internal error: ${(err as Error).message}`);
      }
    });
  }

  /**
   * Waiting for a request with nothing of one received: an idle keep-alive connection.
   * The head reader consumes each line as it arrives, so an empty rbuf alone does not
   * mean that nothing was received.
   */
  #idle(conn: Connection): boolean {
    return !conn.busy && !conn.reading?.started && !conn.hdl.rbuf.length;
  }

  #timedOut(conn: Connection): void {
    if (!this.#idle(conn)) {
      this.#log('warn', `conn ${conn.id} ${conn.peer}: request head not received within ${this.config.headerTimeout}s`);
      this.metrics.requestErrors++;
      this.#answer(conn, 'HTTP/1.1', 408, 'request timeout\n', false);
    } else {
      this.#close(conn);
    }
  }

  #route(conn: Connection, head: RequestHead): void {
    if (this.#closing) return this.#fail(conn, head, 503, 'shutting down');
    const length = head.headers.get('content-length');
    if (head.headers.has('transfer-encoding') || (length !== undefined && length !== '0')) {
      return this.#fail(conn, head, 413, 'request bodies are not accepted');
    }
    if (head.method === 'CONNECT') return this.#connect(conn, head);
    const url = new URL(head.target.startsWith('/') ? head.target : '/', 'http://proxy.invalid');
    if (head.method !== 'GET' && head.method !== 'HEAD') return this.#fail(conn, head, 405, `method '${head.method}' not allowed`);
    if (url.pathname === '/metrics') {
      return this.#answer(conn, head.proto, 200, this.metrics.render(), keepAlive(head), 'text/plain; version=0.0.4', head.method === 'HEAD');
    }
    if (url.pathname === '/websocket') return this.#websocket(conn, head, url);
    if (url.pathname.startsWith('/stream/')) return void this.#stream(conn, head, url.pathname.slice('/stream/'.length));
    return this.#fail(conn, head, 404, `no such path '${url.pathname}'`);
  }

  #websocket(conn: Connection, head: RequestHead, url: URL): void {
    const h = head.headers;
    if ((h.get('upgrade') ?? '').toLowerCase() !== 'websocket') return this.#fail(conn, head, 426, 'websocket upgrade required');
    if (!/(^|,)\s*upgrade\s*(,|$)/i.test(h.get('connection') ?? '')) return this.#fail(conn, head, 400, "missing 'Connection: upgrade'");
    if (h.get('sec-websocket-version') !== '13') {
      return this.#fail(conn, head, 400, `unsupported websocket-version '${h.get('sec-websocket-version') ?? ''}'`);
    }
    const key = h.get('sec-websocket-key');
    if (!key || !isValidKey(key)) return this.#fail(conn, head, 400, 'missing or invalid Sec-WebSocket-Key');
    // As the original: the client must offer 'binary' or 'base64', and the choice is echoed.
    const offered = (h.get('sec-websocket-protocol') ?? '').split(',').map((p) => p.trim()).filter(Boolean);
    if (!offered.length) return this.#fail(conn, head, 400, 'missing websocket-protocol header');
    const protocol = offered.includes('binary') ? 'binary' : offered.includes('base64') ? 'base64' : undefined;
    if (!protocol) return this.#fail(conn, head, 400, `unsupported websocket-protocol protocol '${offered.join(', ')}'`);

    const portParam = url.searchParams.get('port');
    const socketParam = url.searchParams.get('socket');
    let target: { host: string; port: number | string };
    if (portParam !== null) {
      const port = Number(portParam);
      if (!/^\d{1,5}$/.test(portParam) || !portAllowed(this.config.allowPorts, port)) {
        return this.#fail(conn, head, 403, `port '${portParam}' is not allowed`);
      }
      target = { host: '127.0.0.1', port };
    } else if (socketParam !== null) {
      if (!this.config.allowSockets.includes(socketParam)) return this.#fail(conn, head, 403, `socket '${socketParam}' is not allowed`);
      target = { host: 'unix/', port: socketParam };
    } else {
      return this.#fail(conn, head, 400, 'websocket_proxy: missing port or socket');
    }
    const session = this.#startSession(conn, 'websocket');
    websocket_proxy(session, {
      target,
      accept: secWebSocketAccept(key),
      protocol,
      proto: head.proto,
      backpressure: this.config.backpressure,
      loop: nodeLoop,
    });
  }

  #connect(conn: Connection, head: RequestHead): void {
    const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(head.target);
    if (!m) return this.#fail(conn, head, 400, `bad CONNECT target '${head.target.slice(0, 80)}'`);
    const node = m[1].replace(/^\[|\]$/g, '');
    const port = Number(m[2]);
    if (!portAllowed(this.config.allowPorts, port)) {
      return this.#fail(conn, head, 403, `SPICE port ${port} is not in the allowed range`);
    }
    const local = node === this.config.nodeName || node === 'localhost' || node === '127.0.0.1' || node === '::1';
    const peer = this.config.peers.get(node);
    if (!local && !peer) return this.#fail(conn, head, 403, `node '${node}' is not allowed`);
    if (peer && head.headers.has('pvedisableproxy')) return this.#fail(conn, head, 500, 'proxy loop detected');
    const session = this.#startSession(conn, 'spice');
    spice_proxy(session, {
      target: local ? { host: node === '::1' ? '::1' : '127.0.0.1', port } : peer!,
      remote: local ? undefined : { connectStr: head.target, clientIp: conn.peer.replace(/:\d+$/, '') },
      proto: head.proto,
      backpressure: this.config.backpressure,
      loop: nodeLoop,
    });
  }

  async #stream(conn: Connection, head: RequestHead, name: string): Promise<void> {
    const dir = this.config.streamDir;
    if (!dir) return this.#fail(conn, head, 404, 'streaming is not configured');
    let decoded: string;
    try {
      decoded = decodeURIComponent(name);
    } catch {
      return this.#fail(conn, head, 400, 'bad stream name');
    }
    // Plain names only: no separators, no dot files, so nothing outside the directory.
    if (!STREAM_NAME.test(decoded)) return this.#fail(conn, head, 404, `no such stream '${name.slice(0, 80)}'`);
    const path = join(dir, decoded);
    let fd: fsp.FileHandle;
    try {
      fd = await fsp.open(path, fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
      const stat = await fd.stat();
      if (!stat.isFile()) {
        await fd.close();
        return this.#fail(conn, head, 404, `no such stream '${decoded}'`);
      }
    } catch {
      return this.#fail(conn, head, 404, `no such stream '${decoded}'`);
    }
    if (conn.closed) return void fd.close();
    const session = this.#startSession(conn, 'stream');
    session.hdl!.push_write(
      `${head.proto} 200 OK\r\nServer: ae-proxy\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n`,
    );
    const source = createReadStream('', { fd, highWaterMark: 64 * 1024 });
    response_stream(session, new NodeFh(source), {
      backpressure: this.config.backpressure,
      // As finish_response without keep-alive: disconnect once everything went out.
      finished: (s) => s.hdl?.on_drain(() => s.disconnect()),
    });
  }

  #startSession(conn: Connection, kind: SessionKind): ProxySession {
    const session = new ProxySession(
      this.metrics.sessionHooks(kind, this.#log, () => this.#closed(conn)),
    );
    session.hdl = conn.hdl;
    conn.session = session;
    conn.hdl.on_error((_h, _fatal, message) => session.disconnect(`client ${conn.peer}: ${message}`));
    conn.hdl.on_eof(() => session.disconnect());
    session.log('info', `${kind} session for ${conn.peer}`);
    return session;
  }

  #fail(conn: Connection, head: RequestHead, status: number, message: string): void {
    this.metrics.requestErrors++;
    this.#log('warn', `conn ${conn.id} ${conn.peer}: ${head.method} ${head.target.slice(0, 80)}: ${status} ${message}`);
    this.#answer(conn, head.proto, status, `${message}\n`, false);
  }

  /** Responds; then reads the next request (keep-alive) or closes once written. */
  #answer(conn: Connection, proto: string, status: number, body: string, keep: boolean, contentType = 'text/plain', headOnly = false): void {
    if (conn.closed) return;
    // As pveproxy: error responses end the connection.
    const keepAlive = keep && status < 400 && !this.#closing;
    write_response(conn.hdl, proto, status, body, { keepAlive, contentType, head: headOnly });
    if (keepAlive) return this.#nextRequest(conn);
    conn.hdl.on_read(null);
    conn.hdl.on_drain(() => this.#lingeringClose(conn));
  }

  /**
   * Closes after an error response without losing it: half-close first, then read and
   * discard what the client still sends (a body or frames we refused), until its EOF or a
   * bound. Closing at once with unread data makes the kernel send a reset, which can reach
   * the client before it has read the response.
   */
  #lingeringClose(conn: Connection): void {
    if (conn.closed) return;
    const hdl = conn.hdl;
    let discarded = 0;
    hdl.rbuf_max(null);
    hdl.push_shutdown();
    hdl.on_eof(() => this.#close(conn));
    hdl.on_timeout(() => this.#close(conn));
    hdl.timeout(LINGERING_CLOSE_SECONDS);
    hdl.on_read((h) => {
      discarded += h.rbuf.length;
      h.rbuf = h.rbuf.subarray(h.rbuf.length);
      if (discarded > LINGERING_CLOSE_BYTES) this.#close(conn);
    });
  }

  #close(conn: Connection, reason?: string): void {
    if (conn.closed) return;
    if (conn.session) return conn.session.disconnect(reason);
    if (reason) this.#log('warn', `conn ${conn.id}: ${reason}`);
    conn.hdl.destroy();
    this.#closed(conn);
  }

  #closed(conn: Connection): void {
    if (conn.closed) return;
    conn.closed = true;
    conn.session = undefined;
    this.#connections.delete(conn);
    this.metrics.connectionsOpen--;
  }
}

function keepAlive(head: RequestHead): boolean {
  const connection = (head.headers.get('connection') ?? '').toLowerCase();
  if (/(^|,)\s*close\s*(,|$)/.test(connection)) return false;
  return head.minor >= 1 || /(^|,)\s*keep-alive\s*(,|$)/.test(connection);
}
