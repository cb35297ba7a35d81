import type { Cancel, Fh, Loop } from '../../../lib/backend/Backend.js';
import { Handle } from '../../../lib/handle/Handle.js';
import type { ErrorCallback, HandleOptions } from '../../../lib/handle/options.js';
import '../../../lib/types/index.js';

/**
 * An in-memory file handle that the test feeds by hand, so that the real Handle (its read
 * queue, unshift_read, rbuf_max, EOF handling) runs the read types with reads cut exactly
 * where the test says: each `feed` is delivered as one read, and everything happens
 * synchronously inside `feed`.
 */
export class ScriptedFh implements Fh {
  readonly loop: Loop = {
    now: () => 0,
    timer: () => () => {},
    connect: () => {
      throw new Error('ScriptedFh: no connect');
    },
  };
  /** Everything the handle wrote. */
  written = Buffer.alloc(0);
  #incoming: Buffer[] = [];
  #eof = false;
  #eofDelivered = false;
  #readable: (() => void) | undefined;

  watchReadable(cb: () => void): Cancel {
    // Not invoked from here: a real loop calls back later, never inside watchReadable.
    this.#readable = cb;
    return () => {
      if (this.#readable === cb) this.#readable = undefined;
    };
  }

  watchWritable(): Cancel {
    return () => {};
  }

  read(max: number): Buffer | null {
    const next = this.#incoming[0];
    if (next) {
      if (next.length <= max) {
        this.#incoming.shift();
        return next;
      }
      this.#incoming[0] = next.subarray(max);
      return next.subarray(0, max);
    }
    if (this.#eof) {
      this.#eofDelivered = true;
      return Buffer.alloc(0);
    }
    return null;
  }

  write(chunks: readonly Buffer[]): number {
    this.written = Buffer.concat([this.written, ...chunks]);
    return chunks.reduce((n, c) => n + c.length, 0);
  }

  shutdown(): void {}
  close(): void {}

  /** Delivers `data` as one read (an empty feed delivers nothing). */
  feed(data: Buffer | string): void {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (bytes.length) this.#incoming.push(Buffer.from(bytes));
    this.pump();
  }

  /** Delivers EOF after whatever is pending. */
  end(): void {
    this.#eof = true;
    this.pump();
  }

  #pendingBytes(): number {
    return this.#incoming.reduce((n, b) => n + b.length, 0);
  }

  /** Runs the read watcher for as long as a read would not block, as a loop would. */
  pump(): void {
    while (this.#readable && (this.#incoming.length || (this.#eof && !this.#eofDelivered))) {
      const pending = this.#pendingBytes();
      const eofDelivered = this.#eofDelivered;
      this.#readable();
      // A watcher that did not read would make a real loop spin; a test should stop.
      if (this.#pendingBytes() === pending && this.#eofDelivered === eofDelivered) break;
    }
  }
}

/** One call of on_error, as it was made. */
export interface ErrorCall {
  fatal: boolean;
  message: string;
  code: string | undefined;
}

/** A Handle on a ScriptedFh that records its errors instead of throwing. */
export function scriptedHandle(options: Partial<HandleOptions> = {}): { hdl: Handle; fh: ScriptedFh; errors: ErrorCall[] } {
  const fh = new ScriptedFh();
  const errors: ErrorCall[] = [];
  const on_error: ErrorCallback = (_hdl, fatal, message, code) => {
    errors.push({ fatal, message, code });
  };
  const hdl = new Handle({ on_error, ...options, fh });
  return { hdl, fh, errors };
}

/** `data` cut at `cuts` (sorted offsets), as the list of reads to feed. */
export function splitAt(data: Buffer, ...cuts: number[]): Buffer[] {
  const parts: Buffer[] = [];
  let from = 0;
  for (const cut of cuts) {
    parts.push(data.subarray(from, cut));
    from = cut;
  }
  parts.push(data.subarray(from));
  return parts;
}

/** Every way of delivering `data` in two reads, and one byte per read. */
export function deliveries(data: Buffer): Array<{ name: string; parts: Buffer[] }> {
  const out: Array<{ name: string; parts: Buffer[] }> = [{ name: 'whole', parts: [data] }];
  for (let cut = 1; cut < data.length; cut++) out.push({ name: `split at ${cut}`, parts: splitAt(data, cut) });
  out.push({ name: 'byte by byte', parts: [...data].map((b) => Buffer.from([b])) });
  return out;
}
