import type { Fh } from '../Backend.js';
import type { DefaultBackend } from '../../handle/defaultBackend.js';
import type { SimLoop } from './SimLoop.js';
import { SimFh } from './SimSocket.js';

export { SimLoop, type SimLoopOptions, type SimLoopStats } from './SimLoop.js';
export { SimFh, simSocketPair, DEFAULT_SIM_CAPACITY, type SimPairOptions } from './SimSocket.js';
export { SimPeer, type SimPeerOptions, type ReadRateChange } from './SimPeer.js';
export { patternBytes, patternChunks, patternView, hashBytes, PATTERN_PERIOD } from './pattern.js';

/**
 * The simulation as a Handle default backend (`setDefaultBackend(simBackend(loop))`):
 * `connect` without a `loop` option then runs on `loop`, and only a SimFh is accepted as `fh`.
 */
export function simBackend(loop: SimLoop): DefaultBackend {
  return {
    adopt(fh: object): Fh {
      if (fh instanceof SimFh) return fh;
      throw new TypeError('AnyEvent::Handle: the simulated backend only takes a SimFh as fh');
    },
    loop: () => loop,
  };
}
