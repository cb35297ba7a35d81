import { afterEach, expect } from 'vitest';

const pending: Array<() => void> = [];

/**
 * Wraps `fn` so that the test fails unless it was called exactly `times` times by the end
 * of the test (an over-firing on_drain fails, as in Node's own test suite).
 */
export function mustCall<A extends unknown[], R>(fn: (...args: A) => R = (() => undefined) as never, times = 1) {
  let calls = 0;
  const where = new Error('mustCall created here').stack;
  pending.push(() => expect(calls, `expected ${times} call(s), got ${calls}\n${where}`).toBe(times));
  return (...args: A): R => {
    calls++;
    return fn(...args);
  };
}

/** A callback that fails the test when called. */
export function mustNotCall(what = 'callback') {
  return (...args: unknown[]) => {
    throw new Error(`${what} must not be called (got ${JSON.stringify(args.slice(1)).slice(0, 200)})`);
  };
}

afterEach(() => {
  const checks = pending.splice(0);
  for (const check of checks) check();
});
