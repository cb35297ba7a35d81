import type { Socket } from 'node:net';
import type { Duplex, Readable, Writable } from 'node:stream';
import { IoFailure, type Cancel, type Fh, type ReadResult, type WriteResult } from '../Backend.js';
import { errnoText } from '../../handle/errors.js';
import type { DirectRead } from './DirectRead.js';
import { nodeLoop } from './NodeLoop.js';

/**
 * The largest piece handed to Node's `write` at once; bounds what Node holds beyond wbuf.
 * One Handle read (max_read_size, 128 KiB) plus a websocket frame's header goes out in one
 * system call (64 KiB pieces would make two per read).
 */
export const MAX_WRITE_PIECE = 256 * 1024;

type AnyStream = Duplex | Readable | Writable;

interface SocketLike {
  setNoDelay?(on: boolean): unknown;
  setKeepAlive?(on: boolean): unknown;
  remoteAddress?: string;
  remotePort?: number;
  allowHalfOpen?: boolean;
}

/**
 * A Node stream (a `net.Socket`, TCP or Unix, a pipe, a child's stdio, a file's read stream)
 * seen as a non-blocking file handle with level-triggered readiness.
 *
 * Node streams push; AnyEvent polls. The adapter keeps the stream in paused mode and reads
 * from its buffer only when the Handle asks, so Node's own read-ahead is bounded by the
 * stream's readableHighWaterMark (raised to the Handle's read size, 128 KiB at most by
 * default) plus one libuv read (64 KiB); when the Handle stops reading, Node stops reading
 * from the kernel. A socket created with `onread` (see DirectRead, and sockets.ts, which
 * makes them) is read without the stream: larger reads straight into our buffers, read-ahead
 * bounded by DirectRead. On the write side, a write is refused (EAGAIN) once Node holds its
 * writableHighWaterMark, and large chunks are cut to MAX_WRITE_PIECE (256 KiB), so that Node
 * holds at most writableHighWaterMark + 256 KiB beyond the Handle's wbuf.
 *
 * Watchers are level-triggered, as libev's: after a callback, if the condition still holds
 * and the watcher is still on, it is invoked again on the next loop iteration (setImmediate).
 */
export class NodeFh implements Fh {
  readonly loop = nodeLoop;
  readonly stream: AnyStream;
  /** The stream itself: what `hdl.fh` returns. */
  get native(): AnyStream {
    return this.stream;
  }
  #readable: Readable | undefined;
  #writable: Writable | undefined;
  #onReadable: (() => void) | undefined;
  #onWritable: (() => void) | undefined;
  #scheduled = false;
  /** The stream emitted 'end': the next read returns EOF. */
  #endSeen = false;
  #failure: IoFailure | undefined;
  #closed = false;
  readonly #direct: DirectRead | undefined;

