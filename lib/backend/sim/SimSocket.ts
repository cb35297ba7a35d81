import { IoFailure, type Cancel, type Fh, type ReadResult, type WriteResult } from '../Backend.js';
import { errnoText } from '../../handle/errors.js';
import type { SimLoop } from './SimLoop.js';

/** Bytes each direction holds by default: roughly a loopback socket's SO_SNDBUF + SO_RCVBUF. */
export const DEFAULT_SIM_CAPACITY = 64 * 1024;

/** Capacities of a simulated connection, in bytes per direction. */
export interface SimPairOptions {
  /** Both directions, unless overridden below. Default 64 KiB. */
  capacity?: number;
  /** From the first fh of the pair to the second. */
  capacityAtoB?: number;
  /** From the second fh of the pair to the first. */
  capacityBtoA?: number;
}

/**
 * Buffered bytes `[start, end)` of `base`. Adjacent writes extend one run (see
 * `Direction.append`); `base` is then widened to a view of its whole ArrayBuffer.
 */
class Run {
  constructor(
    public base: Buffer,
    public start: number,
    public end: number,
  ) {}
}

/**
 * One direction of a connection: the kernel buffer between a writer and a reader, holding
 * the writers' Buffers by reference (the Fh contract says they are never modified).
 * Internal to the simulation; exported only because SimFh's constructor names it.
 */
export class Direction {
  #runs: Run[] = [];
  /** Index of the first unread run; consumed runs are dropped in batches. */
  #head = 0;
  /** Where the last run ends in its memory (its base's byteOffset + end); -1 when there is none. */
  #tailEnd = -1;
  /** The ArrayBuffer of the last run, once looked up (`.buffer` costs as much as making a view). */
  #tailMemory: ArrayBufferLike | undefined;
  /** Bytes in the buffer now. */
  buffered = 0;
  /** Bytes ever accepted from the writer. */
  written = 0;
  /** Bytes ever handed to the reader. */
  read = 0;
  /** The writer shut down or closed: EOF once the buffer is empty. */
  writerDone = false;
  /** The reader closed: writing is EPIPE. */
  readerClosed = false;
  /** A reset came back this way: once the buffer is empty, reads fail with ECONNRESET. */
  reset = false;

  constructor(readonly capacity: number) {}

  get room(): number {
    return this.capacity - this.buffered;
  }

  /**
   * Accepts the first `n` bytes of `chunks` (n ≤ their total), by reference. A chunk that
   * starts where the last buffered one ends, in the same memory, extends that run instead
   * of starting a new one: the bytes are the same, and a later read that spans both is a
   * view rather than a copy. So a stream written piece by piece out of one Buffer (the test
   * pattern), or a relay passing on what it read, goes through without being copied.
   */
  append(chunks: readonly Buffer[], n: number): void {
    this.buffered += n;
    this.written += n;
    const runs = this.#runs;
    for (let i = 0; n > 0; i++) {
      const chunk = chunks[i];
      const length = chunk.length;
      if (!length) continue;
      const take = length <= n ? length : n;
      n -= take;
      const offset = chunk.byteOffset;
      // The cheap test first: most chunks that are not adjacent fail it without `.buffer`.
      if (offset === this.#tailEnd) {
        const tail = runs[runs.length - 1];
        const memory = chunk.buffer;
        this.#tailMemory ??= tail.base.buffer;
        if (memory === this.#tailMemory) {
          if (tail.end + take > tail.base.length) {
            // Widen the base to all of its memory, so the run can grow past the first chunk.
            const shift = tail.base.byteOffset;
            tail.base = Buffer.from(memory, 0, memory.byteLength);
            tail.start += shift;
            tail.end += shift;
          }
          tail.end += take;
          this.#tailEnd += take;
          continue;
        }
      }
      runs.push(new Run(chunk, 0, take));
      this.#tailEnd = offset + take;
      this.#tailMemory = undefined;
    }
  }

