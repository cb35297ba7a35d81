import type { Loop } from '../../lib/backend/Backend.js';

/**
 * One backend as the conformance and unit tests see it. Every spec that is about Handle
 * behaviour runs on each environment in `ENVS` (real loopback sockets and the simulated
 * socket), as AnyEvent reruns its tests on every loop.
 */
export interface TestEnv {
  readonly name: 'node' | 'node-direct' | 'sim';
  readonly loop: Loop;
  /** A connected stream pair: `fh` for the Handle under test, `peer` scripted by the test. */
  pair(opts?: { capacity?: number }): Promise<{ fh: object; peer: TestPeer }>;
  /** A listener for connect tests; `accepted` resolves with the first accepted peer. */
  listen(): Promise<{ host: string; port: number; accepted: Promise<TestPeer>; close(): void }>;
  /** A port nobody listens on (connect must fail with ECONNREFUSED). */
  deadPort(): Promise<number>;
  /** Runs the loop until `pred()` is true; rejects naming `what` after `limitSeconds`. */
  until(pred: () => boolean, what: string, limitSeconds?: number): Promise<void>;
  /** Lets the loop run for `seconds` (virtual seconds on sim). */
  sleep(seconds: number): Promise<void>;
  /** Releases everything the environment opened. */
  close(): Promise<void>;
}

/** The far end of a pair, driven directly by the test. */
export interface TestPeer {
  /** Queue bytes towards the handle; flushed as the handle reads. */
  write(data: Buffer | string): void;
  /** Every byte received from the handle so far. */
  readonly received: Buffer;
  /** True once the handle's side shut down or closed its write side. */
  readonly eof: boolean;
  /** True once the connection is fully closed (or reset). */
  readonly closed: boolean;
  /** Stop reading (the handle's writes back up once the kernel buffers fill). */
  pause(): void;
  resume(): void;
  /** Half-close: the handle sees EOF. */
  shutdown(): void;
  /** Close both directions. */
  destroy(): void;
}
