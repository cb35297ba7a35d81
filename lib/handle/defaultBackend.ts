import type { Fh, Loop } from '../backend/Backend.js';

/**
 * How the Handle turns a user's `fh` into an `Fh`, and which loop `connect` uses when none
 * is given. `lib/index.ts` installs the Node backend here; the Handle itself never imports
 * it, so the core runs unchanged on the simulated backend.
 */
export interface DefaultBackend {
  adopt(fh: object): Fh;
  loop(): Loop;
}

let current: DefaultBackend | undefined;

export function setDefaultBackend(backend: DefaultBackend): void {
  current = backend;
}

export function isFh(value: unknown): value is Fh {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Fh).watchReadable === 'function' &&
    typeof (value as Fh).read === 'function'
  );
}

export function adoptFh(value: object): Fh {
  if (isFh(value)) return value;
  if (!current) throw new TypeError('AnyEvent::Handle: fh is not an Fh and no default backend is installed');
  return current.adopt(value);
}

export function defaultLoop(): Loop {
  if (!current) throw new TypeError('AnyEvent::Handle: no loop given and no default backend is installed');
  return current.loop();
}
