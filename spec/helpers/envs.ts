import type { TestEnv } from './env.js';
import { nodeEnv } from './nodeEnv.js';
import { simEnv } from './simEnv.js';

/** Every backend a Handle spec runs on: real loopback sockets and the simulated socket. */
export const ENVS: Array<{ name: string; make: () => TestEnv }> = [
  { name: 'node', make: nodeEnv },
  { name: 'sim', make: simEnv },
];
