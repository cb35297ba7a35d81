import type { TestEnv } from './env.js';
import { nodeEnv } from './nodeEnv.js';
import { simEnv } from './simEnv.js';

/**
 * Every backend a Handle spec runs on: real loopback sockets (a user's net.Socket, and the
 * onread sockets the front accepts and connect makes) and the simulated socket.
 */
export const ENVS: Array<{ name: string; make: () => TestEnv }> = [
  { name: 'node', make: nodeEnv },
  { name: 'node-direct', make: () => nodeEnv({ direct: true }) },
  { name: 'sim', make: simEnv },
];
