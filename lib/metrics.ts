import type { Direction, ProxySession, SessionHooks } from './proxy/ProxySession.js';

export type SessionKind = 'websocket' | 'spice' | 'stream';

interface DirectionTotals {
  bytes: number;
  /** Sum of the destination wbufs of the open sessions. */
  wbuf: number;
  /** Largest single destination wbuf ever seen. */
  peakWbuf: number;
  pauses: number;
}

/**
 * Counters for `GET /metrics`, fed by the sessions' hooks. Holds no reference to a
 * session after it closed: per-session state lives in a map keyed by id, deleted on close.
 */
export class Metrics {
  connectionsTotal = 0;
  connectionsOpen = 0;
  requestsTotal = 0;
  requestErrors = 0;
  readonly sessionsTotal: Record<SessionKind, number> = { websocket: 0, spice: 0, stream: 0 };
  sessionsOpen = 0;
  readonly directions: Record<Direction, DirectionTotals> = {
    to_backend: { bytes: 0, wbuf: 0, peakWbuf: 0, pauses: 0 },
    to_client: { bytes: 0, wbuf: 0, peakWbuf: 0, pauses: 0 },
  };
  readonly #lastWbuf = new Map<number, Record<Direction, number>>();
  readonly #intervalPeak: Record<Direction, number> = { to_backend: 0, to_client: 0 };

  /** Hooks for one new session of `kind`, chained in front of `log`. */
  sessionHooks(kind: SessionKind, log?: SessionHooks['log'], closed?: SessionHooks['closed']): SessionHooks {
    this.sessionsTotal[kind]++;
    this.sessionsOpen++;
    return {
      log,
      wbuf: (session, direction, length) => {
        const last = this.#last(session);
        const totals = this.directions[direction];
        totals.wbuf += length - last[direction];
        last[direction] = length;
        if (length > totals.peakWbuf) totals.peakWbuf = length;
        if (length > this.#intervalPeak[direction]) this.#intervalPeak[direction] = length;
      },
      relayed: (_s, direction, bytes) => void (this.directions[direction].bytes += bytes),
      paused: (_s, direction) => void this.directions[direction].pauses++,
      closed: (session, reason) => {
        this.sessionsOpen--;
        const last = this.#lastWbuf.get(session.id);
        if (last) {
          for (const d of ['to_backend', 'to_client'] as const) this.directions[d].wbuf -= last[d];
          this.#lastWbuf.delete(session.id);
        }
        closed?.(session, reason);
      },
    };
  }

  /**
   * The largest single destination wbuf of `direction` since the previous call (at least the
   * sum open now), then starts the next interval: a sampler that calls this every interval
   * misses no peak that came and went between two samples (the demo's chart).
   */
  intervalPeakWbuf(direction: Direction): number {
    const now = this.directions[direction].wbuf;
    const peak = Math.max(this.#intervalPeak[direction], now);
    this.#intervalPeak[direction] = now;
    return peak;
  }

  #last(session: ProxySession): Record<Direction, number> {
    let last = this.#lastWbuf.get(session.id);
    if (!last) this.#lastWbuf.set(session.id, (last = { to_backend: 0, to_client: 0 }));
    return last;
  }

  /** Prometheus text exposition format, version 0.0.4. */
  render(): string {
    const lines: string[] = [];
    const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: Array<[string, number]>) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
    };
    const perDirection = (pick: (t: DirectionTotals) => number): Array<[string, number]> =>
      (['to_backend', 'to_client'] as const).map((d) => [`{direction="${d}"}`, pick(this.directions[d])]);
    metric('aeproxy_connections_total', 'counter', 'Client connections accepted.', [['', this.connectionsTotal]]);
    metric('aeproxy_connections_open', 'gauge', 'Client connections open now.', [['', this.connectionsOpen]]);
    metric('aeproxy_requests_total', 'counter', 'HTTP requests read.', [['', this.requestsTotal]]);
    metric('aeproxy_request_errors_total', 'counter', 'Requests answered with an error status.', [['', this.requestErrors]]);
    metric(
      'aeproxy_sessions_total',
      'counter',
      'Proxy sessions started, by handler.',
      (['websocket', 'spice', 'stream'] as const).map((k) => [`{handler="${k}"}`, this.sessionsTotal[k]]),
    );
    metric('aeproxy_sessions_open', 'gauge', 'Proxy sessions open now.', [['', this.sessionsOpen]]);
    metric('aeproxy_relayed_bytes_total', 'counter', 'Payload bytes relayed, by direction.', perDirection((t) => t.bytes));
    metric('aeproxy_wbuf_bytes', 'gauge', 'Bytes in destination write buffers now, by direction.', perDirection((t) => t.wbuf));
    metric('aeproxy_wbuf_peak_bytes', 'gauge', 'Largest destination write buffer seen, by direction.', perDirection((t) => t.peakWbuf));
    metric('aeproxy_read_pauses_total', 'counter', 'Times a source was paused for backpressure, by direction.', perDirection((t) => t.pauses));
    return `${lines.join('\n')}\n`;
  }
}
