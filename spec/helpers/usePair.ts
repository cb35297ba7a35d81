import { afterEach, beforeEach } from 'vitest';
import type { TestEnv, TestPeer } from './env.js';

export interface PairFixture {
  env: TestEnv;
  fh: object;
  peer: TestPeer;
}

/**
 * Before each test of the enclosing describe: a fresh environment from `make` and a connected
 * pair, handed to `set` (which assigns the describe's own variables, so test bodies read
 * `fh`, `peer`, `env` as before); after each: the environment closed.
 */
export function usePair(make: () => TestEnv, set: (pair: PairFixture) => void): void {
  let env: TestEnv | undefined;
  beforeEach(async () => {
    env = make();
    set({ env, ...(await env.pair()) });
  });
  afterEach(() => env?.close());
}
