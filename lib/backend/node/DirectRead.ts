import type { Socket } from 'node:net';

/** The first kernel read's size: libuv's own (what Node reads per call without `onread`). */
export const DIRECT_READ_MIN = 64 * 1024;
/**
 * The largest kernel read. A relay on loopback spends most of its time in the kernel, and the
 * cost there is per call as much as per byte: plain Node relays reading 256 KiB per call
 * moved about 1.4x what `stream.pipeline` (64 KiB) did, 512 KiB 1.7x (bench/read-size.ts).
 * Through the front, 512 KiB against 256 measured 1.15x on the raw relay, 1.08x and 1.05x
 * on websocket, for 1,060 KB per stalled session against 872 (docs/performance.md).
 */
export const DIRECT_READ_MAX = 512 * 1024;
/** A read buffer's size while its socket is paused: what an idle, stalled session reserves. */
const PAUSED_READ = 16 * 1024;

/**
 * The read side of a socket created with Node's `onread` option: libuv reads straight into a
 * buffer of ours, sized as we choose, instead of 64 KiB Buffers pushed through a Readable
 * stream. The socket must be created with `onread: direct.onread`; NodeFh then reads
 * from `direct` (see NodeFh: `new NodeFh(socket, { direct })`).
 *
 * Reads grow from 64 to 512 KiB while each fills its buffer, like AnyEvent's read_size.
 * While nothing is queued and the reader lends room after its buffered bytes (Fh.readInto:
 * the Handle's rbuf), the read lands there, as Perl's sysread appends to rbuf. Otherwise a
 * read that filled less than half its buffer is copied out, and the buffer is read into
 * again; a fuller one is handed on as a view and the next read gets a fresh buffer. Either
 * way no byte handed out is ever overwritten, and a view pins at most twice its size.
 *
 * The queue is bounded: when nobody is reading (no read watcher) or one read's worth is
 * queued, the callback returns false and Node stops reading the socket (readStop), so the
 * kernel's buffer and TCP flow control take over, as for a Perl handle whose read watcher is
 * off. Read-ahead is at most the queue bound plus one read (1 MiB).
 */
export class DirectRead {
  /** For the socket's constructor: `new Socket({ onread: direct.onread })`. */
  readonly onread = {
    buffer: (): Buffer => this.#nextBuffer(),
    callback: (nread: number, buf: Buffer): boolean => this.#deliver(nread, buf),
  };
  #socket: Socket | undefined;
  #chunks: Buffer[] = [];
  #queued = 0;
  #size = DIRECT_READ_MIN;
  /** The buffer of the last read, when its bytes were copied out: read into it again. */
  #reusable: Buffer | undefined;
  /** Node stopped reading because this returned false; `resume()` restarts it. */
  #paused = false;
  /** Whether the consumer wants data: a read watcher is installed. */
  #wanted = false;
  /** Called after each read with data queued (NodeFh's read dispatch). */
  #onData: (() => void) | undefined;
  /** The reader's room to read into (Fh.readInto), and the buffer last taken from it. */
  #spare: ((size: number) => Buffer | undefined) | undefined;
  #lent: Buffer | undefined;

  /** Binds the socket (created with `this.onread`) and the consumer's data hook. */
  attach(socket: Socket, onData: () => void): void {
    this.#socket = socket;
    this.#onData = onData;
  }

  /** Reads land in the reader's own buffer when it has room for them (Fh.readInto). */
  readInto(spare: (size: number) => Buffer | undefined): void {
    this.#spare = spare;
  }

  get length(): number {
    return this.#queued;
  }

  /**
   * Up to `max` queued bytes, or undefined if none; then the socket is read again, as a
   * sysread on an empty buffer would ask the kernel.
   */
  take(max: number): Buffer | undefined {
    if (this.#queued === 0) {
      this.#maybeResume(true);
      return undefined;
    }
    // The queue holds a few reads at most (see #deliver), so shift() is cheap, and a consumed
    // read is let go at once.
    const chunks = this.#chunks;
    let out: Buffer;
    if (chunks[0].length > max) {
      out = chunks[0].subarray(0, max);
      chunks[0] = chunks[0].subarray(max);
    } else if (chunks[0].length === max || chunks.length === 1) {
      out = chunks.shift()!;
    } else {
      // Several reads queued and the reader asked for more than the first: everything up to
      // `max`, as one sysread returns all the kernel holds. (Rare on the hot path: a reader
      // that keeps up takes each read as it comes, and those land in its rbuf.)
      const parts: Buffer[] = [];
      let n = 0;
      while (chunks.length && n < max) {
        const c = chunks[0];
        const part = n + c.length > max ? c.subarray(0, max - n) : c;
        if (part === c) chunks.shift();
        else chunks[0] = c.subarray(part.length);
        parts.push(part);
        n += part.length;
      }
      out = Buffer.concat(parts, n);
    }
    this.#queued -= out.length;
    this.#maybeResume();
    return out;
  }

  /** The consumer installed (true) or removed (false) its read watcher. */
  want(on: boolean): void {
    this.#wanted = on;
    this.#maybeResume();
  }

  #maybeResume(asked = false): void {
    if (!this.#paused || !(this.#wanted || asked) || this.#queued >= this.#size) return;
    const s = this.#socket;
    if (!s || s.destroyed) return;
    this.#paused = false;
    s.resume();
  }

  #nextBuffer(): Buffer {
    const size = this.#paused ? PAUSED_READ : this.#size;
    // Straight into the reader's rbuf when nothing is queued (so the read lands right after
    // what it has): a frame or line split across reads is then whole without a copy.
    if (!this.#paused && this.#queued === 0 && this.#spare) {
      const room = this.#spare(size);
      if (room && room.length >= size) return (this.#lent = room.length === size ? room : room.subarray(0, size));
    }
    if (this.#reusable?.length === size) return this.#reusable;
    this.#reusable = undefined;
    return Buffer.allocUnsafe(size);
  }

  #deliver(nread: number, buf: Buffer): boolean {
    let chunk = buf.subarray(0, nread);
    const lent = buf === this.#lent;
    this.#lent = undefined;
    if (lent) {
      // The reader's room: never copied out nor read into again.
      if (nread === buf.length && buf.length >= this.#size) this.#size = Math.min(this.#size * 2, DIRECT_READ_MAX);
    } else if (nread * 2 < buf.length) {
      chunk = Buffer.from(chunk);
      this.#reusable = buf;
    } else {
      this.#reusable = undefined;
      if (nread === buf.length && buf.length >= this.#size) this.#size = Math.min(this.#size * 2, DIRECT_READ_MAX);
    }
    this.#chunks.push(chunk);
    this.#queued += nread;
    this.#onData?.();
    const keep = this.#wanted && this.#queued < this.#size;
    this.#paused = !keep;
    return keep;
  }
}

