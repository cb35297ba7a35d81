import type { Fh, Loop } from '../backend/Backend.js';
import type { ErrnoCode } from './errors.js';
import type { Handle } from './Handle.js';

export type HandleCallback = (hdl: Handle) => void;
export type ErrorCallback = (hdl: Handle, fatal: boolean, message: string, code: ErrnoCode) => void;

/**
 * When `wbuf_max` is checked.
 * - `'checked'` (default): after every `push_write`, whether or not a write is pending.
 * - `'anyevent-7.17'`: only when no write watcher is installed, as AnyEvent 7.17 does; once
 *   the kernel buffer is full the check is never reached again and `wbuf` grows without
 *   bound (Proxmox bug #7483). Kept for study and for comparison with the original.
 */
export type WbufMaxCheck = 'checked' | 'anyevent-7.17';

/** The JSON coder used by the `json` read and write types (Perl's `json` option). */
export interface JsonCoder {
  encode(value: unknown): string;
  decode(text: string): unknown;
}

/** Anything the active backend can turn into an `Fh` (for Node: a net.Socket or a stream). */
export type FhLike = Fh | object;

/** Constructor options; the names and meanings are AnyEvent::Handle's. */
export interface HandleOptions {
  /** The file handle: an `Fh`, or (with the Node backend) a `net.Socket` or stream. */
  fh?: FhLike;
  /**
   * `[host, port]`: connect first (`AnyEvent::Socket::tcp_connect`). As in AnyEvent,
   * `['unix/', path]` connects to a Unix domain socket.
   */
  connect?: [string, number | string];
  /** The loop to connect on; defaults to the backend set with `setDefaultBackend`. */
  loop?: Loop;
  on_prepare?: (hdl: Handle) => number | undefined | void;
  on_connect?: (hdl: Handle, host: string, port: number, retry: () => void) => void;
  on_connect_error?: (hdl: Handle, message: string) => void;
  on_error?: ErrorCallback;
  on_read?: HandleCallback;
  on_eof?: HandleCallback;
  on_drain?: HandleCallback;
  timeout?: number;
  rtimeout?: number;
  wtimeout?: number;
  on_timeout?: HandleCallback;
  on_rtimeout?: HandleCallback;
  on_wtimeout?: HandleCallback;
  rbuf_max?: number;
  wbuf_max?: number;
  wbuf_max_check?: WbufMaxCheck;
  autocork?: boolean;
  no_delay?: boolean;
  keepalive?: boolean;
  /** Initial read block size. Default 2048. */
  read_size?: number;
  /** Upper bound of the read size doubling. Default 131072, or read_size if larger. */
  max_read_size?: number;
  /** wbuf at or below this counts as drained. Default 0. */
  low_water_mark?: number;
  /** Seconds to keep writing out wbuf after destroy. Default 3600; 0 disables. */
  linger?: number;
  peername?: string;
  json?: JsonCoder;
}

export const DEFAULTS = {
  read_size: 2048,
  MAX_READ_SIZE: 131072,
  linger: 3600,
  low_water_mark: 0,
} as const;

const CALLBACKS = [
  'on_prepare',
  'on_connect',
  'on_connect_error',
  'on_error',
  'on_read',
  'on_eof',
  'on_drain',
  'on_timeout',
  'on_rtimeout',
  'on_wtimeout',
] as const;

const NON_NEGATIVE = [
  'timeout',
  'rtimeout',
  'wtimeout',
  'rbuf_max',
  'wbuf_max',
  'read_size',
  'max_read_size',
  'low_water_mark',
  'linger',
] as const;

const KNOWN = new Set<string>([
  ...CALLBACKS,
  ...NON_NEGATIVE,
  'fh',
  'connect',
  'loop',
  'wbuf_max_check',
  'autocork',
  'no_delay',
  'keepalive',
  'peername',
  'json',
]);

/**
 * Checks the options once, as Perl croaks on bad arguments, and returns a frozen copy.
 * Throws TypeError/RangeError naming the option; never reports through on_error.
 */
export function validateOptions(options: HandleOptions): Readonly<HandleOptions> {
  if (options === null || typeof options !== 'object') {
    throw new TypeError('AnyEvent::Handle: options must be an object');
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new TypeError(`AnyEvent::Handle: unknown option '${key}'`);
  }
  if (!options.fh && !options.connect) {
    throw new TypeError('AnyEvent::Handle: either an existing fh or the connect parameter must be specified');
  }
  for (const key of CALLBACKS) {
    const value = options[key];
    if (value !== undefined && value !== null && typeof value !== 'function') {
      throw new TypeError(`AnyEvent::Handle: ${key} must be a function`);
    }
  }
  for (const key of NON_NEGATIVE) {
    const value = options[key];
    if (value !== undefined && value !== null && !(typeof value === 'number' && value >= 0 && Number.isFinite(value))) {
      throw new RangeError(`AnyEvent::Handle: ${key} must be a non-negative number, got ${String(value)}`);
    }
  }
  const { connect, wbuf_max_check, json } = options;
  if (connect !== undefined) {
    if (!Array.isArray(connect) || connect.length !== 2 || typeof connect[0] !== 'string') {
      throw new TypeError('AnyEvent::Handle: connect must be [host, port]');
    }
    const port = Number(connect[1]);
    if (connect[0] === 'unix/') {
      if (typeof connect[1] !== 'string' || !connect[1]) throw new TypeError("AnyEvent::Handle: connect ['unix/', path] needs a path");
    } else if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`AnyEvent::Handle: connect port must be 0..65535, got ${String(connect[1])}`);
    }
  }
  if (wbuf_max_check !== undefined && wbuf_max_check !== 'checked' && wbuf_max_check !== 'anyevent-7.17') {
    throw new TypeError(`AnyEvent::Handle: wbuf_max_check must be 'checked' or 'anyevent-7.17', got '${String(wbuf_max_check)}'`);
  }
  if (json !== undefined && (typeof json.encode !== 'function' || typeof json.decode !== 'function')) {
    throw new TypeError('AnyEvent::Handle: json must have encode() and decode()');
  }
  return Object.freeze({ ...options });
}
