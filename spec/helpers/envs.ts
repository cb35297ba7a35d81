import type { TestEnv } from './env.js';
import { nodeEnv } from './nodeEnv.js';

/** Every backend a Handle spec runs on. */
export const ENVS: Array<{ name: string; make: () => TestEnv }> = [{ name: 'node', make: nodeEnv }];
