import type { Handle } from '../handle/Handle.js';

/**
 * A read request in the queue: called with the handle whenever data may have arrived
 * (and once when queued). Returns true once it has taken what it wanted from `hdl.rbuf`
 * and is done; false (or nothing) to be called again when more data arrives.
 */
export type Reader = (hdl: Handle) => unknown;

/**
 * A read type: turns the user's callback and the type's arguments into a `Reader`.
 * Perl: `anyevent_read_type $handle, $cb, @args`.
 */
export type ReadType = (hdl: Handle, cb: (hdl: Handle, ...results: any[]) => void, ...args: any[]) => Reader;

/**
 * A write type: formats its arguments into the bytes to queue.
 * Perl: `anyevent_write_type $handle, @args`.
 */
export type WriteType = (hdl: Handle, ...args: any[]) => Buffer | string;

const readTypes = new Map<string, ReadType>();
const writeTypes = new Map<string, WriteType>();

/** `AnyEvent::Handle::register_read_type`. Replaces a type of the same name. */
export function register_read_type(name: string, type: ReadType): void {
  readTypes.set(name, type);
}

/** `AnyEvent::Handle::register_write_type`. Replaces a type of the same name. */
export function register_write_type(name: string, type: WriteType): void {
  writeTypes.set(name, type);
}

export function readType(name: string, method: string): ReadType {
  const type = readTypes.get(name);
  if (!type) throw new TypeError(`unsupported/unloadable type '${name}' passed to AnyEvent::Handle::${method}`);
  return type;
}

export function writeType(name: string): WriteType {
  const type = writeTypes.get(name);
  if (!type) throw new TypeError(`unsupported/unloadable type '${name}' passed to AnyEvent::Handle::push_write`);
  return type;
}
