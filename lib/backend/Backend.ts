/**
 * The small interface the Handle runs on: AnyEvent's `AE::io`, `AE::timer`, `AE::now`,
 * plus non-blocking `sysread`/`syswrite`/`shutdown`/`close` on one file handle.
 *
 * The Handle depends on this file only; it never imports `node:net`. Two implementations
 * exist: `backend/node` (real sockets and pipes) and `backend/sim` (an in-memory socket
 * pair on a virtual clock).
 */

/** Stops a watcher or timer. Idempotent; after it returns the callback is never invoked. */
export type Cancel = () => void;

/**
 * A failed system call, as Perl would see it in `$!`: `code` is the errno name
 * (`ECONNRESET`, `EPIPE`, …), `message` the C library's text for it.
 */
export class IoFailure {
  constructor(
    readonly code: string,
    readonly message: string,
  ) {}
}

/**
 * What `read` returns, mirroring `sysread`:
 * - a non-empty Buffer: data;
 * - an empty Buffer: end of file (sysread returned 0);
 * - `null`: nothing available now (EAGAIN);
 * - an IoFailure: the read failed.
 */
export type ReadResult = Buffer | null | IoFailure;

/**
 * What `write` returns, mirroring `syswrite`: the number of bytes the kernel (or its
 * stand-in) accepted, `null` for EAGAIN, or an IoFailure.
 */
export type WriteResult = number | null | IoFailure;

/** One non-blocking stream file handle: a socket, a pipe end, a simulated socket. */
export interface Fh {
  /** The loop this handle's readiness and timers belong to. */
  readonly loop: Loop;
  /**
   * Level-triggered readiness, as `AE::io $fh, 0, $cb`: `cb` is invoked from the loop,
   * again and again, for as long as a `read` would not return EAGAIN (data, EOF or an error
   * is pending) and the watcher is not cancelled.
   */
  watchReadable(cb: () => void): Cancel;
  /** As `AE::io $fh, 1, $cb`: invoked while a `write` would accept at least one byte. */
  watchWritable(cb: () => void): Cancel;
  /** Non-blocking read of at most `max` bytes (`sysread`). */
  read(max: number): ReadResult;
  /**
   * Non-blocking gather write (`syswrite`, or `writev` over the list). Writes a prefix of
   * the concatenation of `chunks`, never reordering. The callee must not keep `chunks`
   * itself, but may keep the Buffers (they are never modified afterwards).
   */
  write(chunks: readonly Buffer[]): WriteResult;
  /**
   * Optional: where this handle's reads may land. `spare(size)` returns room right after the
   * reader's buffered bytes (as Perl's sysread appends to the end of rbuf), or undefined.
   * An Fh that reads into it returns views of that room from `read`, which the reader
   * recognises and appends without copying. The room is only lent: the Fh must not touch
   * it after the read that filled it.
   */
  readInto?(spare: (size: number) => Buffer | undefined): void;
  /** `shutdown $fh, 1`: send EOF to the peer once what was accepted is delivered. */
  shutdown(): void;
  /** `close $fh`: release the descriptor. Data already accepted by `write` is still delivered. */
  close(): void;
  /** TCP_NODELAY, where the handle is a TCP socket; otherwise ignored. */
  setNoDelay?(on: boolean): void;
  /** SO_KEEPALIVE, where the handle is a socket; otherwise ignored. */
  setKeepAlive?(on: boolean): void;
  /** What this Fh wraps (a net.Socket, say), returned by `hdl.fh`; the Fh itself if nothing. */
  readonly native?: object;
  /** The numeric peer address, where there is one. */
  peer?(): { host: string; port: number } | undefined;
}

/** Result of a successful connect: the new handle and the peer's numeric address. */
export interface Connected {
  fh: Fh;
  host: string;
  port: number;
  /** Drops this connection and tries the next address, as AnyEvent's `$retry`. */
  retry: () => void;
}

/** The event loop side: clock, timers, outgoing connections. */
export interface Loop {
  /** Seconds, fractional, monotonic: `AE::now`. */
  now(): number;
  /** One-shot timer after `after` seconds (`AE::timer $after, 0, $cb`). */
  timer(after: number, cb: () => void): Cancel;
  /**
   * `AnyEvent::Socket::tcp_connect`: tries each address of `host` in turn (host `'unix/'`:
   * `port` is the path of a Unix domain socket). `onPrepare`
   * runs before each attempt with the not-yet-connected handle and may return a connect
   * timeout in seconds (0 or undefined: the default). `cb` gets the connection, or the
   * failure of the last attempt.
   */
  connect(
    host: string,
    port: number | string,
    cb: (result: Connected | IoFailure) => void,
    onPrepare?: (fh: Fh) => number | undefined | void,
  ): Cancel;
}