  /** Takes up to `max` bytes (the buffer must not be empty). */
  take(max: number): Buffer {
    const run = this.#runs[this.#head];
    const left = run.end - run.start;
    let out: Buffer;
    if (left > max) {
      out = run.base.subarray(run.start, run.start + max);
      run.start += max;
    } else if (left === max || this.#head + 1 === this.#runs.length) {
      out = run.start === 0 && run.end === run.base.length ? run.base : run.base.subarray(run.start, run.end);
      this.#dropHead();
    } else {
      out = this.#gather(max);
    }
    this.buffered -= out.length;
    this.read += out.length;
    return out;
  }

  /** Copies several runs into one read result, as a kernel read would. */
  #gather(max: number): Buffer {
    const out = Buffer.allocUnsafe(Math.min(max, this.buffered));
    let filled = 0;
    while (filled < out.length) {
      const run = this.#runs[this.#head];
      const n = Math.min(run.end - run.start, out.length - filled);
      run.base.copy(out, filled, run.start, run.start + n);
      filled += n;
      run.start += n;
      if (run.start === run.end) this.#dropHead();
    }
    return out;
  }

  #dropHead(): void {
    const runs = this.#runs;
    if (++this.#head === runs.length) {
      this.#clear();
    } else if (this.#head > 1024 && this.#head * 2 > runs.length) {
      this.#runs = runs.slice(this.#head);
      this.#head = 0;
    }
  }

  #clear(): void {
    this.#runs = [];
    this.#head = 0;
    this.#tailEnd = -1;
    this.#tailMemory = undefined;
  }

  /** Drops what nobody will read (the reader closed). */
  discard(): void {
    this.#clear();
    this.buffered = 0;
  }
}

/**
 * Creates a connected pair of simulated stream sockets on `loop`: what one end writes, the
 * other reads, through a buffer of bounded capacity in each direction.
 */
export function simSocketPair(loop: SimLoop, opts: SimPairOptions = {}): [SimFh, SimFh] {
  const capacity = opts.capacity ?? DEFAULT_SIM_CAPACITY;
  const aToB = new Direction(positive(opts.capacityAtoB ?? capacity));
  const bToA = new Direction(positive(opts.capacityBtoA ?? capacity));
  return [new SimFh(loop, bToA, aToB), new SimFh(loop, aToB, bToA)];
}

function positive(capacity: number): number {
  if (!(capacity >= 1)) throw new RangeError(`simSocketPair: capacity must be at least 1 byte, got ${capacity}`);
  return capacity;
}

/**
 * One end of a simulated stream socket, an `Fh` on a SimLoop. Semantics follow Linux TCP
 * where that is cheap:
 *
 * - `write` accepts as much as fits (EAGAIN when full). It fails with EPIPE after this end
 *   shut down, and after the peer closed; the latter also resets the connection, as the
 *   peer's RST would, so this end's reads end in ECONNRESET instead of EOF. (Linux accepts
 *   that first write and fails the next one; failing at once is simpler and equivalent for
 *   a Handle, whose write error is fatal.)
 * - `read` returns what is buffered first, then: ECONNRESET after a reset, EOF (an empty
 *   Buffer) after the peer shut down or closed, EAGAIN otherwise.
 * - `close` with unread incoming data resets the connection (Linux sends RST instead of FIN
 *   then): the peer still reads what this end wrote, then ECONNRESET. A close with nothing
 *   unread is a FIN: the peer reads the data, then EOF. Closing discards the unread data.
 * - After `close`, no watcher of this end runs again, and read/write fail with EBADF.
 */
export class SimFh implements Fh {
  readonly loop: SimLoop;
  readonly #in: Direction;
  readonly #out: Direction;
  /** Handed to the loop as the owner of this end's watchers: once closed, they never run again. */
  readonly #life = { closed: false };
  #peerAddress: { host: string; port: number } | undefined;
  /** The last `setNoDelay`, for tests; a simulated socket has no Nagle delay. */
  noDelay = false;
  /** The last `setKeepAlive`, for tests. */
  keepAlive = false;

