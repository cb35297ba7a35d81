/**
 * What a property looks at while a schedule runs: every change of each destination's wbuf
 * (through the handles' `wbuf` instrumentation events, so every step counts, not just the
 * peak), the handler's total buffered bytes (rbuf + wbuf of both handles, sampled at every
 * `wbuf` and `read` event), pauses, and the first violation of the stated bounds.
 */
import type { Handle } from '../../../lib/index.js';
import type { SimLoop } from '../../../lib/backend/sim/index.js';
import type { Direction } from '../../../lib/proxy/ProxySession.js';

/** The bounds a handler keeps with backpressure (bytes). */
export interface Bounds {
  /** Per destination wbuf, at every step. */
  wbuf: Record<Direction, number>;
  /** rbuf + wbuf of both handles, at every step. */
  total: number;
}

export interface Observation {
  peakWbuf: Record<Direction, number>;
  peakTotal: number;
  /** The first bound violation, with the virtual time it happened at (only when bounds are enforced). */
  violation: string | undefined;
}

/**
 * Follows the destination wbufs and the totals of a session's two handles.
 * `enforce`: record violations of `bounds` (the unbounded run only records peaks).
 */
export class BufferWatch implements Observation {
  peakWbuf: Record<Direction, number> = { to_backend: 0, to_client: 0 };
  peakTotal = 0;
  violation: string | undefined;
  readonly #handles: Handle[] = [];

  constructor(
    readonly loop: SimLoop,
    readonly bounds: Bounds,
    readonly enforce: boolean,
  ) {}

  /** Watch `hdl` as the destination of `direction` (its wbuf), and as one of the totals' handles. */
  destination(hdl: Handle, direction: Direction): void {
    this.#handles.push(hdl);
    hdl.events.on('wbuf', (length) => {
      if (length > this.peakWbuf[direction]) this.peakWbuf[direction] = length;
      if (this.enforce && length > this.bounds.wbuf[direction] && !this.violation) {
        this.violation = `${direction} wbuf ${length} > bound ${this.bounds.wbuf[direction]} at t=${this.loop.now()}s`;
      }
      this.#sampleTotal();
    });
    hdl.events.on('read', () => this.#sampleTotal());
  }

  /** A handle that is no destination (response_stream's source) but counts in the total. */
  source(hdl: Handle): void {
    this.#handles.push(hdl);
    hdl.events.on('read', () => this.#sampleTotal());
    hdl.events.on('wbuf', () => this.#sampleTotal());
  }

  #sampleTotal(): void {
    let total = 0;
    for (const hdl of this.#handles) total += hdl.rbuf.length + hdl.wbuf.length;
    if (total > this.peakTotal) this.peakTotal = total;
    if (this.enforce && total > this.bounds.total && !this.violation) {
      this.violation = `total buffered ${total} > bound ${this.bounds.total} at t=${this.loop.now()}s`;
    }
  }
}
