/* eslint-disable @typescript-eslint/naming-convention -- AnyEvent's public names, kept exactly */
import { EventEmitter } from 'eventemitter3';
import { IoFailure, type Cancel, type Connected, type Fh, type Loop } from '../backend/Backend.js';
import { readType, writeType, register_read_type, register_write_type, type Reader } from '../types/registry.js';
import type { ReadTypeArgs, WriteTypeArgs } from '../types/typeMaps.js';
// The built-in read and write types register themselves; every user of Handle gets them.
import '../types/index.js';
import { adoptFh, defaultLoop } from './defaultBackend.js';
import { HandleError, errnoText, type ErrnoCode } from './errors.js';
import { InactivityTimer, type TimeoutKind, type TimerHost } from './InactivityTimer.js';
import { linger } from './linger.js';
import {
  DEFAULTS,
  validateOptions,
  type ErrorCallback,
  type HandleCallback,
  type HandleOptions,
  type JsonCoder,
  type WbufMaxCheck,
} from './options.js';
import { ReadBuffer } from './ReadBuffer.js';
import { WbufView, WriteBuffer } from './WriteBuffer.js';

/**
 * The most of wbuf handed to one Fh.write: more than a kernel takes at once (Linux loopback
 * about 4 MB, the simulated socket what it is given, 4 MiB at most in this repository's
 * specs), so a write still takes all it can, as syswrite of the whole wbuf would; and an
 * unbounded wbuf of thousands of chunks is not listed out on every write attempt.
 */
const WRITE_PREFIX = 16 * 1024 * 1024;

/**
 * Instrumentation, for tests, benchmarks and metrics. Nothing is allocated or emitted
 * unless someone has subscribed through `hdl.events`.
 */
export interface HandleEvents {
  /** Bytes read from the file handle (before any reader ran). */
  read: [bytes: number];
  /** Bytes the kernel accepted from wbuf. */
  write: [bytes: number];
  /** wbuf length after every change. */
  wbuf: [length: number];
  /** on_drain is about to be called. */
  drain: [];
  /** EOF was read from the file handle. */
  eof: [];
  /** An error is being reported (before on_error). */
  error: [error: HandleError];
  /** The read watcher was removed (stop_read, or the read side went idle). */
  pause: [];
  /** The read watcher was installed. */
  resume: [];
  destroy: [];
}

/** Arguments of `push_read`/`unshift_read`: a callback, or a type, its arguments, a callback. */
type ReadArgs = [cb: Reader] | [type: string, ...rest: unknown[]];

/**
 * A port of Perl's AnyEvent::Handle 7.17: a buffered, non-blocking stream with a write
 * queue and a read queue, callback for callback.
 *
 * Every method keeps AnyEvent's name. Callbacks run synchronously where AnyEvent runs them
 * synchronously (so `push_write`, `push_read`, `on_read`, `on_drain`, `timeout`, … may
 * invoke callbacks before they return), and after `destroy` every method is a no-op.
 *
 * @example
 * const hdl = new Handle({ fh: socket, on_error: (h, fatal, msg) => { console.error(msg); h.destroy(); } });
 * hdl.push_write('HELO\r\n');
 * hdl.push_read('line', (h, line) => console.log('server said', line));
 */
export class Handle {
  /** Perl: `AnyEvent::Handle::register_read_type`. */
  static register_read_type = register_read_type;
  /** Perl: `AnyEvent::Handle::register_write_type`. */
  static register_write_type = register_write_type;
  /**
   * When true, assigning to `rbuf` anything but a suffix of the current `rbuf` throws, to
   * catch the "hard-to-track-down bugs" the POD warns about. Off by default, for speed.
   */
  static strict_rbuf = false;

  #fh: Fh | undefined;
  /** What the user passed as `fh` (a net.Socket, say); returned by `fh`. */
  #userFh: object | undefined;
  #loop: Loop | undefined;
  /** The connect request in flight, when constructed with `connect`. */
  #connecting: Cancel | undefined;
  #connectTarget: HandleOptions['connect'];
  #destroyed = false;
  #events: EventEmitter<HandleEvents> | undefined;

