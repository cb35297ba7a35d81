import type { Fh } from '../Backend.js';
import type { DefaultBackend } from '../../handle/defaultBackend.js';
import { NodeFh } from './NodeFh.js';
import { nodeLoop } from './NodeLoop.js';

export { NodeFh, MAX_WRITE_PIECE } from './NodeFh.js';
export { nodeLoop } from './NodeLoop.js';
export { DirectRead, DIRECT_READ_MAX, DIRECT_READ_MIN } from './DirectRead.js';
export { adoptAccepted, directSocket } from './sockets.js';

/** The Node backend, as the Handle's default: adopts Node streams, connects with node:net. */
export const nodeBackend: DefaultBackend = {
  adopt(fh: object): Fh {
    if (fh instanceof NodeFh) return fh;
    if (typeof (fh as { on?: unknown }).on !== 'function') {
      throw new TypeError('AnyEvent::Handle: fh must be a Node stream (net.Socket, pipe, child stdio) or an Fh');
    }
    return new NodeFh(fh as ConstructorParameters<typeof NodeFh>[0]);
  },
  loop: () => nodeLoop,
};
