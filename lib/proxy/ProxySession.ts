import type { Handle } from '../handle/index.js';

/** Which way bytes flow: towards the backend (or stream source), or towards the client. */
export type Direction = 'to_backend' | 'to_client';

/** What one direction of one session did; wbuf is the destination handle's. */
export interface DirectionStats {
  /** Payload bytes handed to the destination handle. */
  bytes: number;
  /** The destination's wbuf now. */
  wbuf: number;
  /** The largest wbuf seen on the destination. */
  peakWbuf: number;
  /** Times reading on the source was paused for backpressure. */
  pauses: number;
}

export type LogLevel = 'info' | 'warn' | 'err';

/** Hooks a session reports to (the HTTP front's logger and metrics; tests). */
export interface SessionHooks {
  log?(level: LogLevel, message: string): void;
  /** Every change of a destination's wbuf (for metrics and property tests). */
  wbuf?(session: ProxySession, direction: Direction, length: number): void;
  relayed?(session: ProxySession, direction: Direction, bytes: number): void;
  paused?(session: ProxySession, direction: Direction): void;
  closed?(session: ProxySession, reason: string | undefined): void;
}

let nextId = 1;

/**
 * One proxied connection: pveproxy's `$reqstate` with its `hdl` (the client) and
 * `proxyhdl` (the backend, or the stream being sent), and `client_do_disconnect`.
 *
 * Owns both handles: `disconnect` clears their callbacks and destroys them, so a closed
 * session keeps nothing alive (v4 of the patch found closures referring to themselves that
 * kept every closed session's state; here nothing outside the session refers to them).
 */
export class ProxySession {
  readonly id = nextId++;
  hdl: Handle | undefined;
  proxyhdl: Handle | undefined;
  readonly stats: Record<Direction, DirectionStats> = {
    to_backend: { bytes: 0, wbuf: 0, peakWbuf: 0, pauses: 0 },
    to_client: { bytes: 0, wbuf: 0, peakWbuf: 0, pauses: 0 },
  };
  /** Set once by `disconnect`; nothing is relayed afterwards. */
  closed = false;
  /** Why the session ended (undefined for a clean end). */
  closeReason: string | undefined;
  #hooks: SessionHooks;

  constructor(hooks: SessionHooks = {}) {
    this.#hooks = hooks;
  }

  log(level: LogLevel, message: string): void {
    this.#hooks.log?.(level, `session ${this.id}: ${message}`);
  }

  /** Follows `hdl`'s wbuf as the destination of `direction`. */
  watchDestination(hdl: Handle, direction: Direction): void {
    const stats = this.stats[direction];
    const update = (length: number) => {
      stats.wbuf = length;
      if (length > stats.peakWbuf) stats.peakWbuf = length;
      this.#hooks.wbuf?.(this, direction, length);
    };
    update(hdl.wbuf.length);
    hdl.events.on('wbuf', update);
  }

  relayed(direction: Direction, bytes: number): void {
    this.stats[direction].bytes += bytes;
    this.#hooks.relayed?.(this, direction, bytes);
  }

  paused(direction: Direction): void {
    this.stats[direction].pauses++;
    this.#hooks.paused?.(this, direction);
  }

  /**
   * Ends the session: clears the handlers of both handles and destroys them; whatever is
   * still queued for writing is written out in the background (each handle's `linger`).
   * Idempotent. Perl: `client_do_disconnect`.
   */
  disconnect(reason?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.closeReason = reason;
    if (reason) this.log('err', reason);
    for (const hdl of [this.proxyhdl, this.hdl]) {
      if (!hdl) continue;
      hdl.on_drain(null);
      hdl.on_read(null);
      hdl.on_eof(null);
      hdl.destroy();
    }
    this.proxyhdl = this.hdl = undefined;
    const hooks = this.#hooks;
    this.#hooks = {};
    hooks.closed?.(this, reason);
  }
}