  #on_error: ErrorCallback | undefined;
  #on_read: HandleCallback | undefined;
  #on_eof: HandleCallback | undefined;
  #on_drain: HandleCallback | undefined;
  #on_timeout: Record<TimeoutKind, HandleCallback | undefined> = {
    timeout: undefined,
    rtimeout: undefined,
    wtimeout: undefined,
  };
  #on_prepare: HandleOptions['on_prepare'];
  #on_connect: HandleOptions['on_connect'];
  #on_connect_error: HandleOptions['on_connect_error'];

  // Read side.
  readonly #rbuf = new ReadBuffer();
  /** `_queue`: pending read requests, first to be served at index 0. */
  #queue: Reader[] = [];
  /** `_eof`: the file handle returned EOF; nothing more will be read. */
  #eof = false;
  /** `_rw`: the read watcher, while reading. */
  #rw: Cancel | undefined;
  /** `_skip_drain_rbuf`: a drain is running (or connect is pending); do not recurse. */
  #skipDrainRbuf = false;
  #readSize: number;
  /** Undefined means MAX_READ_SIZE, as in Perl. */
  #maxReadSize: number | undefined;
  #rbufMax: number | undefined;

  // Write side.
  readonly #wbuf = new WriteBuffer();
  readonly #wbufView = new WbufView(this.#wbuf);
  /** `_ww`: the write watcher, while wbuf could not be written out at once. */
  #ww: Cancel | undefined;
  #wbufMax: number | undefined;
  #wbufMaxCheck: WbufMaxCheck;
  #lowWaterMark: number;
  #autocork: boolean;
  #noDelay: boolean | undefined;
  #keepalive: boolean | undefined;
  #linger: number;

  readonly #timers: Record<TimeoutKind, InactivityTimer>;

  /** Perl's `peername` option: who the remote side is meant to be. */
  peername: string | undefined;
  /** The coder of the `json` read and write types. Perl's `$hdl->{json}`. */
  json: JsonCoder | undefined;

  /**
   * Perl: `AnyEvent::Handle->new (fh => $fh, …)` or `(connect => [$host, $port], …)`.
   * Throws on invalid options (Perl croaks). With `fh`, may invoke `on_drain` (and
   * whatever it calls) before it returns.
   */
  constructor(options: HandleOptions) {
    const o = validateOptions(options);
    this.#on_error = o.on_error ?? undefined;
    this.#on_read = o.on_read ?? undefined;
    this.#on_eof = o.on_eof ?? undefined;
    this.#on_drain = o.on_drain ?? undefined;
    this.#on_timeout = { timeout: o.on_timeout, rtimeout: o.on_rtimeout, wtimeout: o.on_wtimeout };
    this.#on_prepare = o.on_prepare;
    this.#on_connect = o.on_connect;
    this.#on_connect_error = o.on_connect_error;
    this.#readSize = o.read_size || DEFAULTS.read_size;
    this.#maxReadSize = o.max_read_size || undefined;
    this.#rbufMax = o.rbuf_max ?? undefined;
    this.#wbufMax = o.wbuf_max ?? undefined;
    this.#wbufMaxCheck = o.wbuf_max_check ?? 'checked';
    this.#lowWaterMark = o.low_water_mark ?? DEFAULTS.low_water_mark;
    this.#autocork = !!o.autocork;
    this.#noDelay = o.no_delay;
    this.#keepalive = o.keepalive;
    this.#linger = o.linger ?? DEFAULTS.linger;
    this.peername = o.peername;
    this.json = o.json;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the timers' view of this handle
    const self = this;
    const host: TimerHost = {
      get loop() {
        return self.#loop;
      },
      hasFh: () => this.#fh !== undefined,
      isDestroyed: () => this.#destroyed,
      fire: (kind) => this.#fireTimeout(kind),
      timedOut: () => this._error('ETIMEDOUT'),
    };
    this.#timers = {
      timeout: new InactivityTimer('timeout', host),
      rtimeout: new InactivityTimer('rtimeout', host),
      wtimeout: new InactivityTimer('wtimeout', host),
    };
    const initialTimeouts = { timeout: o.timeout, rtimeout: o.rtimeout, wtimeout: o.wtimeout };

    if (o.fh) {
      this.#userFh = o.fh;
      this.#fh = adoptFh(o.fh);
      this.#loop = this.#fh.loop;
      this.#start(initialTimeouts);
    } else {
      const [host, port] = o.connect!;
      this.#connectTarget = o.connect;
      this.#loop = o.loop ?? defaultLoop();
      if (this.peername === undefined) this.peername = host;
      this.#skipDrainRbuf = true;
      this.#initialTimeouts = initialTimeouts;
      this.#connecting = this.#loop.connect(
        host,
        host === 'unix/' ? port : Number(port),
        (result) => this.#connected(result),
        this.#on_prepare ? (fh) => this.#prepare(fh) : undefined,
      );
    }
  }

  #initialTimeouts: Partial<Record<TimeoutKind, number | undefined>> = {};

  // ---------------------------------------------------------------- lifecycle

  /** AnyEvent's `_start`: the file handle is there; apply the options that need it. */
  #start(timeouts: Partial<Record<TimeoutKind, number | undefined>>): void {
    const loop = this.#loop!;
    const now = loop.now();
    for (const timer of Object.values(this.#timers)) timer.activity = now;
    const max = this.#maxReadSize || DEFAULTS.MAX_READ_SIZE;
    if (this.#readSize > max) this.#maxReadSize = this.#readSize;
    for (const kind of ['timeout', 'rtimeout', 'wtimeout'] as const) {
      const seconds = timeouts[kind] ?? this.#timers[kind].seconds;
      if (seconds) this[kind](seconds);
      if (this.#destroyed) return;
    }
    if (this.#noDelay) this.no_delay(true);
    if (this.#keepalive) this.keepalive(true);
    if (this.#on_drain) this.on_drain(this.#on_drain);
    if (this.#destroyed) return;
    if (this.#on_read || this.#queue.length) this.start_read();
    this.#drainWbuf();
  }

  #prepare(fh: Fh): number | undefined {
    const saved = this.#fh;
    this.#fh = fh;
    try {
      return this.#on_prepare!(this) ?? undefined;
    } finally {
      this.#fh = saved;
    }
  }

  #connected(result: Connected | IoFailure): void {
    if (this.#destroyed) return;
    this.#connecting = undefined;
    if (result instanceof IoFailure) {
      if (this.#on_connect_error) {
        this.#on_connect_error(this, result.message);
        this.destroy();
      } else {
        this._error(result.code, true, result.message);
      }
      return;
    }
    this.#fh = result.fh;
    this.#userFh = undefined;
    this.#skipDrainRbuf = false;
    this.#start(this.#initialTimeouts);
    if (this.#destroyed || !this.#on_connect) return;
    this.#on_connect(this, result.host, result.port, () => {
      // AnyEvent 7.17 quirk: retry forgets the queue, rbuf and timers, but not wbuf
      // (it deletes `_wbuf`, a key that does not exist), so queued writes go to the next host.
      if (this.#destroyed) return;
      this.#rw?.();
      this.#ww?.();
      this.#rw = this.#ww = undefined;
      for (const timer of Object.values(this.#timers)) timer.cancel();
      this.#fh = this.#userFh = undefined;
      this.#eof = false;
      this.#queue = [];
      this.#rbuf.assign(Buffer.alloc(0), false);
      this.#skipDrainRbuf = true;
      this.#connecting = () => {};
      result.retry();
    });
  }

  /**
   * Reports an error the AnyEvent way: `on_error($hdl, $fatal, $message, $code)`, then
   * destroy when fatal. Without `on_error` the handle is destroyed and a HandleError is
   * thrown ("AnyEvent::Handle uncaught error: …"), as Perl croaks.
   *
   * Public because read types raise errors through it (Perl: `$hdl->_error (Errno::EBADMSG)`).
   * May invoke callbacks; the handle may be destroyed when this returns.
   */
  _error(code: ErrnoCode, fatal = false, message?: string): void {
    if (this.#destroyed) return;
    const text = message || errnoText(code);
    this.#events?.emit('error', new HandleError(code, fatal, text));
    if (this.#on_error) {
      this.#on_error(this, fatal, text, code);
      if (fatal) this.destroy();
    } else if (this.#fh || this.#connectTarget) {
      this.destroy();
      throw new HandleError(code, fatal, `AnyEvent::Handle uncaught error: ${text}`);
    }
  }

  /**
   * Shuts the handle down: no callback is invoked after this, and every method becomes a
   * no-op. Queued writes are still written out in the background for up to `linger`
   * seconds (default 3600), then the file handle is closed.
   *
   * Divergence: Perl also does this when the last reference to a handle goes away; in
   * JavaScript nothing tells us, so call `destroy` (or let a fatal error do it).
   *
   * Perl: `$handle->destroy`.
   */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    this.#rw?.();
    this.#ww?.();
    this.#rw = this.#ww = undefined;
    this.#connecting?.();
    this.#connecting = undefined;
    for (const timer of Object.values(this.#timers)) timer.cancel();
    const fh = this.#fh;
    if (fh) {
      if (this.#linger && this.#wbuf.length) linger(fh, this.#wbuf.drainAll(), this.#linger);
      else fh.close();
    }
    this.#wbuf.clear();
    this.#rbuf.assign(Buffer.alloc(0), false);
    this.#queue = [];
    this.#fh = undefined;
    this.#on_error = this.#on_read = this.#on_eof = this.#on_drain = undefined;
    this.#on_timeout = { timeout: undefined, rtimeout: undefined, wtimeout: undefined };
    this.#on_prepare = this.#on_connect = this.#on_connect_error = undefined;
    const events = this.#events;
    events?.emit('destroy');
    events?.removeAllListeners();
    this.#events = undefined;
  }

  /** True once `destroy` ran. Perl: `$handle->destroyed`. */
  destroyed(): boolean {
    return this.#destroyed;
  }

  /**
   * The file handle: the one given to the constructor, or the connected socket (during
   * `on_prepare`, the socket being connected). Perl: `$handle->fh`.
   */
  get fh(): object | undefined {
    return this.#userFh ?? this.#fh?.native ?? this.#fh;
  }

  /**
   * The callback currently set, for code that chains callbacks (Perl reads the hash:
   * `my $prev = $hdl->{on_drain}`).
   */
  callback(name: 'on_drain' | 'on_read' | 'on_eof'): HandleCallback | undefined;
  callback(name: 'on_error'): ErrorCallback | undefined;
  callback(name: 'on_drain' | 'on_read' | 'on_eof' | 'on_error'): HandleCallback | ErrorCallback | undefined {
    switch (name) {
      case 'on_drain':
        return this.#on_drain;
      case 'on_read':
        return this.#on_read;
      case 'on_eof':
        return this.#on_eof;
      case 'on_error':
        return this.#on_error;
    }
  }

  /**
   * True once EOF was read from the file handle. Perl code reads the private `$hdl->{_eof}`
   * for this (pveproxy's response_stream does), hence the name.
   */
  get _eof(): boolean {
    return this.#eof;
  }

  /** The backend file handle the Handle drives. */
  get backendFh(): Fh | undefined {
    return this.#fh;
  }

  /** Instrumentation events (created on first use; see HandleEvents). */
  get events(): EventEmitter<HandleEvents> {
    if (this.#destroyed) return new EventEmitter<HandleEvents>();
    return (this.#events ??= new EventEmitter<HandleEvents>());
  }

  // ---------------------------------------------------------------- callbacks and settings

  /** Replace the `on_error` callback. Perl: `$handle->on_error ($cb)`. */
  on_error(cb?: ErrorCallback | null): void {
    if (!this.#destroyed) this.#on_error = cb ?? undefined;
  }

  /** Replace the `on_eof` callback. Perl: `$handle->on_eof ($cb)`. */
  on_eof(cb?: HandleCallback | null): void {
    if (!this.#destroyed) this.#on_eof = cb ?? undefined;
  }

  /**
   * Replace the `on_timeout` callback, or disable the callback (not the timeout), in which
   * case a timeout raises a non-fatal ETIMEDOUT. Perl: `$handle->on_timeout ($cb)`.
   */
  on_timeout(cb?: HandleCallback | null): void {
    if (!this.#destroyed) this.#on_timeout.timeout = cb ?? undefined;
  }

  /** As `on_timeout`, for the read timeout. Perl: `$handle->on_rtimeout ($cb)`. */
  on_rtimeout(cb?: HandleCallback | null): void {
    if (!this.#destroyed) this.#on_timeout.rtimeout = cb ?? undefined;
  }

  /** As `on_timeout`, for the write timeout. Perl: `$handle->on_wtimeout ($cb)`. */
  on_wtimeout(cb?: HandleCallback | null): void {
    if (!this.#destroyed) this.#on_timeout.wtimeout = cb ?? undefined;
  }

  /**
   * Configure (0 disables) the inactivity timeout: when this many seconds pass without a
   * read or a write, `on_timeout` is called, or a non-fatal ETIMEDOUT raised. Checked at
   * once. Throws RangeError on a negative value. Perl: `$handle->timeout ($seconds)`.
   * May invoke callbacks; the handle may be destroyed when this returns.
   */
  timeout(seconds: number): void {
    if (!this.#destroyed) this.#timers.timeout.set(seconds);
  }

  /** As `timeout`, counting reads only. Perl: `$handle->rtimeout ($seconds)`. */
  rtimeout(seconds: number): void {
    if (!this.#destroyed) this.#timers.rtimeout.set(seconds);
  }

  /** As `timeout`, counting writes only. Perl: `$handle->wtimeout ($seconds)`. */
  wtimeout(seconds: number): void {
    if (!this.#destroyed) this.#timers.wtimeout.set(seconds);
  }

  /** Reset the inactivity timeout as if data had moved. Perl: `$handle->timeout_reset`. */
  timeout_reset(): void {
    if (this.#loop && !this.#destroyed) this.#timers.timeout.activity = this.#loop.now();
  }

  /** Perl: `$handle->rtimeout_reset`. */
  rtimeout_reset(): void {
    if (this.#loop && !this.#destroyed) this.#timers.rtimeout.activity = this.#loop.now();
  }

  /** Perl: `$handle->wtimeout_reset`. */
  wtimeout_reset(): void {
    if (this.#loop && !this.#destroyed) this.#timers.wtimeout.activity = this.#loop.now();
  }

  #fireTimeout(kind: TimeoutKind): boolean {
    const cb = this.#on_timeout[kind];
    if (!cb) return false;
    cb(this);
    return true;
  }

  /**
   * Queue writes until the next loop iteration instead of writing at once (takes effect
   * on the next write). Perl: `$handle->autocork ($boolean)`.
   */
  autocork(on: boolean): void {
    if (!this.#destroyed) this.#autocork = !!on;
  }

  /** TCP_NODELAY on or off. Perl: `$handle->no_delay ($boolean)`. */
  no_delay(on: boolean): void {
    if (this.#destroyed) return;
    this.#noDelay = !!on;
    this.#fh?.setNoDelay?.(!!on);
  }

  /** SO_KEEPALIVE on or off. Perl: `$handle->keepalive ($boolean)`. */
  keepalive(on: boolean): void {
    if (this.#destroyed) return;
    this.#keepalive = !!on;
    this.#fh?.setKeepAlive?.(!!on);
  }

  /**
   * Set (undefined disables) the read buffer limit: a fatal ENOSPC when rbuf strictly
   * exceeds it after the read queue was drained. Perl: `$handle->rbuf_max ($max_octets)`.
   */
  rbuf_max(maxOctets?: number | null): void {
    if (!this.#destroyed) this.#rbufMax = maxOctets ?? undefined;
  }

  /**
   * Set (undefined disables) the write buffer limit: a fatal ENOSPC when wbuf strictly
   * exceeds it, checked after every push_write (see `wbuf_max_check` for the 7.17 way).
   * Perl: `$handle->wbuf_max ($max_octets)`.
   */
  wbuf_max(maxOctets?: number | null): void {
    if (!this.#destroyed) this.#wbufMax = maxOctets ?? undefined;
  }

  /** Which `wbuf_max` check runs: `'checked'` (default) or `'anyevent-7.17'`. */
  wbuf_max_check(mode: WbufMaxCheck): void {
    if (mode !== 'checked' && mode !== 'anyevent-7.17') throw new TypeError(`wbuf_max_check: unknown mode '${String(mode)}'`);
    if (!this.#destroyed) this.#wbufMaxCheck = mode;
  }

  /** Perl's `$hdl->{low_water_mark}`. */
  get low_water_mark(): number {
    return this.#lowWaterMark;
  }
  set low_water_mark(bytes: number) {
    this.#lowWaterMark = bytes || 0;
  }

  /** Perl's `$hdl->{read_size}`: the next read's size (doubles after full reads). */
  get read_size(): number {
    return this.#readSize;
  }
  set read_size(bytes: number) {
    this.#readSize = bytes;
  }

  /** Perl's `$hdl->{max_read_size}` (undefined: 131072). */
  get max_read_size(): number | undefined {
    return this.#maxReadSize;
  }
  set max_read_size(bytes: number | undefined) {
    this.#maxReadSize = bytes || undefined;
  }

  /** Perl's `$hdl->{linger}`. */
  get linger(): number {
    return this.#linger;
  }
  set linger(seconds: number) {
    this.#linger = seconds;
  }

  // ---------------------------------------------------------------- write queue

  /**
   * The write buffer: a read-only view whose `length` is O(1). Perl: `$hdl->{wbuf}`.
   */
  get wbuf(): WbufView {
    return this.#wbufView;
  }

  /**
   * Set (or clear) the `on_drain` callback. It is called whenever wbuf is at or below
   * `low_water_mark` after a write, and at once here if it already is.
   * Perl: `$handle->on_drain ($cb)`.
   * May invoke callbacks; the handle may be destroyed when this returns.
   */
  on_drain(cb?: HandleCallback | null): void {
    if (this.#destroyed) return;
    this.#on_drain = cb ?? undefined;
    if (cb && this.#lowWaterMark >= this.#wbuf.length) this.#callDrain(cb);
  }

  #callDrain(cb: HandleCallback): void {
    this.#events?.emit('drain');
    cb(this);
  }

  /**
   * Queue data to be written: `push_write(data)` (a Buffer, or a string written as UTF-8),
   * or `push_write(type, ...args)` with a registered write type (`netstring`,
   * `packstring`, `json`, …). Unless autocork is on, a write is attempted at once.
   *
   * An array of Buffers is queued as their concatenation, without concatenating, and
   * written together (one writev): a websocket frame's header and payload go out in one
   * system call, not the header alone first. (Not in AnyEvent, whose data is one string.)
   *
   * Raises: fatal ENOSPC when wbuf exceeds `wbuf_max`; fatal system errors of the write.
   * Throws TypeError for an unknown write type (Perl croaks).
   * Perl: `$handle->push_write ($data)`, `$handle->push_write (type => @args)`.
   * May invoke callbacks; the handle may be destroyed when this returns.
   */
  push_write(data: Buffer | Uint8Array | string | readonly Uint8Array[]): void;
  push_write<K extends keyof WriteTypeArgs>(type: K, ...args: WriteTypeArgs[K]): void;
  push_write(type: string, ...args: unknown[]): void;
  push_write(...args: unknown[]): void {
    if (this.#destroyed) return;
    let data = args[0];
    if (args.length > 1) data = writeType(String(args[0]))(this, ...args.slice(1));
    const before = this.#wbuf.length;
    if (Array.isArray(data)) for (const part of data) this.#wbuf.append(toBuffer(part));
    else this.#wbuf.append(toBuffer(data));
    if (this.#wbuf.length !== before) this.#events?.emit('wbuf', this.#wbuf.length);
    if (this.#fh) this.#drainWbuf();
    else if (this.#wbufMaxCheck === 'checked') this.#checkWbufMax();
  }

  /**
   * Shut down the write side once wbuf is written out: replaces `on_drain` with a
   * callback that calls `shutdown(fh, 1)`, and sets `low_water_mark` to 0. The peer sees
   * EOF; reading goes on. Perl: `$handle->push_shutdown`.
   * May invoke callbacks; the handle may be destroyed when this returns.
   */
  push_shutdown(): void {
    if (this.#destroyed) return;
    this.#lowWaterMark = 0;
    this.on_drain((hdl) => hdl.#fh?.shutdown());
  }

  /** AnyEvent's `_drain_wbuf`. */
  #drainWbuf(): void {
    if (!this.#ww && this.#wbuf.length) {
      if (!this.#autocork) {
        this.#writeReady();
        if (this.#destroyed) return;
      }
      // May replace a watcher that an on_drain called from #writeReady installed, as Perl does.
      if (this.#wbuf.length) {
        this.#stopWriteWatcher();
        this.#ww = this.#fh!.watchWritable(() => this.#writeReady());
      }
      // AnyEvent 7.17 quirk: wbuf_max is only looked at here, when no write watcher was
      // installed on entry; once one is, wbuf can grow without bound (Proxmox #7483).
      if (this.#wbufMaxCheck === 'anyevent-7.17' && this.#wbufMax !== undefined && this.#wbufMax < this.#wbuf.length) {
        this._error('ENOSPC', true);
        return;
      }
    }
    // Divergence: the corrected check runs on every push_write, write watcher or not.
    if (this.#wbufMaxCheck === 'checked') this.#checkWbufMax();
  }

  #checkWbufMax(): void {
    if (!this.#destroyed && this.#wbufMax !== undefined && this.#wbufMax < this.#wbuf.length) {
      this._error('ENOSPC', true);
    }
  }

  /** The write watcher's callback (AnyEvent's `$cb` in `_drain_wbuf`). */
  #writeReady(): void {
    const fh = this.#fh;
    if (!fh || this.#destroyed) return;
    const written = fh.write(this.#wbuf.pending(WRITE_PREFIX));
    if (written === null) return;
    if (written instanceof IoFailure) {
      this._error(written.code, true, written.message);
      return;
    }
    this.#wbuf.release(written);
    const now = this.#loop!.now();
    this.#timers.timeout.activity = this.#timers.wtimeout.activity = now;
    if (this.#events) {
      this.#events.emit('write', written);
      this.#events.emit('wbuf', this.#wbuf.length);
    }
    const cb = this.#on_drain;
    if (cb && this.#lowWaterMark >= this.#wbuf.length) {
      this.#callDrain(cb);
      if (this.#destroyed) return;
    }
    if (!this.#wbuf.length) this.#stopWriteWatcher();
  }

  #stopWriteWatcher(): void {
    this.#ww?.();
    this.#ww = undefined;
  }

  // ---------------------------------------------------------------- read queue

  /**
   * The read buffer. Read it freely; consume from the front by assigning a suffix:
   * `hdl.rbuf = hdl.rbuf.subarray(n)` (O(1)). Perl: `$hdl->{rbuf}`.
   */
  get rbuf(): Buffer {
    return this.#rbuf.view();
  }
  set rbuf(next: Buffer) {
    if (this.#destroyed) return;
    this.#rbuf.assign(next, Handle.strict_rbuf);
  }

  /**
   * Whether rbuf's bytes lie in memory the Handle allocated itself, which nothing holds but
   * the views of rbuf it handed out. Then a reader may modify bytes it consumes in place
   * (websocket_proxy unmasks payloads so). False when rbuf is a Buffer the file handle
   * passed in as it was read: on the simulated backend, or with a user's stream, its writer
   * may still hold it. Not in AnyEvent (Perl strings are never shared).
   */
  get rbuf_owned(): boolean {
    return this.#rbuf.owned;
  }

  /**
   * Replace (or clear) the `on_read` callback, called when data arrives and the queue is
   * empty. Setting one drains rbuf at once. Perl: `$handle->on_read ($cb)`.
   *
   * AnyEvent 7.17 quirk: clearing it outside a read callback leaves the read watcher in
   * place, so exactly one more read happens before reading stops.
   * May invoke callbacks; the handle may be destroyed when this returns.
   */
  on_read(cb?: HandleCallback | null): void {
    if (this.#destroyed) return;
    this.#on_read = cb ?? undefined;
    if (cb) this.#drainRbuf();
  }

  /**
   * Append a read request: `push_read(cb)` where `cb(hdl)` returns true once done, or
   * `push_read(type, ...args, cb)` with a registered read type (`chunk`, `line`, `regex`,
   * `netstring`, `packstring`, `json`, …). Throws TypeError for an unknown type.
   * Perl: `$handle->push_read`.
   * May invoke callbacks; the handle may be destroyed when this returns.
   */
  push_read(cb: Reader): void;
  push_read<K extends keyof ReadTypeArgs>(type: K, ...args: ReadTypeArgs[K]): void;
  push_read(type: string, ...args: unknown[]): void;
  push_read(...args: ReadArgs): void {
    if (this.#destroyed) return;
    this.#queue.push(this.#reader(args, 'push_read'));
    this.#drainRbuf();
  }

  /** As `push_read`, but to the front of the queue. Perl: `$handle->unshift_read`. */
  unshift_read(cb: Reader): void;
  unshift_read<K extends keyof ReadTypeArgs>(type: K, ...args: ReadTypeArgs[K]): void;
  unshift_read(type: string, ...args: unknown[]): void;
  unshift_read(...args: ReadArgs): void {
    if (this.#destroyed) return;
    this.#queue.unshift(this.#reader(args, 'unshift_read'));
    this.#drainRbuf();
  }

  #reader(args: unknown[], method: string): Reader {
    const cb = args[args.length - 1];
    if (typeof cb !== 'function') throw new TypeError(`AnyEvent::Handle::${method}: the last argument must be a callback`);
    if (args.length === 1) return cb as Reader;
    return readType(String(args[0]), method)(this, cb as never, ...args.slice(1, -1));
  }

  /**
   * Stop reading: neither on_read nor queued reads run until `start_read`. Note that
   * pushing a read or setting on_read restarts reading, and so does a drain of the read
   * queue that ends with a reader still waiting (AnyEvent 7.17 quirk: `stop_read` inside
   * `on_read` does not pause). Perl: `$handle->stop_read`.
   */
  stop_read(): void {
    if (!this.#rw) return;
    this.#rw();
    this.#rw = undefined;
    this.#events?.emit('pause');
  }

  /** Resume reading (unless EOF was seen). Perl: `$handle->start_read`. */
  start_read(): void {
    if (this.#rw || this.#eof || !this.#fh || this.#destroyed) return;
    this.#fh.readInto?.(this.#spare);
    this.#rw = this.#fh.watchReadable(() => this.#readReady());
    this.#events?.emit('resume');
  }

  /** Room in rbuf for the file handle to read into (Fh.readInto); none once destroyed. */
  readonly #spare = (size: number): Buffer | undefined => (this.#destroyed ? undefined : this.#rbuf.spare(size));

  /** The read watcher's callback. */
  #readReady(): void {
    const fh = this.#fh;
    if (!fh || this.#destroyed) return;
    const size = this.#readSize;
    const data = fh.read(size);
    if (data === null) return;
    if (data instanceof IoFailure) {
      this._error(data.code, true, data.message);
      return;
    }
    if (data.length > 0) {
      this.#rbuf.append(data);
      const now = this.#loop!.now();
      this.#timers.timeout.activity = this.#timers.rtimeout.activity = now;
      this.#events?.emit('read', data.length);
      this.#drainRbuf();
      if (this.#destroyed) return;
      if (data.length === size) {
        const max = this.#maxReadSize || DEFAULTS.MAX_READ_SIZE;
        this.#readSize = Math.min(this.#readSize * 2, max);
      }
    } else {
      this.#rw?.();
      this.#rw = undefined;
      this.#eof = true;
      this.#events?.emit('eof');
      this.#drainRbuf();
    }
  }

  /** AnyEvent's `_drain_rbuf`: serve the queue, then on_read, then EOF and rbuf_max. */
  #drainRbuf(): void {
    if (this.#skipDrainRbuf) return;
    this.#skipDrainRbuf = true;
    try {
      for (;;) {
        const len = this.#rbuf.length;
        const reader = this.#queue.shift();
        if (reader) {
          if (!reader(this)) {
            if (this.#destroyed) return;
            // No progress is possible: not enough data, and none is coming.
            if (this.#eof) return this._error('EPIPE', true);
            this.#queue.unshift(reader);
            break;
          }
          if (this.#destroyed) return;
        } else if (this.#on_read) {
          if (!len) break;
          this.#on_read(this);
          if (this.#destroyed) return;
          // on_read may have cleared itself; TypeScript cannot see that.
          if (len === this.#rbuf.length && !this.#queue.length && (this.#on_read as HandleCallback | undefined)) {
            if (this.#eof) return this._error('EPIPE', true);
            break; // more data might arrive
          }
        } else {
          // The read side goes idle.
          this.stop_read();
          break;
        }
      }
      if (this.#eof) {
        if (this.#on_eof) this.#on_eof(this);
        else this._error('EOF', true, 'Unexpected end-of-file');
        return;
      }
      if (this.#rbufMax !== undefined && this.#rbufMax < this.#rbuf.length) {
        return this._error('ENOSPC', true);
      }
      // This restart is why stop_read inside on_read does not stick (see stop_read).
      if (!this.#rw && (this.#on_read || this.#queue.length)) this.start_read();
    } finally {
      this.#skipDrainRbuf = false;
    }
  }
}

function toBuffer(data: unknown): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (data === undefined || data === null) return Buffer.alloc(0);
  return Buffer.from(String(data), 'utf8');
}