  /** Use `simSocketPair` (or `SimLoop.connect`/`listen`) rather than this. */
  constructor(loop: SimLoop, incoming: Direction, outgoing: Direction) {
    this.loop = loop;
    this.#in = incoming;
    this.#out = outgoing;
  }

  // ---------------------------------------------------------------- Fh

  watchReadable(cb: () => void): Cancel {
    return this.#watch(this.#readReady, cb);
  }

  watchWritable(cb: () => void): Cancel {
    return this.#watch(this.#writeReady, cb);
  }

  read(max: number): ReadResult {
    if (this.#life.closed) return failure('EBADF');
    if (!(max >= 1)) throw new RangeError(`SimFh.read: max must be at least 1, got ${max}`);
    const incoming = this.#in;
    if (incoming.buffered > 0) return incoming.take(max);
    if (incoming.reset) return failure('ECONNRESET');
    if (incoming.writerDone) return Buffer.alloc(0);
    return null;
  }

  write(chunks: readonly Buffer[]): WriteResult {
    if (this.#life.closed) return failure('EBADF');
    const out = this.#out;
    if (out.writerDone) return failure('EPIPE');
    if (out.readerClosed) {
      this.#in.reset = true;
      return failure('EPIPE');
    }
    let total = 0;
    for (let i = 0; i < chunks.length; i++) total += chunks[i].length;
    if (total === 0) return 0;
    const room = out.room;
    if (room <= 0) return null;
    const accepted = Math.min(room, total);
    out.append(chunks, accepted);
    return accepted;
  }

  shutdown(): void {
    if (!this.#life.closed) this.#out.writerDone = true;
  }

  close(): void {
    if (this.#life.closed) return;
    // The loop drops this end's watchers when it sees `closed` (they are installed with
    // #life as their owner), before their next turn, even later in the current iteration.
    this.#life.closed = true;
    this.#out.writerDone = true;
    if (this.#in.buffered > 0) this.#out.reset = true;
    this.#in.readerClosed = true;
    this.#in.discard();
  }

  setNoDelay(on: boolean): void {
    this.noDelay = on;
  }

  setKeepAlive(on: boolean): void {
    this.keepAlive = on;
  }

  peer(): { host: string; port: number } | undefined {
    return this.#peerAddress;
  }

  // ---------------------------------------------------------------- inspection

  /** True once `close` was called on this end. */
  get closed(): boolean {
    return this.#life.closed;
  }

  /** Bytes this end wrote that the peer has not read yet. */
  buffered(): number {
    return this.#out.buffered;
  }

  /** Bytes a `write` would accept now (0 also when it would fail). */
  room(): number {
    const out = this.#out;
    return this.#life.closed || out.writerDone || out.readerClosed ? 0 : Math.max(0, out.room);
  }

  /** Bytes the peer wrote that this end has not read yet. */
  available(): number {
    return this.#in.buffered;
  }

  /** Bytes this end ever wrote (accepted by `write`). */
  get bytesWritten(): number {
    return this.#out.written;
  }

  /** Bytes this end ever read. */
  get bytesRead(): number {
    return this.#in.read;
  }

  /** Sets what `peer()` reports; the loop's `connect` does this. */
  setPeerAddress(address: { host: string; port: number }): void {
    this.#peerAddress = address;
  }

  // ---------------------------------------------------------------- readiness

  readonly #readReady = (): boolean => {
    const incoming = this.#in;
    return incoming.buffered > 0 || incoming.writerDone || incoming.reset;
  };

  readonly #writeReady = (): boolean => {
    const out = this.#out;
    return out.room > 0 || out.writerDone || out.readerClosed;
  };

  #watch(ready: () => boolean, cb: () => void): Cancel {
    if (this.#life.closed) return noop;
    return this.loop.watch(ready, cb, this.#life);
  }
}

function noop(): void {}

function failure(code: string): IoFailure {
  return new IoFailure(code, errnoText(code));
}