  /** `direct`: the DirectRead whose `onread` the socket was created with. */
  constructor(stream: AnyStream, options: { direct?: DirectRead } = {}) {
    this.stream = stream;
    this.#direct = options.direct;
    this.#readable = isReadable(stream) ? stream : undefined;
    this.#writable = isWritable(stream) ? stream : undefined;
    // A half-closed peer must not make Node end our write side: AnyEvent keeps writing
    // after EOF until the user shuts down or destroys.
    const socket = stream as SocketLike;
    if ('allowHalfOpen' in socket) socket.allowHalfOpen = true;
    const wake = () => this.#schedule();
    stream.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? 'EIO';
      this.#failure ??= new IoFailure(code, errnoText(code));
      wake();
    });
    if (this.#readable) {
      if (this.#readable.readableEncoding) throw new TypeError('AnyEvent::Handle: fh must not have an encoding set');
      if (this.#direct) this.#direct.attach(stream as Socket, this.#onIo);
      else this.#readable.on('readable', this.#onIo);
      this.#readable.on('end', () => {
        this.#endSeen = true;
        wake();
      });
    }
    if (this.#writable) this.#writable.on('drain', wake);
    stream.on('close', wake);
  }

  watchReadable(cb: () => void): Cancel {
    this.#onReadable = cb;
    this.#direct?.want(true);
    this.#schedule();
    return () => {
      if (this.#onReadable !== cb) return;
      this.#onReadable = undefined;
      this.#direct?.want(false);
    };
  }

  watchWritable(cb: () => void): Cancel {
    this.#onWritable = cb;
    this.#schedule();
    return () => {
      if (this.#onWritable === cb) this.#onWritable = undefined;
    };
  }

  readInto(spare: (size: number) => Buffer | undefined): void {
    this.#direct?.readInto(spare);
  }

  read(max: number): ReadResult {
    if (this.#failure) return this.#failure;
    const r = this.#readable;
    if (!r) return new IoFailure('EBADF', errnoText('EBADF'));
    if (this.#direct) return this.#direct.take(max) ?? (this.#endSeen ? Buffer.alloc(0) : null);
    const available = r.readableLength;
    if (available > 0) {
      if (available < max && max > r.readableHighWaterMark) {
        // Asking for more than is buffered raises Node's highWaterMark to `max` (rounded up
        // to a power of two) and returns null, or everything left once the stream ended.
        // Then a chunk pushed while this handle keeps up never reaches the mark, and Node
        // goes on reading instead of stopping and restarting the socket after every chunk.
        const rest = r.read(max) as Buffer | null;
        if (rest) return rest;
      }
      return r.read(Math.min(max, available)) as Buffer;
    }
    if (this.#endSeen || r.readableEnded) return Buffer.alloc(0);
    // Lets Node notice the end (it emits 'end' only after a read on an empty, ended stream)
    // and refill its buffer.
    r.read(0);
    return null;
  }

  write(chunks: readonly Buffer[]): WriteResult {
    if (this.#failure) return this.#failure;
    const w = this.#writable;
    if (!w || w.writableEnded || w.destroyed) return new IoFailure('EPIPE', errnoText('EPIPE'));
    // Node holds at most its high-water mark + one batch. (Its writableNeedDrain flag stays
    // set until the next tick even when the kernel took everything at once, so the bound is
    // checked on what Node holds.)
    const hwm = w.writableHighWaterMark;
    if (w.writableLength >= hwm) return null;
    // Batches of up to MAX_WRITE_PIECE bytes, each one system call (several chunks go corked,
    // in one writev: a frame header with its payload, or what autocork gathered), for as long
    // as the kernel takes them whole.
    let written = 0;
    let i = 0;
    let offset = 0;
    while (i < chunks.length) {
      const batch: Buffer[] = [];
      let size = 0;
      for (; i < chunks.length && size < MAX_WRITE_PIECE; offset = 0, i++) {
        const chunk = chunks[i];
        const n = Math.min(chunk.length - offset, MAX_WRITE_PIECE - size);
        if (n > 0) batch.push(offset === 0 && n === chunk.length ? chunk : chunk.subarray(offset, offset + n));
        size += n;
        if (offset + n < chunk.length) {
          offset += n;
          break;
        }
      }
      if (batch.length > 1) w.cork();
      for (const piece of batch) w.write(piece);
      if (batch.length > 1) w.uncork();
      if (this.#refused(w)) return written > 0 ? written : this.#failure!;
      written += size;
      if (w.writableLength >= hwm) break;
    }
    return written;
  }

  /**
   * A write the kernel refuses (EPIPE, ECONNRESET) destroys the stream synchronously but is
   * emitted as 'error' only later; syswrite would fail now, so fail now.
   */
  #refused(w: Writable): boolean {
    const refused = (w as Writable & { errored?: NodeJS.ErrnoException | null }).errored;
    if (!refused) return false;
    const code = refused.code ?? 'EIO';
    this.#failure ??= new IoFailure(code, errnoText(code));
    return true;
  }

  shutdown(): void {
    const w = this.#writable;
    if (w && !w.writableEnded && !w.destroyed) w.end();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onReadable = this.#onWritable = undefined;
    const s = this.stream;
    const w = this.#writable;
    // What Node still holds is, for AnyEvent, already in the kernel: let it go out first,
    // also after a shutdown (push_shutdown) already ended the write side.
    if (w && !w.destroyed && w.writableLength > 0) {
      if (!w.writableEnded) w.end();
      const force = setTimeout(() => s.destroy(), 30_000);
      force.unref();
      s.once('finish', () => {
        clearTimeout(force);
        s.destroy();
      });
      s.once('close', () => clearTimeout(force));
      return;
    }
    s.destroy();
  }

  setNoDelay(on: boolean): void {
    (this.stream as SocketLike).setNoDelay?.(on);
  }

  setKeepAlive(on: boolean): void {
    (this.stream as SocketLike).setKeepAlive?.(on);
  }

  peer(): { host: string; port: number } | undefined {
    const s = this.stream as SocketLike;
    return s.remoteAddress !== undefined ? { host: s.remoteAddress, port: s.remotePort ?? 0 } : undefined;
  }

  #readReady(): boolean {
    const r = this.#readable;
    return !!this.#failure || !r || (this.#direct ? this.#direct.length : r.readableLength) > 0 || this.#endSeen;
  }

  #writeReady(): boolean {
    const w = this.#writable;
    return !!this.#failure || !w || w.destroyed || !w.writableNeedDrain;
  }

  #schedule(): void {
    if (this.#scheduled || this.#closed) return;
    if (!(this.#onReadable && this.#readReady()) && !(this.#onWritable && this.#writeReady())) {
      // Nothing ready: make sure Node keeps (or starts) filling its read buffer.
      if (this.#onReadable && this.#readable && !this.#endSeen && !this.#direct) this.#readable.read(0);
      return;
    }
    this.#scheduled = true;
    setImmediate(this.#dispatch);
  }

  /**
   * Node read from the kernel (or saw EOF): the I/O event libev would report. The read
   * watcher runs now, in the same tick as the read, rather than on the next setImmediate;
   * what it leaves is picked up by the level-triggered dispatch as before. Reading here
   * keeps Node's buffer below its mark, so Node never stops reading the socket.
   */
  readonly #onIo = (): void => {
    const onReadable = this.#onReadable;
    if (onReadable && !this.#closed && this.#readReady()) {
      onReadable();
      // A direct read can be larger than the reader's read size (512 KiB against 128): it
      // gets the rest now, as it would in back-to-back loop iterations with nothing else
      // ready, for as long as it keeps taking, rather than one setImmediate later. (With
      // autocork, what it wrote in between then goes out in one writev.)
      const direct = this.#direct;
      for (let left = direct?.length ?? 0, round = 0; left > 0 && round < 8; round++) {
        if (onReadable !== this.#onReadable || this.#closed || this.#failure) break;
        onReadable();
        if (direct!.length >= left) break;
        left = direct!.length;
      }
    }
    this.#schedule();
  };

  /** One loop iteration for this handle: at most one read and one write callback. */
  readonly #dispatch = (): void => {
    this.#scheduled = false;
    if (this.#closed) return;
    // Only watchers that existed when the iteration began run in it, as in libev: a write
    // watcher installed by the read callback waits for the next iteration.
    const onReadable = this.#onReadable;
    const onWritable = this.#onWritable;
    if (onReadable && this.#readReady()) onReadable();
    if (onWritable && onWritable === this.#onWritable && !this.#closed && this.#writeReady()) onWritable();
    this.#schedule();
  };
}

function isReadable(s: AnyStream): s is Readable {
  return typeof (s as Readable).read === 'function' && (s as Readable).readable !== undefined;
}

function isWritable(s: AnyStream): s is Writable {
  return typeof (s as Writable).write === 'function' && (s as Writable).writable !== undefined;
}
